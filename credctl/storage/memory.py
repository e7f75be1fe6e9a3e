"""Records kept in this process only: for tests and throw-away use."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Iterator
from typing import Any

from credctl.records.activity import MemoryActivityLog
from credctl.storage.base import DEFAULT_OWNER, Record


class MemorySnapshot:
    """A deep copy of the records, so later writes cannot change it."""

    def __init__(self, meta: dict[str, Any], records: dict[int, Record]) -> None:
        self.meta = meta
        self._records = records

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        return self._records.get(credential_id)

    def get_by_name(self, name: str, owner: str = DEFAULT_OWNER) -> Record | None:
        """The record `owner` keeps under this name, or None."""
        return next((r for r in self.with_name(name) if r.get("owner", DEFAULT_OWNER) == owner),
                    None)  # fmt: skip

    def with_name(self, name: str) -> list[Record]:
        """Every owner's record with this name, in id order."""
        return [
            self._records[i] for i in sorted(self._records) if self._records[i]["name"] == name
        ]

    def records(self) -> Iterator[Record]:
        """Every record, in id order."""
        for credential_id in sorted(self._records):
            yield self._records[credential_id]

    def count(self) -> int:
        """How many records there are."""
        return len(self._records)

    def put(self, record: Record) -> None:
        """Insert or replace a record."""
        self._records[int(record["id"])] = record

    def delete(self, credential_id: int) -> bool:
        """Remove a record."""
        return self._records.pop(credential_id, None) is not None


class MemoryStorage:
    """A `CredentialStorage` in a dict, safe to share between threads."""

    def __init__(self) -> None:
        self._meta: dict[str, Any] = {}
        self._records: dict[int, Record] = {}
        self._activity = MemoryActivityLog()
        self._lock = threading.RLock()
        self._writes = 0

    def snapshot(self) -> MemorySnapshot:
        """A deep copy of the current state."""
        with self._lock:
            return MemorySnapshot(copy.deepcopy(self._meta), copy.deepcopy(self._records))

    @contextlib.contextmanager
    def writer(self) -> Iterator[MemorySnapshot]:
        """Change a copy; swap it in only if the block finishes."""
        with self._lock:
            draft = self.snapshot()
            yield draft
            self._meta, self._records = draft.meta, draft._records
            self._writes += 1

    def state_stamp(self) -> int:
        """Changes with every committed write."""
        return self._writes

    def activity_log(self) -> MemoryActivityLog:
        """Activity kept as long as this storage object."""
        return self._activity

    def describe(self) -> str:
        """``memory``."""
        return "memory"

    def health_issues(self) -> list[str]:
        """Nothing can go wrong with a dict."""
        return []
