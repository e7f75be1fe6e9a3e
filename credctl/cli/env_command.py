"""`credctl env`: export lines for ``eval``, in the syntax ``--shell`` names.  Fast path.

The words are resolved by `credctl.cli.env_mapping` (shared with ``exec``): one
vault read for all of them, every check made before anything is printed.  The
text comes from the chosen `credctl.shell` format and reaches stdout in one
write, as UTF-8 whatever the locale says, so a failing command prints nothing
and a reader never sees half an export.  ``--verbose`` names the variables on
stderr (never the values).
"""

from __future__ import annotations

import sys
from typing import Any

from credctl.cli.context import CliContext
from credctl.errors import UsageError

_USAGE = (
    "credctl env NAME[.FIELD][=VAR]… [--shell SHELL] [--prefix PREFIX], "
    'for example: eval "$(credctl env github)"'
)


def run_env(cli: CliContext, values: dict[str, Any]) -> int:
    """Print the variables of the credentials named in ``values["refs"]``."""
    from credctl import shell
    from credctl.cli.env_mapping import resolve

    words: list[str] = list(values.get("refs") or [])
    if not words:
        raise UsageError("name at least one credential to export", hint=_USAGE)
    shell_name = values.get("shell") or "sh"
    render = shell.renderer(shell_name)
    resolution = resolve(cli.manager(), words, prefix=values.get("prefix") or "")
    text = render([(name, value.expose()) for name, value in resolution.variables])
    if values.get("verbose") and not cli.quiet:
        from credctl.cli import output

        output.info("exporting " + ", ".join(name for name, _ in resolution.variables))
    out = sys.stdout.buffer
    out.write(text.encode("utf-8"))
    out.flush()
    return 0
