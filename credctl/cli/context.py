"""Everything a command needs from its surroundings, in one object (`ctx.obj`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from credctl.config import locate
from credctl.paths import default_vault_path
from credctl.vault import EnvironmentUnlocker, Vault, terminal_prompt

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.storage.backend_vault import BackendVault
    from credctl.storage.base import CredentialStorage
    from credctl.storage.blobs import BlobBackend
    from credctl.vault.store import Unlocker


class CliContext:
    """Global options and I/O facts, built once by the root callback.

    Where the vault is comes from `credctl.config.locate`: ``--backend URL`` or
    ``--vault PATH``, else ``CREDCTL_BACKEND`` or ``CREDCTL_VAULT``, else the
    config file, else the default vault file.  A plain class rather than a
    dataclass: it is on the get-token fast path, where importing `dataclasses`
    alone costs several milliseconds.
    """

    def __init__(
        self,
        vault_path: Path | None = None,
        *,
        quiet: bool = False,
        color: bool = True,
        stdin_is_tty: bool | None = None,
        backend: str | None = None,
    ) -> None:
        location = locate(str(vault_path) if vault_path is not None else None, backend)
        self.backend_url = location.backend
        self.vault_path = location.vault if location.vault is not None else default_vault_path()
        self.quiet = quiet
        self.color = color
        if stdin_is_tty is None:
            stdin_is_tty = bool(sys.stdin) and sys.stdin.isatty()
        self.stdin_is_tty = stdin_is_tty
        self._engine: BlobBackend | None = None
        #: What reads stdin as data (``--field key=@-``), set by the command before it
        #: unlocks: the passphrase is then asked on the controlling terminal, if any.
        self.stdin_taken: str | None = None

    @property
    def location(self) -> str:
        """The vault file's path or the backend URL (no password), for messages."""
        if self.backend_url is None:
            return str(self.vault_path)
        return self.engine().describe()

    def engine(self) -> BlobBackend:
        """The backend's engine (only when a backend URL is in use)."""
        if self._engine is None:
            from credctl.storage.backends import open_blob_backend

            assert self.backend_url is not None
            self._engine = open_blob_backend(self.backend_url)
        return self._engine

    def vault(self) -> Vault | BackendVault:
        """The vault the global options point at: its key slots, sessions and settings."""
        if self.backend_url is None:
            return Vault(self.vault_path)
        from credctl.storage.backend_vault import BackendVault

        return BackendVault(self.engine())

    def vault_file(self) -> Vault:
        """The vault file; commands that only work on a file refuse a backend (exit 9)."""
        if self.backend_url is not None:
            from credctl.errors import InvalidInput

            raise InvalidInput(
                f"this command works on a vault file, not on {self.location}",
                hint="copy the records to a file with `credctl migrate --to PATH`",
            )
        return Vault(self.vault_path)

    def storage(self, unlocker: Unlocker | None = None) -> CredentialStorage:
        """The storage of the vault file or backend, with the standard unlock sources."""
        if self.backend_url is None:
            from credctl.storage.vault_storage import VaultStorage

            return VaultStorage(Vault(self.vault_path), unlocker or self.unlocker())
        from credctl.storage.sealed import SealedStorage

        return SealedStorage(self.engine(), unlocker or self.unlocker())

    def manager(self, unlocker: Unlocker | None = None) -> CredentialManager:
        """A `CredentialManager` on this vault with the standard unlock sources (or `unlocker`)."""
        from credctl.manager import CredentialManager

        # One command is one process: a token cache could never hit, so none is built
        # (and the library's default settings are never needed).
        return CredentialManager(storage=self.storage(unlocker), origin="cli", cache_tokens=False)

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
