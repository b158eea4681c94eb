"""The built-in schema's data: written in ``data/mmdet_schema.yaml``, read from its JSON form.

The YAML file is the one people edit (it has comments). Parsing it takes longer than everything
else a ``losstune lint`` of one config does, so the package also ships ``data/mmdet_schema.json``,
the same data compiled by ``python -m losstune.schema.builtin``; a test checks that the two agree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SOURCE = "mmdet_schema.yaml"
COMPILED = "mmdet_schema.json"


def _data_file(name: str) -> Path:
    # The package's own folder, not importlib.resources: the package is installed as files, and
    # importing importlib.resources (and zipfile) costs more than reading this one.
    return Path(__file__).resolve().parent.parent / "data" / name


def builtin_data() -> Any:
    """The built-in schema's data, as :func:`compile_source` wrote it."""
    return json.loads(_data_file(COMPILED).read_text(encoding="utf-8"))


def compile_source() -> str:
    """The JSON form of ``data/mmdet_schema.yaml`` (the text ``data/mmdet_schema.json`` must hold)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(_data_file(SOURCE).read_text(encoding="utf-8"), Loader=loader)
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def main() -> None:
    """Write ``data/mmdet_schema.json`` from ``data/mmdet_schema.yaml``."""
    target = _data_file(COMPILED)
    target.write_text(compile_source(), encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")


if __name__ == "__main__":
    main()
