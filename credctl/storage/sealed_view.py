"""Reading and changing sealed records: the snapshot and the draft of `SealedStorage`.

A snapshot starts from the *root* blob: the commit number (`seq`), the revision
of each manifest bucket, of the settings blob and of the key-slot blob, and the
record count.  Each bucket lists the revision of every record and id alias it
holds.  A blob is accepted only at the revision its parent names, so an engine
operator who deletes a row, puts an older one back (blob and revision
together) or adds one is caught (exit 6); the root itself is checked against
the highest commit number this machine has seen (`credctl.storage.anchors`).

Engines without consistent reads (HashiCorp Vault, AWS, Azure) may show a newer
bucket than the root read a moment before; the view then re-reads the root once
and tries again.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from credctl.errors import VaultCorruptError
from credctl.storage.base import DEFAULT_OWNER, Record
from credctl.storage.blobs import Blob, BlobReader
from credctl.storage.sealed_format import BUCKETS, SealKeys

_T = TypeVar("_T")
_DAMAGED_HINT = "the backend was changed outside credctl; restore it from a backup"


class Root:
    """The decrypted root of one commit.

    The bucket revisions are a packed array (``bucket_revs``: base64 of one u32 per
    bucket, 0 for an empty bucket), so one lookup costs the same whatever the
    vault's size.
    """

    __slots__ = ("_revs", "blob", "content", "revision")

    def __init__(self, revision: int, content: dict[str, Any], blob: Blob | None) -> None:
        self.revision = revision
        self.content = content
        self.blob = blob
        self._revs = unpack_revisions(content.get("bucket_revs"))

    def bucket_rev(self, index: int) -> int | None:
        """The revision of bucket `index`, None when it is empty."""
        revision = int.from_bytes(self._revs[index * 4 : index * 4 + 4], "big")
        return revision or None

    @property
    def seq(self) -> int:
        """The commit number."""
        return int(self.content.get("seq", 0))

    @property
    def buckets(self) -> dict[int, int]:
        """Revision of each non-empty bucket (reads the whole array)."""
        revs = struct.unpack(f">{BUCKETS}I", self._revs)
        return {index: revision for index, revision in enumerate(revs) if revision}

    @property
    def intent(self) -> dict[str, int]:
        """Keys an unfinished commit was writing, and their new revisions (0: deleted)."""
        return {str(k): int(v) for k, v in (self.content.get("intent") or {}).items()}

    def lease(self) -> dict[str, Any] | None:
        """The writer's lease on engines without transactions, if any."""
        lease = self.content.get("lease")
        return lease if isinstance(lease, dict) else None


def pack_revisions(buckets: dict[int, int]) -> str:
    """The ``bucket_revs`` member for these bucket revisions."""
    revs = [0] * BUCKETS
    for index, revision in buckets.items():
        revs[index] = revision
    return base64.b64encode(struct.pack(f">{BUCKETS}I", *revs)).decode()


def unpack_revisions(packed: object) -> bytes:
    """The raw array of ``bucket_revs`` (all zero when absent; damage when malformed)."""
    if packed is None:
        return bytes(4 * BUCKETS)
    try:
        raw = base64.b64decode(str(packed), validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 4 * BUCKETS:
        raise VaultCorruptError("the backend's root record is malformed", hint=_DAMAGED_HINT)
    return raw


def read_root(keys: SealKeys, blob: Blob | None) -> Root | None:
    """The root in `blob`, or None when there is none."""
    if blob is None:
        return None
    revision, content = keys.open_json(blob.key, blob.data)
    if not isinstance(content, dict) or int(content.get("seq", -1)) != revision:
        raise VaultCorruptError("the backend's root record is malformed", hint=_DAMAGED_HINT)
    return Root(revision, content, blob)


class SealedView:
    """One snapshot of sealed records (the `StorageSnapshot` of blob backends)."""

    def __init__(
        self, reader: BlobReader, keys: SealKeys, root: Root, *, consistent: bool
    ) -> None:
        self._reader = reader
        self._keys = keys
        self.root = root
        self._consistent = consistent
        self._buckets: dict[int, tuple[dict[str, int], Blob | None]] = {}
        self._meta: dict[str, Any] | None = None
        self.meta_blob: Blob | None = None
        #: Reads the latest root again (engines without consistent reads).
        self.refresh: Callable[[], Root | None] | None = None

    def close(self) -> None:
        """Release the reader (and its transaction)."""
        self._reader.close()

    def __del__(self) -> None:
        # A snapshot may hold a database transaction: give it back when dropped.
        with contextlib.suppress(Exception):
            self._reader.close()

    # -- blobs, checked against their manifest ----------------------------------------

    def _fetch(self, keys: Sequence[str]) -> dict[str, Blob]:
        return self._reader.get_many(list(dict.fromkeys(keys)))

    def _accepts(self, key: str, listed: int | None, revision: int) -> bool:
        if listed == revision:
            return True
        # An unfinished commit on an engine without transactions: its new revision is
        # authentic and named in the root's intent.
        return self.root.intent.get(key) == revision

    def bucket(self, index: int, fetched: dict[str, Blob] | None = None) -> dict[str, int]:
        """The manifest of bucket `index` (key → revision)."""
        cached = self._buckets.get(index)
        if cached is not None:
            return cached[0]
        expected = self.root.bucket_rev(index)
        if expected is None:
            self._buckets[index] = ({}, None)
            return {}
        key = self._keys.bucket_key(index)
        blob = (fetched or {}).get(key) or self._fetch([key]).get(key)
        if blob is None:
            raise VaultCorruptError(
                f"manifest bucket {index} is missing from the backend", hint=_DAMAGED_HINT
            )
        revision, content = self._keys.open_json(key, blob.data)
        if not self._accepts(key, expected, revision) or not isinstance(content, dict):
            raise VaultCorruptError(
                f"manifest bucket {index} is not the one the root names (revision "
                f"{revision}, expected {expected})",
                hint=_DAMAGED_HINT,
            )
        manifest = {str(k): int(v) for k, v in content.items()}
        self._buckets[index] = (manifest, blob)
        return manifest

    def bucket_blob(self, index: int) -> Blob | None:
        """The stored blob of bucket `index` (after `bucket` read it)."""
        self.bucket(index)
        return self._buckets[index][1]

    def _open_listed(self, key: str, fetched: dict[str, Blob]) -> tuple[Any, Blob] | None:
        """The JSON in `key` if its bucket lists it; damage if listed and wrong or gone."""
        index = self._keys.bucket_of(key)
        listed = self.bucket(index, fetched).get(key)
        if listed is None:
            return None  # never written, deleted, or a stray row nobody listed
        blob = fetched.get(key) or self._fetch([key]).get(key)
        if blob is None:
            raise VaultCorruptError(
                "a record listed in the manifest is missing from the backend",
                hint=_DAMAGED_HINT,
            )
        revision, value = self._keys.open_json(key, blob.data)
        if not self._accepts(key, listed, revision):
            raise VaultCorruptError(
                f"a stored record is at revision {revision}, not {listed}: an older copy "
                "was put back (replayed) outside credctl",
                hint=_DAMAGED_HINT,
            )
        return value, blob

    def _with_bucket(self, key: str) -> list[str]:
        index = self._keys.bucket_of(key)
        wanted = [key]
        if index not in self._buckets and self.root.bucket_rev(index) is not None:
            wanted.append(self._keys.bucket_key(index))
        return wanted

    # -- StorageSnapshot ----------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """The settings blob (next id, idempotency keys, pending flows, …)."""
        if self._meta is None:
            self._meta = self._retrying(self._load_meta)
        return self._meta

    @meta.setter
    def meta(self, value: dict[str, Any]) -> None:
        self._meta = value

    def _load_meta(self) -> dict[str, Any]:
        expected = self.root.content.get("meta")
        if expected is None:
            return {}
        key = self._keys.meta_key
        blob = self._fetch([key]).get(key)
        if blob is None:
            raise VaultCorruptError("the settings record is missing", hint=_DAMAGED_HINT)
        revision, value = self._keys.open_json(key, blob.data)
        if not self._accepts(key, int(expected), revision) or not isinstance(value, dict):
            raise VaultCorruptError(
                "the settings record is not the one the root names", hint=_DAMAGED_HINT
            )
        self.meta_blob = blob
        return value

    def stored_record(self, owner: str, name: str) -> tuple[Record, Blob] | None:
        """The record and its blob, as stored now (no pending change)."""
        key = self._keys.record_key(owner, name)
        found = self._open_listed(key, self._fetch(self._with_bucket(key)))
        if found is None:
            return None
        record, blob = found
        if not isinstance(record, dict) or (
            record.get("name"),
            record.get("owner", DEFAULT_OWNER),
        ) != (name, owner):
            raise VaultCorruptError(
                "a stored record does not hold the credential its key names",
                hint=_DAMAGED_HINT,
            )
        return record, blob

    def stored_by_id(self, credential_id: int) -> tuple[Record, Blob, Blob] | None:
        """(record, its blob, the id alias blob) as stored now."""
        alias_key = self._keys.id_key(credential_id)
        found = self._open_listed(alias_key, self._fetch(self._with_bucket(alias_key)))
        if found is None:
            return None
        alias, alias_blob = found
        key = alias.get("key") if isinstance(alias, dict) else None
        if not isinstance(key, str):
            raise VaultCorruptError("an id alias is malformed", hint=_DAMAGED_HINT)
        record_found = self._open_listed(key, self._fetch(self._with_bucket(key)))
        if record_found is None:
            raise VaultCorruptError(
                f"credential {credential_id}'s record is missing", hint=_DAMAGED_HINT
            )
        record, blob = record_found
        if not isinstance(record, dict) or record.get("id") != credential_id:
            raise VaultCorruptError(
                f"credential record {credential_id} disagrees with its id", hint=_DAMAGED_HINT
            )
        return record, blob, alias_blob

    def _retrying(self, read: Callable[[], _T]) -> _T:
        """Run `read`; on an engine without consistent reads, a manifest that moved on
        since the root was read means a commit happened: re-read the root, once."""
        try:
            return read()
        except VaultCorruptError:
            if self._consistent or self.refresh is None:
                raise
        fresh = self.refresh()
        if fresh is None:
            raise VaultCorruptError("the backend's root record is missing", hint=_DAMAGED_HINT)
        self.root, self._meta = fresh, None
        self._buckets.clear()
        return read()

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, or None."""
        found = self._retrying(lambda: self.stored_by_id(credential_id))
        return found[0] if found else None

    def get_by_name(self, name: str, owner: str = DEFAULT_OWNER) -> Record | None:
        """The record `owner` keeps under this name, or None."""
        found = self._retrying(lambda: self.stored_record(owner, name))
        return found[0] if found else None

    def with_name(self, name: str) -> list[Record]:
        """Every owner's record with this name, in id order."""
        return [r for r in self.records() if r.get("name") == name]

    def records(self) -> Iterator[Record]:
        """Every record, in id order (each checked against its manifest)."""
        yield from self._retrying(self._all_records)

    def _all_records(self) -> list[Record]:
        rows = {blob.key: blob for blob in self._reader.list("r-")}
        used = self.root.buckets
        wanted = [self._keys.bucket_key(i) for i in used if i not in self._buckets]
        fetched = self._fetch(wanted) if wanted else {}
        found: list[Record] = []
        for index in sorted(used):
            for key in self.bucket(index, fetched):
                if not key.startswith("r-"):
                    continue
                opened = self._open_listed(key, rows)
                if opened is not None and isinstance(opened[0], dict):
                    found.append(opened[0])
        found.sort(key=lambda r: int(r.get("id", 0)))
        return found

    def count(self) -> int:
        """How many records there are (from the root: no record is read)."""
        return int(self.root.content.get("count", 0))


class SealedDraft(SealedView):
    """A snapshot with changes on top: what a `writer()` block sees and changes."""

    def __init__(
        self, reader: BlobReader, keys: SealKeys, root: Root, *, consistent: bool
    ) -> None:
        super().__init__(reader, keys, root, consistent=consistent)
        self.pending: dict[int, Record | None] = {}
        self._original_meta: dict[str, Any] | None = None

    def _load_meta(self) -> dict[str, Any]:
        meta = super()._load_meta()
        self._original_meta = copy.deepcopy(meta)
        return meta

    def meta_changed(self) -> bool:
        """Whether the settings were changed in this draft."""
        return self._meta is not None and self._meta != self._original_meta

    def close(self) -> None:
        """The transaction owns the reader: nothing to release here."""

    def __del__(self) -> None:
        pass

    def put(self, record: Record) -> None:
        """Insert or replace the record with ``record["id"]``."""
        self.pending[int(record["id"])] = copy.deepcopy(record)

    def delete(self, credential_id: int) -> bool:
        """Remove a record; False if there was none."""
        if self.get_by_id(credential_id) is None:
            return False
        self.pending[credential_id] = None
        return True

    def get_by_id(self, credential_id: int) -> Record | None:
        """The record with this id, pending changes included."""
        if credential_id in self.pending:
            return copy.deepcopy(self.pending[credential_id])
        return super().get_by_id(credential_id)

    def get_by_name(self, name: str, owner: str = DEFAULT_OWNER) -> Record | None:
        """The record `owner` keeps under this name, pending changes included."""
        for record in self.pending.values():
            if record is not None and (record["name"], record.get("owner", DEFAULT_OWNER)) == (
                name,
                owner,
            ):
                return copy.deepcopy(record)
        found = super().get_by_name(name, owner)
        if found is not None and int(found["id"]) in self.pending:
            return None  # renamed or deleted in this draft
        return found

    def records(self) -> Iterator[Record]:
        """Every record in id order, pending changes included."""
        merged = {int(r["id"]): r for r in super().records()}
        for credential_id, record in self.pending.items():
            if record is None:
                merged.pop(credential_id, None)
            else:
                merged[credential_id] = copy.deepcopy(record)
        for credential_id in sorted(merged):
            yield merged[credential_id]

    def count(self) -> int:
        """How many records there are, pending changes included."""
        count = super().count()
        for credential_id, record in self.pending.items():
            before = SealedView.get_by_id(self, credential_id) is not None
            count += (record is not None) - before
        return count
