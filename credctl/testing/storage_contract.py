"""`StorageBackendTests`: the contract every `CredentialStorage` backend passes.

Subclass it in a test module (the subclass name starts with ``Test`` so pytest
collects it) and say how to build an empty storage::

    from credctl.testing import StorageBackendTests

    class TestMyStorage(StorageBackendTests):
        def make_storage(self) -> CredentialStorage:
            return MyStorage(self.workdir / "store")

        def reopen_storage(self, storage: CredentialStorage) -> CredentialStorage:
            return MyStorage(self.workdir / "store")  # a second handle, same data

Each test gets a fresh private folder in `workdir`.  The checks follow what
`CredentialManager` relies on (``credctl/storage/base.py``): a snapshot never
changes after it is taken; a `writer()` block is all or nothing; records come
back by id and by name (unique per owner), in id order, exactly as stored; the
activity log only appends and never touches records.  Names follow SPEC §2 (1–128 of
``A-Za-z0-9_-``): the manager validates names before they reach storage, so a
backend may refuse others.  Values are arbitrary JSON.

Plain methods and plain asserts, no pytest import: the module costs nothing to
import and works with any runner that honours ``setup_method``/``teardown_method``.
For pytest's detailed assertion messages, call
``pytest.register_assert_rewrite("credctl.testing")`` in ``conftest.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credctl.records.activity import Activity
from credctl.storage.base import ActivityStorage, CredentialStorage, Record, StorageSnapshot

#: Valid names (SPEC §2) that trip naive lookups: prefixes of each other, case
#: variants, the length limit, digits first, separators at the end.
TRICKY_NAMES: tuple[str, ...] = (
    "a",
    "ab",
    "abc",
    "b",
    "bc",
    "Token",
    "token",
    "TOKEN",
    "0a",
    "1-2-3x",
    "10x",
    "x1",
    "name-with-dashes-",
    "name_with_underscores_",
    "MiXeD-09_z",
    "n" * 128,
    "n" * 127 + "-",
)

#: Values that break naive escaping: every layer between the caller and the
#: medium (JSON, an index with tabs and newlines, UTF-8) must keep them intact.
TRICKY_VALUES: dict[str, Any] = {
    "unicode": "pässwörd-秘密-пароль-🔑",
    "zwj-emoji": "👩\u200d💻",
    "rtl-override": "\u202egnp.exe",
    "astral": "\U0010ffff\U0001f600",
    "bmp-edge": "\ufffe\uffff",
    "quotes": "'\"`",
    "backslashes": "\\\\n\\t\\u0000\\",
    "whitespace": " leading and trailing \t",
    "line-breaks": "one\ntwo\r\nthree\rfour",
    "index-injection": "1\tevil\t0\t5\n2\tother\t0\t1\n",
    "json-injection": '{"id": 99, "name": "x"}',
    "nul": "a\x00b",
    "controls": "".join(chr(c) for c in range(1, 32)) + "\x7f",
    "empty": "",
    "long": "x" * (64 * 1024),
    "int-max": 2**63 - 1,
    "int-min": -(2**63),
    "float": 1.5,
    "true": True,
    "false": False,
    "null": None,
    "list": ["a", 1, None, ["nested"], {"k": "v"}],
    "object": {"nested": {"deeper": ["ünï", "\t"]}},
}


class _ContractError(Exception):
    """An exception the tests raise on purpose inside a writer."""


class _ContractInterrupt(BaseException):
    """A BaseException (like KeyboardInterrupt) raised inside a writer."""


def _record(credential_id: int, name: str, **extra: Any) -> Record:
    return {
        "id": credential_id,
        "name": name,
        "type": "token",
        "data": {"token": f"fake-secret-{credential_id}"},
        "description": "",
        "tags": [],
        **extra,
    }


def _ids(snapshot: StorageSnapshot) -> list[int]:
    return [int(r["id"]) for r in snapshot.records()]


def _expect_raises(kind: type[BaseException], action: Callable[[], object]) -> BaseException:
    try:
        action()
    except kind as exc:
        return exc
    raise AssertionError(f"expected {kind.__name__}")


class StorageBackendTests:
    """Tests every `CredentialStorage` backend must pass; subclass and add `make_storage`."""

    workdir: Path

    # -- what a subclass provides ----------------------------------------------------

    def make_storage(self) -> CredentialStorage:
        """A new, empty storage (it may keep files in `workdir`)."""
        raise NotImplementedError("subclasses of StorageBackendTests implement make_storage()")

    def reopen_storage(self, storage: CredentialStorage) -> CredentialStorage:
        """A second handle on the same data (another process would open it like this).

        The default returns `storage` itself, for backends that live in one object.
        """
        return storage

    # -- per-test set-up -------------------------------------------------------------

    def setup_method(self, method: object = None) -> None:
        """Give each test a private, empty folder."""
        self.workdir = Path(tempfile.mkdtemp(prefix="credctl-contract-"))

    def teardown_method(self, method: object = None) -> None:
        """Remove the test's folder."""
        shutil.rmtree(self.workdir, ignore_errors=True)

    def put(self, storage: CredentialStorage, *records: Record) -> None:
        """Store `records` in one writer block."""
        with storage.writer() as draft:
            for record in records:
                draft.put(record)

    # -- the interface ---------------------------------------------------------------

    def test_implements_the_protocol(self) -> None:
        storage = self.make_storage()
        assert isinstance(storage, CredentialStorage)
        assert isinstance(storage.describe(), str)
        assert storage.describe()

    def test_new_storage_is_empty_and_healthy(self) -> None:
        storage = self.make_storage()
        snapshot = storage.snapshot()
        assert snapshot.count() == 0
        assert list(snapshot.records()) == []
        assert snapshot.get_by_id(1) is None
        assert snapshot.get_by_name("a") is None
        if isinstance(storage, ActivityStorage):
            assert list(storage.activity_log().activities()) == []
        assert storage.health_issues() == []

    # -- put, get, order, count, delete ----------------------------------------------

    def test_put_then_get_by_id_and_by_name(self) -> None:
        storage = self.make_storage()
        stored = _record(1, "github", description="CI token", tags=["ci", "prod"],
                         metadata={"team": "platform"})  # fmt: skip
        self.put(storage, stored)
        snapshot = storage.snapshot()
        assert snapshot.get_by_id(1) == stored
        assert snapshot.get_by_name("github") == stored
        assert snapshot.count() == 1
        assert list(snapshot.records()) == [stored]

    def test_missing_id_and_name_are_none(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "present"))
        snapshot = storage.snapshot()
        assert snapshot.get_by_id(2) is None
        assert snapshot.get_by_id(0) is None
        assert snapshot.get_by_name("absent") is None
        assert snapshot.get_by_name("presen") is None
        assert snapshot.get_by_name("present-") is None
        assert snapshot.get_by_name("PRESENT") is None

    def test_records_come_in_numeric_id_order(self) -> None:
        storage = self.make_storage()
        ids = [10, 2, 100, 1, 9, 11]
        self.put(storage, *(_record(i, f"c{i}") for i in ids))
        snapshot = storage.snapshot()
        assert _ids(snapshot) == sorted(ids)
        assert snapshot.count() == len(ids)

    def test_put_with_an_existing_id_replaces_the_record(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "old-name"), _record(2, "other"))
        renamed = _record(1, "new-name", description="renamed")
        self.put(storage, renamed)
        snapshot = storage.snapshot()
        assert snapshot.count() == 2
        assert snapshot.get_by_id(1) == renamed
        assert snapshot.get_by_name("new-name") == renamed
        assert snapshot.get_by_name("old-name") is None

    def test_delete(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "one"), _record(2, "two"), _record(3, "three"))
        with storage.writer() as draft:
            assert draft.delete(2) is True
            assert draft.delete(2) is False
            assert draft.delete(99) is False
            assert draft.get_by_id(2) is None
        snapshot = storage.snapshot()
        assert _ids(snapshot) == [1, 3]
        assert snapshot.get_by_id(2) is None
        assert snapshot.get_by_name("two") is None
        assert snapshot.get_by_name("three") == _record(3, "three")

    def test_a_deleted_name_can_be_used_again(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "reused"))
        with storage.writer() as draft:
            draft.delete(1)
            draft.put(_record(2, "reused"))
        snapshot = storage.snapshot()
        assert _ids(snapshot) == [2]
        assert snapshot.get_by_name("reused") == _record(2, "reused")

    def test_a_writer_reads_its_own_changes(self) -> None:
        storage = self.make_storage()
        with storage.writer() as draft:
            draft.put(_record(1, "first"))
            assert draft.get_by_id(1) == _record(1, "first")
            assert draft.get_by_name("first") == _record(1, "first")
            assert draft.count() == 1

    def test_meta_is_kept(self) -> None:
        storage = self.make_storage()
        with storage.writer() as draft:
            draft.meta["next_id"] = 7
            draft.meta["idempotency"] = {"key-ü": {"digest": "ab", "id": 3}}
        meta = storage.snapshot().meta
        assert meta["next_id"] == 7
        assert meta["idempotency"] == {"key-ü": {"digest": "ab", "id": 3}}

    def test_many_records(self) -> None:
        storage = self.make_storage()
        self.put(storage, *(_record(i, f"cred-{i}") for i in range(1, 301)))
        snapshot = storage.snapshot()
        assert snapshot.count() == 300
        for i in (1, 2, 10, 99, 100, 150, 300):
            assert snapshot.get_by_id(i) == _record(i, f"cred-{i}")
            assert snapshot.get_by_name(f"cred-{i}") == _record(i, f"cred-{i}")

    # -- names are unique per owner -----------------------------------------------------

    def test_names_are_unique_per_owner(self) -> None:
        storage = self.make_storage()
        local = _record(1, "github")
        alice = _record(2, "github", owner="alice")
        bob = _record(3, "github", owner="bob@example.com")
        self.put(storage, local, alice, bob, _record(4, "other", owner="alice"))
        snapshot = self.reopen_storage(storage).snapshot()
        assert snapshot.get_by_name("github") == local
        assert snapshot.get_by_name("github", "local") == local
        assert snapshot.get_by_name("github", "alice") == alice
        assert snapshot.get_by_name("github", "bob@example.com") == bob
        assert snapshot.get_by_name("github", "carol") is None
        assert snapshot.get_by_name("other") is None
        assert snapshot.with_name("github") == [local, alice, bob]
        assert snapshot.with_name("other") == [_record(4, "other", owner="alice")]
        assert snapshot.with_name("absent") == []
        assert snapshot.count() == 4

    def test_an_owner_prefix_in_a_name_finds_nothing(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "github", owner="alice"), _record(2, "x", owner="a"))
        snapshot = storage.snapshot()
        assert snapshot.get_by_name("alice/github") is None
        assert snapshot.get_by_name("github", "alice/github") is None
        assert snapshot.get_by_name("x", "a/x") is None
        assert snapshot.with_name("alice/github") == []

    def test_an_owners_record_is_renamed_and_deleted_in_its_namespace(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "shared"), _record(2, "shared", owner="alice"))
        self.put(storage, _record(2, "renamed", owner="alice"))
        snapshot = storage.snapshot()
        assert snapshot.get_by_name("shared") == _record(1, "shared")
        assert snapshot.get_by_name("shared", "alice") is None
        assert snapshot.get_by_name("renamed", "alice") == _record(2, "renamed", owner="alice")
        with storage.writer() as draft:
            assert draft.delete(2) is True
            draft.put(_record(3, "shared", owner="alice"))
        snapshot = storage.snapshot()
        assert snapshot.get_by_name("shared", "alice") == _record(3, "shared", owner="alice")
        assert snapshot.get_by_name("shared") == _record(1, "shared")
        assert snapshot.get_by_name("renamed", "alice") is None

    # -- tricky names and values ------------------------------------------------------

    def test_tricky_names(self) -> None:
        storage = self.make_storage()
        records = [_record(i, name) for i, name in enumerate(TRICKY_NAMES, start=1)]
        self.put(storage, *records)
        snapshot = storage.snapshot()
        for record in records:
            assert snapshot.get_by_name(record["name"]) == record, record["name"]
            assert snapshot.get_by_id(record["id"]) == record
        assert list(snapshot.records()) == records

    def test_tricky_values_round_trip(self) -> None:
        storage = self.make_storage()
        stored = _record(1, "tricky", data=dict(TRICKY_VALUES), metadata=dict(TRICKY_VALUES),
                         description=TRICKY_VALUES["unicode"] + TRICKY_VALUES["line-breaks"],
                         tags=["ü", "秘密", "🔑"])  # fmt: skip
        self.put(storage, stored, _record(2, "after"))
        snapshot = storage.snapshot()
        assert snapshot.get_by_id(1) == stored
        assert snapshot.get_by_name("tricky") == stored
        assert snapshot.get_by_id(2) == _record(2, "after")
        reopened = self.reopen_storage(storage).snapshot()
        assert reopened.get_by_id(1) == stored

    def test_many_fields_round_trip(self) -> None:
        storage = self.make_storage()
        data = {f"field_{i}": f"välue-{i}\t\n" for i in range(100)}
        self.put(storage, _record(1, "wide", data=data))
        found = storage.snapshot().get_by_id(1)
        assert found is not None
        assert found["data"] == data

    # -- snapshots and writers ----------------------------------------------------------

    def test_a_snapshot_does_not_change_after_a_later_write(self) -> None:
        storage = self.make_storage()
        with storage.writer() as draft:
            draft.put(_record(1, "kept"))
            draft.put(_record(2, "deleted-later"))
            draft.meta["next_id"] = 3
        before = storage.snapshot()
        with storage.writer() as draft:
            draft.put(_record(1, "kept", description="changed"))
            draft.delete(2)
            draft.put(_record(3, "added"))
            draft.meta["next_id"] = 4
        assert before.count() == 2
        assert _ids(before) == [1, 2]
        assert before.get_by_id(1) == _record(1, "kept")
        assert before.get_by_name("deleted-later") == _record(2, "deleted-later")
        assert before.get_by_id(3) is None
        assert before.get_by_name("added") is None
        assert before.meta["next_id"] == 3
        after = storage.snapshot()
        assert _ids(after) == [1, 3]
        assert after.meta["next_id"] == 4

    def test_changing_a_returned_record_changes_nothing_stored(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "original", tags=["a"]))
        found = storage.snapshot().get_by_id(1)
        assert found is not None
        found["name"] = "mutated"
        found["tags"].append("b")
        found["data"].clear()
        assert storage.snapshot().get_by_id(1) == _record(1, "original", tags=["a"])
        assert storage.snapshot().get_by_name("mutated") is None

    def test_uncommitted_changes_are_invisible_to_readers(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "committed"))
        with storage.writer() as draft:
            draft.put(_record(2, "pending"))
            draft.delete(1)
            reader = self.reopen_storage(storage).snapshot()
            assert _ids(reader) == [1]
            assert reader.get_by_name("pending") is None
        assert _ids(storage.snapshot()) == [2]

    def test_an_exception_in_a_writer_changes_nothing(self) -> None:
        storage = self.make_storage()
        with storage.writer() as draft:
            draft.put(_record(1, "one"))
            draft.put(_record(2, "two"))
            draft.meta["next_id"] = 3
        failure = _ContractError("on purpose")

        def failing_write() -> None:
            with storage.writer() as draft:
                draft.put(_record(1, "one", description="changed"))
                draft.delete(2)
                draft.put(_record(3, "three"))
                draft.meta["next_id"] = 4
                raise failure

        assert _expect_raises(_ContractError, failing_write) is failure
        snapshot = storage.snapshot()
        assert _ids(snapshot) == [1, 2]
        assert snapshot.get_by_id(1) == _record(1, "one")
        assert snapshot.get_by_name("two") == _record(2, "two")
        assert snapshot.get_by_name("three") is None
        assert snapshot.meta["next_id"] == 3

    def test_a_base_exception_in_a_writer_changes_nothing(self) -> None:
        storage = self.make_storage()
        self.put(storage, _record(1, "one"))

        def interrupted_write() -> None:
            with storage.writer() as draft:
                draft.put(_record(2, "two"))
                raise _ContractInterrupt

        _expect_raises(_ContractInterrupt, interrupted_write)
        assert _ids(storage.snapshot()) == [1]

    def test_the_storage_is_usable_after_a_failed_writer(self) -> None:
        storage = self.make_storage()

        def failing_write() -> None:
            with storage.writer() as draft:
                draft.put(_record(1, "lost"))
                raise _ContractError

        _expect_raises(_ContractError, failing_write)
        self.put(storage, _record(2, "kept"))  # the writer's lock, if any, was released
        assert _ids(storage.snapshot()) == [2]

    def test_a_writer_starts_from_the_latest_commit(self) -> None:
        storage = self.make_storage()
        other = self.reopen_storage(storage)
        self.put(storage, _record(1, "from-first"))
        with other.writer() as draft:
            assert draft.get_by_name("from-first") == _record(1, "from-first")
            draft.put(_record(2, "from-second"))
        assert _ids(storage.snapshot()) == [1, 2]
        assert _ids(other.snapshot()) == [1, 2]

    # -- activity log (optional capability: `ActivityStorage`) -------------------------

    def test_activity_log_appends_and_reads_in_order(self) -> None:
        storage = self.make_storage()
        if not isinstance(storage, ActivityStorage):
            return
        self.put(storage, _record(1, "one"), _record(2, "two"))
        activities = [
            Activity("get_token", 1, at=1_700_000_000.125),
            Activity("refresh", 2, at=1_700_000_001.5, duration_ms=12.5),
            Activity("read_field", 1, at=1_700_000_002.0),
            Activity("get_token", 1, at=1_700_000_002.0, outcome="error", error="Expired"),
        ]
        for activity in activities:
            storage.activity_log().append(activity)
        expected = [_activity_key(a) for a in activities]
        assert [_activity_key(a) for a in storage.activity_log().activities()] == expected
        reopened = self.reopen_storage(storage)
        assert isinstance(reopened, ActivityStorage)
        assert [_activity_key(a) for a in reopened.activity_log().activities()] == expected

    def test_activity_log_does_not_touch_records(self) -> None:
        storage = self.make_storage()
        if not isinstance(storage, ActivityStorage):
            return
        self.put(storage, _record(1, "one"))
        with storage.writer() as draft:
            draft.meta["next_id"] = 2
        before = storage.snapshot()
        storage.activity_log().append(Activity("get_token", 1, at=1_700_000_000.0))
        after = storage.snapshot()
        assert list(after.records()) == list(before.records())
        assert after.meta == before.meta

    def test_activity_log_survives_writes(self) -> None:
        storage = self.make_storage()
        if not isinstance(storage, ActivityStorage):
            return
        self.put(storage, _record(1, "one"))
        activity = Activity("get_token", 1, at=1_700_000_000.0)
        storage.activity_log().append(activity)
        with storage.writer() as draft:
            draft.delete(1)
            draft.put(_record(2, "two"))
        assert [_activity_key(a) for a in storage.activity_log().activities()] == [
            _activity_key(activity)
        ]


def _activity_key(activity: Activity) -> tuple[object, ...]:
    """What a backend must keep of an activity (the actor is optional)."""
    return (
        activity.action,
        activity.credential_id,
        round(activity.at, 3),
        activity.duration_ms,
        activity.outcome,
        activity.error,
    )
