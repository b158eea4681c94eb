"""The ``losstune`` command line: options, commands and exit codes over the library's calls.

The command modules do without ``from __future__ import annotations``: typer reads each parameter's
annotation, and annotations kept as strings would be compiled again on every run (5% of the
instructions of a one-file ``lint``), where evaluated they come from the module's cached bytecode.
"""


def main() -> None:
    """The ``losstune`` command, as the console script runs it (:func:`losstune.cli.app.main`).
    Kept under this name so that ``from losstune.cli import main`` and console scripts installed
    by earlier versions (``losstune.cli:main``) keep working."""
    from losstune.cli.app import main as run

    run()
