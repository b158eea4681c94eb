"""``losstune schema``: the known losses and samplers, or one of them."""

import sys
from typing import Annotated

import typer

from losstune.cli import context, terminal
from losstune.cli.boundary import reported
from losstune.cli.options import Format, FormatOption, SchemaOption
from losstune.errors import UsageError


def schema_command(
    name: Annotated[
        str | None, typer.Argument(help="A loss or sampler type; omit to list them all.", show_default=False)
    ] = None,
    fmt: FormatOption = Format.text,
    schema: SchemaOption = None,
) -> None:
    """List the known losses and samplers, or show one.

    For one loss or sampler: its formula, and each parameter's type, default, allowed values and
    meaning, from losstune's schemas of MMDetection, MMYOLO and MMRotate (plus your own --schema
    files); another project's by its prefix (mmrotate.GDLoss).

    Example: losstune schema FocalLoss
    """
    with reported(fmt):
        from losstune.render import schema as render_schema

        loaded = context.schema(schema, context.settings("."))
        if name is None:
            out = (
                render_schema.render_list_json(loaded)
                if fmt is Format.json
                else render_schema.render_list_text(loaded, width=terminal.width())
            )
            sys.stdout.write(out)
            return
        entry = loaded.get(name)
        if entry is None:
            guess = loaded.suggest(name) or loaded.suggest_elsewhere(name)
            hint = f"; did you mean `{guess}`?" if guess else "; `losstune schema` lists them all"
            raise UsageError(f"`{name}` is not a known loss or sampler{hint}")
        out = (
            render_schema.render_entry_json(entry)
            if fmt is Format.json
            else render_schema.render_entry_text(entry, color=terminal.color(), width=terminal.width())
        )
        sys.stdout.write(out)
