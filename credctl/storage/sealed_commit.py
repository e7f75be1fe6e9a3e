"""Writing sealed records: one exclusive writer, compare-and-swap on every blob.

`write_session` makes the caller the only writer (the engine's transaction
lock where it has transactions; otherwise a lease in the root, taken by
compare-and-swap and waited for up to the lock timeout, then exit 8), reads the
key-slot blob and the root inside that, and yields a `Commit`.  When the block
ends, `Commit.apply` seals every changed record, id alias, manifest bucket and
the settings at the next commit number, and writes them with the revisions it
read as the expected ones; the root goes last.

Engines with atomic commits (SQLite, PostgreSQL) apply everything in one
transaction.  The others apply blob by blob: the root first records the keys
being written (its *intent*), then the blobs, then the final root.  A writer
killed in between leaves authentic blobs at revisions the intent names; readers
accept them, and the next writer reconciles the manifests with what was written
(`Commit.repair`).  A batch cut by a crash on such an engine may thus be partly
applied: that is the documented limit of engines without transactions.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Hashable, Iterator
from typing import Any

from credctl.errors import DuplicateCredential, VaultBusyError, VaultCorruptError
from credctl.storage.base import DEFAULT_OWNER, Record
from credctl.storage.blobs import Blob, BlobBackend, BlobConflictError, BlobTransaction, Change
from credctl.storage.sealed_format import KEYS_KEY, SealKeys, revision_of
from credctl.storage.sealed_view import Root, SealedDraft, pack_revisions, read_root

LEASE_SECONDS = 60.0
_POLL = (0.02, 0.5)  # first and longest pause while another writer holds the lease


class Commit:
    """The changes of one write session, applied by `apply`."""

    def __init__(
        self,
        txn: BlobTransaction,
        keys: SealKeys,
        root: Root | None,
        keys_blob: Blob | None,
        *,
        atomic: bool,
    ) -> None:
        self.txn = txn
        self.keys = keys
        self.root = root
        self.keys_blob = keys_blob
        self.atomic = atomic
        self.seq = (root.seq if root else 0) + 1
        empty = Root(0, {"seq": 0, "count": 0}, None)
        self.draft = SealedDraft(txn, keys, root or empty, consistent=True)
        self.new_keys_blob: tuple[bytes, int] | None = None
        self._changes: dict[str, Change] = {}
        self._buckets: dict[int, dict[str, int | None]] = {}
        self._recount = False
        self._count_delta = 0
        self._replacement: list[Change] | None = None
        #: The commit number written by `apply` (0 until then, and when nothing changed).
        self.written = 0
        #: The activity log's own key (kept across rekeys so older entries stay readable).
        self.log_key = str(root.content.get("log_key", "")) if root else ""

    # -- staging ------------------------------------------------------------------------

    @property
    def meta(self) -> dict[str, Any]:
        """The settings, for changing (compared with what was read at `apply`)."""
        return self.draft.meta

    def _stage(self, key: str, value: Any, listed: Blob | None) -> None:
        expected: Hashable | None = listed.token if listed is not None else None
        if listed is None and not self.atomic:
            # Left by a crashed writer on an engine without transactions: replace it.
            # (An engine with transactions never leaves one: a stray row there is
            # someone else's, and the insert refuses it.)
            stray = self.txn.get_many([key]).get(key)
            expected = stray.token if stray is not None else None
        self._changes[key] = Change(key, self.keys.seal_json(key, self.seq, value), expected)
        self._buckets.setdefault(self.keys.bucket_of(key), {})[key] = self.seq

    def _unstage(self, key: str, listed: Blob) -> None:
        self._changes[key] = Change(key, None, listed.token)
        self._buckets.setdefault(self.keys.bucket_of(key), {})[key] = None

    def _stage_records(self) -> None:
        view = self.draft
        for credential_id, new in view.pending.items():
            old = view.stored_by_id(credential_id)
            old_key = None
            if old is not None:
                record, blob, alias_blob = old
                old_key = self.keys.record_key(record.get("owner", DEFAULT_OWNER), record["name"])
            self._count_delta += (new is not None) - (old is not None)
            if new is None:
                if old is not None:
                    self._unstage(old_key or "", blob)
                    self._unstage(self.keys.id_key(credential_id), alias_blob)
                continue
            owner, name = new.get("owner", DEFAULT_OWNER), new["name"]
            if not isinstance(owner, str) or not isinstance(name, str):
                raise VaultCorruptError(f"credential record {credential_id} has a bad name")
            new_key = self.keys.record_key(owner, name)
            if old is not None and old_key == new_key:
                self._stage(new_key, new, old[1])
                continue
            taken = view.stored_record(owner, name)
            if taken is not None and int(taken[0].get("id", -1)) not in view.pending:
                raise DuplicateCredential(f"a credential named {name!r} already exists")
            if old is not None:
                self._unstage(old_key or "", old[1])
            self._stage(new_key, new, taken[1] if taken is not None else None)
            self._stage(self.keys.id_key(credential_id), {"key": new_key},
                        old[2] if old is not None else None)  # fmt: skip

    def _root_content(self, buckets: dict[int, int], count: int) -> dict[str, Any]:
        base = dict(self.root.content) if self.root else {}
        base.update(v=1, seq=self.seq, count=count, bucket_revs=pack_revisions(buckets))
        base.pop("lease", None)
        base.pop("intent", None)
        base.pop("buckets", None)
        if not self.log_key:
            import base64

            from credctl.vault import crypto

            self.log_key = base64.b64encode(crypto.random_bytes(crypto.KEY_SIZE)).decode()
        base["log_key"] = self.log_key
        return base

    def _bucket_after(self, index: int) -> dict[str, int]:
        manifest = dict(self.draft.bucket(index))
        for key, revision in self._buckets.get(index, {}).items():
            if revision is None:
                manifest.pop(key, None)
            else:
                manifest[key] = revision
        return manifest

    def changes(self) -> list[Change]:
        """Everything to write, root last; empty when nothing changed."""
        self._stage_records()
        meta_changed = self.draft.meta_changed()
        if not (self._changes or self._buckets or meta_changed or self.new_keys_blob
                or self.root is None):  # fmt: skip
            return []
        buckets = dict(self.root.buckets) if self.root else {}
        for index in self._buckets:
            manifest = self._bucket_after(index)
            key = self.keys.bucket_key(index)
            listed = self.draft.bucket_blob(index)
            if manifest:
                expected = listed.token if listed else _stray_token(self.txn, key)
                self._changes[key] = Change(key, self.keys.seal_json(key, self.seq, manifest),
                                            expected)  # fmt: skip
                buckets[index] = self.seq
            else:
                buckets.pop(index, None)
                if listed is not None:
                    self._changes[key] = Change(key, None, listed.token)
        count = (int(self.root.content.get("count", 0)) if self.root else 0) + self._count_delta
        if self._recount:  # after an interrupted commit the stored count may be off
            count = sum(
                key.startswith("r-")
                for index in buckets
                for key in (self._bucket_after(index) or {})
            )
        content = self._root_content(buckets, count)
        if meta_changed or self.root is None:
            key = self.keys.meta_key
            self.draft.meta  # noqa: B018 - loads the blob whose token is the expected one
            listed = self.draft.meta_blob
            expected = listed.token if listed else _stray_token(self.txn, key)
            self._changes[key] = Change(key, self.keys.seal_json(key, self.seq, self.draft.meta),
                                        expected)  # fmt: skip
            content["meta"] = self.seq
        if self.new_keys_blob is not None:
            data, generation = self.new_keys_blob
            expected = self.keys_blob.token if self.keys_blob else None
            self._changes[KEYS_KEY] = Change(KEYS_KEY, data, expected)
            content["keys_gen"] = generation
        root_key = self.keys.root_key
        root_token = self.root.blob.token if self.root and self.root.blob else None
        return [
            *self._changes.values(),
            Change(root_key, self.keys.seal_json(root_key, self.seq, content), root_token),
        ]

    def replace_with(self, changes: list[Change]) -> None:
        """Write exactly `changes`, in this order, instead of the staged ones (rekey)."""
        self._replacement = changes

    def apply(self) -> int:
        """Write the staged changes; the new commit number (0: nothing to write)."""
        if self._replacement is not None:
            if self.atomic:
                self.txn.commit(self._replacement)
            else:
                for change in self._replacement:  # in order: the key-slot blob commits
                    self.txn.commit([change])
            self.written = self.seq
            return self.seq
        changes = self.changes()
        if not changes:
            return 0
        self.written = self.seq
        if self.atomic:
            self.txn.commit(changes)
            return self.seq
        if self.root is None:
            # A new vault: nobody reads it before its key-slot blob exists, so that
            # goes last and every other blob may be written (or rewritten) before it.
            ordered = [c for c in changes if c.key != KEYS_KEY]
            ordered += [c for c in changes if c.key == KEYS_KEY]
            for change in ordered:
                self.txn.commit([change])
            return self.seq
        *blobs, final_root = changes
        # The root names the keys about to change before any of them does.
        intent = {c.key: (self.seq if c.data is not None else 0) for c in blobs}
        assert self.root is not None
        assert self.root.blob is not None
        content = dict(self.root.content, intent=intent)
        root_key = self.keys.root_key
        sealed = self.keys.seal_json(root_key, self.root.seq, content)
        tokens = self.txn.commit([Change(root_key, sealed, self.root.blob.token)])
        self.txn.commit(blobs)
        self.txn.commit([final_root._replace(expected=tokens[root_key])])
        return self.seq

    def repair(self) -> None:
        """Reconcile the manifests with what an interrupted commit wrote (non-atomic engines)."""
        assert self.root is not None
        for key, _new in self.root.intent.items():
            if not key.startswith(("r-", "i-")):
                continue
            blob = self.txn.get_many([key]).get(key)
            self._buckets.setdefault(self.keys.bucket_of(key), {})[key] = (
                self.keys.open(key, blob.data)[0] if blob is not None else None
            )
        meta = self.txn.get_many([self.keys.meta_key]).get(self.keys.meta_key)
        if meta is not None and self.root.content.get("meta") is not None:
            self.root.content["meta"] = revision_of(meta.key, meta.data)
            self.draft.root = self.root
        self._changes.clear()
        self._recount = True


def _stray_token(txn: BlobTransaction, key: str) -> Hashable | None:
    stray = txn.get_many([key]).get(key)
    return stray.token if stray is not None else None


@contextlib.contextmanager
def write_session(
    backend: BlobBackend,
    keys: SealKeys,
    timeout: float,
    *,
    check: Callable[[Commit], None] | None = None,
) -> Iterator[Commit]:
    """Be the only writer, yield the `Commit`, and apply it when the block ends.

    `check` sees the commit before the caller does (and may refuse it).
    """
    atomic = backend.capabilities.atomic_commit
    with backend.transaction() as txn:
        if atomic:
            txn.lock(timeout)
            fetched = txn.get_many([KEYS_KEY, keys.root_key])
            root = read_root(keys, fetched.get(keys.root_key))
        else:
            root = _take_lease(txn, keys, timeout)
            fetched = txn.get_many([KEYS_KEY])
            if root is not None and root.intent:
                repair = Commit(txn, keys, root, fetched.get(KEYS_KEY), atomic=False)
                repair.repair()
                repair.apply()
                root = _take_lease(txn, keys, timeout)
        commit = Commit(txn, keys, root, fetched.get(KEYS_KEY), atomic=atomic)
        try:
            if check is not None:
                check(commit)
            yield commit
            written = commit.apply()
        except BaseException:
            if not atomic and root is not None:
                _release_lease(txn, keys)
            raise
        if not written and not atomic and root is not None:
            _release_lease(txn, keys)


def _take_lease(txn: BlobTransaction, keys: SealKeys, timeout: float) -> Root | None:
    """Write a lease into the root by compare-and-swap, waiting for another's to end."""
    deadline = time.monotonic() + timeout
    pause = _POLL[0]
    while True:
        root = read_root(keys, txn.get_many([keys.root_key]).get(keys.root_key))
        if root is None or root.blob is None:
            return root  # not initialised: `init` creates the root without a lease
        lease = root.lease()
        now = time.time()
        if lease is None or float(lease.get("until", 0)) < now:
            content = dict(root.content, lease={"until": now + LEASE_SECONDS})
            sealed = keys.seal_json(root.blob.key, root.seq, content)
            try:
                tokens = txn.commit([Change(root.blob.key, sealed, root.blob.token)])
            except BlobConflictError:
                pass
            else:
                blob = Blob(root.blob.key, sealed, tokens[root.blob.key])
                return Root(root.revision, content, blob)
        if time.monotonic() >= deadline:
            raise VaultBusyError(
                f"another writer held the backend for more than {timeout:g} s",
                hint="retry, or raise CREDCTL_LOCK_TIMEOUT (seconds)",
            )
        time.sleep(pause)
        pause = min(pause * 2, _POLL[1])


def _release_lease(txn: BlobTransaction, keys: SealKeys) -> None:
    with contextlib.suppress(Exception):  # the lease expires by itself anyway
        root = read_root(keys, txn.get_many([keys.root_key]).get(keys.root_key))
        if root is not None and root.blob is not None and root.lease() is not None:
            content = {k: v for k, v in root.content.items() if k != "lease"}
            sealed = keys.seal_json(root.blob.key, root.seq, content)
            txn.commit([Change(root.blob.key, sealed, root.blob.token)])


def records_of(draft: SealedDraft) -> list[Record]:
    """Every record of a draft (for rekey and migrate)."""
    return list(draft.records())
