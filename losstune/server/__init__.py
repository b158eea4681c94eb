"""``losstune server``: the Language Server Protocol server (needs the ``server`` extra: pygls)."""
