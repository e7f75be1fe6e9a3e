"""The record layer: one owner of credential records (issue "one owner of credential records").

Each bug the review reproduced on the old main has a test here that failed there:
reading a field of an expired oauth2 token, metadata merged outside the lock, an
import with metadata that wrote the vault 1+N times, and two RFC 3339 parsers that
disagreed.  The rest pins what the record layer promises its callers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credctl import _time
from credctl.errors import AccessDenied, DuplicateCredential, InvalidInput, NotFound
from credctl.model import from_rfc3339, to_rfc3339
from credctl.records.activity import Actor
from credctl.records.secrets import TOKEN, SecretWant
from credctl.records.store import RecordStore
from credctl.storage.memory import MemoryStorage
from credctl.types.oauth2 import parse_rfc3339 as oauth2_parse  # the name it had
from credctl.vault import Vault
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback
from tests.env_support import SessionVault

EXPIRED = {"access_token": "FAKE-expired-access-0001", "token_expiry": "2001-01-01T00:00:00Z"}
LOCAL = Actor("tester", origin="library")


def generation(path: Path) -> int:
    return Vault(path).read_parsed().header.generation


@pytest.fixture(scope="module")
def session_vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    vault = SessionVault(tmp_path_factory.mktemp("records"))
    vault.create([("oauth2", "old", EXPIRED), ("token", "tok", {"token": "FAKE-tok-0001"})])
    return vault


# -- one read path: an expired token is refused everywhere ----------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("get-token", "old"),
        ("get-token", "old", "--field", "access_token"),
        ("get-token", "old", "-f", "access_token"),
        ("env", "old"),
        ("env", "old.access_token"),
        ("exec", "old", "--", "true"),
    ],
    ids=" ".join,
)
def test_an_expired_access_token_is_refused_by_every_command(
    session_vault: SessionVault, args: tuple[str, ...]
) -> None:
    result = session_vault.run(*args, check=False)
    assert (result.returncode, result.stdout) == (7, "")
    assert "expired" in result.stderr
    assert EXPIRED["access_token"] not in result.stderr
    assert_no_traceback(result)


def test_render_refuses_an_expired_access_token(
    session_vault: SessionVault, tmp_path: Path
) -> None:
    template = tmp_path / "t.json"
    template.write_text('{"a": "{{$credential.old.access_token}}"}')
    out = tmp_path / "out.json"
    result = session_vault.run("render", str(template), "-o", str(out), check=False)
    assert (result.returncode, result.stdout) == (7, "")
    assert not out.exists()
    assert EXPIRED["access_token"] not in result.stderr


def test_fields_that_do_not_expire_are_still_readable(session_vault: SessionVault) -> None:
    result = session_vault.run("get-token", "old", "--field", "token_expiry")
    assert result.stdout == "2001-01-01T00:00:00Z\n"


def test_the_library_refuses_it_too() -> None:
    from credctl import CredentialManager, Expired

    manager = CredentialManager(storage=MemoryStorage())
    manager.create_credential("oauth2", EXPIRED, name="old")
    for read in (
        lambda: manager.get_token("old"),
        lambda: manager.get_field("old", "access_token"),
        lambda: manager.read_secrets([SecretWant("old", ("access_token",))]),
    ):
        with pytest.raises(Expired):
            read()


# -- writes happen under the lock, in one transaction ---------------------------------------


def test_concurrent_metadata_updates_all_survive(run_cli: RunCli, tmp_path: Path) -> None:
    vault = SessionVault(tmp_path / "meta")
    vault.create([("token", "m", {"token": "FAKE-m-0001"})])

    def update(i: int) -> subprocess.CompletedProcess[str]:
        return vault.run("update", "m", "--meta", f"k{i}=v{i}", check=False)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(update, range(8)))
    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results]
    shown = json.loads(vault.run("show", "m", "--json").stdout)
    assert shown["metadata"] == {f"k{i}": f"v{i}" for i in range(8)}


def test_update_meta_keeps_other_keys_and_clear_meta_replaces(tmp_path: Path) -> None:
    vault = SessionVault(tmp_path / "meta2")
    vault.create([("token", "m", {"token": "FAKE-m-0002"})])
    vault.run("update", "m", "--meta", "a=1")
    vault.run("update", "m", "--meta", "b=2")
    assert json.loads(vault.run("show", "m", "--json").stdout)["metadata"] == {"a": "1", "b": "2"}
    vault.run("update", "m", "--clear-meta", "--meta", "c=3")
    assert json.loads(vault.run("show", "m", "--json").stdout)["metadata"] == {"c": "3"}


def test_importing_a_backup_with_metadata_is_one_vault_write(tmp_path: Path) -> None:
    source = SessionVault(tmp_path / "source")
    source.create([("token", f"t{i}", {"token": f"FAKE-t{i}"}) for i in range(5)])
    for i in range(5):
        source.run("update", f"t{i}", "--meta", f"team=t{i}")
    backup = tmp_path / "backup.credctl"
    source.run("export", "-o", str(backup), extra={"CREDCTL_EXPORT_PASSPHRASE": PASSPHRASE})
    target = SessionVault(tmp_path / "target")
    before = generation(target.path)
    target.run("import", str(backup), extra={"CREDCTL_IMPORT_PASSPHRASE": PASSPHRASE})
    assert generation(target.path) == before + 1
    listed = json.loads(target.run("list", "--json").stdout)
    shown = [json.loads(target.run("show", c["name"], "--json").stdout) for c in listed]
    assert [c["metadata"] for c in shown] == [{"team": f"t{i}"} for i in range(5)]


def test_a_transaction_that_changes_nothing_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "v.credctl"
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault import EnvironmentUnlocker, KdfParams

    Vault(path).create(PASSPHRASE.encode(), KdfParams(19 * 1024, 2, 1))
    store = RecordStore(
        VaultStorage(Vault(path), EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE}))
    )
    before = path.read_bytes()
    with store.transaction("update", LOCAL) as txn:
        assert txn.all() == []
    assert path.read_bytes() == before
    with store.transaction("create", LOCAL) as txn:
        txn.create("token", {"token": "FAKE-x"}, name="x")
    assert generation(path) == 2


def test_a_failed_transaction_is_dropped_and_logged() -> None:
    store = RecordStore(MemoryStorage())
    with store.transaction("create", LOCAL) as txn:
        txn.create("token", {"token": "FAKE-1"}, name="one")

    def two_then_a_duplicate() -> None:
        with store.transaction("create", LOCAL) as txn:
            txn.create("token", {"token": "FAKE-2"}, name="two")
            txn.create("token", {"token": "FAKE-3"}, name="one")

    with pytest.raises(DuplicateCredential):
        two_then_a_duplicate()
    assert [c.name for c in store.view().all()] == ["one"]
    logged = [(a.action, a.credential_name, a.outcome, a.error) for a in store.activities()]
    assert logged == [
        ("create", "one", "ok", None),
        ("create", "one", "error", "DuplicateCredential"),
    ]


def test_every_secret_read_is_logged_once_per_credential() -> None:
    store = RecordStore(MemoryStorage())
    with store.transaction("create", LOCAL) as txn:
        txn.create("basic_auth", {"username": "u", "password": "FAKE-p"}, name="b")
    wants = [
        SecretWant("b", TOKEN),
        SecretWant("b", ("username",)),
        SecretWant("b", ("password",)),
    ]
    found = store.read_secrets(wants, LOCAL, action="read_field")
    assert [s.credential.name for s in found if s is not None] == ["b", "b", "b"]
    reads = [a for a in store.activities() if a.action == "read_field"]
    assert [(a.credential_name, a.outcome, a.actor) for a in reads] == [("b", "ok", LOCAL)]


def test_an_unknown_field_is_not_found_and_no_use() -> None:
    store = RecordStore(MemoryStorage())
    with store.transaction("create", LOCAL) as txn:
        txn.create("token", {"token": "FAKE-t"}, name="t")
    with pytest.raises(NotFound):
        store.read_secrets([SecretWant("t", ("nope",))], LOCAL)
    assert [(a.action, a.outcome) for a in store.activities()][-1] == ("read_field", "error")


def test_a_scoped_actor_sees_only_its_own_credentials() -> None:
    store = RecordStore(MemoryStorage())
    alice = Actor("alice", origin="api", owner="alice", scope="alice")
    bob = Actor("bob", origin="api", owner="bob", scope="bob")
    with store.transaction("create", alice) as txn:
        mine = txn.create("token", {"token": "FAKE-alice"}, name="mine")
    assert store.view(alice).find(mine.id).name == "mine"
    with pytest.raises(NotFound):
        store.view(bob).find(mine.id)
    with pytest.raises(NotFound):
        store.read_secrets([SecretWant(mine.id)], bob)
    with pytest.raises(NotFound), store.transaction("delete", bob) as txn:
        txn.delete(txn.find(mine.id))
    assert store.view().count() == 1
    with pytest.raises(AccessDenied):
        store.read_secrets([SecretWant(mine.id)], LOCAL, require_owner="bob")


def test_create_validates_everything_before_storing() -> None:
    store = RecordStore(MemoryStorage())
    bad = [
        {"credential_type": "token", "data": {"token": "x"}, "name": "a.b"},
        {"credential_type": "token", "data": {"token": "x"}, "tags": ["has space"]},
        {"credential_type": "token", "data": {"token": "x"}, "metadata": {"x": float("nan")}},
        {"credential_type": "token", "data": {"nope": "x"}},
        {"credential_type": "token", "data": {"token": "x"}, "description": "d" * 5000},
    ]
    for item in bad:
        kind, data = item.pop("credential_type"), item.pop("data")
        with pytest.raises(InvalidInput), store.transaction("create", LOCAL) as txn:
            txn.create(str(kind), data, **item)  # type: ignore[arg-type]
    assert store.view().count() == 0


# -- one clock: RFC 3339 -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2025-W01-1T10:00:00Z",  # an ISO week date: fromisoformat accepts it, RFC 3339 does not
        "2025-01-01T10:00:00",  # no offset
        "20250101T100000Z",  # basic format
        "2025-01-01",
        "2025-01-01T10:00Z",
        "2025-13-01T10:00:00Z",
        "2025-01-01T10:00:00+24:00",
        "2025-01-01T10:00:60Z",
        " 2025-01-01T10:00:00Z",
    ],
)
def test_the_one_parser_refuses_what_is_not_rfc_3339(text: str) -> None:
    for parse in (_time.parse_rfc3339, from_rfc3339, oauth2_parse):
        with pytest.raises(ValueError, match=r"\S"):
            parse(text)


def test_every_module_uses_the_one_formatter_and_parser() -> None:
    assert to_rfc3339 is _time.format_rfc3339
    assert from_rfc3339 is _time.parse_rfc3339
    assert oauth2_parse is _time.parse_rfc3339


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 2),
        max_value=dt.datetime(9999, 12, 30),
        timezones=st.timezones(),
    )
)
def test_format_then_parse_round_trips(moment: dt.datetime) -> None:
    text = _time.format_rfc3339(moment)
    assert text.endswith("Z")
    parsed = _time.parse_rfc3339(text)
    # Compared in UTC: aware datetimes of different zones never compare equal in a
    # DST fold, whatever instant they name.
    assert parsed == moment.astimezone(dt.UTC)
    assert _time.format_rfc3339(parsed) == text


@given(
    st.from_regex(
        r"\A[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:"
        r"[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9])\Z"
    )
)
def test_every_rfc_3339_text_parses_and_formats_canonically(text: str) -> None:
    if text[:4] in ("0000", "9999", "0001"):  # the UTC moment may fall outside years 1–9999
        with contextlib.suppress(ValueError):
            _time.parse_rfc3339(text)
        return
    parsed = _time.parse_rfc3339(text)
    assert _time.parse_rfc3339(_time.format_rfc3339(parsed)) == parsed


def test_every_front_end_keeps_a_version_when_data_changes() -> None:
    """The library, `update --field` and the REST API's PUT all keep the old data."""
    from credctl import CredentialManager, CredentialUpdate

    manager = CredentialManager(storage=MemoryStorage())
    own = manager.create_credential("token", {"token": "FAKE-v1"}, name="mine")
    manager.update_credential(own, CredentialUpdate(data={"token": "FAKE-v2"}))
    assert [v.version for v in manager.get_versions(own)] == [1, 2]
    api = manager.acting_as("alice")
    created = api.create_credential("token", {"token": "FAKE-a1"}, name="api")
    api.update_credential(created.id, data={"token": "FAKE-a2"})
    api.update_credential(created.id, description="no data: no version")
    assert [v.version for v in manager.get_versions(created.id)] == [1, 2]


def test_now_rfc3339_is_utc_now_formatted() -> None:
    """The datetime-free stamp `create` uses says what `format_rfc3339(utc_now())` says."""
    for _ in range(3):
        before = _time.utc_now()
        text = _time.now_rfc3339()
        after = _time.utc_now()
        if before == after:  # not across a second boundary
            assert text == _time.format_rfc3339(before)
            return
    pytest.fail("three tries straddled a second boundary")
