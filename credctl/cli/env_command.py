"""`credctl env`: export lines for ``eval``, in the syntax ``--shell`` names.  Fast path.

The words are resolved by `credctl.env_export` (shared with ``exec``): one
vault read for all of them, every check made before anything is printed.  The
text comes from the chosen `credctl.shell` format and reaches stdout in one
write, as UTF-8 whatever the locale says, so a failing command prints nothing
and a reader never sees half an export.  ``--verbose`` names the variables on
stderr (never the values).  ``--shell github`` inside GitHub Actions also
registers every secret value with the runner's log masker (on stderr).
"""

from __future__ import annotations

import os
import sys

from credctl.cli.context import CliContext
from credctl.cli.spec import EnvRequest
from credctl.errors import UsageError

_USAGE = (
    "credctl env NAME[.FIELD][=VAR]… [--shell SHELL] [--prefix PREFIX], "
    'for example: eval "$(credctl env github)"'
)


def run_env(cli: CliContext, request: EnvRequest) -> int:
    """Print the variables of the credentials named in ``request.refs``."""
    from credctl import shell
    from credctl.env_export import resolve

    words: list[str] = list(request.refs)
    if not words:
        raise UsageError("name at least one credential to export", hint=_USAGE)
    shell_name = request.shell
    render = shell.renderer(shell_name)
    resolution = resolve(cli.manager(), words, prefix=request.prefix or "")
    text = render([(name, value.expose()) for name, value in resolution.variables])
    if request.verbose and not cli.quiet:
        from credctl.cli import output

        output.info("exporting " + ", ".join(name for name, _ in resolution.variables))
    if shell_name == "github" and os.environ.get("GITHUB_ACTIONS") == "true":
        _mask_in_github_actions([value.expose() for value in resolution.secrets])
    from credctl.cli import output

    output.data_bytes(text.encode("utf-8"))
    return 0


def _mask_in_github_actions(secrets: list[str]) -> None:
    """Tell the runner to hide the secret values in the job's log (see `credctl.shell.github`).

    On stderr, because stdout goes to ``$GITHUB_ENV``; written and flushed before
    the variables so the mask is in place before anything can print them.  Not
    silenced by --quiet: it is not a message but part of the output's safety.
    """
    from credctl.shell.github import mask_commands

    err = sys.stderr.buffer
    sys.stderr.flush()
    err.write(mask_commands(sorted(secrets)).encode("utf-8"))
    err.flush()
