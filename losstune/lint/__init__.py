"""Running the lint rules of :mod:`losstune.rules` over paths: file discovery, per-file isolation,
suppressions, and the ``[tool.losstune]`` settings."""
