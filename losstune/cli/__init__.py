"""The ``losstune`` command line: options, commands and exit codes over the library's calls."""
