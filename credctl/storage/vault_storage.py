"""The default backend: records inside the encrypted vault file.

The first operation unlocks the vault through the standard sources; the data
key is then kept for this object's lifetime, so a library user pays Argon2id
once, and each later operation re-reads the current generation (other
processes may have written meanwhile).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from credctl.errors import VaultCorruptError
from credctl.storage.base import Record
from credctl.storage.usage_journal import UsageJournal
from credctl.vault.body import Body
from credctl.vault.store import OpenVault, StaleDataKeyError, Unlocker, Vault


class VaultSnapshot:
    """Records of one vault generation; each is parsed only when asked for."""

    def __init__(self, body: Body) -> None:
        self._body = body
        self.meta: dict[str, Any] = body.meta

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        found = self._body.get_by_id(credential_id)
        return _checked(credential_id, found[0], found[1]) if found else None

    def get_by_name(self, name: str) -> Record | None:
        """The record with this name, or None (parses only that record)."""
        found = self._body.get_by_name(name)
        return _checked(found[0], name, found[1]) if found else None

    def records(self) -> Iterator[Record]:
        """Every record, in id order."""
        for credential_id, name, record in self._body.entries():
            yield _checked(credential_id, name, record)

    def count(self) -> int:
        """How many records there are (no record is parsed)."""
        return len(self._body)

    def put(self, record: Record) -> None:
        """Insert or replace a record."""
        self._body.put(int(record["id"]), str(record["name"]), record)

    def delete(self, credential_id: int) -> bool:
        """Remove a record."""
        return self._body.delete(credential_id)


def _checked(credential_id: int, name: str, record: Record) -> Record:
    # The index and the record must agree; a mismatch can only come from a forged body.
    if record.get("id") != credential_id or record.get("name") != name:
        raise VaultCorruptError(f"credential record {credential_id} disagrees with the index")
    return record


class VaultStorage:
    """A `CredentialStorage` over one vault file."""

    def __init__(self, vault: Vault, unlocker: Unlocker) -> None:
        self.vault = vault
        self.unlocker = unlocker
        self._opened: OpenVault | None = None
        self.journal = UsageJournal(vault.file.sidecar / "usage.jsonl", vault.file.companion)

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
        """The current generation, decrypted."""
        return VaultSnapshot(self._open().body)

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

    def state_stamp(self) -> tuple[int, int, int] | None:
        """Changes whenever any process commits a write (the rename makes a new inode)."""
        try:
            info = os.stat(self.vault.path)
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns, info.st_size

    def activity_log(self) -> UsageJournal:
        """``VAULT.d/usage.jsonl``: appended to, so the vault itself is not rewritten."""
        return self.journal

    def describe(self) -> str:
        """``vault /path/to/vault.credctl``."""
        return f"vault {self.vault.path}"

    def health_issues(self) -> list[str]:
        """Vault-level problems from the doctor's checks."""
        from credctl.vault.health import Level, examine

        report = examine(self.vault, None)
        return [f"{c.name}: {c.detail}" for c in report.checks if c.level is not Level.OK]
