"""The ``losstune`` command line: options, commands and exit codes over the library's calls."""


def main() -> None:
    """The ``losstune`` command, as the console script runs it (:func:`losstune.cli.app.main`).
    Kept under this name so that ``from losstune.cli import main`` and console scripts installed
    by earlier versions (``losstune.cli:main``) keep working."""
    from losstune.cli.app import main as run

    run()
