"""The ``losstune`` command line: the commands wired into one application, and its entry point.

Each command is its own module; the options they share are in :mod:`losstune.cli.options`, and
:mod:`losstune.cli.boundary` turns a losstune error into its message and exit code.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterable
from typing import Annotated, Any, NoReturn

from losstune.loader import gcpause

# Importing typer and a command's modules makes tens of thousands of objects and no garbage, yet
# each allocation counts toward the cycle collector's next pass: held off, a one-file lint runs
# 3% fewer instructions.
with gcpause.paused():
    import typer
    from typer.core import TyperArgument, TyperCommand

from losstune.cli import context
from losstune.errors import EXIT_ERROR, EXIT_OK

# Each command's name and where its function is (module of losstune.cli, function), in the order
# ``losstune --help`` lists them. A run imports the module of its own command only: the others
# bring in what only they use (the renderers of diff and eval, the engine).
COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("explain", "explain"),
    "diff": ("diff", "diff"),
    "lint": ("lint", "lint"),
    "schema": ("schema", "schema_command"),
    "set": ("set", "set_command"),
    "sweep": ("sweep", "sweep_command"),
    "eval": ("eval", "eval_command"),
    "rule": ("rule", "rule_command"),
    "server": ("server", "server_command"),
}


def command(name: str) -> Callable[..., None]:
    """The function of the command ``name`` (a key of :data:`COMMANDS`), its module imported."""
    module, function = COMMANDS[name]
    with gcpause.paused():
        found: Callable[..., None] = getattr(importlib.import_module(f"losstune.cli.{module}"), function)
    return found


def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    ctx.call_on_close(context.begin().close)
    if version:
        from losstune import __version__

        sys.stdout.write(f"losstune {__version__}\n")
        raise typer.Exit(EXIT_OK)


class Interrupted(BaseException):
    """Ctrl-C (SIGINT) while a command ran."""


class Command(TyperCommand):
    """A command whose arguments are named as people write them, in its usage line and its list
    of arguments: ``PATH...``, ``CONFIG``, ``[CODE]`` (the argument's own metavar, else its name,
    upper-cased, made singular and followed by ``...`` when it takes several)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar is None:
                name = (param.name or "arg").upper()
                if param.nargs != 1:
                    name = (name[:-1] if name.endswith("S") else name) + "..."
                param.metavar = name

    def invoke(self, ctx: Any) -> Any:
        """The command run; Ctrl-C passed on as :class:`Interrupted`, which typer does not turn
        into a silent exit status."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted from None

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # typer's own (vendored) click Context
        """``[OPTIONS]`` and each argument's metavar, in brackets when it may be left out."""
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                pieces.append(str(param.metavar) if param.required else f"[{param.metavar}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


def build(names: Iterable[str]) -> typer.Typer:
    """The application with the commands ``names`` (of :data:`COMMANDS`); the whole one (more than
    one command) has typer's ``--install-completion`` and ``--show-completion``, which a shell's
    completion runs (with no arguments of its own)."""
    names = list(names)
    application = typer.Typer(
        name="losstune",
        help=(
            "See, edit and check the losses of MMDetection configs, without running them.\n\n"
            "Configs are read statically (never executed) and resolved exactly like mmengine's "
            "Config.fromfile: _base_ inheritance, _delete_, {{_base_.x}}, environment templates.\n\n"
            "Exit codes: 0 clean, 1 findings (diff: the configs differ), 2 could not run."
        ),
        no_args_is_help=True,
        add_completion=len(names) > 1,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    for name in names:
        application.command(name, cls=Command)(command(name))
    application.callback(invoke_without_command=True)(_root)
    return application


def _whole() -> typer.Typer:
    """The whole application, built once, when it is first asked for."""
    application: typer.Typer | None = globals().get("app")
    if application is None:
        application = globals()["app"] = build(COMMANDS)
    return application


def __getattr__(name: str) -> Any:
    """``app``: the whole application (:func:`_whole`); a run of one command builds only that
    command's, and imports only that command's module."""
    if name == "app":
        return _whole()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _for(argv: list[str]) -> typer.Typer:
    """The application that runs ``argv``: when it starts with a command's name, one with that
    command alone (typer reads the signature of every command it is given, which takes longer than
    a lint of one config), else the whole one (for the list of commands, ``--version``, a typo)."""
    return build([argv[0]]) if argv and argv[0] in COMMANDS else _whole()


def main() -> None:
    """Entry point of the ``losstune`` console script."""
    try:
        _for(sys.argv[1:])(standalone_mode=True)
    except (KeyboardInterrupt, Interrupted):
        _end_interrupted()
    except Exception as e:  # never a traceback: report, and let the user rerun with LOSSTUNE_DEBUG=1
        if os.environ.get("LOSSTUNE_DEBUG"):
            raise
        from losstune.render.safe import printable

        where = f" while processing {' and '.join(context.subject)}" if context.subject else ""
        what = str(e) if len(str(e)) <= 300 else str(e)[:300] + "..."
        sys.stderr.write(
            f"losstune: internal error{printable(where)}: {type(e).__name__}: {printable(what)}. This is a bug in "
            "losstune, not in your config; rerun with LOSSTUNE_DEBUG=1 for the traceback and report it.\n"
        )
        sys.exit(EXIT_ERROR)


def run() -> NoReturn:
    """Entry point of the ``losstune`` program (the console script and ``python -m losstune``):
    :func:`main`, then the process ends with its exit status as soon as the exit functions have
    run and the output is flushed, without the interpreter's teardown (freeing every module and
    object, a last full pass of the cycle collector), which is a tenth of the instructions of a
    one-file lint and which nothing losstune writes depends on: its files are written whole and
    closed. Where another thread still runs, the exit status is not a number, a profiler or tracer
    is on, or the output cannot be flushed (a closed pipe), the interpreter ends as usual, with the
    same result as before."""
    import atexit
    import threading

    try:
        main()
    except SystemExit as e:
        code = e.code
    else:
        code = EXIT_OK
    if code is None:
        code = EXIT_OK
    if not isinstance(code, int) or threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
        sys.exit(code)  # a profiler or tracer (python -m cProfile) writes its figures after this
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        sys.exit(code)
    os._exit(code)


def _end_interrupted() -> None:
    """Say so, and end as killed by SIGINT (exit status 130 in a shell), as a program that does not
    handle Ctrl-C ends: a shell loop that runs losstune then stops too, instead of going on."""
    import signal

    sys.stderr.write("losstune: interrupted\n")
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    sys.exit(128 + signal.SIGINT)  # where the signal is not delivered at once
