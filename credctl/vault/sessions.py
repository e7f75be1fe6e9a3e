"""Unlock sessions: `credctl unlock` without rewriting the vault.

A session is a file in ``VAULT.d/sessions/`` holding the data key wrapped under
a key derived from a random 256-bit secret, and the `CREDCTL_SESSION` string
that carries the secret.  Neither half alone opens the vault.  Expiry is part of
the wrap's associated data, so editing it breaks the wrap; `credctl lock`
deletes every session file, and an expired file is deleted when it is next seen,
which makes a leaked `CREDCTL_SESSION` string useless.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import struct
import time
from pathlib import Path
from typing import NamedTuple

from credctl.vault import crypto
from credctl.vault.file import VaultFile, ensure_private_dir, read_regular_file

SESSION_PREFIX = "credctl-s1"
_INFO = b"credctl/v1/session"
_ID_SIZE = 16


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


def _path(vault: VaultFile, session_id: bytes) -> Path:
    return vault.session_dir / session_id.hex()


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
    ensure_private_dir(vault.sidecar)
    ensure_private_dir(vault.session_dir)
    sweep_expired(vault, now=now)
    final = _path(vault, token.session_id)
    tmp = final.with_name(final.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    os.replace(tmp, final)
    return token, expires


def open_session(
    vault: VaultFile, text: str, vault_id: bytes, *, now: float | None = None
) -> tuple[bytes | None, str]:
    """The data key from a live session, or None and the reason it is no source."""
    token = SessionToken.parse(text)
    if token is None:
        return None, "CREDCTL_SESSION is not a credctl session string"
    path = _path(vault, token.session_id)
    try:
        record = json.loads(read_regular_file(path, missing=FileNotFoundError()))
        expires = _expiry(record)
        if bytes.fromhex(record["vault_id"]) != vault_id:
            return None, "CREDCTL_SESSION belongs to another vault"
        nonce, wrapped = _unb64(record["nonce"]), _unb64(record["wrapped_key"])
    except FileNotFoundError:
        return None, "CREDCTL_SESSION was ended by `credctl lock` or has expired"
    except (OSError, ValueError, KeyError, TypeError, binascii.Error):
        return None, "CREDCTL_SESSION's session file is damaged"
    now = time.time() if now is None else now
    if now >= expires:
        with contextlib.suppress(OSError):
            os.unlink(path)
        return None, "CREDCTL_SESSION has expired"
    kek = crypto.hkdf(token.secret, token.session_id, _INFO)
    try:
        data_key = crypto.unseal(kek, nonce, wrapped, _aad(vault_id, token.session_id, expires))
    except crypto.AuthenticationFailed:
        return None, "CREDCTL_SESSION does not match its session file"
    return data_key, ""


def sweep_expired(vault: VaultFile, *, now: float | None = None) -> int:
    """Delete session files whose expiry has passed; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in _session_files(vault):
        try:
            expires = _expiry(json.loads(path.read_text()))
        except (OSError, ValueError):
            expires = 0
        if now >= expires:
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


def revoke_all(vault: VaultFile) -> int:
    """Delete every session file of this vault (`credctl lock`, `rekey`)."""
    removed = 0
    for path in _session_files(vault):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def count_live(vault: VaultFile, *, now: float | None = None) -> int:
    """How many sessions have not expired."""
    now = time.time() if now is None else now
    live = 0
    for path in _session_files(vault):
        with contextlib.suppress(OSError, ValueError):
            if _expiry(json.loads(path.read_text())) > now:
                live += 1
    return live


def _session_files(vault: VaultFile) -> list[Path]:
    if not vault.session_dir.is_dir():
        return []
    return [p for p in vault.session_dir.iterdir() if not p.name.endswith(".tmp")]
