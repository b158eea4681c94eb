"""A rule's own examples, checked: what ``losstune rule`` shows under each and what its tests assert."""

from __future__ import annotations

import os
import tempfile

from msgspec.structs import replace

from losstune.config import LoadedConfig
from losstune.lint.run import SourceLines, check_config, reported
from losstune.lint.settings import Settings
from losstune.loader.resolve import Resolver
from losstune.model import Diagnostic
from losstune.rules.base import Example, Rule
from losstune.schema.registry import Schema


def run_example(rule: Rule, example: Example, schema: Schema) -> list[Diagnostic]:
    """The findings of ``rule`` on ``example`` (written to a scratch folder as ``cfg.py``, its bases
    beside it), checked for the example's MMDetection version as lint reports them (``noqa``
    comments honoured); the loader's findings where the example does not load."""
    with tempfile.TemporaryDirectory(prefix="losstune-example-") as folder:
        for name, text in (*example.bases, ("cfg.py", example.source)):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write(text)
        path = os.path.join(folder, "cfg.py")
        result = Resolver().resolve(path)
        if result.cfg is None:
            return list(result.diagnostics)
        # Every rule runs, as in lint, so that a `noqa` comment is judged by what it silences.
        settings = Settings(select=("LT", rule.code), mmdet_version=example.version)
        found = check_config(LoadedConfig(result), schema, settings)
        kept = reported(found, settings, SourceLines(), [path, *result.files])
        return [_by_name(d, folder) for d in kept if d.code == rule.code]


def _by_name(d: Diagnostic, folder: str) -> Diagnostic:
    """``d`` with the example's files named in its message as the example names them (``base.py``),
    not by their place in the scratch folder, which is gone once the example has run."""
    inside = [f for f in d.files if os.path.dirname(f) == folder]
    if not inside:
        return d
    message = d.message
    for f in sorted(inside, key=len, reverse=True):
        message = message.replace(f, os.path.basename(f))
    return replace(d, message=message, files=tuple(f for f in d.files if f not in inside))
