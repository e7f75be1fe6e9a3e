"""What the trail records (SPEC §7, §13), for the CLI, the library and vault-level commands."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from pathlib import Path

import pytest

from credctl import (
    AuditAction,
    AuditFilter,
    CredentialContext,
    CredentialManager,
    ExportFormat,
    StorageBackend,
    UserContext,
)
from credctl.records.activity import local_host, os_user
from tests.audit_support import (
    PASS_ENV,
    add_token,
    assert_tampered,
    audit_dir,
    current_log,
    entries,
    history,
    ok,
    read_lines,
    verify,
    write_lines,
)
from tests.backend_support import vault_state
from tests.conftest import PASSPHRASE, RunCli
from tests.peer_backends import LANE, lane_storage_backend

FIELDS = [
    "seq", "timestamp", "action", "credential_id", "credential_name", "user", "host", "ip",
    "execution_id", "workflow_id", "origin", "outcome", "error", "detail", "duration_ms",
]  # fmt: skip


@pytest.fixture
def manager(initialized_vault: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialManager:
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    return (
        CredentialManager.builder()
        .storage_backend(lane_storage_backend(initialized_vault))
        .build()
    )


def test_cli_entries_carry_every_field(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path, reads=1)
    ok(run_cli("get-token", "gh", "--field", "token", env=PASS_ENV))
    ok(run_cli("env", "gh", env=PASS_ENV))
    assert run_cli("get-token", "nope", env=PASS_ENV).returncode == 3
    listed = entries(run_cli)
    assert all(list(e) == FIELDS for e in listed)
    assert [(e["action"], e["credential_name"], e["outcome"], e["error"]) for e in listed[:6]] == [
        ("init", None, "ok", None),
        ("create", "gh", "ok", None),
        ("get_token", "gh", "ok", None),
        ("read_field", "gh", "ok", None),
        ("read_field", "gh", "ok", None),
        ("get_token", None, "error", "NotFound"),
    ]
    for entry in listed:
        assert entry["user"] == os_user() and entry["host"] == local_host()
        assert entry["origin"] == "cli"
        dt.datetime.fromisoformat(entry["timestamp"])
        assert entry["timestamp"].endswith("Z")
    assert listed[1]["credential_id"] == 1
    assert [e["seq"] for e in listed] == list(range(1, len(listed) + 1))


def test_library_entries_carry_the_context(manager: CredentialManager) -> None:
    created = manager.create_credential(
        "token", {"token": "FAKE-SECRET-lib"}, UserContext("alice", "192.0.2.7"), name="lib"
    )
    context = CredentialContext.builder().user_id("alice").execution_id("exec-42") \
        .workflow_id("wf-7").build()  # fmt: skip
    assert manager.get_token_with_context(created, context).value.expose() == "FAKE-SECRET-lib"
    with pytest.raises(Exception, match="may not read"):
        manager.get_token_with_context(created, CredentialContext(user_id="mallory"))
    logs = manager.get_audit_logs(AuditFilter.builder().credential_id(created).build())
    create, read, denied = logs
    assert (create.action, create.user, create.ip, create.origin) == (
        "create",
        "alice",
        "192.0.2.7",
        "library",
    )
    assert (read.action, read.user_id, read.execution_id, read.workflow_id) == (
        "get_token", "alice", "exec-42", "wf-7")  # fmt: skip
    assert read.action_type is AuditAction.GetToken
    assert (denied.outcome, denied.error, denied.user) == ("error", "AccessDenied", "mallory")
    # Reading the trail is itself an entry.
    assert manager.get_audit_logs(AuditFilter(action_type=AuditAction.AUDIT_LIST))[-1].detail


def test_enums_answer_to_the_seed_spellings() -> None:
    assert AuditAction.GetToken is AuditAction.GET_TOKEN == "get_token"
    assert AuditAction("read_field") is AuditAction.ReadField
    assert ExportFormat.Csv is ExportFormat.CSV and ExportFormat.Pdf.value == "pdf"
    assert [f.value for f in ExportFormat] == ["json", "csv", "pdf"]
    assert "GetToken" not in [a.name for a in AuditAction]  # aliases do not repeat members


def test_filters(manager: CredentialManager) -> None:
    one = manager.create_credential("token", {"token": "FAKE-SECRET-1"}, name="one")
    two = manager.create_credential("token", {"token": "FAKE-SECRET-2"}, UserContext("bob"),
                                    name="two")  # fmt: skip
    manager.get_token(one)
    manager.get_token_with_context(two, CredentialContext(workflow_id="nightly"))
    with pytest.raises(Exception, match="no credential"):
        manager.get_token("missing")
    by_id = manager.get_audit_logs(AuditFilter.builder().credential_id(one).build())
    assert [e.action for e in by_id] == ["create", "get_token"]
    tokens = manager.get_audit_logs(
        AuditFilter.builder().action_type(AuditAction.GetToken).build()
    )
    assert len(tokens) == 3
    assert [e.credential_name for e in manager.get_audit_logs(AuditFilter(user_id="bob"))] == [
        "two"
    ]
    assert len(manager.get_audit_logs(AuditFilter(workflow_id="nightly"))) == 1
    failed = manager.get_audit_logs(AuditFilter.builder().outcome("error").build())
    assert [(e.action, e.error) for e in failed] == [("get_token", "NotFound")]
    now = dt.datetime.now(dt.UTC)
    ranged = AuditFilter.builder().date_range(now - dt.timedelta(minutes=5), now).build()
    assert len(manager.get_audit_logs(ranged)) >= 6
    assert manager.get_audit_logs(AuditFilter.builder().date_range(now + dt.timedelta(1), None)
                                  .build()) == []  # fmt: skip
    assert len(manager.get_audit_logs(AuditFilter.last_days(1))) >= 6


def test_cli_filters(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> None:
    history(run_cli, tmp_path, reads=2)
    add_token(run_cli, tmp_path, "gl")
    ok(run_cli("delete", "gh", env=PASS_ENV))
    by_name = entries(run_cli, "--credential", "gh")  # deleted: still found by name
    assert [e["action"] for e in by_name] == ["create", "get_token", "get_token", "delete"]
    assert [e["action"] for e in entries(run_cli, "--credential", "2")] == ["create"]
    assert len(entries(run_cli, "--action", "get_token")) == 2
    assert entries(run_cli, "--user", "nobody-like-this") == []
    assert len(entries(run_cli, "--since", "1h", "--until", "2999-01-01T00:00:00Z")) >= 6
    assert entries(run_cli, "--until", "2000-01-01T00:00:00Z") == []
    assert entries(run_cli, "--outcome", "error") == []
    assert [e["action"] for e in entries(run_cli, "--limit", "1", "--action", "create")] == [
        "create"
    ]
    bad = run_cli("audit", "list", "--action", "steal", env=PASS_ENV)
    assert bad.returncode == 9 and "get_token" in bad.stderr
    assert run_cli("audit", "list", "--since", "yesterday", env=PASS_ENV).returncode == 9
    table = ok(run_cli("audit", "list", env=PASS_ENV)).stdout
    assert "get_token" in table and "gl" in table


def test_reading_the_trail_needs_the_vault_unlocked(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    for args in (["audit", "list"], ["audit", "verify"], ["audit", "export", "--format", "json",
                                                          "-o", "-"]):  # fmt: skip
        result = run_cli(*args)
        assert result.returncode == 4, result.stderr
        assert result.stdout == ""


def test_reads_never_rewrite_the_vault_and_metrics_come_from_the_trail(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    add_token(run_cli, tmp_path, "gh")
    before = vault_state(initialized_vault, PASS_ENV)
    for _ in range(3):
        ok(run_cli("get-token", "gh", env=PASS_ENV))
    assert vault_state(initialized_vault, PASS_ENV) == before
    metrics = json.loads(ok(run_cli("metrics", "gh", "--json", env=PASS_ENV)).stdout)
    assert metrics["usage_count"] == 3 and metrics["last_used"] is not None


@pytest.mark.vault_file  # the usage journal beside the vault file
def test_an_old_usage_journal_is_migrated_once(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    add_token(run_cli, tmp_path, "gh")
    # Make it a vault from before the trail: no trail settings, no trail.
    from credctl.vault import EnvironmentUnlocker, Vault

    with Vault(initialized_vault).edit(EnvironmentUnlocker(env=PASS_ENV)) as txn:
        del txn.body.meta["audit"]
    shutil_rmtree(audit_dir(initialized_vault))
    journal = initialized_vault.with_name(initialized_vault.name + ".d") / "usage.jsonl"
    journal.write_text(
        '{"t": 1700000000.5, "id": 1, "a": "get_token"}\n'
        "not json\n"
        '{"t": 1700000001, "id": 1, "a": "get_field", "e": "NotFound"}\n'
    )
    ok(run_cli("get-token", "gh", env=PASS_ENV))
    assert not journal.exists()
    listed = entries(run_cli)
    assert [(e["action"], e["timestamp"], e["outcome"]) for e in listed[:3]] == [
        ("get_token", "2023-11-14T22:13:20.500Z", "ok"),
        ("read_field", "2023-11-14T22:13:21.000Z", "error"),
        ("audit_start", listed[2]["timestamp"], "ok"),
    ]
    assert listed[0]["detail"] == "migrated from usage.jsonl"
    assert "2 entries migrated" in listed[2]["detail"]
    ok(run_cli("get-token", "gh", env=PASS_ENV))
    assert sum(e["action"] == "audit_start" for e in entries(run_cli)) == 1
    metrics = json.loads(ok(run_cli("metrics", "gh", "--json", env=PASS_ENV)).stdout)
    assert metrics["usage_count"] == 3  # one migrated use, two new ones
    ok(verify(run_cli))


def shutil_rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def test_an_idempotent_repeat_is_still_logged(manager: CredentialManager) -> None:
    for _ in range(2):
        manager.create_credential_idempotent("token", {"token": "FAKE-SECRET-i"}, None, "key-1",
                                             name="idem")  # fmt: skip
    creates = manager.get_audit_logs(AuditFilter(action_type=AuditAction.CREATE))
    assert [(e.credential_name, e.outcome) for e in creates] == [("idem", "ok"), ("idem", "ok")]


def test_vault_level_commands_are_audited(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    add_token(run_cli, tmp_path, "gh")
    ok(run_cli("unlock", env=PASS_ENV))
    key = ok(run_cli("key", "add-ci", "--label", "ci", env=PASS_ENV)).stdout.strip()
    ok(run_cli("key", "remove", key.split("-")[2], env=PASS_ENV))
    ok(run_cli("passwd", env={**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": PASSPHRASE}))
    backup = tmp_path / "backup.credctl"
    ok(
        run_cli(
            "export",
            "-o",
            str(backup),
            env={**PASS_ENV, "CREDCTL_EXPORT_PASSPHRASE": "backup (fake)"},
        )
    )
    ok(run_cli("lock", env=PASS_ENV))
    actions = [e["action"] for e in entries(run_cli)]
    assert actions[:8] == ["init", "create", "unlock", "key_add", "key_remove", "passwd",
                           "export", "lock"]  # fmt: skip
    # The backup is another vault: it does not inherit this trail's settings.
    backup_env = {"CREDCTL_PASSPHRASE": "backup (fake)"}
    result = ok(run_cli("--vault", str(backup), "audit", "verify", vault=None, env=backup_env))
    assert "verifies: 0 entries" in result.stdout


def test_rekey_starts_a_new_epoch_and_the_trail_still_verifies(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    new = {"CREDCTL_NEW_PASSPHRASE": "a new passphrase (fake)"}
    ok(run_cli("rekey", env={**PASS_ENV, **new}))
    after = {"CREDCTL_PASSPHRASE": new["CREDCTL_NEW_PASSPHRASE"]}
    ok(run_cli("get-token", "gh", env=after))
    result = run_cli("audit", "verify", env=after)
    assert result.returncode == 0, result.stderr
    if not LANE:  # a backend's log keeps its own key across rekeys: no epochs
        epochs = [line.split(b" ")[1] for line in read_lines(initialized_vault)]
        assert epochs[:3] == [b"1", b"1", b"1"] and epochs[-1] == b"2"
    listed = json.loads(ok(run_cli("audit", "list", "--json", env=after)).stdout)
    assert [e["action"] for e in listed][3:5] == ["rekey", "get_token"]


@pytest.mark.vault_file  # prune: the vault file's trail only (and its segment lines)
def test_prune_keeps_the_rest_verifiable(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=4)  # seq 1..6
    cut = entries(run_cli)[3]["timestamp"]  # seq 4: entries 1..3 are older
    result = ok(run_cli("audit", "prune", "--before", cut, env=PASS_ENV))
    assert "removed 3 audit entries" in result.stderr
    listed = entries(run_cli)
    assert listed[0]["seq"] == 4
    prune = next(e for e in listed if e["action"] == "audit_prune")
    assert "seq 1..3" in prune["detail"]
    ok(verify(run_cli))
    assert read_lines(initialized_vault)[0].startswith(b"4 ")
    lines = read_lines(initialized_vault)
    del lines[1]  # seq 5
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 5)
    refused = run_cli("audit", "prune", "--before", "1s", env=PASS_ENV)
    assert refused.returncode == 6 and "not pruned" in refused.stderr


@pytest.mark.vault_file  # the trail's segment files
def test_segments_rotate_and_a_missing_one_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    small = {**PASS_ENV, "CREDCTL_AUDIT_SEGMENT_BYTES": "1024"}
    add_token(run_cli, tmp_path, "gh")
    for _ in range(12):
        ok(run_cli("get-token", "gh", env=small))
    segments = sorted(p.name for p in audit_dir(initialized_vault).glob("segment-*.log"))
    assert len(segments) >= 3
    assert ok(verify(run_cli)).stdout.startswith("the audit trail verifies: 14 entries")
    (audit_dir(initialized_vault) / segments[1]).unlink()
    result = verify(run_cli)
    assert result.returncode == 6 and "missing" in result.stderr


def test_the_memory_backend_lists_but_cannot_verify() -> None:
    manager = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    created = manager.create_credential("token", {"token": "FAKE-SECRET-m"}, name="m")
    manager.get_token(created)
    assert [e.action for e in manager.get_audit_logs()] == ["create", "get_token"]
    result = manager.verify_audit_trail()
    assert result.verified is None and result.entries == 3  # + the audit_list entry
    assert b'"action": "get_token"' in manager.export_audit_report(ExportFormat.Json)


@pytest.mark.vault_file  # the trail's files; PostgreSQL's rows: test_backends_cli
def test_entries_are_sealed_on_disk(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path, reads=1)
    raw = current_log(initialized_vault).read_bytes()
    for clear in (b"get_token", b"create", b"FAKE-SECRET", os_user().encode()):
        assert clear not in raw
    seq, epoch, nonce, _ct, mac = read_lines(initialized_vault)[0].split(b" ")
    assert (seq, epoch) == (b"1", b"1")
    assert len(base64.b64decode(nonce)) == 12 and len(base64.b64decode(mac.strip())) == 32
    assert os.stat(current_log(initialized_vault)).st_mode & 0o777 == 0o600
    assert os.stat(audit_dir(initialized_vault)).st_mode & 0o777 == 0o700


@pytest.mark.vault_file  # `audited` around `Vault` methods
def test_audited_records_vault_methods_and_their_failures(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    """`audited` wraps a `Vault` method that takes an unlocker (as `key`, `passwd` do)."""
    from credctl.audit.events import audited
    from credctl.errors import InvalidInput
    from credctl.vault import EnvironmentUnlocker, Vault, crypto, keys
    from credctl.vault.crypto import KdfParams

    add_token(run_cli, tmp_path, "gh")
    vault = Vault(initialized_vault)
    env_unlocker = EnvironmentUnlocker(env=PASS_ENV)
    with audited(vault, "key_add", env_unlocker) as unlocker, vault.edit(unlocker) as txn:
        txn.add_ci_key("audited")

    def refuse() -> None:
        with audited(vault, "key_remove", EnvironmentUnlocker(env=PASS_ENV)) as unlocker:
            vault.open(unlocker)
            raise InvalidInput("refused on purpose")

    def locked() -> None:
        with audited(vault, "passwd", EnvironmentUnlocker(env={})) as unlocker:
            vault.open(unlocker)  # never unlocked: nothing can be sealed

    with pytest.raises(InvalidInput):
        refuse()
    with pytest.raises(Exception, match="locked"):
        locked()
    # A rekey inside the block: its entry is the last one sealed under the old key.
    new_passphrase = "after the audited rekey (fake)"
    with audited(
        vault, "rekey", EnvironmentUnlocker(env=PASS_ENV, passphrase_only=True)
    ) as unlocker:
        opened = vault.open(unlocker)
        assert unlocker.used_passphrase == PASSPHRASE.encode()
        with vault.edit(data_key=opened.data_key) as txn:
            txn.data_key = crypto.random_bytes(crypto.KEY_SIZE)
            txn.slots = [keys.passphrase_slot(txn.vault_id, txn.next_slot_id(),
                                              new_passphrase.encode(), KdfParams(19 * 1024, 2, 1),
                                              txn.data_key)]  # fmt: skip
    after = {"CREDCTL_PASSPHRASE": new_passphrase}
    ok(run_cli("get-token", "gh", env=after))
    assert ok(run_cli("audit", "verify", env=after)).stdout.startswith("the audit trail verifies")
    listed = json.loads(ok(run_cli("audit", "list", "--json", env=after)).stdout)
    assert [(e["action"], e["outcome"], e["error"]) for e in listed[2:6]] == [
        ("key_add", "ok", None),
        ("key_remove", "error", "InvalidInput"),
        ("rekey", "ok", None),
        ("get_token", "ok", None),
    ]
    epochs = [line.split(b" ")[1] for line in read_lines(initialized_vault)]
    assert epochs[4] == b"1" and epochs[5] == b"2"  # the rekey entry, then the next epoch
