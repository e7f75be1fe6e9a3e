"""The small interface every storage backend implements, and its optional parts.

A backend stores credential records (JSON-able dicts with at least ``id`` and
``name``, and ``owner`` unless it is ``local``; names are unique per owner) plus a
little settings data (`meta`).  Reads see one consistent
snapshot; writes happen inside `writer()`, all or nothing.  Nothing above the
record layer (`credctl.records`) talks to a backend: the record layer alone
reads, writes and logs through it.  Adding a backend is adding one module that
implements `CredentialStorage`; third-party ones register under the entry-point
group ``credctl.storage``.

Optional capabilities are small protocols of their own (`ChangeStamped`,
`ActivityStorage`, `VaultLocated`), checked once with ``isinstance`` when the
record layer is built, never probed with ``getattr`` at each call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from credctl.records.activity import ActivityLog

Record = dict[str, Any]
#: The owner of credentials that the vault's own user creates (CLI, library).
DEFAULT_OWNER = "local"


class StorageSnapshot(Protocol):
    """A consistent, read-only view of the records at one moment."""

    meta: dict[str, Any]

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        ...

    def get_by_name(self, name: str, owner: str = DEFAULT_OWNER) -> Record | None:
        """The record `owner` keeps under this name, or None.

        Names are unique per owner (the record's ``owner`` member, ``local`` when
        absent): two owners may each have a ``github``.
        """
        ...

    def with_name(self, name: str) -> list[Record]:
        """Every owner's record with this name, in id order."""
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

    def describe(self) -> str:
        """A short human description (``vault /path``, ``memory``)."""
        ...

    def health_issues(self) -> list[str]:
        """Problems worth reporting in `health_check` (empty when fine)."""
        ...


@runtime_checkable
class ChangeStamped(Protocol):
    """A backend that can tell cheaply whether anything changed since a read.

    Without it the manager does not cache tokens: a cache that cannot see other
    processes' writes would hand out revoked tokens.
    """

    def state_stamp(self) -> Hashable | None:
        """A value that changes with every committed write, in any process."""
        ...


@runtime_checkable
class ActivityStorage(Protocol):
    """A backend that keeps the activity log (usage and audit) beside its records.

    Without it, activity is kept in memory for the life of the process only.
    """

    def activity_log(self) -> ActivityLog:
        """The log for this backend's records."""
        ...


@runtime_checkable
class VaultLocated(Protocol):
    """A backend kept in a vault file: hints name its path, and it knows how it unlocked."""

    @property
    def vault_path(self) -> Path:
        """The vault file."""
        ...

    @property
    def unlock_source(self) -> str | None:
        """Which source unlocked the vault (None before the first operation)."""
        ...
