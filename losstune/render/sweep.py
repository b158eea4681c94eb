"""Output of ``losstune sweep``: the configs written, each with its values, and the manifests."""

from __future__ import annotations

from losstune.edit.sweep import Sweep
from losstune.render.json import document, value
from losstune.render.paths import shown
from losstune.render.safe import printable
from losstune.words import count


def render_text(sweep: Sweep) -> str:
    """One line per config written, with its values; then where the manifests are."""
    out = []
    for r in sweep.runs:
        values = ", ".join(f"{k}={v!r}" for k, v in r.values.items())
        out.append(printable(f"  {shown(r.file)}  {values}") + "\n")
    manifest_json, manifest_csv = (shown(m) for m in sweep.manifests)
    out.append(
        printable(f"{count(len(sweep.runs), 'config')} written, listed in {manifest_json} and {manifest_csv}") + "\n"
    )
    return "".join(out)


def render_json(sweep: Sweep) -> str:
    """The same as JSON (``"kind": "sweep"``)."""
    return document(
        "sweep",
        {
            "config": shown(sweep.config),
            "runs": [{"file": shown(r.file), "values": value(r.values)} for r in sweep.runs],
            "manifest": [shown(m) for m in sweep.manifests],
        },
    )
