"""The vault commands through the installed console script, as users run them."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
NEW_PASSPHRASE = "new fake passphrase for tests"


def add_ci_key(run_cli: RunCli, env: dict[str, str] | None = None, label: str = "ci") -> str:
    result = run_cli("key", "add-ci", "--label", label, env=env or PASS_ENV)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def session_from(run_cli: RunCli, env: dict[str, str], *extra: str) -> str:
    result = run_cli("unlock", *extra, env=env)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("export CREDCTL_SESSION='") and line.endswith("'")
    return line[len("export CREDCTL_SESSION='") : -1]


# -- init --------------------------------------------------------------------------


def test_init_creates_private_vault(run_cli: RunCli, vault_path: Path) -> None:
    result = run_cli("init", *CHEAP_KDF, env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert stat.S_IMODE(vault_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault_path.parent.stat().st_mode) == 0o700
    assert PASSPHRASE not in result.stderr


def test_init_reads_passphrase_file(run_cli: RunCli, tmp_path: Path) -> None:
    secret_file = tmp_path / "pass"
    secret_file.write_text(PASSPHRASE + "\n")
    result = run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE_FILE": str(secret_file)})
    assert result.returncode == 0, result.stderr
    # The trailing newline is not part of the passphrase.
    assert run_cli("key", "add-ci", env=PASS_ENV).returncode == 0


def test_init_over_existing_vault_is_conflict_and_untouched(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    before = initialized_vault.read_bytes()
    result = run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE": "other"})
    assert result.returncode == 8
    assert "already exists" in result.stderr
    assert initialized_vault.read_bytes() == before


@pytest.mark.parametrize(
    "settings",
    [
        ["--kdf-memory", "18"],
        ["--kdf-memory", "5000"],
        ["--kdf-time", "1"],
        ["--kdf-time", "11"],
        ["--kdf-parallelism", "0"],
        ["--kdf-parallelism", "17"],
    ],
)
def test_init_refuses_weak_or_absurd_kdf(
    run_cli: RunCli, vault_path: Path, settings: list[str]
) -> None:
    base = {"--kdf-memory": "19", "--kdf-time": "2", "--kdf-parallelism": "1"}
    base[settings[0]] = settings[1]
    args = [item for pair in base.items() for item in pair]
    result = run_cli("init", *args, env=PASS_ENV)
    assert result.returncode == 9, result.stderr
    assert not vault_path.exists()
    assert_no_traceback(result)


def test_init_without_passphrase_or_terminal_exits_4(run_cli: RunCli, vault_path: Path) -> None:
    result = run_cli("init", *CHEAP_KDF)
    assert result.returncode == 4
    assert "CREDCTL_PASSPHRASE" in result.stderr
    assert not vault_path.exists()


# -- unlock sources ----------------------------------------------------------------


def test_no_source_and_no_terminal_exits_4_at_once(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    started = time.monotonic()
    # Each hint names exactly the sources that command accepts.
    accepted = {
        ("list",): ["CREDCTL_SESSION", "CREDCTL_KEY", "CREDCTL_PASSPHRASE"],
        ("unlock",): ["CREDCTL_KEY", "CREDCTL_PASSPHRASE"],
        ("key", "add-ci"): ["CREDCTL_PASSPHRASE", "--with-ci-key"],
        ("passwd",): ["CREDCTL_PASSPHRASE"],
        ("rekey",): ["CREDCTL_PASSPHRASE"],
    }
    for command, names in accepted.items():
        result = run_cli(*command, timeout=20)
        assert result.returncode == 4, (command, result.stderr)
        hint = result.stderr.split("hint:", 1)[1]
        assert all(name in hint for name in names), (command, hint)
        if command != ("list",):
            assert "CREDCTL_SESSION" not in hint, (command, hint)
        assert result.stdout == ""
    assert time.monotonic() - started < 20


def test_wrong_passphrase_exits_5(run_cli: RunCli, initialized_vault: Path) -> None:
    before = initialized_vault.read_bytes()
    result = run_cli("key", "add-ci", env={"CREDCTL_PASSPHRASE": "wrong (fake)"})
    assert result.returncode == 5
    assert "wrong passphrase" in result.stderr
    assert "wrong (fake)" not in result.stderr
    assert initialized_vault.read_bytes() == before


def test_missing_vault_is_not_found(run_cli: RunCli) -> None:
    result = run_cli("unlock", env=PASS_ENV)
    assert result.returncode == 3
    assert "credctl init" in result.stderr


def test_ci_key_unlocks_and_is_printed_alone(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli)
    assert key.startswith("credctl-ci1-")
    assert "\n" not in key
    result = run_cli("list", env={"CREDCTL_KEY": key})
    assert result.returncode == 0, result.stderr
    assert key not in result.stderr


def test_malformed_ci_key_exits_5(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("unlock", env={"CREDCTL_KEY": "not-a-key"})
    assert result.returncode == 5


def test_session_unlocks_without_rewriting_vault(run_cli: RunCli, initialized_vault: Path) -> None:
    before = initialized_vault.read_bytes()
    session = session_from(run_cli, PASS_ENV, "--ttl", "5m")
    assert initialized_vault.read_bytes() == before
    result = run_cli("list", env={"CREDCTL_SESSION": session})
    assert result.returncode == 0, result.stderr
    assert session not in result.stderr


def test_session_cannot_start_a_session(run_cli: RunCli, initialized_vault: Path) -> None:
    session = session_from(run_cli, PASS_ENV)
    result = run_cli("unlock", env={"CREDCTL_SESSION": session})
    assert result.returncode == 4


def test_session_expires(run_cli: RunCli, initialized_vault: Path) -> None:
    session = session_from(run_cli, PASS_ENV, "--ttl", "1s")
    # Issued before now, it expires at int(issue time) + 1 s: by `expired_by` at the latest.
    expired_by = time.time() + 1
    time.sleep(max(0.0, expired_by - time.time()))
    result = run_cli("list", env={"CREDCTL_SESSION": session})
    assert result.returncode == 4
    assert "expired" in result.stderr


def test_lock_revokes_every_session(run_cli: RunCli, initialized_vault: Path) -> None:
    first = session_from(run_cli, PASS_ENV)
    second = session_from(run_cli, PASS_ENV)
    result = run_cli("lock", env={"CREDCTL_SESSION": first})
    assert result.returncode == 0, result.stderr
    assert "ended 2 sessions" in result.stderr
    for session in (first, second):
        leaked = run_cli("list", env={"CREDCTL_SESSION": session})
        assert leaked.returncode == 4
        assert "lock" in leaked.stderr


def test_session_of_other_vault_is_no_source(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.credctl"
    assert run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=other).returncode == 0
    session = session_from(run_cli, PASS_ENV)
    result = run_cli("list", env={"CREDCTL_SESSION": session}, vault=other)
    assert result.returncode == 4


@pytest.mark.parametrize(
    ("shell", "start"),
    [("sh", "export CREDCTL_SESSION='"), ("fish", "set -gx CREDCTL_SESSION '"),
     ("powershell", "$env:CREDCTL_SESSION = '")],
)  # fmt: skip
def test_unlock_shell_syntax(
    run_cli: RunCli, initialized_vault: Path, shell: str, start: str
) -> None:
    result = run_cli("unlock", "--shell", shell, env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(start)


@pytest.mark.parametrize("args", [["--ttl", "soon"], ["--ttl", "0s"], ["--shell", "tcsh"]])
def test_unlock_bad_options_exit_9(
    run_cli: RunCli, initialized_vault: Path, args: list[str]
) -> None:
    result = run_cli("unlock", *args, env=PASS_ENV)
    assert result.returncode == 9
    assert_no_traceback(result)


def test_eval_unlock_in_a_real_shell(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("--version", env={})  # warm-up to make sure the console script exists
    assert result.returncode == 0
    script = (
        'eval "$(credctl unlock --ttl 1m)" && unset CREDCTL_PASSPHRASE && credctl list >/dev/null'
    )
    import subprocess

    env = {**os.environ, "CREDCTL_VAULT": str(initialized_vault), **PASS_ENV}
    done = subprocess.run(
        ["sh", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


# -- keyring -----------------------------------------------------------------------


def test_remember_without_keyring_backend_is_clear(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    result = run_cli("unlock", "--remember", env=PASS_ENV)
    assert result.returncode == 4
    assert "no OS keyring backend" in result.stderr
    assert_no_traceback(result)


def test_remember_and_lock_with_keyring(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    keyring_env = {
        "PYTHON_KEYRING_BACKEND": "keyring_fake.FileKeyring",
        "PYTHONPATH": str(Path(__file__).parent),
        "FAKE_KEYRING_FILE": str(tmp_path / "keyring.json"),
    }
    result = run_cli("unlock", "--remember", env={**keyring_env, **PASS_ENV})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert run_cli("list", env=keyring_env).returncode == 0
    locked = run_cli("lock", env=keyring_env)
    assert locked.returncode == 0
    assert "forgot the keyring entry" in locked.stderr
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    assert run_cli("list", env=keyring_env).returncode == 4


# -- passwd and rekey --------------------------------------------------------------


def test_passwd_changes_passphrase_and_keeps_ci_keys_and_sessions(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    key = add_ci_key(run_cli)
    session = session_from(run_cli, PASS_ENV)
    result = run_cli("passwd", env={**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert result.returncode == 0, result.stderr
    assert NEW_PASSPHRASE not in result.stderr and PASSPHRASE not in result.stderr
    assert run_cli("unlock", env=PASS_ENV).returncode == 5
    assert run_cli("unlock", env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}).returncode == 0
    assert run_cli("unlock", env={"CREDCTL_KEY": key}).returncode == 0
    assert run_cli("list", env={"CREDCTL_SESSION": session}).returncode == 0


def test_passwd_needs_the_current_passphrase(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli)
    result = run_cli("passwd", env={"CREDCTL_KEY": key, "CREDCTL_NEW_PASSPHRASE": "x"})
    assert result.returncode == 4


def test_passwd_without_new_passphrase_exits_4(run_cli: RunCli, initialized_vault: Path) -> None:
    before = initialized_vault.read_bytes()
    result = run_cli("passwd", env=PASS_ENV)
    assert result.returncode == 4
    assert "CREDCTL_NEW_PASSPHRASE" in result.stderr
    assert initialized_vault.read_bytes() == before


def test_rekey_invalidates_every_old_key(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli)
    session = session_from(run_cli, PASS_ENV)
    backups = initialized_vault.with_name(initialized_vault.name + ".d") / "backups"
    assert any(backups.iterdir())
    old_copy = initialized_vault.read_bytes()
    result = run_cli("rekey", env={**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert result.returncode == 0, result.stderr
    assert run_cli("unlock", env={"CREDCTL_KEY": key}).returncode == 5
    assert run_cli("list", env={"CREDCTL_SESSION": session}).returncode == 4
    assert run_cli("unlock", env=PASS_ENV).returncode == 5
    assert run_cli("unlock", env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}).returncode == 0
    assert not any(backups.iterdir())
    # The data key changed: the old file cannot be opened with the new passphrase.
    copy = initialized_vault.parent / "old-copy.credctl"
    copy.write_bytes(old_copy)
    result = run_cli("unlock", env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}, vault=copy)
    assert result.returncode == 5


def test_rekey_keeping_passphrase_warns(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("rekey", env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr
    assert run_cli("unlock", env=PASS_ENV).returncode == 0


# -- key slots ---------------------------------------------------------------------


def test_key_list_json_never_shows_key_material(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli, label="deploy")
    result = run_cli("key", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["id"], r["kind"], r["label"]) for r in rows] == [
        (1, "passphrase", "passphrase"),
        (2, "ci", "deploy"),
    ]
    assert all(set(r) == {"id", "label", "kind", "created_at"} for r in rows)
    assert all(r["created_at"].endswith("Z") for r in rows)
    assert key.rsplit("-", 1)[-1] not in result.stdout


def test_key_remove_stops_ci_key_opening_the_file(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    key = add_ci_key(run_cli)
    assert run_cli("key", "remove", "2", env=PASS_ENV).returncode == 0
    result = run_cli("unlock", env={"CREDCTL_KEY": key})
    assert result.returncode == 5
    assert "slot 2" in result.stderr
    # Slot ids are never reused.
    again = add_ci_key(run_cli)
    assert again.startswith("credctl-ci1-3-")


def test_key_remove_refuses_last_passphrase_slot(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("key", "remove", "1", env=PASS_ENV)
    assert result.returncode == 9
    assert run_cli("key", "remove", "42", env=PASS_ENV).returncode == 3


# -- writes ------------------------------------------------------------------------


def test_write_keeps_configured_backups(run_cli: RunCli, vault_path: Path) -> None:
    assert run_cli("init", *CHEAP_KDF, "--backups", "2", env=PASS_ENV).returncode == 0
    for _ in range(4):
        add_ci_key(run_cli)
    backups = sorted((vault_path.parent / (vault_path.name + ".d") / "backups").iterdir())
    assert [p.name.rsplit(".", 1)[-1] for p in backups] == ["000000000003", "000000000004"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in backups)


def test_lock_timeout_exits_8(run_cli: RunCli, initialized_vault: Path) -> None:
    lock_path = initialized_vault.with_name(initialized_vault.name + ".lock")
    before = initialized_vault.read_bytes()
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        result = run_cli("key", "add-ci", env={**PASS_ENV, "CREDCTL_LOCK_TIMEOUT": "0.5"})
    assert result.returncode == 8
    assert "busy" in result.stderr and "CREDCTL_LOCK_TIMEOUT" in result.stderr
    assert initialized_vault.read_bytes() == before


# -- doctor ------------------------------------------------------------------------


def test_doctor_healthy(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("doctor", "--json", env=PASS_ENV)
    assert result.returncode == 0, result.stdout
    report = json.loads(result.stdout)
    assert report["status"] == "healthy"
    names = {c["name"] for c in report["checks"]}
    assert {"format", "permissions", "kdf", "backups", "lock", "keyring", "contents"} <= names


def test_doctor_degraded_on_loose_permissions(run_cli: RunCli, initialized_vault: Path) -> None:
    initialized_vault.chmod(0o644)
    result = run_cli("doctor")
    assert result.returncode == 1
    assert "chmod 600" in result.stdout


def test_doctor_unhealthy_on_damage(run_cli: RunCli, initialized_vault: Path) -> None:
    data = bytearray(initialized_vault.read_bytes())
    data[-40] ^= 1
    initialized_vault.write_bytes(bytes(data))
    result = run_cli("doctor")
    assert result.returncode == 2
    assert "damaged" in result.stdout


def test_doctor_without_vault_is_unhealthy(run_cli: RunCli) -> None:
    assert run_cli("doctor").returncode == 2


# -- the command line itself -------------------------------------------------------


def test_version_and_usage_errors(run_cli: RunCli) -> None:
    assert run_cli("--version").stdout.startswith("credctl ")
    result = run_cli("init", "--kdf-memory", "lots")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert run_cli("no-such-command").returncode == 2


def test_default_vault_lives_in_the_user_data_folder(run_cli: RunCli, isolated_env: Path) -> None:
    result = run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=None)
    assert result.returncode == 0, result.stderr
    default = isolated_env / ".local/share/credctl/vault.credctl"
    assert default.is_file()
    assert stat.S_IMODE(default.parent.stat().st_mode) == 0o700
    listed = run_cli("--vault", str(default), "key", "list", "--json", vault=None)
    assert listed.returncode == 0, listed.stderr


# -- hostile environment and companion files -----------------------------------------


def test_ci_key_with_non_ascii_slot_digits_is_a_wrong_key(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    for slot in ("²", "1" * 5000):
        result = run_cli("unlock", env={"CREDCTL_KEY": f"credctl-ci1-{slot}-" + "A" * 43})
        assert result.returncode == 5, result.stderr
        assert_no_traceback(result)


def test_passphrase_that_is_not_utf8_works(run_cli: RunCli, vault_path: Path) -> None:
    raw = "fake-\udcff-passphrase"  # the byte 0xff, as os.environ carries it
    assert run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE": raw}).returncode == 0
    assert run_cli("unlock", env={"CREDCTL_PASSPHRASE": raw}).returncode == 0
    assert run_cli("unlock", env={"CREDCTL_PASSPHRASE": "fake--passphrase"}).returncode == 5


def test_damaged_anchor_is_ignored(run_cli: RunCli, initialized_vault: Path) -> None:
    anchor = initialized_vault.with_name(initialized_vault.name + ".d") / "anchor"
    anchor.write_text('{"vault_id": "00", "generation": Infinity}')
    result = run_cli("unlock", env=PASS_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("expires", ["Infinity", "1e400", str(2**70), '"soon"', "true"])
def test_damaged_session_file_is_no_source_and_breaks_nothing(
    run_cli: RunCli, initialized_vault: Path, expires: str
) -> None:
    session = session_from(run_cli, PASS_ENV)
    sessions = initialized_vault.with_name(initialized_vault.name + ".d") / "sessions"
    (path,) = sessions.iterdir()
    record = path.read_text()
    start = record.index('"expires": ') + len('"expires": ')
    end = record.index(",", start)
    path.write_text(record[:start] + expires + record[end:])
    result = run_cli("key", "add-ci", env={"CREDCTL_SESSION": session})
    assert result.returncode == 4, result.stderr
    assert_no_traceback(result)
    for command in (["unlock"], ["key", "add-ci"], ["doctor"]):
        done = run_cli(*command, env=PASS_ENV)
        assert done.returncode == 0, (command, done.stderr, done.stdout)
