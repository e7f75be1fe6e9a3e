"""Shell completion: the scripts (`credctl completion SHELL`) and what they complete.

The scripts are Typer's: at each TAB they run ``credctl`` with
``_CREDCTL_COMPLETE=complete_SHELL`` and the app answers with its commands,
options and choices.  Credential names come from `credential_names`, which
reads them only through an open session (``CREDCTL_SESSION``): completion runs
at every TAB, so it never asks for a passphrase, never pays for Argon2id and
never unlocks with a CI key or the keyring.  Without a session it offers
nothing.  `scripts/gen_completions.py` writes the same scripts to completions/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Final

import typer

SHELLS: Final = ("bash", "zsh", "fish")
PROGRAM: Final = "credctl"
COMPLETE_VAR: Final = "_CREDCTL_COMPLETE"
# Where each shell finds a completion script by itself, for one user.
INSTALL: Final = {
    "bash": "~/.local/share/bash-completion/completions/credctl",
    "zsh": "a folder of $fpath, as _credctl (before compinit runs)",
    "fish": "~/.config/fish/completions/credctl.fish",
}

ZSH_REGISTER: Final = "compdef _credctl_completion credctl"
ZSH_REGISTER_OR_RUN: Final = """\
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  # autoloaded from $fpath: complete now
  _credctl_completion "$@"
else
  # sourced: register the function for later
  compdef _credctl_completion credctl
fi"""


def script(shell: str) -> str:
    """The completion script for `shell`, ending with a newline.

    Typer's own script, with one change to the zsh one so that it also works as
    an autoloaded ``_credctl`` file in ``$fpath`` (the usual way to install zsh
    completions): on the first TAB it completes instead of only registering
    itself (Click 8's zsh template does the same).
    """
    from typer._completion_shared import get_completion_script

    text = get_completion_script(prog_name=PROGRAM, complete_var=COMPLETE_VAR, shell=shell)
    if shell == "zsh":
        first, _, rest = text.partition("\n")
        # `#compdef` must stay the first line for compinit to pick the file up.
        text = first + "\n" + rest.replace(ZSH_REGISTER, ZSH_REGISTER_OR_RUN)
    return text.strip() + "\n"


def register(app: typer.Typer) -> None:
    """Add `completion` to the root app."""
    app.command("completion")(completion_command)


def completion_command(
    shell: Annotated[
        str,
        typer.Argument(metavar="SHELL", help="bash, zsh or fish.", show_default=False),
    ],
) -> None:
    """Print the shell completion script for bash, zsh or fish.

    Completes commands, options, credential types and, while a session is open
    (eval "$(credctl unlock)"), credential names.  Without a session no name
    is offered: completion never asks for the passphrase.

    Examples:

      credctl completion bash > ~/.local/share/bash-completion/completions/credctl

      credctl completion zsh > "${fpath[1]}/_credctl"

      credctl completion fish > ~/.config/fish/completions/credctl.fish
    """
    from credctl.cli import output
    from credctl.errors import UsageError

    if shell not in SHELLS:
        raise UsageError(
            f"no completion for {shell!r}: choose from {', '.join(SHELLS)}",
            hint="see 'credctl completion --help'",
        )
    import sys

    sys.stdout.write(script(shell))
    sys.stdout.flush()
    if sys.stdout.isatty():
        output.info(f"to install it: credctl completion {shell} > {INSTALL[shell]}")


def credential_types(incomplete: str) -> list[str]:
    """The built-in credential types starting with `incomplete`."""
    from credctl.types import BUILTIN_TYPE_NAMES

    return [name for name in BUILTIN_TYPE_NAMES if name.startswith(incomplete)]


def credential_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Credential names starting with `incomplete`, from an open session only.

    Never a prompt, a KDF, a CI key or the keyring: a TAB must be instant and
    must not unlock anything the shell had not already unlocked.  Any failure
    (no session, an expired one, no vault) offers nothing.
    """
    if not os.environ.get("CREDCTL_SESSION"):
        return []
    try:
        return [name for name in _session_names(_vault_path(ctx)) if name.startswith(incomplete)]
    except Exception:  # noqa: BLE001 - a TAB never shows an error or a traceback
        return []


def _vault_path(ctx: typer.Context) -> Path | None:
    """The vault ``--vault`` names on the line being completed, else None (the default)."""
    vault = ctx.find_root().params.get("vault")
    return Path(vault).expanduser() if vault else None


def _session_names(vault_path: Path | None) -> list[str]:
    from credctl.cli.context import CliContext
    from credctl.vault.store import SESSION_SOURCE
    from credctl.vault.unlock import EnvironmentUnlocker

    cli = CliContext(vault_path, stdin_is_tty=False)
    unlocker = EnvironmentUnlocker(env=os.environ, prompt=None, sources={SESSION_SOURCE})
    return [credential.name for credential in cli.manager(unlocker).list_credentials()]
