"""``python -m losstune``."""

from losstune.cli.app import run

run()
