"""The examples in the package docstring run as written."""

from __future__ import annotations

import doctest
import os

import losstune
from tests.conftest import REPO


def test_package_docstring_examples() -> None:
    cwd = os.getcwd()
    os.chdir(REPO)  # the example uses a path relative to the repository
    try:
        result = doctest.testmod(losstune, verbose=False)
    finally:
        os.chdir(cwd)
    assert result.attempted == 5
    assert result.failed == 0
