"""Everything a command needs from its surroundings, in one object (`ctx.obj`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from credctl.paths import default_vault_path
from credctl.vault import EnvironmentUnlocker, Vault, terminal_prompt

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.vault.store import Unlocker


class CliContext:
    """Global options and I/O facts, built once by the root callback.

    A plain class rather than a dataclass: it is on the get-token fast path, where
    importing `dataclasses` alone costs several milliseconds.
    """

    def __init__(
        self,
        vault_path: Path | None = None,
        *,
        quiet: bool = False,
        color: bool = True,
        stdin_is_tty: bool | None = None,
    ) -> None:
        self.vault_path = vault_path if vault_path is not None else default_vault_path()
        self.quiet = quiet
        self.color = color
        if stdin_is_tty is None:
            stdin_is_tty = bool(sys.stdin) and sys.stdin.isatty()
        self.stdin_is_tty = stdin_is_tty
        #: What reads stdin as data (``--field key=@-``), set by the command before it
        #: unlocks: the passphrase is then asked on the controlling terminal, if any.
        self.stdin_taken: str | None = None

    def vault(self) -> Vault:
        """The vault the global options point at."""
        return Vault(self.vault_path)

    def manager(self, unlocker: Unlocker | None = None) -> CredentialManager:
        """A `CredentialManager` on this vault with the standard unlock sources (or `unlocker`)."""
        from credctl.manager import CredentialManager
        from credctl.model import CacheConfig, ManagerConfig
        from credctl.storage.vault_storage import VaultStorage

        # One command is one process: a token cache could never hit, so none is built.
        config = ManagerConfig(cache_config=CacheConfig(enabled=False))
        storage = VaultStorage(self.vault(), unlocker or self.unlocker())
        return CredentialManager(config, storage=storage, origin="cli")

    def unlocker(self, *, passphrase_only: bool = False) -> EnvironmentUnlocker:
        """The standard unlock sources, with a prompt only on a terminal."""
        taken = None if self.stdin_is_tty else self.stdin_taken
        prompt = terminal_prompt() if self.stdin_is_tty else terminal_prompt(stdin_taken=taken)
        return EnvironmentUnlocker(
            env=os.environ, prompt=prompt, passphrase_only=passphrase_only, stdin_taken=taken,
            warn=_warn,
        )  # fmt: skip


def _warn(text: str) -> None:
    from credctl.cli.output import warn

    warn(text)
