"""``losstune set`` and ``losstune sweep``: schema-checked edits that keep the file as written."""
