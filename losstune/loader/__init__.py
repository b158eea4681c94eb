"""Reading configs: the trust boundary.

Everything a config file says is turned into plain values here, each remembering the file, line and
column that set it: Python configs by a safe interpreter over their syntax tree, YAML and JSON by
position-keeping readers, ``_base_`` chains merged with mmengine's semantics.

The rule of this package: nothing in it imports or executes the config, a base, or any package
either of them names. Packages are located by reading the file system (:mod:`pkgfind`), Python is
parsed and interpreted (:mod:`pyeval`, :mod:`pybuiltins`), never run, and every operation has a
budget (:mod:`budget`, :mod:`limits`). A module added here keeps that rule; a test
(``tests/test_never_executes.py``) and the import graph test hold it.
"""
