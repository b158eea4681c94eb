"""The built-in schema's data: written in ``data/*_schema.yaml``, read from their JSON form.

The YAML files are the ones people edit (they have comments), one per registry: MMDetection's
and other projects'. Parsing YAML takes longer than everything else a ``losstune lint`` of one
config does, so the package also ships each file compiled to JSON (``data/mmdet_schema.json``),
written by ``python -m losstune.schema.builtin``; a test checks that the two agree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

SUFFIX = "_schema"


def data_folder() -> Path:
    """The package's data folder."""
    # The package's own folder, not importlib.resources: the package is installed as files, and
    # importing importlib.resources (and zipfile) costs more than reading these.
    return Path(__file__).resolve().parent.parent / "data"


def _sources(ext: str) -> list[Path]:
    """The schema files with extension ``ext``, MMDetection's first (it is the default registry)."""
    found = sorted(data_folder().glob(f"*{SUFFIX}.{ext}"))
    return sorted(found, key=lambda p: p.name != f"mmdet{SUFFIX}.{ext}")


def builtin_data() -> list[tuple[str, Any]]:
    """Each built-in schema file's name and data, as :func:`compile_source` wrote it."""
    import msgspec.json  # its decoder gives what json.loads gives, without importing json at start-up

    return [(p.stem, msgspec.json.decode(p.read_bytes())) for p in _sources("json")]


def compile_source(source: Path) -> str:
    """The JSON form of one ``data/*_schema.yaml`` (the text its ``.json`` must hold)."""
    import json

    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(source.read_text(encoding="utf-8"), Loader=loader)
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def compiled_pairs() -> list[tuple[Path, Path]]:
    """Each ``data/*_schema.yaml`` with the ``.json`` file compiled from it."""
    return [(p, p.with_suffix(".json")) for p in _sources("yaml")]


def main() -> None:
    """Write each ``data/*_schema.json`` from its ``data/*_schema.yaml``."""
    for source, target in compiled_pairs():
        target.write_text(compile_source(source), encoding="utf-8")
        sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
