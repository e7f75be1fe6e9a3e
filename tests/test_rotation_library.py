"""The rotation API of the library (SPEC §13): `rotate_credential` returns a new id,
`RotationPolicy` (builder, `periodic`), `RotationStrategy` (seed spellings too),
`schedule_rotation`, `get_versions`, `rollback`, the async manager, and what follows a
rotation inside one process (token cache, idempotency keys, owner scopes)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

import credctl
from credctl import (
    CredentialManager,
    GenerateSpec,
    ManagerConfig,
    NotFound,
    RotationFailed,
    RotationInProgress,
    RotationPolicy,
    RotationStrategy,
    StorageBackend,
)
from credctl.aio import AsyncCredentialManager
from credctl.errors import ExitCode, InvalidInput
from credctl.model import UserContext
from credctl.records.activity import Actor
from tests.conftest import PASSPHRASE

DAY = dt.timedelta(days=1)


def _manager() -> CredentialManager:
    return CredentialManager(ManagerConfig(storage_backend=StorageBackend.memory()))


def test_rotate_credential_returns_a_new_id_and_the_name_follows() -> None:
    manager = _manager()
    old = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    new = manager.rotate_credential(old, {"token": "FAKE-SECRET-2"})
    assert new != old
    assert manager.get_token("gh").value.expose() == "FAKE-SECRET-2"
    assert manager.get_credential("gh").id == new
    with pytest.raises(NotFound, match=f"rotated to id {new}") as caught:
        manager.get_token(old)
    assert caught.value.exit_code == ExitCode.NOT_FOUND
    assert [v.version for v in manager.get_versions(new)] == [1, 2]
    assert "FAKE-SECRET" not in repr(manager.get_versions(new))


def test_policy_builder_periodic_and_seed_spellings() -> None:
    policy = (
        RotationPolicy.builder()
        .interval(90 * DAY)
        .warning_period(7 * DAY)
        .strategy(RotationStrategy.BlueGreen)
        .build()
    )
    assert policy.strategy is RotationStrategy.BLUE_GREEN
    assert RotationStrategy.Immediate is RotationStrategy.IMMEDIATE
    assert RotationStrategy.parse("blue-green") is RotationStrategy.BLUE_GREEN
    assert RotationStrategy.parse("BlueGreen") is RotationStrategy.BLUE_GREEN
    assert [m.value for m in RotationStrategy] == ["immediate", "blue-green"]
    assert RotationPolicy.periodic(30 * DAY).interval == 30 * DAY
    assert RotationPolicy.from_stored(policy.to_stored()) == policy
    with pytest.raises(InvalidInput):
        RotationPolicy.builder().interval(DAY).schedule("0 3 * * *").build()
    with pytest.raises(InvalidInput):
        RotationStrategy.parse("sideways")
    manager = _manager()
    cid = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    manager.set_rotation_policy(cid, policy)
    assert manager.get_rotation_policy("gh") == policy
    assert manager.rotation_status("gh").status == "ok"
    assert manager.clear_rotation_policy("gh") is True
    assert manager.clear_rotation_policy("gh") is False
    assert manager.rotation_status("gh").status == "no-policy"


def test_schedule_rotation_and_rotate_due(monkeypatch: pytest.MonkeyPatch) -> None:
    manager = _manager()
    cid = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    manager.set_rotation_policy(cid, RotationPolicy(interval=90 * DAY, generate=GenerateSpec(24)))
    at = dt.datetime.now(dt.UTC) + 10 * DAY
    manager.schedule_rotation(cid, at)
    with pytest.raises(InvalidInput):
        manager.schedule_rotation(cid, dt.datetime(2030, 1, 1))  # no time zone
    assert [r.action for r in manager.rotate_due()] == [""]
    monkeypatch.setenv("CREDCTL_TEST_ONLY_NOW", "+11d")
    (result,) = manager.rotate_due()
    assert (result.before.status, result.action, result.after.status) == ("overdue", "rotated",
                                                                          "ok")  # fmt: skip
    assert len(manager.get_token("gh").value.expose()) == 24


def test_reading_the_previous_version_never_poisons_the_token_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from credctl.vault import KdfParams, Vault

    path = tmp_path / "lib.credctl"
    Vault(path).create(PASSPHRASE.encode(), KdfParams(19 * 1024, 2, 1))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = CredentialManager(ManagerConfig(storage_backend=StorageBackend.file(path)))
    assert manager.config.cache_config.enabled  # the cache is on, keyed by name and id
    old = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    manager.rotate_credential(old, {"token": "FAKE-SECRET-2"}, strategy="blue-green")
    assert manager.get_token("gh").value.expose() == "FAKE-SECRET-2"
    assert manager.get_token("gh@previous").value.expose() == "FAKE-SECRET-1"
    assert manager.get_token(old).value.expose() == "FAKE-SECRET-1"
    assert manager.get_token("gh", version=1).value.expose() == "FAKE-SECRET-1"
    assert manager.get_token("gh").value.expose() == "FAKE-SECRET-2"
    assert manager.get_metrics().cache_hits >= 1


def test_rotation_follows_idempotency_keys_and_hides_other_owners() -> None:
    manager = _manager()
    alice = UserContext("alice")
    first = manager.create_credential_idempotent("token", {"token": "FAKE-SECRET-A"}, alice,
                                                 "key-1", name="a")  # fmt: skip
    new = manager.rotate_credential(first, {"token": "FAKE-SECRET-B"}, context=alice)
    again = manager.create_credential_idempotent("token", {"token": "FAKE-SECRET-A"}, alice,
                                                 "key-1", name="a")  # fmt: skip
    assert again == new
    bob = Actor("bob", owner="bob", scope="bob")
    with pytest.raises(NotFound) as caught:
        manager.records.view(bob).find(first)  # another owner's id: no hint about it
    assert "rotated" not in str(caught.value)


def test_a_pending_rotation_refuses_a_second_and_can_be_resumed() -> None:
    from credctl.records import rotation_state

    manager = _manager()
    cid = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    with manager.records.transaction("rotate", Actor("tester")) as txn:
        credential = txn.find(cid)
        entry = {"token": "t", "started_at": "2020-01-01T00:00:00Z", "pid": 1, "host": "elsewhere",
                 "step": "created", "data": {"token": "FAKE-SECRET-2"}, "strategy": "immediate",
                 "grace": 3600, "timeout": 60, "window": 3600}  # fmt: skip
        txn.update(credential, extra=rotation_state.with_state(credential, pending=entry))
    assert manager.rotation_status("gh").status == "stuck"
    with pytest.raises(RotationInProgress) as caught:
        manager.rotate_credential("gh", {"token": "FAKE-SECRET-3"})
    assert caught.value.exit_code == ExitCode.CONFLICT
    assert "--resume" in (caught.value.hint or "")
    outcome = manager.resume_rotation("gh")
    assert outcome.rotated and outcome.credential_id != cid
    assert manager.get_token("gh").value.expose() == "FAKE-SECRET-2"
    assert manager.resume_rotation("gh").note == "no rotation to resume"


def test_rotation_failed_is_raised_and_the_old_secret_kept() -> None:
    manager = _manager()
    cid = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
    with pytest.raises(RotationFailed):
        manager.rotate_credential(cid, command="exit 4")
    assert manager.get_token(cid).value.expose() == "FAKE-SECRET-1"
    assert credctl.RotationFailed is credctl.CredentialError.RotationFailed


def test_async_manager_rotates() -> None:
    async def main() -> tuple[int, int, list[int]]:
        manager = AsyncCredentialManager(ManagerConfig(storage_backend=StorageBackend.memory()))
        cid = await manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="gh")
        await manager.set_rotation_policy(cid, RotationPolicy.periodic(30 * DAY))
        new = await manager.rotate_credential(cid, generate=True)
        await manager.schedule_rotation(new, dt.datetime.now(dt.UTC) + DAY)
        version = await manager.rollback(new, 1)
        versions = [v.version for v in await manager.get_versions(new)]
        return new, version, versions

    new, version, versions = asyncio.run(main())
    assert new == 2 and version == 3 and versions == [1, 2, 3]


def test_new_data_may_name_a_field_by_its_alias() -> None:
    manager = _manager()
    cid = manager.create_credential("api_key", {"api_key": "FAKE-SECRET-1"}, name="sg")
    new = manager.rotate_credential(cid, {"api_key": "FAKE-SECRET-2"})
    assert manager.get_token(new).value.expose() == "FAKE-SECRET-2"
    assert manager.get_token("sg", version=1).value.expose() == "FAKE-SECRET-1"


def test_workflow_links_and_the_owner_follow_a_rotation() -> None:
    manager = _manager()
    alice = manager.acting_as("alice")
    created = alice.create_credential("token", {"token": "FAKE-SECRET-1"}, name="ci")
    alice.add_link(created.id, "deploy-prod")
    new = manager.rotate_credential(created.id, {"token": "FAKE-SECRET-2"})
    assert [link.workflow_id for link in alice.links(new)] == ["deploy-prod"]
    assert alice.get_credential(new).id == new  # still alice's
    with pytest.raises(NotFound, match=f"rotated to id {new}"):
        alice.get_credential(created.id)
    with pytest.raises(NotFound) as other:
        manager.acting_as("bob").get_credential(created.id)
    assert "rotated" not in str(other.value)  # another owner learns nothing
