"""LT100 unused-noqa."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from losstune.lint import noqa
from losstune.model import Diagnostic, Replacement, Severity, Span
from losstune.rules.base import Context, Example, Rule


class UnusedNoqa(Rule):
    """A ``noqa`` comment that silences nothing.

    A ``# noqa: LT103`` (or ``# losstune: noqa: LT103``) stays after the value it excused is fixed
    or moved, and then silences the next mistake written on that line without anyone deciding so;
    a code that no rule has (``LT999``) silences nothing at all. Each such code is reported, and a
    ``# losstune: noqa`` without codes on a line with no finding (judged only when every rule that
    is on by default runs). Codes of other tools (``E501``) and a bare ``# noqa`` are left to those
    tools. ``lint --fix`` removes the codes that silence nothing, or the whole comment where none is
    left (a safe fix: nothing it silenced is reported).
    """

    code = "LT100"
    name = "unused-noqa"
    severity = Severity.WARNING
    fix_safety = "safe"
    valid = (
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gama=2.0)))  # noqa: LT102\n"),
        Example("model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))  # noqa: E501\n"),
    )
    invalid = (
        Example(
            "model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))  # noqa: LT102\n",
            ((1, 75),),
            fixed="model = dict(bbox_head=dict(loss_cls=dict(type='FocalLoss', gamma=2.0)))\n",
        ),
        Example(
            "model = dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='FocalLoss', gama=2.0)))  # losstune: noqa: LT102,LT105\n",
            ((2, 50),),
            fixed="model = dict(bbox_head=dict(\n"
            "    loss_cls=dict(type='FocalLoss', gama=2.0)))  # losstune: noqa: LT102\n",
        ),
    )

    def check(self, ctx: Context) -> Iterator[Diagnostic]:
        """Nothing per config: what a comment silences is known once every rule has run
        (:meth:`check_file`)."""
        return iter(())

    def check_file(
        self,
        file: str,
        lines: list[tuple[int, str]],
        used: dict[int, set[str | None]],
        judged: Callable[[str | None], bool],
    ) -> Iterator[Diagnostic]:
        """The comments of ``file`` that silence nothing, in its ``lines`` (each with its number;
        those without a comment may be left out): ``used`` holds, by line number, the codes of the
        line's comment that silenced a finding (``None``: a comment without codes did);
        ``judged(code)`` says whether this run can tell that ``code`` silences nothing (``None``: a
        comment without codes)."""
        for number, line in lines:
            d = noqa.directive(line)
            if d is None:
                continue
            silenced = used.get(number, set())
            if d.codes is None:
                if d.own and None not in silenced and judged(None):
                    yield self._finding(file, number, line, d, [], f"`{line[d.start : d.end]}` silences nothing here")
                continue
            idle = [c for c in d.codes if c.code not in silenced and judged(c.code)]
            if idle:
                names = ", ".join(c.code for c in idle)
                verb = "silences" if len(idle) == 1 else "silence"
                message = f"{names} in `{line[d.start : d.end]}` {verb} nothing here: no such finding on this line"
                yield self._finding(file, number, line, d, idle, message)

    def _finding(
        self, file: str, number: int, line: str, d: noqa.Directive, idle: list[noqa.Code], message: str
    ) -> Diagnostic:
        kept = [c.code for c in d.codes or () if c not in idle]
        if kept:
            assert d.codes is not None
            start, end, text = d.codes[0].start, d.codes[-1].end, ", ".join(kept)
            fix = f"remove {', '.join(c.code for c in idle)} from the comment"
        else:
            # The comment goes with the spaces before it, where nothing follows it on the line.
            start, end, text = len(line[: d.start].rstrip()), d.end, ""
            fix = "remove the comment"
            if line[d.end :].strip():
                span = Span(file, number, d.start + 1, number, d.end + 1)
                return self.finding(message, span, fix=fix + " (keep the words after it)")
        at = Span(file, number, d.start + 1, number, d.end + 1)
        change = Replacement(Span(file, number, start + 1, number, end + 1), text)
        return self.finding(message, at, fix=fix, edit=self.fixed(fix, replacements=(change,)))
