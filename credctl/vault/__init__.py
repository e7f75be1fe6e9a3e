"""The encrypted vault file: format, keys, storage, sessions and unlock sources."""

from credctl.vault.crypto import KdfParams
from credctl.vault.store import OpenVault, Unlocker, Vault
from credctl.vault.unlock import EnvironmentUnlocker, terminal_prompt

__all__ = ["EnvironmentUnlocker", "KdfParams", "OpenVault", "Unlocker", "Vault", "terminal_prompt"]
