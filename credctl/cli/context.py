"""Everything a command needs from its surroundings, in one object (`ctx.obj`)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from credctl.paths import default_vault_path
from credctl.vault import EnvironmentUnlocker, Vault, terminal_prompt

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.vault.store import Unlocker


@dataclass
class CliContext:
    """Global options and I/O facts, built once by the root callback."""

    vault_path: Path = field(default_factory=default_vault_path)
    quiet: bool = False
    color: bool = True
    stdin_is_tty: bool = field(default_factory=lambda: bool(sys.stdin) and sys.stdin.isatty())

    def vault(self) -> Vault:
        """The vault the global options point at."""
        return Vault(self.vault_path)

    def manager(self, unlocker: Unlocker | None = None) -> CredentialManager:
        """A `CredentialManager` on this vault with the standard unlock sources (or `unlocker`)."""
        from credctl.manager import CredentialManager
        from credctl.storage.vault_storage import VaultStorage

        return CredentialManager(storage=VaultStorage(self.vault(), unlocker or self.unlocker()))

    def unlocker(self, *, passphrase_only: bool = False) -> EnvironmentUnlocker:
        """The standard unlock sources, with a prompt only on a terminal."""
        return EnvironmentUnlocker(
            env=os.environ,
            prompt=terminal_prompt() if self.stdin_is_tty else None,
            passphrase_only=passphrase_only,
        )
