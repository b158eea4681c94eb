"""``losstune server``: the Language Server Protocol server, on stdin and stdout."""

from losstune.cli.boundary import reported
from losstune.cli.options import Format
from losstune.errors import UsageError


def server_command() -> None:
    """Run the language server (stdio) for editors: diagnostics as you type, hover with each
    value's origin, go to definition, and the lint fixes as code actions.

    Needs the server extra: pip install 'losstune[server]'.

    Example: losstune server
    """
    with reported(Format.text):
        try:
            from losstune.server.app import serve
        except ImportError as e:
            raise UsageError(
                f"`losstune server` needs pygls and lsprotocol ({e}); install them with: pip install 'losstune[server]'"
            ) from None
    serve()
