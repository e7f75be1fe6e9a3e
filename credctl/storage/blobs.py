"""The small interface below the sealed record format: keys, opaque bytes, revisions.

A `BlobBackend` stores opaque byte strings under short keys (``[a-z0-9-]``, at
most 100 characters) and knows nothing of credentials, names or keys: everything
it is given is already sealed (`credctl.storage.sealed`), except the key-slot
blob and session records, which authenticate themselves.  One module per
engine implements it (``sqlite``, ``postgres``, ``hashicorp``, ``aws``,
``azure``); `credctl.storage.sealed.SealedStorage` turns any of them into a
`CredentialStorage`.

Each stored blob carries a `token`: the engine's own revision (a row revision,
a KV version, a version id, an ETag).  A write names the token it expects to
replace, or None for "must not exist yet"; a mismatch is `BlobConflictError`.  That
is compare-and-swap where the engine has it; `Capabilities.cas` says
``best-effort`` where it does not (Azure Key Vault: write, then read back).

Logs (the activity trail) are numbered entries appended after an expected last
number (`append_log`): the same compare-and-swap, so two appenders never both
write entry *n*.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Hashable, Iterator, Sequence
from typing import NamedTuple, Protocol

from credctl.errors import InvalidInput, ServiceUnavailable, VaultBusyError

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,99}\Z")


class BlobConflictError(VaultBusyError):
    """Someone else changed a blob since it was read (exit 8; a retry may succeed)."""

    retryable = True


class BackendUnavailableError(ServiceUnavailable):
    """The engine cannot be reached, or refused the connection (exit 10)."""


class MissingExtraError(InvalidInput):
    """The Python package a backend needs is not installed (exit 9)."""

    def __init__(self, backend: str, extra: str, module: str) -> None:
        super().__init__(
            f"the {backend} backend needs the {module!r} package, which is not installed",
            hint=f"pip install 'credctl[{extra}]'",
        )


class Blob(NamedTuple):
    """One stored blob and the engine's revision token for it."""

    key: str
    data: bytes
    token: Hashable


class Change(NamedTuple):
    """One write of a commit: new bytes (None deletes), replacing `expected`."""

    key: str
    data: bytes | None
    #: The token read before; None means the key must not exist.
    expected: Hashable | None


class Capabilities(NamedTuple):
    """What an engine guarantees; `SealedStorage` adapts to it."""

    #: ``exact``: the engine refuses a stale write; ``best-effort``: it cannot.
    cas: str
    #: Several changes commit all or nothing.
    atomic_commit: bool
    #: A reader sees one moment across every key it reads.
    consistent_reads: bool
    #: The largest blob the engine stores, in bytes.
    max_blob: int


def check_key(key: str) -> str:
    """Refuse a key the engines cannot all store (a bug, never user input)."""
    if not KEY_PATTERN.match(key):
        raise InvalidInput(f"invalid storage key {key!r}")
    return key


class BlobReader(Protocol):
    """Reads from one engine; a consistent reader sees one moment throughout."""

    def get_many(self, keys: Sequence[str]) -> dict[str, Blob]:
        """The blobs that exist among `keys`."""
        ...

    def list(self, prefix: str) -> list[Blob]:
        """Every blob whose key starts with `prefix`, with its data."""
        ...

    def close(self) -> None:
        """Release what the reader holds (a connection, a transaction)."""
        ...


class BlobTransaction(BlobReader, Protocol):
    """A reader that can also lock and commit (`BlobBackend.transaction`)."""

    def lock(self, timeout: float) -> None:
        """Become the only writer until the transaction ends (8 after `timeout` s).

        Engines without transactions do nothing here: `SealedStorage` takes a
        lease of its own instead.
        """
        ...

    def last_log_seq(self, log: str) -> int:
        """The log's last entry number, as this transaction sees it."""
        ...

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append inside this transaction (committed with it on SQL engines)."""
        ...

    def commit(self, changes: Sequence[Change]) -> dict[str, Hashable]:
        """Apply `changes` (compare-and-swap each); the new tokens by key.

        Atomic when `Capabilities.atomic_commit`; otherwise applied in order and
        stopped at the first conflict.
        """
        ...


class BlobBackend(Protocol):
    """One engine: blobs, logs, and what it can guarantee."""

    capabilities: Capabilities

    def describe(self) -> str:
        """The engine and where it is, without credentials (``postgresql host/db``)."""
        ...

    def reader(self) -> BlobReader:
        """A reader; consistent when `Capabilities.consistent_reads`."""
        ...

    def transaction(self) -> contextlib.AbstractContextManager[BlobTransaction]:
        """A read-write transaction: dropped on error, finished on exit."""
        ...

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append entries numbered from `expected_last` + 1; the new last number.

        `BlobConflictError` when the log's last number is not `expected_last`.
        """
        ...

    def read_log(self, log: str, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """Entries numbered above `after`, in order."""
        ...

    def last_log_seq(self, log: str) -> int:
        """The number of the log's last entry (0 when empty)."""
        ...

    def check(self) -> list[str]:
        """Problems worth reporting in `doctor` (unreachable, schema, permissions)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@contextlib.contextmanager
def closing_reader(reader: BlobReader) -> Iterator[BlobReader]:
    """Close a reader when the block ends."""
    try:
        yield reader
    finally:
        reader.close()
