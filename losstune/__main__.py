"""``python -m losstune``."""

from losstune.cli.app import main

main()
