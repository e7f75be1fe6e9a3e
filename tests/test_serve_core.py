"""The core under `credctl serve`: links, API tokens, and what every request logs.

In-process, against the FastAPI app over a memory or vault backend, where the
activity log can be read back with every field of the `Actor`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from credctl.errors import CredentialInUse, InvalidInput
from credctl.manager import CredentialManager
from credctl.records import api_tokens
from credctl.records.activity import Actor
from credctl.records.links import add_link, links_of, move_links, require_unlinked
from credctl.records.store import RecordStore
from credctl.server.app import create_app
from credctl.storage.memory import MemoryStorage
from credctl.vault import EnvironmentUnlocker, Vault
from tests.conftest import PASSPHRASE
from tests.serve_support import cli, init_vault, issue_token

ALICE = Actor("alice", origin="api", owner="alice", scope="alice")


def test_move_links_follows_a_rotated_credential() -> None:
    """What rotation calls: the links of the old id move to the new one."""
    store = RecordStore(MemoryStorage())
    with store.transaction("create", ALICE) as txn:
        old = txn.create("token", {"token": "FAKE-SECRET-old"}, name="old")
        new = txn.create("token", {"token": "FAKE-SECRET-new"}, name="new")
        add_link(txn, old, "wf-a", "alice")
        add_link(txn, txn.find(old.id), "wf-b", "alice")
        add_link(txn, new, "wf-b", "bob")  # already linked to the new one: kept as it is
    with store.transaction("rotate", ALICE) as txn:
        moved = move_links(txn, txn.find(old.id), txn.find(new.id))
    view = store.view(ALICE)
    assert links_of(view.find(old.id)) == []
    assert [(link.workflow_id, link.user) for link in links_of(view.find(new.id))] == [
        ("wf-a", "alice"), ("wf-b", "bob")]  # fmt: skip
    assert links_of(moved) == links_of(view.find(new.id))
    require_unlinked(view.find(old.id), force=False)  # the old id may now be retired
    with pytest.raises(CredentialInUse):
        require_unlinked(view.find(new.id), force=False)


def test_links_survive_other_changes_and_do_not_touch_updated_at() -> None:
    store = RecordStore(MemoryStorage())
    with store.transaction("create", ALICE) as txn:
        made = txn.create("token", {"token": "FAKE-SECRET-x"}, name="x")
    with store.transaction("link", ALICE) as txn:
        add_link(txn, txn.find(made.id), "wf", "alice")
    linked = store.view(ALICE).find(made.id)
    assert (linked.updated_at, linked.version) == (made.updated_at, made.version)
    with store.transaction("update", ALICE) as txn:
        txn.update(txn.find(made.id), name="renamed", data={"token": "FAKE-SECRET-y"})
    assert [link.workflow_id for link in links_of(store.view(ALICE).find(made.id))] == ["wf"]
    with pytest.raises(InvalidInput), store.transaction("link", ALICE) as txn:
        add_link(txn, txn.find(made.id), "../etc", "alice")


def test_tokens_are_stored_as_digests_only(tmp_path: Path) -> None:
    vault = init_vault(tmp_path / "v" / "tokens.credctl")
    token = issue_token(vault, "svc@example.com")
    assert token.startswith("credctl_1_") and len(token) == len("credctl_1_") + 43
    opened = Vault(vault).open(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE}))
    stored = opened.body.meta[api_tokens.TOKENS]
    assert token not in json.dumps(opened.body.meta)
    assert stored["1"]["sha256"] == api_tokens.digest(token)
    assert stored["1"]["user"] == "svc@example.com"
    assert token.encode() not in vault.read_bytes()
    listed = json.loads(cli(vault, "serve", "token", "list", "--json").stdout)
    assert set(listed[0]) == {"id", "user", "created_at", "expires_at", "last_used_at",
                              "expired"}  # fmt: skip
    assert token not in json.dumps(listed)
    # verification: the token itself, not a prefix, a suffix or another token of the shape
    meta = opened.body.meta
    assert api_tokens.verify(meta, token) is not None
    for wrong in (token[:-1], token + "A", token[:-1] + ("B" if token[-1] != "B" else "C"),
                  token.replace("credctl_1_", "credctl_2_"), "", "credctl_1_"):  # fmt: skip
        assert api_tokens.verify(meta, wrong) is None


@pytest.mark.parametrize("user", ["a/b", "", "-x", "has space", "x" * 129])
def test_token_users_are_checked(tmp_path: Path, user: str) -> None:
    vault = init_vault(tmp_path / "v" / "users.credctl")
    result = cli(vault, "serve", "token", "create", "--user", user)
    assert result.returncode in (2, 9), result.stderr
    assert result.stdout == ""
    assert cli(vault, "serve", "token", "list", "--json").stdout.strip() == "[]"


def test_revoking_an_unknown_token_is_exit_3(tmp_path: Path) -> None:
    vault = init_vault(tmp_path / "v" / "revoke.credctl")
    result = cli(vault, "serve", "token", "revoke", "7")
    assert result.returncode == 3, result.stderr
    assert "no API token 7" in result.stderr


def test_every_request_is_logged_with_the_callers_identity() -> None:
    manager = CredentialManager(storage=MemoryStorage(), origin="api")
    _, secret = manager.issue_api_token("alice")
    client = TestClient(create_app(manager, allowed_hosts=None))
    headers = {"Authorization": f"Bearer {secret.expose()}", "X-Execution-Id": "exec-42",
               "X-Workflow-Id": "wf-7"}  # fmt: skip
    body = {"name": "gh", "credential_type": "token", "credential_data": {"token": "FAKE-t"}}
    made = client.post("/credentials/", json=body, headers=headers).json()["data"]
    client.get(f"/credentials/{made['id']}", headers=headers)
    client.get("/credentials/", headers=headers)
    client.get("/credentials/424242", headers=headers)
    client.post(f"/credentials/{made['id']}/links", json={"workflow_id": "wf-7"},
                headers=headers)  # fmt: skip
    client.delete(f"/credentials/{made['id']}", headers=headers)
    client.get(f"/credentials/{made['id']}", headers={"Authorization": "Bearer nope"})
    entries = [a for a in manager.records.activities() if a.action != "serve_token"]
    assert [(a.action, a.outcome, a.error) for a in entries] == [
        ("create", "ok", None),
        ("show", "ok", None),
        ("list", "ok", None),
        ("show", "error", "NotFound"),
        ("link", "ok", None),
        ("delete", "error", "CredentialInUse"),
        ("show", "error", "Unauthenticated"),
    ]
    for entry in entries[:-1]:
        assert entry.actor is not None
        assert (entry.actor.user, entry.actor.origin, entry.actor.ip) == (
            "alice",
            "api",
            "testclient",
        )
        assert (entry.actor.execution_id, entry.actor.workflow_id) == ("exec-42", "wf-7")
    refused = entries[-1].actor
    assert refused is not None
    assert (refused.user, refused.origin, refused.ip) == ("anonymous", "api", "testclient")


def test_invalid_execution_ids_are_422_and_logged_nothing() -> None:
    manager = CredentialManager(storage=MemoryStorage(), origin="api")
    _, secret = manager.issue_api_token("alice")
    client = TestClient(create_app(manager, allowed_hosts=None))
    headers = {"Authorization": f"Bearer {secret.expose()}"}
    for name in ("X-Execution-Id", "X-Workflow-Id"):
        for value in ("", "has space", "x" * 300, "a/b"):
            response = client.get("/credentials/", headers={**headers, name: value})
            assert response.status_code == 422, (name, value)
            assert response.json()["data"] is None


def test_a_vault_is_read_again_only_when_the_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """VaultStorage keeps the decrypted generation while the file's stat is unchanged."""
    from credctl.storage.vault_storage import VaultStorage

    path = init_vault(tmp_path / "v" / "cache.credctl")
    unlocker = EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})
    server_side = VaultStorage(Vault(path), unlocker)
    assert server_side.snapshot().count() == 0
    reads: list[int] = []
    original = Vault.read_parsed

    def counted(self: Vault) -> object:
        reads.append(1)
        return original(self)

    monkeypatch.setattr(Vault, "read_parsed", counted)
    for _ in range(5):
        assert server_side.snapshot().count() == 0
    assert reads == []  # served from the kept generation
    other_process = CredentialManager(storage=VaultStorage(Vault(path), unlocker))
    other_process.create_credential("token", {"token": "FAKE-SECRET-c"}, name="from-cli")
    reads.clear()
    snapshot = server_side.snapshot()
    assert [r["name"] for r in snapshot.records()] == ["from-cli"]
    assert len(reads) == 1
    # a reader that changes what it got changes nothing for the next reader
    found = snapshot.get_by_id(1)
    assert found is not None
    found["name"] = "changed"
    snapshot.meta["next_id"] = 99
    again = server_side.snapshot()
    assert again.get_by_id(1)["name"] == "from-cli"  # type: ignore[index]
    assert again.meta["next_id"] == 2
    assert len(reads) == 1


def test_only_an_unchanged_body_can_be_copied() -> None:
    from credctl.vault.body import Body

    body = Body({"next_id": 1})
    copied = body.copy()
    copied.meta["next_id"] = 5
    assert body.meta["next_id"] == 1
    body.put(1, "x", {"id": 1, "name": "x"})
    with pytest.raises(ValueError, match="unchanged"):
        body.copy()
