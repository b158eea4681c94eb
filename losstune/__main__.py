"""``python -m losstune``."""

from losstune.cli import main

main()
