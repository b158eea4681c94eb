"""The bounds within which losstune reads its inputs and does its work.

Real configs stay far below each of them (the README's "Limits" lists them); an input beyond one
is refused with a diagnostic at the place that crosses it, instead of taking unbounded time or
memory.
"""

from __future__ import annotations

MAX_FILE_BYTES = 4 * 1024 * 1024
"""The largest file read (4 MiB), unless ``max-file-size`` in ``[tool.losstune]`` says otherwise."""

MAX_DATA_DEPTH = 100
"""How deeply the lists and mappings of a YAML or JSON file may nest."""

MAX_DATA_VALUES = 50_000
"""How many values a YAML or JSON file may hold, a YAML file's aliases expanded (as mmengine
expands them)."""

MAX_INT_DIGITS = 4300
"""The most digits of an integer written in a YAML or JSON file: Python's own default limit on
converting text to an integer, so mmengine fails on a longer one too."""

MAX_BASE_DEPTH = 100
"""How many files deep a ``_base_`` chain may go (real ones go about five); mmengine resolves
bases by recursion, which runs out of Python's stack a little past this depth."""

MAX_SWEEP_RUNS = 1000
"""The most configs one ``losstune sweep`` writes, unless ``--max`` says otherwise."""

MAX_CUSTOM_MODULES = 1000
"""The most modules read for one config's ``custom_imports`` (``mmdet.models`` is about 360)."""

MAX_CUSTOM_IMPORT_DEPTH = 20
"""How many imports deep the modules ``custom_imports`` names are followed."""
