"""The small interface every storage backend implements.

A backend stores credential records (JSON-able dicts with at least ``id`` and
``name``) plus a little settings data (`meta`), and keeps an append-only usage
journal.  Reads see one consistent snapshot; writes happen inside `writer()`,
all or nothing.  Adding a backend is adding one module that implements
`CredentialStorage`; third-party ones register under the entry-point group
``credctl.storage``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol, runtime_checkable

Record = dict[str, Any]


class UsageEvent(NamedTuple):
    """One use of a credential: never a secret, only what happened and when."""

    credential_id: int
    action: str  # "get_token", "refresh", ...
    at: float  # unix seconds
    duration_ms: float | None = None


class StorageSnapshot(Protocol):
    """A consistent, read-only view of the records at one moment."""

    meta: dict[str, Any]

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        ...

    def get_by_name(self, name: str) -> Record | None:
        """The record with this name, or None."""
        ...

    def records(self) -> Iterator[Record]:
        """Every record, in id order."""
        ...

    def count(self) -> int:
        """How many records there are."""
        ...


class StorageWriter(StorageSnapshot, Protocol):
    """A snapshot that can be changed; changes are committed when `writer()` exits."""

    def put(self, record: Record) -> None:
        """Insert or replace the record with ``record["id"]``."""
        ...

    def delete(self, credential_id: int) -> bool:
        """Remove a record; False if there was none."""
        ...


@runtime_checkable
class CredentialStorage(Protocol):
    """Where credentials live."""

    def snapshot(self) -> StorageSnapshot:
        """A consistent read-only view."""
        ...

    def writer(self) -> contextlib.AbstractContextManager[StorageWriter]:
        """An exclusive, atomic change: committed on normal exit, dropped on error."""
        ...

    def record_usage(self, event: UsageEvent) -> None:
        """Append to the usage journal without rewriting any record."""
        ...

    def usage_events(self) -> Iterator[UsageEvent]:
        """The usage journal, oldest first."""
        ...

    def describe(self) -> str:
        """A short human description (``vault /path``, ``memory``)."""
        ...

    # Optional: ``state_stamp() -> Hashable | None``, a value that changes with every
    # committed write, in any process.  Without it the manager does not cache tokens.

    def health_issues(self) -> list[str]:
        """Problems worth reporting in `health_check` (empty when fine)."""
        ...
