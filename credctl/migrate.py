"""`credctl migrate`: move a vault between the vault file and the blob backends.

Between two blob backends the sealed blobs are copied **as they are**: the
engines see the same ciphertext, nothing is decrypted or re-encrypted, and the
key slots (the same passphrase, CI keys, sessions) come along.  To or from the
vault file the records must be unsealed and sealed again, because the file
encrypts its body as one whole; the vault id, data key and key slots are kept,
so the same passphrase opens the copy.

A migration holds the source's write lock from start to end (no write can slip
between the copy and the verification), keeps a journal in the user state folder
(``migrations/<hash>.json``) of what it already copied, so ``--resume`` after an
interruption skips it, and always ends with a verification of the target read
back on its own: the record count, a SHA-256 of every record (and of every
activity log entry) compared with the source's, every record decrypted, and the
same key slots.  It refuses to report success when a non-empty source copied
nothing, and refuses a source without a vault (exit 3) or one it cannot reach
(exit 10).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from credctl.errors import CredentialError, InvalidInput, NotFound, VaultCorruptError
from credctl.records.activity import Activity
from credctl.storage.base import Record
from credctl.storage.blobs import BlobBackend, Change, closing_reader
from credctl.storage.sealed_format import KEYS_KEY, canonical_json
from credctl.vault.format import ParsedFile, Slot
from credctl.vault.slot_ops import Unlocker, UnlockTarget

#: Key settings that belong in the key-slot blob, not in the records' settings.
KEY_SETTINGS = ("last_slot_id", "max_session_ttl")


class MigrationVerifyError(VaultCorruptError):
    """The copy does not verify: the target is not reported as a good copy (exit 6)."""


class Contents(NamedTuple):
    """Everything a vault holds, decrypted: what `migrate` copies and verifies."""

    vault_id: bytes
    data_key: bytes
    slots: list[Slot]
    settings: dict[str, Any]
    records: list[Record]
    activities: list[Activity]


class Report(NamedTuple):
    """What a migration copied and verified."""

    records: int
    activities: int
    blobs: int
    verified: bool
    resumed: bool


class KnownKey:
    """An unlocker that hands over a data key already in hand (the verification)."""

    def __init__(self, data_key: bytes) -> None:
        self.data_key = data_key

    def unlock(self, vault: UnlockTarget, parsed: ParsedFile) -> tuple[bytes, str]:
        return self.data_key, "migrate"


class Place:
    """One side of a migration: a vault file (`path`) or a blob engine (`engine`)."""

    def __init__(self, label: str, *, path: Path | None = None,
                 engine: BlobBackend | None = None) -> None:  # fmt: skip
        self.label = label
        self.path = path
        self.engine = engine

    @property
    def is_file(self) -> bool:
        """True for the vault file."""
        return self.engine is None

    def exists(self) -> bool:
        """Whether a vault is there."""
        if self.engine is None:
            assert self.path is not None
            return self.path.exists()
        from credctl.storage.backend_vault import BackendVault

        return BackendVault(self.engine).exists()

    def read(self, unlocker: Unlocker) -> Contents:
        """Unlock and decrypt everything (exit 3 when there is no vault)."""
        if not self.exists():
            raise NotFound(
                f"there is no vault in {self.label} to migrate",
                hint="check --from (or --backend / --vault), or create one with `credctl init`",
            )
        if self.engine is None:
            return _read_file(self, unlocker)
        return _read_engine(self.engine, unlocker)

    @contextlib.contextmanager
    def locked(self, contents: Contents) -> Iterator[None]:
        """Hold the source's write lock: nothing changes while it is copied."""
        if self.engine is None:
            from credctl.vault.store import Vault

            assert self.path is not None
            with Vault(self.path).file.locked():
                yield
            return
        from credctl.storage.backend_vault import default_lock_timeout
        from credctl.storage.sealed_commit import write_session
        from credctl.storage.sealed_format import SealKeys

        keys = SealKeys(contents.vault_id, contents.data_key)
        with write_session(self.engine, keys, default_lock_timeout()):
            yield  # the commit is empty: nothing is written


def _read_file(place: Place, unlocker: Unlocker) -> Contents:
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault.store import Vault

    assert place.path is not None
    vault = Vault(place.path)
    opened = vault.open(unlocker)
    storage = VaultStorage(vault, KnownKey(opened.data_key))
    records = list(storage.snapshot().records())
    activities = list(storage.activity_log().activities())
    return Contents(opened.vault_id, opened.data_key, list(opened.slots),
                    dict(opened.body.meta), records, activities)  # fmt: skip


def _read_engine(engine: BlobBackend, unlocker: Unlocker) -> Contents:
    from credctl.storage.sealed import SealedStorage

    storage = SealedStorage(engine, unlocker)
    opened = storage.vault.open(unlocker)
    storage = SealedStorage(engine, KnownKey(opened.data_key))
    view = storage.snapshot()
    try:
        records = list(view.records())
        settings = {**dict(opened.body.meta), **view.meta}
    finally:
        view.close()
    activities = list(storage.activity_log().activities())
    return Contents(opened.vault_id, opened.data_key, list(opened.slots), settings, records,
                    activities)  # fmt: skip


# -- the journal ---------------------------------------------------------------------------


class Journal:
    """What an interrupted migration already did, for ``--resume``."""

    def __init__(self, source: str, target: str) -> None:
        from platformdirs import user_state_dir

        digest = hashlib.sha256(f"{source}\x00{target}".encode()).hexdigest()[:32]
        self.path = Path(user_state_dir("credctl")) / "migrations" / f"{digest}.json"
        self.state: dict[str, Any] = {"source": source, "target": target, "done": []}

    def exists(self) -> bool:
        """Whether an earlier run left a journal."""
        return self.path.exists()

    def load(self) -> None:
        """Read the journal (a damaged one is an error: resume cannot trust it)."""
        try:
            state = json.loads(self.path.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"the migration journal {self.path} is unreadable") from exc
        if not isinstance(state, dict) or not isinstance(state.get("done"), list):
            raise InvalidInput(f"the migration journal {self.path} is malformed")
        self.state = state

    @property
    def done(self) -> set[str]:
        """What was already copied (blob keys, or phase names)."""
        return set(self.state["done"])

    def mark(self, *items: str) -> None:
        """Record progress (written atomically, 0600)."""
        self.state["done"] = sorted(self.done | set(items))
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, json.dumps(self.state).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """Forget the journal after a verified migration."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


# -- verification --------------------------------------------------------------------------


def digest_record(record: Record) -> str:
    """SHA-256 of a record's canonical JSON."""
    return hashlib.sha256(canonical_json(record)).hexdigest()


def digest_activity(activity: Activity) -> str:
    """SHA-256 of what every backend keeps of an activity."""
    kept = [activity.action, activity.credential_id, round(activity.at, 3), activity.outcome,
            activity.error]  # fmt: skip
    return hashlib.sha256(canonical_json(kept)).hexdigest()


def verify(source: Contents, target: Contents) -> None:
    """Compare the target read back on its own with the source (exit 6 on any difference)."""
    if source.records and not target.records:
        raise MigrationVerifyError(
            f"the source holds {len(source.records)} credentials but the target none: "
            "nothing was copied"
        )
    if len(source.records) != len(target.records):
        raise MigrationVerifyError(
            f"the target holds {len(target.records)} credentials, the source {len(source.records)}"
        )
    theirs = {int(r["id"]): digest_record(r) for r in target.records}
    for record in source.records:
        if theirs.get(int(record["id"])) != digest_record(record):
            raise MigrationVerifyError(f"credential {record['id']} differs in the target")
    if [s.encode() for s in source.slots] != [s.encode() for s in target.slots]:
        raise MigrationVerifyError("the target's key slots differ from the source's")
    if [digest_activity(a) for a in source.activities] != [
        digest_activity(a) for a in target.activities
    ]:
        raise MigrationVerifyError(
            f"the target's activity log ({len(target.activities)} entries) differs from the "
            f"source's ({len(source.activities)})"
        )


def read_back(target: Place, contents: Contents) -> Contents:
    """The target, read on its own with the data key."""
    try:
        return target.read(KnownKey(contents.data_key))
    except CredentialError as exc:
        raise MigrationVerifyError(f"the target does not read back: {exc}") from None


def engine_keys(engine: BlobBackend) -> list[str]:
    """Every blob key in an engine (to tell an empty target)."""
    with closing_reader(engine.reader()) as reader:
        return [blob.key for blob in reader.list("")]


def raw_copy(source: BlobBackend, target: BlobBackend, journal: Journal) -> int:
    """Copy every blob unchanged, the key-slot blob last; the count copied now."""
    with closing_reader(source.reader()) as reader:
        blobs = reader.list("")
    done = journal.done
    ordered = sorted(blobs, key=lambda b: (b.key == KEYS_KEY, b.key.startswith("root-"), b.key))
    copied = 0
    batch: list[str] = []
    for blob in ordered:
        if blob.key in done:
            continue
        with target.transaction() as txn:
            existing = txn.get_many([blob.key]).get(blob.key)
            txn.commit([Change(blob.key, blob.data, existing.token if existing else None)])
        copied += 1
        batch.append(blob.key)
        if len(batch) >= 25:
            journal.mark(*batch)
            batch.clear()
    journal.mark(*batch)
    for log in ("activity",):
        start = target.last_log_seq(log)
        entries = [data for seq, data in source.read_log(log) if seq > start]
        if entries:
            target.append_log(log, start, entries)
    return copied


def write_file(target: Place, contents: Contents) -> None:
    """A new vault file with the same vault id, data key, key slots and records."""
    from credctl.vault.body import Body
    from credctl.vault.format import Header
    from credctl.vault.opened import OpenVault
    from credctl.vault.store import Vault

    assert target.path is not None
    from credctl.audit.seal import SETTINGS_KEY

    # The source's audit-trail settings (its head, its epochs) describe the source's
    # trail; the copy's trail is written afresh below.
    body = Body({k: v for k, v in contents.settings.items() if k != SETTINGS_KEY})
    for record in sorted(contents.records, key=lambda r: int(r["id"])):
        from credctl.storage.vault_storage import VaultSnapshot

        VaultSnapshot(body).put(record)
    empty = Header(b"\0" * 16, 0, b"\0" * 32, b"\0" * 12, b"\0" * 16)
    opened = OpenVault(contents.vault_id, 0, contents.data_key, list(contents.slots), body,
                       "migrate", empty)  # fmt: skip
    vault = Vault(target.path)
    vault.create_from(opened)
    from credctl.storage.vault_storage import VaultStorage

    log = VaultStorage(vault, KnownKey(contents.data_key)).activity_log()
    if contents.activities:  # into the file's audit trail, in order, in one append
        append_batch = getattr(log, "append_batch", None)
        if append_batch is not None:
            append_batch(list(contents.activities))
        else:
            for activity in contents.activities:
                log.append(activity)


def write_engine(target: BlobBackend, contents: Contents) -> None:
    """A new vault in an empty engine: records sealed, key slots and log carried over."""
    from credctl.storage.backend_vault import default_lock_timeout
    from credctl.storage.sealed import SealedStorage
    from credctl.storage.sealed_commit import write_session
    from credctl.storage.sealed_format import SealKeys
    from credctl.vault.body import Body
    from credctl.vault.sealing import seal_vault

    key_settings = {k: contents.settings[k] for k in KEY_SETTINGS if k in contents.settings}
    from credctl.audit.seal import SETTINGS_KEY

    meta = {k: v for k, v in contents.settings.items()
            if k not in KEY_SETTINGS and k != SETTINGS_KEY}  # fmt: skip
    meta.pop("backup_count", None)
    keys_blob = seal_vault(contents.vault_id, 1, contents.slots, contents.data_key,
                           Body(key_settings).encode())  # fmt: skip
    keys = SealKeys(contents.vault_id, contents.data_key)
    with write_session(target, keys, default_lock_timeout()) as txn:
        if txn.keys_blob is not None:
            return  # written by an interrupted run: the verification decides
        for record in contents.records:
            txn.draft.put(record)
        txn.meta.clear()
        txn.meta.update(meta)
        txn.new_keys_blob = (keys_blob, 1)
    storage = SealedStorage(target, KnownKey(contents.data_key))
    log = storage.activity_log()
    already = sum(1 for _ in log.activities())
    for activity in contents.activities[already:]:
        log.append(activity)


def migrate(
    source: Place,
    target: Place,
    unlocker: Unlocker,
    *,
    dry_run: bool = False,
    resume: bool = False,
    allow_empty: bool = False,
) -> Report:
    """Copy `source` to `target`, verify it, and report (see the module doc)."""
    if source.label == target.label:
        raise InvalidInput("--to names the vault being migrated itself")
    journal = Journal(source.label, target.label)
    if journal.exists() and not resume:
        raise InvalidInput(
            f"an interrupted migration to {target.label} left a journal",
            hint="finish it with `credctl migrate --resume …`, or delete "
            f"{journal.path} and the target's contents to start again",
        )
    contents = source.read(unlocker)
    if not contents.records and not allow_empty:
        raise NotFound(
            f"{source.label} holds no credentials: there is nothing to migrate",
            hint="--allow-empty copies the key slots and settings alone",
        )
    if resume and journal.exists():
        journal.load()
    elif target.exists() or (target.engine is not None and engine_keys(target.engine)):
        raise InvalidInput(
            f"{target.label} is not empty; migrate copies into an empty target only",
            hint="choose another database, space, prefix or path",
        )
    if dry_run:
        return Report(len(contents.records), len(contents.activities), 0, False, False)
    resumed = bool(journal.done)
    journal.mark("started")
    blobs = 0
    with source.locked(contents):
        if source.engine is not None and target.engine is not None:
            blobs = raw_copy(source.engine, target.engine, journal)
        elif target.engine is not None:
            write_engine(target.engine, contents)
        else:
            write_file(target, contents)
        verify(contents, read_back(target, contents))
    journal.remove()
    return Report(len(contents.records), len(contents.activities), blobs, True, resumed)
