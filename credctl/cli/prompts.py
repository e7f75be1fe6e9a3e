"""Passphrases for `init`, `passwd` and `rekey`: from the environment or asked twice."""

from __future__ import annotations

import getpass
import os
from collections.abc import Collection
from typing import TYPE_CHECKING

from credctl.cli import output
from credctl.errors import InvalidInput, VaultLockedError
from credctl.vault.unlock import EnvironmentUnlocker, read_passphrase_file, terminal_prompt

if TYPE_CHECKING:
    from credctl.cli.context import CliContext

# A copy of the vault file can be attacked offline, slowed down only by Argon2id:
# the passphrase's length is most of the defence.
MIN_PASSPHRASE_CHARACTERS = 12


def unlocker_for(cli: CliContext, sources: Collection[str]) -> EnvironmentUnlocker:
    """The standard unlock sources narrowed to `sources`, with a prompt only on a terminal."""
    prompt = terminal_prompt() if cli.stdin_is_tty else None
    return EnvironmentUnlocker(env=os.environ, prompt=prompt, sources=sources, warn=output.warn)


def warn_if_short(passphrase: bytes) -> None:
    """Warn (stderr, never an error) about a passphrase under 12 characters."""
    if len(os.fsdecode(passphrase)) < MIN_PASSPHRASE_CHARACTERS:
        output.warn(
            f"the passphrase is shorter than {MIN_PASSPHRASE_CHARACTERS} characters; anyone "
            "with a copy of the vault file can try passphrases offline, so prefer a longer "
            "one (several random words)"
        )


def new_passphrase(
    *,
    file_var: str,
    value_var: str,
    can_prompt: bool,
    what: str = "passphrase",
    empty_keeps: bool = False,
) -> bytes | None:
    """A new passphrase from `file_var`/`value_var`, else asked twice; None if neither."""
    path = os.environ.get(file_var)
    if path:
        chosen = read_passphrase_file(path, output.warn)
    elif os.environ.get(value_var):
        chosen = os.fsencode(os.environ[value_var])
    elif can_prompt:
        first = getpass.getpass(f"New {what}: ")
        second = getpass.getpass(f"Repeat the new {what}: ")
        if first != second:
            raise InvalidInput("the two passphrases differ; nothing was changed")
        if not first and empty_keeps:
            return None
        chosen = first.encode()
    else:
        return None
    if not chosen:
        raise InvalidInput(f"the {what} must not be empty")
    return chosen


def require_new_passphrase(*, file_var: str, value_var: str, can_prompt: bool) -> bytes:
    """Like `new_passphrase`, but without a source and a terminal it is exit 4."""
    chosen = new_passphrase(file_var=file_var, value_var=value_var, can_prompt=can_prompt)
    if chosen is None:
        raise VaultLockedError(
            "no passphrase given and no terminal to ask for one",
            hint=f"set {file_var} (a file holding the passphrase) or {value_var}",
        )
    return chosen
