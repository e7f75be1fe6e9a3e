"""`unlock --remember`: the data key kept in the OS keyring.

`keyring` is slow to import, so a marker file in ``VAULT.d/`` says whether an
entry was stored; without the marker the keyring is never imported.  The marker
holds the entry's account name, so that `lock` finds the entry even when the
vault no longer parses, and it is reached through the checked ``VAULT.d`` handle
(`VaultFile.sidecar_dir`), never by a path that could lead through a planted link.
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any

from credctl.errors import CredentialError, KeyringUnavailableError
from credctl.vault.file import KEYRING_MARKER, VaultFile

SERVICE = "credctl"
_ACCOUNT = re.compile(rb"vault-[0-9a-f]{32}\Z")


def _username(vault_id: bytes) -> str:
    return f"vault-{vault_id.hex()}"


def _backend() -> Any:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise KeyringUnavailableError("the keyring package is not installed") from exc
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise KeyringUnavailableError(
            "no OS keyring backend is available on this machine (typical for headless Linux)",
            hint='use `eval "$(credctl unlock --ttl 8h)"` for a session, or a CI key '
            "(`credctl key add-ci`) in automation",
        )
    return keyring


def remember(vault: VaultFile, vault_id: bytes, data_key: bytes) -> None:
    """Store the data key in the keyring and write the marker."""
    backend = _backend()
    try:
        backend.set_password(SERVICE, _username(vault_id), base64.b64encode(data_key).decode())
    except Exception as exc:  # noqa: BLE001 - backends raise anything; never echo values
        raise KeyringUnavailableError(
            f"the OS keyring refused to store the key ({type(exc).__name__})"
        ) from None
    folder = vault.sidecar_dir(create=True)
    assert folder is not None  # create=True makes it or raises
    folder.write_file_atomic(KEYRING_MARKER, _username(vault_id).encode())


def _marked_account(vault: VaultFile) -> str | None:
    """The account name recorded in the marker (older versions left it empty)."""
    try:
        folder = vault.sidecar_dir()
        raw = folder.read_file(KEYRING_MARKER) if folder is not None else None
    except (OSError, CredentialError):  # a missing or odd marker only means "no name"
        return None
    raw = (raw or b"").strip()
    return raw.decode() if _ACCOUNT.match(raw) else None


def recall(vault: VaultFile, vault_id: bytes) -> bytes | None:
    """The remembered data key, or None (no marker, no entry, no backend)."""
    if not vault.has_keyring_marker():
        return None
    try:
        value = _backend().get_password(SERVICE, _username(vault_id))
    except Exception:  # noqa: BLE001 - an unusable keyring is simply no source
        return None
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return base64.b64decode(value, validate=True)
    return None


def forget(vault: VaultFile, vault_id: bytes | None) -> bool:
    """Delete the keyring entry and the marker; True if an entry was removed.

    The entry is looked up under the account the marker names and under
    `vault_id`'s, so a vault that no longer parses (`vault_id` None) loses its
    entry too.  Whatever is at the marker's name counts as "remembered", but only
    a regular file of the user is removed: a planted link or FIFO is left (doctor
    names it).
    """
    folder = vault.sidecar_dir()
    had_marker = folder is not None and folder.lstat(KEYRING_MARKER) is not None
    accounts = {_marked_account(vault), _username(vault_id) if vault_id is not None else None}
    if folder is not None:
        with contextlib.suppress(OSError):
            folder.unlink(KEYRING_MARKER)
    if not had_marker:
        return False
    removed = False
    for account in sorted(a for a in accounts if a):
        with contextlib.suppress(Exception):
            _backend().delete_password(SERVICE, account)
            removed = True
    return removed
