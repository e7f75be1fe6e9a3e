"""Unlock sessions: `credctl unlock` without rewriting the vault.

A session is a file in ``VAULT.d/sessions/`` holding the data key wrapped under
a key derived from a random 256-bit secret, and the `CREDCTL_SESSION` string
that carries the secret.  Neither half alone opens the vault.  Expiry is part of
the wrap's associated data, so editing it breaks the wrap; `credctl lock`
deletes every session file, and an expired file is deleted when it is next seen,
which makes a leaked `CREDCTL_SESSION` string useless.

The folder is reached through `PrivateDir` (SPEC §14): a ``sessions`` that is a
link, another user's or too open is refused (exit 6); inside it only the user's
regular files are read or deleted, so a planted link, FIFO or device is never
followed, opened for long, or removed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import struct
import time
from typing import NamedTuple

from credctl.errors import UnsafePathError
from credctl.vault import crypto
from credctl.vault.file import VaultFile
from credctl.vault.sidecar import PrivateDir

SESSION_PREFIX = "credctl-s1"
_INFO = b"credctl/v1/session"
_ID_SIZE = 16
_FOLDER = "sessions"


class SessionToken(NamedTuple):
    """The two parts of a CREDCTL_SESSION value."""

    session_id: bytes
    secret: bytes

    def encode(self) -> str:
        """The string a shell exports."""
        return f"{SESSION_PREFIX}.{_b64(self.session_id)}.{_b64(self.secret)}"

    @classmethod
    def parse(cls, text: str) -> SessionToken | None:
        """Parse CREDCTL_SESSION; None if it is not a session string."""
        parts = text.strip().split(".")
        if len(parts) != 3 or parts[0] != SESSION_PREFIX:
            return None
        try:
            session_id, secret = _unb64(parts[1]), _unb64(parts[2])
        except (binascii.Error, ValueError):
            return None
        if len(session_id) != _ID_SIZE or len(secret) != crypto.KEY_SIZE:
            return None
        return cls(session_id, secret)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(vault_id: bytes, session_id: bytes, expires: int) -> bytes:
    return _INFO + vault_id + session_id + struct.pack(">Q", expires)


def _expiry(record: object) -> int:
    """A session file's expiry, or ValueError when it is not a plausible unix time."""
    if not isinstance(record, dict):
        raise ValueError("session file is not an object")  # noqa: TRY004 - callers treat ValueError as "damaged file"
    expires = record.get("expires")
    if not isinstance(expires, int) or isinstance(expires, bool) or not 0 < expires < 2**63:
        raise ValueError("session expiry is out of range")
    return expires


def _folder(vault: VaultFile, *, create: bool = False) -> PrivateDir | None:
    """``VAULT.d/sessions``, checked; the caller closes it."""
    return vault.companion.subdir(_FOLDER, create=create)


def _read_expiry(folder: PrivateDir, name: str) -> int:
    """A session file's expiry; 0 when it is damaged (so that sweeping removes it)."""
    try:
        raw = folder.read_file(name)
        return _expiry(json.loads(raw)) if raw is not None else 0
    except (OSError, ValueError, UnsafePathError):
        return 0


def create_session(
    vault: VaultFile,
    vault_id: bytes,
    data_key: bytes,
    ttl_seconds: int,
    *,
    now: float | None = None,
) -> tuple[SessionToken, int]:
    """Write a session file and return its token and expiry (unix seconds)."""
    now = time.time() if now is None else now
    expires = int(now) + ttl_seconds
    token = SessionToken(crypto.random_bytes(_ID_SIZE), crypto.random_bytes(crypto.KEY_SIZE))
    kek = crypto.hkdf(token.secret, token.session_id, _INFO)
    nonce = crypto.random_bytes(crypto.NONCE_SIZE)
    wrapped = crypto.seal(kek, nonce, data_key, _aad(vault_id, token.session_id, expires))
    record = {
        "version": 1,
        "vault_id": vault_id.hex(),
        "created": int(now),
        "expires": expires,
        "nonce": _b64(nonce),
        "wrapped_key": _b64(wrapped),
    }
    folder = _folder(vault, create=True)
    assert folder is not None  # create=True makes it or raises
    with folder:
        _sweep(folder, now)
        folder.write_file_atomic(token.session_id.hex(), json.dumps(record).encode())
    return token, expires


def open_session(
    vault: VaultFile, text: str, vault_id: bytes, *, now: float | None = None
) -> tuple[bytes | None, str]:
    """The data key from a live session, or None and the reason it is no source."""
    token = SessionToken.parse(text)
    if token is None:
        return None, "CREDCTL_SESSION is not a credctl session string"
    name = token.session_id.hex()
    folder = _folder(vault)
    if folder is None:
        return None, "CREDCTL_SESSION was ended by `credctl lock` or has expired"
    with folder:
        try:
            raw = folder.read_file(name)
            if raw is None:
                return None, "CREDCTL_SESSION was ended by `credctl lock` or has expired"
            record = json.loads(raw)
            expires = _expiry(record)
            if bytes.fromhex(record["vault_id"]) != vault_id:
                return None, "CREDCTL_SESSION belongs to another vault"
            nonce, wrapped = _unb64(record["nonce"]), _unb64(record["wrapped_key"])
        except (OSError, ValueError, KeyError, TypeError, binascii.Error):
            return None, "CREDCTL_SESSION's session file is damaged"
        now = time.time() if now is None else now
        if now >= expires:
            folder.unlink(name)
            return None, "CREDCTL_SESSION has expired"
    kek = crypto.hkdf(token.secret, token.session_id, _INFO)
    try:
        data_key = crypto.unseal(kek, nonce, wrapped, _aad(vault_id, token.session_id, expires))
    except crypto.AuthenticationFailed:
        return None, "CREDCTL_SESSION does not match its session file"
    return data_key, ""


def sweep_expired(vault: VaultFile, *, now: float | None = None) -> int:
    """Delete session files whose expiry has passed; returns how many."""
    folder = _folder(vault)
    if folder is None:
        return 0
    with folder:
        return _sweep(folder, time.time() if now is None else now)


def _sweep(folder: PrivateDir, now: float) -> int:
    removed = 0
    for name in _session_names(folder):
        if now >= _read_expiry(folder, name):
            with contextlib.suppress(OSError):
                removed += folder.unlink(name)
    return removed


def revoke_all(vault: VaultFile) -> int:
    """Delete every session file of this vault (`credctl lock`, `rekey`)."""
    folder = _folder(vault)
    if folder is None:
        return 0
    removed = 0
    with folder:
        for name in _session_names(folder):
            with contextlib.suppress(OSError):
                removed += folder.unlink(name)
    return removed


def count_live(vault: VaultFile, *, now: float | None = None) -> int:
    """How many sessions have not expired."""
    now = time.time() if now is None else now
    folder = _folder(vault)
    if folder is None:
        return 0
    with folder:
        return sum(1 for name in _session_names(folder) if _read_expiry(folder, name) > now)


def _session_names(folder: PrivateDir) -> list[str]:
    """The user's regular files in the folder, except a session being written."""
    return [name for name in folder.regular_files() if not name.endswith(".tmp")]
