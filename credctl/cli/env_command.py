"""`credctl env`: export lines for ``eval``, in the syntax ``--shell`` names.  Fast path.

The words are resolved by `credctl.env_export` (shared with ``exec``): one
vault read for all of them, every check made before anything is printed.  The
text comes from the chosen `credctl.shell` format and reaches stdout in one
write, as UTF-8 whatever the locale says, so a failing command prints nothing
and a reader never sees half an export.
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
    from credctl.env_export import resolve

    words: list[str] = list(values.get("refs") or [])
    if not words:
        raise UsageError("name at least one credential to export", hint=_USAGE)
    render = shell.renderer(values.get("shell") or "sh")
    resolution = resolve(cli.manager(), words, prefix=values.get("prefix") or "")
    text = render([(name, value.expose()) for name, value in resolution.variables])
    out = sys.stdout.buffer
    out.write(text.encode("utf-8"))
    out.flush()
    return 0
