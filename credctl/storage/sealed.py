"""`SealedStorage`: credential records sealed client-side, over any `BlobBackend`.

Every backend beyond the vault file (SQLite, PostgreSQL, HashiCorp Vault, AWS
Secrets Manager, Azure Key Vault) is this one `CredentialStorage` over a small
blob interface (`credctl.storage.blobs`).  The engine sees keyed-HMAC keys and
sealed blobs only (`credctl.storage.sealed_format`); the key slots live in the
engine too (`credctl.storage.backend_vault`), so the same passphrase, sessions
and CI keys unlock the vault from any machine.

The first operation unlocks through the standard sources and keeps the data key
for this object's lifetime (a library user pays Argon2id once).  Each snapshot
reads the key-slot blob and the root again: a rekey by another process is seen
(the key no longer fits) and answered by unlocking again, once.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Hashable, Iterator

from credctl.errors import CredentialError, VaultCorruptError
from credctl.records.activity import ActivityLog
from credctl.storage.anchors import Anchors
from credctl.storage.backend_vault import BackendVault
from credctl.storage.blobs import Blob, BlobBackend, BlobReader, BlobTransaction
from credctl.storage.sealed_commit import Commit, write_session
from credctl.storage.sealed_format import KEYS_KEY, SealKeys
from credctl.storage.sealed_view import Root, SealedDraft, SealedView, read_root
from credctl.vault.crypto import checks_equal
from credctl.vault.format import parse_file
from credctl.vault.opened import OpenVault
from credctl.vault.sealing import StaleDataKeyError
from credctl.vault.slot_ops import Unlocker

_HINT = "the backend was changed outside credctl; restore it from a backup"


def _thread() -> int:
    import threading

    return threading.get_ident()


def check_keys_blob(keys: SealKeys, blob: Blob | None, root: Root | None) -> None:
    """The key-slot blob must exist, fit the data key and be the generation the root names."""
    if blob is None:
        raise VaultCorruptError("the backend's key-slot record is missing", hint=_HINT)
    header = parse_file(blob.data).header
    if not checks_equal(keys.data_key_check(), header.data_key_check):
        raise StaleDataKeyError(
            "the vault was rekeyed meanwhile", hint="unlock again and rerun the command"
        )
    if root is not None and int(root.content.get("keys_gen", -1)) != header.generation:
        raise VaultCorruptError(
            f"the key-slot record is generation {header.generation}, not the "
            f"{root.content.get('keys_gen')} the root names: an older copy was put back",
            hint=_HINT,
        )


class SealedStorage:
    """A `CredentialStorage` of sealed records in a blob backend (see the module doc)."""

    def __init__(
        self,
        backend: BlobBackend,
        unlocker: Unlocker,
        *,
        anchors: Anchors | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.backend = backend
        self.unlocker = unlocker
        self.vault = BackendVault(backend, lock_timeout=lock_timeout)
        self.anchors = anchors if anchors is not None else Anchors()
        self._opened: OpenVault | None = None
        self._keys: SealKeys | None = None
        self._log: ActivityLog | None = None
        self._log_keys: SealKeys | None = None
        #: The transaction of the write in progress, by thread (its log entries join it).
        self._active: dict[int, BlobTransaction] = {}

    @property
    def snapshot_isolation(self) -> bool:
        """Whether a snapshot shows one commit throughout (engines with transactions).

        The key-value services (HashiCorp Vault, AWS, Azure) read each key at the
        moment it is read: a snapshot then shows each record as committed when it
        was first read, and never a damaged or half-written one.
        """
        return self.backend.capabilities.consistent_reads

    @property
    def unlock_source(self) -> str | None:
        """Which source unlocked the vault (None before the first operation)."""
        return self._opened.source if self._opened else None

    def seal_keys(self, *, again: bool = False) -> SealKeys:
        """The keys of the unlocked vault, unlocking on first use (or `again`)."""
        if self._keys is None or again:
            self._opened = self.vault.open(self.unlocker)
            self._keys = SealKeys(self._opened.vault_id, self._opened.data_key)
        return self._keys

    # -- CredentialStorage ---------------------------------------------------------------

    def snapshot(self) -> SealedView:
        """A view of the latest commit (consistent on SQL engines)."""
        keys = self.seal_keys()
        for attempt in (1, 2):
            reader = self.backend.reader()
            try:
                root = self._root(reader, keys)
            except StaleDataKeyError:
                reader.close()
                if attempt == 2:
                    raise
                keys = self.seal_keys(again=True)
                continue
            except BaseException:
                reader.close()
                raise
            consistent = self.backend.capabilities.consistent_reads
            view = SealedView(reader, keys, root, consistent=consistent)
            if not consistent:
                view.refresh = functools.partial(self._latest_root, keys)
            return view
        raise AssertionError("unreachable")

    def _latest_root(self, keys: SealKeys) -> Root | None:
        with contextlib.closing(self.backend.reader()) as reader:
            return read_root(keys, reader.get_many([keys.root_key]).get(keys.root_key))

    def _root(self, reader: BlobReader, keys: SealKeys) -> Root:
        fetched = reader.get_many([KEYS_KEY, keys.root_key])
        root = read_root(keys, fetched.get(keys.root_key))
        check_keys_blob(keys, fetched.get(KEYS_KEY), root)
        if root is None:
            raise VaultCorruptError("the backend's root record is missing", hint=_HINT)
        self.anchors.check(keys.vault_id, root.seq, self.backend.describe())
        return root

    @contextlib.contextmanager
    def writer(self) -> Iterator[SealedDraft]:
        """Be the only writer, change a draft, commit it with compare-and-swap."""
        keys = self.seal_keys()
        with contextlib.closing(self.backend.reader()) as reader:
            blob = reader.get_many([KEYS_KEY]).get(KEYS_KEY)
        try:
            check_keys_blob(keys, blob, None)
        except StaleDataKeyError:  # rekeyed by another process: unlock again, once
            keys = self.seal_keys(again=True)

        def check(txn: Commit) -> None:
            check_keys_blob(keys, txn.keys_blob, txn.root)
            if txn.root is None:
                raise VaultCorruptError("the backend's root record is missing", hint=_HINT)
            self.anchors.check(keys.vault_id, txn.root.seq, self.backend.describe())

        with write_session(self.backend, keys, self.vault.lock_timeout, check=check) as txn:
            self._active[_thread()] = txn.txn
            try:
                yield txn.draft
            finally:
                self._active.pop(_thread(), None)
        if txn.written:
            self.anchors.record(keys.vault_id, txn.written)

    def describe(self) -> str:
        """The engine and where it is (never a password or token)."""
        return self.backend.describe()

    def health_issues(self) -> list[str]:
        """Engine-level problems (schema, permissions)."""
        return self.backend.check()

    def state_stamp(self) -> Hashable | None:
        """The root's revision token: it changes with every commit, in any process."""
        try:
            keys = self.seal_keys()
            reader = self.backend.reader()
            try:
                blob = reader.get_many([keys.root_key]).get(keys.root_key)
            finally:
                reader.close()
        except CredentialError:
            return None
        return blob.token if blob is not None else None

    def activity_log(self) -> ActivityLog:
        """The sealed activity log, kept in the same engine."""
        if self._log is None:
            from credctl.storage.sealed_log import SealedActivityLog

            self._log = SealedActivityLog(
                self.backend, self.log_keys, lambda: self._active.get(_thread()),
                self.recorded_log_head,
            )  # fmt: skip
        return self._log

    def recorded_log_head(self) -> object:
        """The activity log's head as the last write recorded it (`sealed_log.HEAD_SETTING`)."""
        from credctl.storage.sealed_log import HEAD_SETTING

        view = self.snapshot()
        try:
            return view.meta.get(HEAD_SETTING)
        finally:
            view.close()

    def log_keys(self) -> SealKeys:
        """The keys that seal activity log entries (the root's log key, not the data key)."""
        if self._log_keys is None:
            import base64

            view = self.snapshot()
            try:
                raw = base64.b64decode(str(view.root.content.get("log_key", "")))
            finally:
                view.close()
            if len(raw) != 32:
                raise VaultCorruptError("the backend's root has no activity log key", hint=_HINT)
            self._log_keys = SealKeys(self.seal_keys().vault_id, raw)
        return self._log_keys
