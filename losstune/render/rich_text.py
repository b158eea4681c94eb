"""The pieces the rich-based text reports share: a console writing into a string, and a value,
an origin, a position and a type name as cells.

Text that comes from a config, a file name or a schema enters a renderable only through
:func:`fmt_value`, :func:`t`, :func:`where` (escaped by :func:`~losstune.render.safe.printable`,
and never read as rich markup: cells are ``Text``, not markup strings).
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console, RenderableType
from rich.text import Text

from losstune.loader.values import Opaque
from losstune.model import Origin, Span
from losstune.render.paths import Paths, position
from losstune.render.safe import printable


def _console(color: bool, width: int) -> Console:
    return Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        width=width,
        highlight=False,
        emoji=False,
    )


def capture(renderables: list[RenderableType], color: bool, width: int) -> str:
    console = _console(color, width)
    for r in renderables:
        console.print(r)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return "\n".join(line.rstrip(" ") for line in out.split("\n"))  # rich pads cells to their column


def fmt_value(v: Any) -> str:
    """A value as the user would write it in a Python config."""
    if isinstance(v, Opaque):
        return printable(f"<unknown: {v.text}>")
    return printable(repr(v))


def t(text: str, style: str = "") -> Text:
    """A run of text from a config, a file name or a schema."""
    return Text(printable(text), style=style)


def where(span: Span, short: bool = True, paths: Paths | None = None) -> str:
    """``file:line`` (or ``file:line:column``) of a span; its file as ``paths`` shows it."""
    if paths is not None and short:
        return printable(paths.position(span))
    return printable(position(span, column=not short))


def fmt_origin(o: Origin | None, paths: Paths | None = None, *, whole: bool = False) -> Text:
    """``file:line``, with how the value was written when it is not a plain literal (clipped to
    40 characters unless ``whole``)."""
    if o is None:
        return Text("default", style="dim")
    text = Text(where(o.span, paths=paths), style="cyan")
    if o.kind == "variable":
        text.append(f"\nvia `{printable(o.text)}`", style="dim")
        if o.via is not None:
            text.append(f" ({where(o.via.span, paths=paths)})", style="dim")
    elif o.kind in ("expression", "base-reference") and o.text:
        written = " ".join(o.text.split()) if whole else clip(o.text)
        text.append(f"\n= {printable(written)}", style="dim")
    return text


def clip(s: str, n: int = 40) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


def type_text(text: Text, type_name: str, style: str = "bold magenta") -> None:
    """``FocalLoss``, or ``FocalLoss (mmdet.models.losses.focal_loss)`` for an imported class."""
    module, _, bare = type_name.rpartition(".")
    text.append(printable(bare), style=style)
    if module:
        text.append(f" ({printable(module)})", style="dim")
