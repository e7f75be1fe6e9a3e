"""Sessions and the keyring entry: grants to unlock that `lock` (or a TTL) ends.

A grant never makes another: a session cannot start a session or a keyring
entry, and no session is longer than the vault's limit (`max_session_ttl`,
30 days unless `init` chose another), whatever unlocked it.  `lock` ends both
kinds even when the vault file no longer parses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from credctl.errors import CredentialError, VaultLockedError
from credctl.vault.opened import SESSION_SOURCE, OpenVault

if TYPE_CHECKING:
    from credctl.vault.sessions import SessionToken
    from credctl.vault.store import Unlocker, Vault


class LockResult(NamedTuple):
    """What `lock` ended, and why the vault could not be read (if it could not)."""

    sessions_ended: int
    keyring_forgotten: bool
    problem: CredentialError | None


def start_session(
    vault: Vault, unlocker: Unlocker, ttl_seconds: int, *, now: float | None = None
) -> tuple[SessionToken, int]:
    """Start a session of at most the vault's limit; its token and expiry (unix seconds)."""
    opened = _open_for_grant(vault, unlocker)
    opened.check_session_ttl(ttl_seconds)
    from credctl.vault import sessions

    return sessions.create_session(
        vault.file, opened.vault_id, opened.data_key, ttl_seconds, now=now
    )


def remember(vault: Vault, unlocker: Unlocker) -> None:
    """Keep the data key in the OS keyring until `lock`."""
    opened = _open_for_grant(vault, unlocker)
    from credctl.vault import keyring_store

    keyring_store.remember(vault.file, opened.vault_id, opened.data_key)


def lock(vault: Vault) -> LockResult:
    """End every session and forget the keyring entry, even if the vault is unreadable.

    A vault that cannot be read is no reason to keep a grant alive; the problem
    is returned for the caller to report after the cleanup.
    """
    from credctl.vault import keyring_store, sessions

    ended = sessions.revoke_all(vault.file)
    problem: CredentialError | None = None
    try:
        vault_id: bytes | None = vault.read_parsed().header.vault_id
    except CredentialError as exc:
        problem = exc
        anchor = vault.file.read_anchor()  # the id of the vault last written here
        vault_id = anchor[0] if anchor else None
    forgot = keyring_store.forget(vault.file, vault_id)
    return LockResult(ended, forgot, problem)


def _open_for_grant(vault: Vault, unlocker: Unlocker) -> OpenVault:
    opened = vault.open(unlocker)
    if opened.source == SESSION_SOURCE:
        raise VaultLockedError(
            "a session cannot start another session or keyring entry",
            hint="unlock with the passphrase or a CI key (CREDCTL_KEY)",
        )
    return opened
