"""The common part of the key-value engines: HashiCorp Vault, AWS Secrets Manager, Azure.

These services store one secret per key and offer compare-and-swap on one key at
a time at most; none has transactions or consistent reads across keys.  A
`KvBackend` implements the `BlobBackend` protocol over four primitives a
subclass provides (`kv_get`, `kv_put`, `kv_delete`, `kv_list`) and declares what
it guarantees; `SealedStorage` takes the write lease and the commit intent on
top (`credctl.storage.sealed_commit`).

Logs are kept in *segments*: blob ``l-<log>-<n>`` holds up to `SEGMENT` sealed
entries, and an append rewrites the last segment by compare-and-swap (a new
segment is created with "must not exist"), so two appenders never both write
entry *n* and a service is not asked for one secret per entry.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Hashable, Iterator, Sequence

from credctl.storage.blobs import Blob, BlobConflictError, Capabilities, Change, check_key

SEGMENT = 40
_Entries = list[str]
_Blobs = list[Blob]


class KvBackend:
    """A `BlobBackend` over one-key primitives (see the module doc)."""

    capabilities = Capabilities(cas="exact", atomic_commit=False, consistent_reads=False,
                                max_blob=64 * 1024)  # fmt: skip

    # -- what a subclass provides ----------------------------------------------------------

    def kv_get(self, key: str) -> Blob | None:
        """The blob at `key`, or None."""
        raise NotImplementedError

    def kv_put(self, key: str, data: bytes, expected: Hashable | None) -> Hashable:
        """Write `data` if the key is still at `expected` (None: absent); the new token."""
        raise NotImplementedError

    def kv_delete(self, key: str, expected: Hashable) -> None:
        """Remove the key if it is still at `expected`."""
        raise NotImplementedError

    def kv_list(self, prefix: str) -> _Entries:
        """The keys that start with `prefix`."""
        raise NotImplementedError

    def describe(self) -> str:
        """The service and where (a subclass names it)."""
        raise NotImplementedError

    def check(self) -> list[str]:
        """Reachable and allowed (a subclass checks)."""
        return []

    def close(self) -> None:
        """Nothing is held open."""

    # -- BlobBackend ---------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, Blob]:
        """Each key read on its own (the services have no batch read across keys)."""
        found = {}
        for key in dict.fromkeys(keys):
            blob = self.kv_get(check_key(key))
            if blob is not None:
                found[key] = blob
        return found

    def list(self, prefix: str) -> _Blobs:
        """Every blob under `prefix`, with its data."""
        return [*self.get_many(sorted(self.kv_list(prefix))).values()]

    def lock(self, timeout: float) -> None:
        """No transactions: `SealedStorage` takes a lease in the root instead."""

    def commit(self, changes: Sequence[Change]) -> dict[str, Hashable]:
        """Apply the changes in order; the first conflict stops them."""
        tokens: dict[str, Hashable] = {}
        for change in changes:
            key = check_key(change.key)
            if change.data is None:
                assert change.expected is not None
                self.kv_delete(key, change.expected)
            else:
                tokens[key] = self.kv_put(key, change.data, change.expected)
        return tokens

    def reader(self) -> KvBackend:
        """The engine itself reads (no snapshot to hold)."""
        return self

    @contextlib.contextmanager
    def transaction(self) -> Iterator[KvBackend]:
        """The engine itself (changes apply as `commit` makes them)."""
        yield self

    # -- logs ------------------------------------------------------------------------------------

    def _segment(self, log: str, number: int) -> str:
        return check_key(f"l-{log}-{number}")

    def _read_segment(self, log: str, number: int) -> tuple[_Entries, Blob | None]:
        blob = self.kv_get(self._segment(log, number))
        if blob is None:
            return [], None
        entries = json.loads(blob.data)
        return [str(e) for e in entries], blob

    def _last_segment(self, log: str) -> int:
        number = 0
        while self.kv_get(self._segment(log, number + 1)) is not None:
            number += 1
        return number

    def last_log_seq(self, log: str) -> int:
        """The last entry's number (0 when the log is empty)."""
        number = self._last_segment(log)
        if number == 0:
            return 0
        entries, _blob = self._read_segment(log, number)
        return (number - 1) * SEGMENT + len(entries)

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int:
        """Append after `expected_last` by compare-and-swap on the last segment."""
        last = expected_last
        for data in entries:
            number, offset = divmod(last, SEGMENT)
            current: _Entries = []
            blob: Blob | None = None
            if offset:
                current, blob = self._read_segment(log, number + 1)
            if len(current) != offset:
                raise BlobConflictError(f"the {log} log moved on")
            current.append(base64.b64encode(data).decode())
            encoded = json.dumps(current).encode()
            self.kv_put(self._segment(log, number + 1), encoded, blob.token if blob else None)
            last += 1
        return last

    def read_log(self, log: str, after: int = 0) -> Iterator[tuple[int, bytes]]:
        """Entries above `after`, in order."""
        number = after // SEGMENT
        while True:
            entries, blob = self._read_segment(log, number + 1)
            if blob is None:
                return
            for index, entry in enumerate(entries):
                seq = number * SEGMENT + index + 1
                if seq > after:
                    yield seq, base64.b64decode(entry)
            if len(entries) < SEGMENT:
                return
            number += 1
