"""Names are unique per owner (the REST API's users each have their own namespace).

The vault indexes another owner's record as ``owner/name`` (docs/FORMAT.md), so two
users may each have a ``github`` and no user learns that another's name exists.
"""

from __future__ import annotations

import json
import struct

import pytest

from credctl.errors import DuplicateCredential, InvalidInput, NotFound, VaultCorruptError
from credctl.records.activity import Actor
from credctl.records.store import RecordStore
from credctl.storage.memory import MemoryStorage
from credctl.storage.vault_storage import VaultSnapshot, VaultStorage
from credctl.vault import EnvironmentUnlocker, KdfParams, Vault
from credctl.vault.body import Body

LOCAL = Actor("tester", origin="cli")


def user(name: str) -> Actor:
    return Actor(name, origin="api", owner=name, scope=name)


@pytest.fixture(params=["memory", "vault"])
def store(request: pytest.FixtureRequest, tmp_path: object) -> RecordStore:
    if request.param == "memory":
        return RecordStore(MemoryStorage())
    vault = Vault(f"{tmp_path}/v/names.credctl")
    vault.create(b"fake passphrase", KdfParams(19 * 1024, 2, 1))
    unlocker = EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": "fake passphrase"})
    return RecordStore(VaultStorage(vault, unlocker))


def create(store: RecordStore, actor: Actor, name: str | None = None) -> int:
    with store.transaction("create", actor) as txn:
        return txn.create("token", {"token": "FAKE-SECRET-names"}, name=name).id


def test_two_users_each_have_a_github(store: RecordStore) -> None:
    alice, bob = create(store, user("alice"), "github"), create(store, user("bob"), "github")
    local = create(store, LOCAL, "github")
    assert len({alice, bob, local}) == 3
    assert store.view(user("alice")).find("github").id == alice
    assert store.view(user("bob")).find("github").id == bob
    assert store.view(LOCAL).find("github").id == local
    with pytest.raises(DuplicateCredential):
        create(store, user("alice"), "github")


def test_default_names_are_per_owner_too(store: RecordStore) -> None:
    first = create(store, user("alice"))
    with store.transaction("create", user("bob")) as txn:
        # bob may pick alice's default name by hand; alice's next default skips nothing
        txn.create("token", {"token": "FAKE-SECRET-names"}, name=f"token_{first + 1}")
    second = create(store, user("alice"))
    assert store.view(user("alice")).find(f"token_{first}").id == first
    assert store.view(user("alice")).find(second).name == f"token_{second}"


def test_rename_checks_only_the_owners_names(store: RecordStore) -> None:
    create(store, user("bob"), "taken-by-bob")
    mine = create(store, user("alice"), "mine")
    create(store, user("alice"), "also-mine")
    with store.transaction("update", user("alice")) as txn:
        txn.update(txn.find(mine), name="taken-by-bob")
    with pytest.raises(DuplicateCredential), store.transaction("update", user("alice")) as txn:
        txn.update(txn.find(mine), name="also-mine")
    assert store.view(user("alice")).find("taken-by-bob").id == mine


def test_a_user_cannot_find_another_users_name(store: RecordStore) -> None:
    create(store, user("alice"), "secret-project")
    with pytest.raises(NotFound):
        store.view(user("bob")).find("secret-project")


def test_the_local_user_finds_a_name_only_one_owner_uses(store: RecordStore) -> None:
    alice = create(store, user("alice"), "only-alice")
    assert store.view(LOCAL).find("only-alice").id == alice
    create(store, user("alice"), "both")
    create(store, user("bob"), "both")
    with pytest.raises(DuplicateCredential, match=r"ids \d+, \d+") as caught:
        store.view(LOCAL).find("both")
    assert caught.value.hint == "name it by its id"
    local = create(store, LOCAL, "both")
    assert store.view(LOCAL).find("both").id == local  # its own name wins


@pytest.mark.parametrize("owner", ["a/b", "", "-x", ".x", "x" * 129, "tab\tx", "ü"])
def test_invalid_owner_ids_are_refused(store: RecordStore, owner: str) -> None:
    with pytest.raises(InvalidInput, match="user id"):
        create(store, Actor("x", owner=owner), "fine")
    assert store.view().count() == 0


def plaintext(key: bytes, record: dict[str, object]) -> bytes:
    meta = b"{}"
    raw = json.dumps(record).encode()
    index = b"1\t" + key + b"\t0\t" + str(len(raw)).encode() + b"\n"
    pack = struct.Struct(">I").pack
    return pack(len(meta)) + meta + pack(len(index)) + index + raw


@pytest.mark.parametrize(
    ("key", "owner"),
    [
        (b"local/x", "local"),  # the local owner is never written as a prefix
        (b"alice/x", "bob"),  # the index and the record disagree on the owner
        (b"x", "alice"),  # another owner's record without its prefix
        (b"alice/x", None),  # a prefix on a record that has no owner member
    ],
)
def test_an_index_key_that_disagrees_with_the_record_is_damage(
    key: bytes, owner: str | None
) -> None:
    record: dict[str, object] = {"id": 1, "name": "x", "type": "token", "data": {}}
    if owner is not None:
        record["owner"] = owner
    snapshot = VaultSnapshot(Body.decode(plaintext(key, record)))
    with pytest.raises(VaultCorruptError):
        snapshot.get_by_id(1)
    with pytest.raises(VaultCorruptError):
        list(snapshot.records())


@pytest.mark.parametrize("key", [b"a/b/x", b"/x", b"alice/", b"al ice/x", b"alice/x.y"])
def test_malformed_index_keys_are_damage(key: bytes) -> None:
    body = Body.decode(plaintext(key, {"id": 1, "name": "x"}))
    with pytest.raises(VaultCorruptError):
        body.names()
