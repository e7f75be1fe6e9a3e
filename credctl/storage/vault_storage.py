"""The default backend: records inside the encrypted vault file.

The first operation unlocks the vault through the standard sources; the data
key is then kept for this object's lifetime, so a library user pays Argon2id
once, and each later operation re-reads the current generation (other
processes may have written meanwhile).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credctl.errors import VaultCorruptError
from credctl.storage.base import DEFAULT_OWNER, Record
from credctl.vault.body import OWNER_ID, RECORD_NAME, Body
from credctl.vault.store import OpenVault, StaleDataKeyError, Unlocker, Vault

if TYPE_CHECKING:
    from credctl.audit.trail import AuditTrail


class VaultSnapshot:
    """Records of one vault generation; each is parsed only when asked for.

    The body indexes records by key: the name, or ``owner/name`` for an owner other
    than ``local`` (`record_key`), so names are unique per owner.
    """

    def __init__(self, body: Body) -> None:
        self._body = body
        self.meta: dict[str, Any] = body.meta

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        found = self._body.get_by_id(credential_id)
        return _checked(credential_id, found[0], found[1]) if found else None

    def get_by_name(self, name: str, owner: str = DEFAULT_OWNER) -> Record | None:
        """The record `owner` has under this name, or None (parses only that record)."""
        if not _valid_name(owner, name):
            return None  # an ``owner/name`` smuggled into either part must not find a key
        key = key_of(owner, name)
        found = self._body.get_by_name(key)
        return _checked(found[0], key, found[1]) if found else None

    def with_name(self, name: str) -> list[Record]:
        """Every owner's record with this name, in id order (parses only those)."""
        if not RECORD_NAME.match(name):
            return []
        suffix = "/" + name
        ids = sorted(i for key, i in self._body.names().items() if key == name or
                     key.endswith(suffix))  # fmt: skip
        return [record for i in ids if (record := self.get_by_id(i)) is not None]

    def records(self) -> Iterator[Record]:
        """Every record, in id order."""
        for credential_id, key, record in self._body.entries():
            yield _checked(credential_id, key, record)

    def count(self) -> int:
        """How many records there are (no record is parsed)."""
        return len(self._body)

    def put(self, record: Record) -> None:
        """Insert or replace a record."""
        key = key_of(record.get("owner", DEFAULT_OWNER), record["name"])
        self._body.put(int(record["id"]), key, record)

    def delete(self, credential_id: int) -> bool:
        """Remove a record."""
        return self._body.delete(credential_id)


def key_of(owner: object, name: object) -> str:
    """The index key of a record: its name, prefixed with ``owner/`` unless owner is local."""
    if not isinstance(owner, str) or not isinstance(name, str):
        raise VaultCorruptError("a credential record has a malformed owner or name")
    return name if owner == DEFAULT_OWNER else f"{owner}/{name}"


def _valid_name(owner: str, name: str) -> bool:
    return bool(RECORD_NAME.match(name)) and (
        owner == DEFAULT_OWNER or bool(OWNER_ID.match(owner))
    )


def _checked(credential_id: int, key: str, record: Record) -> Record:
    # The index and the record must agree; a mismatch can only come from a forged body.
    if (
        record.get("id") != credential_id
        or key_of(record.get("owner", DEFAULT_OWNER), record.get("name")) != key
    ):
        raise VaultCorruptError(f"credential record {credential_id} disagrees with the index")
    return record


class VaultStorage:
    """A `CredentialStorage` over one vault file."""

    def __init__(self, vault: Vault, unlocker: Unlocker) -> None:
        self.vault = vault
        self.unlocker = unlocker
        self._opened: OpenVault | None = None
        self._cached: tuple[tuple[int, int, int], Body] | None = None
        self._trail: AuditTrail | None = None

    @property
    def vault_path(self) -> Path:
        """The vault file."""
        return self.vault.path

    @property
    def unlock_source(self) -> str | None:
        """Which source unlocked the vault (None before the first operation)."""
        return self._opened.source if self._opened else None

    def _open(self) -> OpenVault:
        if self._opened is None:
            self._opened = self.vault.open(self.unlocker)
            return self._opened
        try:
            self._opened = self.vault.open_with_key(self._opened.data_key, self._opened.source)
        except StaleDataKeyError:  # rekeyed by another process: unlock again
            self._opened = self.vault.open(self.unlocker)
        return self._opened

    def snapshot(self) -> VaultSnapshot:
        """The current generation, decrypted.

        The last generation read is kept, keyed by the file's `state_stamp`: while
        the file is unchanged a snapshot costs a ``stat`` and a copy of the settings
        instead of a read, an authentication and a decryption of the whole file (a
        long-lived process such as ``credctl serve`` reads many times per write).
        The stamp is taken before the read, so a write that lands in between only
        makes the next snapshot read again.
        """
        stamp = self.state_stamp()
        cached = self._cached
        if stamp is not None and cached is not None and cached[0] == stamp:
            return VaultSnapshot(cached[1].copy())
        body = self._open().body
        if stamp is not None:
            self._cached = (stamp, body.copy())
        return VaultSnapshot(body)

    @contextlib.contextmanager
    def writer(self) -> Iterator[VaultSnapshot]:
        """Lock, re-read, change, commit a new generation."""
        opened = self._opened or self._open()
        with contextlib.ExitStack() as stack:
            try:
                txn = stack.enter_context(
                    self.vault.edit(data_key=opened.data_key, source=opened.source)
                )
            except StaleDataKeyError:  # rekeyed since we unlocked: unlock again, once
                self._opened = opened = self.vault.open(self.unlocker)
                txn = stack.enter_context(
                    self.vault.edit(data_key=opened.data_key, source=opened.source)
                )
            yield VaultSnapshot(txn.body)
        self._cached = None  # our own write: the next snapshot reads the new generation

    def state_stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever any process commits a write (the rename makes a new inode).

        The inode alone could be reused once the previous file is gone (no backups
        kept), so the modification time and the size go with it.
        """
        try:
            info = os.stat(self.vault.path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def activity_log(self) -> AuditTrail:
        """The sealed audit trail in ``VAULT.d/audit/``: appended to, never the vault."""
        if self._trail is None:
            from credctl.audit.trail import AuditTrail

            self._trail = AuditTrail(self.vault.file.sidecar, self)
        return self._trail

    # -- what the audit trail needs (`credctl.audit.trail.TrailHost`) ------------------

    def trail_identity(self) -> tuple[bytes, bytes]:
        """(vault id, data key) of the open vault, unlocking it on first use."""
        opened = self._opened or self._open()
        return opened.vault_id, opened.data_key

    def trail_settings(self) -> Mapping[str, Any]:
        """The settings of the generation read last."""
        opened = self._opened or self._open()
        return opened.body.meta

    def describe(self) -> str:
        """``vault /path/to/vault.credctl``."""
        return f"vault {self.vault.path}"

    def health_issues(self) -> list[str]:
        """Vault-level problems from the doctor's checks."""
        from credctl.vault.health import Level, examine

        report = examine(self.vault, None)
        return [f"{c.name}: {c.detail}" for c in report.checks if c.level is not Level.OK]
