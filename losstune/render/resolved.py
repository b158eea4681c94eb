"""Output of ``explain --resolved``: the resolved loss and sampler sections written as a config
(Python, or YAML for a YAML or JSON config), each value with a trailing comment saying where it is
set, so that the text can be pasted as a child config."""

from __future__ import annotations

import json
import keyword
import math
from typing import Any

from losstune.loader.envmask import EnvValue
from losstune.loader.values import Opaque
from losstune.model import Origin
from losstune.render.paths import position, shown
from losstune.render.safe import printable
from losstune.resolved import Leaf, ResolvedReport, Section

_INDENT = "    "


def _where(origin: Origin | None) -> str:
    return position(origin.span, column=False) if origin is not None else "default"


def _unwritable(value: Any) -> str | None:
    """Why a value cannot be written back as config text, if it cannot."""
    if isinstance(value, Opaque):
        return f"unknown without running code ({printable(value.text)})"
    if isinstance(value, EnvValue):
        return f"from {', '.join('$' + n for n in value.names)}"
    if isinstance(value, dict):
        return next((r for r in map(_unwritable, value.values()) if r), None)
    if isinstance(value, list | tuple):
        return next((r for r in map(_unwritable, value) if r), None)
    return None


def _is_name(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key)


def _py(value: Any) -> str:
    """A value as Python source that evaluates to it."""
    if isinstance(value, float) and not math.isfinite(value):
        return "float('nan')" if math.isnan(value) else ("float('inf')" if value > 0 else "-float('inf')")
    if isinstance(value, dict):
        if all(isinstance(k, str) and _is_name(k) for k in value):
            return "dict(" + ", ".join(f"{k}={_py(v)}" for k, v in value.items()) + ")"
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_py, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(_py, value)) + "]"
    return repr(value)


def _yaml(value: Any) -> str:
    """A value as a YAML flow value that reads back as it (JSON's spelling, YAML's non-finite floats)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(_yaml, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


_OPEN = {"list": ("[", "]"), "tuple": ("(", ")")}


def _brackets(section: Section) -> tuple[str, str]:
    """How a section opens and closes in Python: ``dict(``, ``{`` (keys that are not names), ``[``, ``(``."""
    if section.kind in _OPEN:
        return _OPEN[section.kind]
    return ("dict(", ")") if all(_is_name(k) for k in section.items) else ("{", "}")


def _python_lines(section: Section, depth: int) -> list[str]:
    out: list[str] = []
    pad = _INDENT * depth
    opening = _brackets(section)[0]
    for key, item in section.items.items():
        head = "" if section.kind in _OPEN else (f"{key}=" if opening == "dict(" else f"{key!r}: ")
        if isinstance(item, Section):
            start, end = _brackets(item)
            out.append(f"{pad}{head}{start}")
            out += _python_lines(item, depth + 1)
            out.append(f"{pad}{end},")
            continue
        out.append(_python_leaf(pad, head, key, item))
    return out


def _python_leaf(pad: str, head: str, key: str, leaf: Leaf) -> str:
    why = _unwritable(leaf.value)
    if why is not None:
        return f"{pad}# {key}: {why}, not written  # {_where(leaf.origin)}"
    text = f"{head}{printable(_py(leaf.value))},"
    return f"{pad}# {text}  default" if leaf.default else f"{pad}{text}  # {_where(leaf.origin)}"


def _yaml_lines(section: Section, depth: int) -> list[str]:
    out: list[str] = []
    pad = "  " * depth
    for key, item in section.items.items():
        name = key if key.replace("_", "").isalnum() else json.dumps(key)
        if section.kind != "dict":
            name = "-"
        if isinstance(item, Section):
            out.append(f"{pad}{name}" if section.kind != "dict" else f"{pad}{name}:")
            out += _yaml_lines(item, depth + 1)
            continue
        why = _unwritable(item.value)
        if why is not None:
            out.append(f"{pad}# {name}: {why}, not written  # {_where(item.origin)}")
        elif item.default:
            out.append(f"{pad}# {name}: {printable(_yaml(item.value))}  default")
        else:
            out.append(f"{pad}{name}: {printable(_yaml(item.value))}  # {_where(item.origin)}")
    return out


def render_resolved(report: ResolvedReport) -> str:
    """The sections as config text, with a heading comment."""
    lines = [
        f"# The losses and samplers of {printable(shown(report.config))} as they resolve (losstune explain --resolved).",
        "# Each value says where it is set; a commented-out line is a default the config leaves unset.",
    ]
    if not report.root.items:
        lines.append("# (this config has no losses or samplers)")
        return "\n".join(lines) + "\n"
    if report.format == "yaml":
        lines += _yaml_lines(report.root, 0)
        return "\n".join(lines) + "\n"
    for key, item in report.root.items.items():
        if isinstance(item, Section):
            start, end = _brackets(item)
            lines.append(f"{key} = {start}")
            lines += _python_lines(item, 1)
            lines.append(end)
        else:
            why = _unwritable(item.value)
            if why is not None:
                lines.append(f"# {key}: {why}, not written  # {_where(item.origin)}")
            else:
                lines.append(f"{key} = {printable(_py(item.value))}  # {_where(item.origin)}")
    return "\n".join(lines) + "\n"
