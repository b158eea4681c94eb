"""Renderers: a finished report in, text out. Pure: no file I/O, no logic beyond layout, and every
piece of config text passes through :mod:`losstune.render.safe`."""
