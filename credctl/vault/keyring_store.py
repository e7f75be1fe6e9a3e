"""`unlock --remember`: the data key kept in the OS keyring.

`keyring` is slow to import, so a marker file in ``VAULT.d/`` says whether an
entry was stored; without the marker the keyring is never imported.  The marker
holds the entry's account name, so that `lock` finds the entry even when the
vault no longer parses.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
from typing import Any

from credctl.errors import CredentialError, KeyringUnavailableError
from credctl.vault.file import VaultFile, ensure_private_dir, read_regular_file

SERVICE = "credctl"
_ACCOUNT = re.compile(rb"vault-[0-9a-f]{32}\Z")


def _username(vault_id: bytes) -> str:
    return f"vault-{vault_id.hex()}"


def _marked_account(vault: VaultFile) -> str | None:
    """The account name recorded in the marker (older versions left it empty)."""
    try:
        raw = read_regular_file(vault.keyring_marker, missing=FileNotFoundError())
    except (OSError, CredentialError):  # a missing or odd marker only means "no name"
        return None
    raw = raw.strip()
    return raw.decode() if _ACCOUNT.match(raw) else None


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
    ensure_private_dir(vault.sidecar)
    fd = os.open(
        vault.keyring_marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
    )
    with os.fdopen(fd, "w") as marker:
        marker.write(_username(vault_id))


def recall(vault: VaultFile, vault_id: bytes) -> bytes | None:
    """The remembered data key, or None (no marker, no entry, no backend)."""
    if not vault.keyring_marker.exists():
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
    entry too.
    """
    had_marker = vault.keyring_marker.exists()
    accounts = {_marked_account(vault), _username(vault_id) if vault_id is not None else None}
    with contextlib.suppress(OSError):
        vault.keyring_marker.unlink()
    if not had_marker:
        return False
    removed = False
    for account in sorted(a for a in accounts if a):
        with contextlib.suppress(Exception):
            _backend().delete_password(SERVICE, account)
            removed = True
    return removed
