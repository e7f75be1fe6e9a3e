"""`credctl rotate`, `history`, `rollback`, `get-token --version` through the console script.

Each strategy, each way of getting the new secret (data, --generate, a rotation
command), failing hooks, what follows a rotation by name (templates, env, exec)
and what a retired id answers.  Secrets are obviously fake and never appear in
output or messages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import RunCli
from tests.rotation_support import Cli

OLD = "FAKE-SECRET-OLD-0001"
NEW = "FAKE-SECRET-NEW-0002"


@pytest.fixture
def cli(run_cli: RunCli, initialized_vault: Path) -> Cli:
    return Cli(run_cli, initialized_vault)


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_immediate_rotation_moves_the_name_to_a_new_id_and_retires_the_old(
    cli: Cli, tmp_path: Path
) -> None:
    old_id = cli.create_token("github", OLD, tmp_path)
    before = cli.generation()
    done = cli("rotate", "github", "--field", f"token=@{_file(tmp_path, 'n', NEW)}")
    assert done.returncode == 0, done.stderr
    new_id = int(done.stdout)
    # The new data was known and nothing had to be tested: one commit, all or nothing.
    assert cli.generation() == before + 1
    logged = [(a.credential_id, a.outcome) for a in cli.activities() if a.action == "rotate"]
    assert sorted(logged) == [(old_id, "ok"), (new_id, "ok")]  # the old id retired, the new
    assert new_id != old_id
    assert cli.token("github") == NEW
    assert cli.token(str(new_id)) == NEW
    retired = cli("get-token", str(old_id))
    assert retired.returncode == 3
    assert retired.stdout == ""
    assert f"rotated to id {new_id}" in retired.stderr
    # Every command that takes NAME|ID says the same about the retired id.
    for args in (("show", str(old_id)), ("env", str(old_id)), ("history", str(old_id))):
        answer = cli(*args)
        assert answer.returncode == 3, args
        assert f"rotated to id {new_id}" in answer.stderr
    shown = json.loads(cli.ok("show", "github", "--json"))
    assert shown["id"] == new_id
    assert shown["version"] == 2
    assert shown["rotation"]["versions"] == [1, 2]
    for output in (done.stdout + done.stderr, retired.stderr):
        assert OLD not in output and NEW not in output


def test_a_literal_secret_is_refused_and_nothing_changes(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("github", OLD, tmp_path)
    done = cli("rotate", "github", "--field", f"token={NEW}")
    assert done.returncode == 9
    assert NEW not in done.stderr
    assert "token=@FILE" in done.stderr
    assert cli.token("github") == OLD


def test_blue_green_keeps_the_old_id_readable_until_the_grace_ends(
    cli: Cli, tmp_path: Path
) -> None:
    old_id = cli.create_token("db", OLD, tmp_path)
    new_id = int(cli.ok("rotate", "db", "--field", f"token=@{_file(tmp_path, 'n', NEW)}",
                        "--strategy", "blue-green", "--grace", "2h"))  # fmt: skip
    assert cli.token("db") == NEW
    assert cli.token(str(old_id)) == OLD
    assert cli.token("db@previous") == OLD
    env = json.loads(cli.ok("env", "db@previous", "--shell", "json"))
    assert env == {"DB_TOKEN": OLD}
    states = [v["state"] for v in json.loads(cli.ok("history", "db", "--json"))]
    assert states == ["previous", "current"]
    # The old id is read-only: changing it names the current id.
    changed = cli("update", str(old_id), "--description", "x")
    assert changed.returncode == 3
    assert f"id {new_id}" in changed.stderr
    later = {"CREDCTL_TEST_ONLY_NOW": "+2h"}  # the grace period has just ended
    gone = cli("get-token", str(old_id), env=later)
    assert gone.returncode == 3
    assert f"rotated to id {new_id}" in gone.stderr
    assert cli("get-token", "db@previous", env=later).returncode == 3
    assert cli("get-token", str(old_id), env={"CREDCTL_TEST_ONLY_NOW": "+119m"}).returncode == 0
    # The next `rotate --due` records it as retired; the version itself is kept.
    cli("rotate", "--due", env=later)
    history = json.loads(cli.ok("history", "db", "--json", env=later))
    assert [v["state"] for v in history] == ["retired", "current"]
    assert "grace_until" not in json.dumps(cli.body()["records"])
    assert cli.token("db", "--version", "1") == OLD


def test_generate_makes_random_values_of_the_asked_length_and_alphabet(
    cli: Cli, tmp_path: Path
) -> None:
    cli.create_token("ci", OLD, tmp_path)
    cli.ok("rotate", "ci", "--generate", "--length", "48", "--alphabet", "hex")
    first = cli.token("ci")
    assert len(first) == 48 and set(first) <= set("0123456789abcdef")
    cli.ok("rotate", "ci", "--generate")
    second = cli.token("ci")
    assert len(second) == 32 and second.isalnum() and second != first
    short = cli("rotate", "ci", "--generate", "--length", "8")
    assert short.returncode == 9
    both = cli("rotate", "ci", "--generate", "--command", "true")
    assert both.returncode == 9


def test_basic_auth_generate_changes_only_the_password(cli: Cli, tmp_path: Path) -> None:
    pw = _file(tmp_path, "pw", OLD)
    cli.ok("create", "basic_auth", "jenkins", "--field", "username=bot", "--field",
           f"password=@{pw}")  # fmt: skip
    cli.ok("rotate", "jenkins", "--generate")
    fields = json.loads(cli.ok("env", "jenkins", "--shell", "json"))
    assert fields["JENKINS_USERNAME"] == "bot"
    assert fields["JENKINS_PASSWORD"] != OLD and len(fields["JENKINS_PASSWORD"]) == 32


HOOK = """
import json, os, sys
print("hook sees " + os.environ["API_TOKEN"], file=sys.stderr)
unlock = sorted(k for k in os.environ if k.startswith("CREDCTL_") and "ROTATION" not in k
                and k not in ("CREDCTL_VAULT", "CREDCTL_BACKEND"))
print("unlock variables: " + ",".join(unlock), file=sys.stderr)
print("step " + os.environ["CREDCTL_ROTATION_STEP"], file=sys.stderr)
print("made FAKE-SECRET-FROM-HOOK", file=sys.stderr)  # careless: the new secret on stderr
json.dump({"token": "FAKE-SECRET-FROM-HOOK"}, sys.stdout)
"""


def test_a_rotation_command_gets_the_current_credential_and_prints_the_new_one(
    cli: Cli, tmp_path: Path
) -> None:
    cli.create_token("api", OLD, tmp_path)
    hook = _file(tmp_path, "hook.py", HOOK)
    done = cli("rotate", "api", "--command", f"{sys.executable} {hook}",
               env={"CREDCTL_NEW_PASSPHRASE": "FAKE-NEW-PASSPHRASE"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert cli.token("api") == "FAKE-SECRET-FROM-HOOK"
    # stderr passes through, with the secret masked; no unlock variable reached the hook
    # (CREDCTL_PASSPHRASE unlocked this very command).
    assert "hook sees ***" in done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("unlock variables:"))
    assert line == "unlock variables: "
    assert "step create" in done.stderr
    assert "made ***" in done.stderr  # masked too, although known only at the end
    assert OLD not in done.stderr and "FAKE-SECRET-FROM-HOOK" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("exit 3", "exited with status 3"),
        ("echo not-json", "did not print a JSON object"),
        ("echo '{\"nope\": 1}'", "output was refused"),
        ("kill -9 $$", "killed by signal 9"),
    ],
)
def test_a_failing_rotation_command_keeps_the_old_secret(
    cli: Cli, tmp_path: Path, command: str, message: str
) -> None:
    old_id = cli.create_token("api", OLD, tmp_path)
    done = cli("rotate", "api", "--command", command)
    assert done.returncode != 0
    assert message in done.stderr
    assert "the old secret is kept" in done.stderr
    assert done.stdout == ""
    assert cli.token("api") == OLD
    assert cli.token(str(old_id)) == OLD
    assert "pending" not in json.dumps(cli.body()["records"])
    failed = [a for a in cli.activities() if a.action == "rotate" and not a.ok]
    assert [a.error for a in failed] == ["RotationFailed"]
    assert failed[0].credential_id == old_id


def test_a_hook_that_runs_too_long_is_stopped(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("api", OLD, tmp_path)
    cli.ok("policy", "set", "api", "--interval", "30d", "--command", "sleep 30",
           "--timeout", "1s")  # fmt: skip
    done = cli("rotate", "api")
    assert done.returncode != 0
    assert "did not finish within 1 s" in done.stderr
    assert cli.token("api") == OLD


def test_a_failing_test_command_keeps_the_old_secret(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("api", OLD, tmp_path)
    new = _file(tmp_path, "n", NEW)
    check = f'test "$API_TOKEN" = {OLD}'  # passes only with the old secret: the new one fails
    done = cli("rotate", "api", "--field", f"token=@{new}", "--test-command", check)
    assert done.returncode != 0
    assert "the test command exited with status 1" in done.stderr
    assert cli.token("api") == OLD
    passing = f'test "$API_TOKEN" = {NEW} && test "$CREDCTL_ROTATION_STEP" = test'
    assert cli("rotate", "api", "--field", f"token=@{new}", "--test-command",
               passing).returncode == 0  # fmt: skip
    assert cli.token("api") == NEW


def test_the_same_secret_again_is_no_rotation(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("api", OLD, tmp_path)
    done = cli("rotate", "api", "--field", f"token=@{_file(tmp_path, 'o', OLD)}")
    assert done.returncode == 9
    assert "same as the current one" in done.stderr


def test_without_a_way_to_get_a_new_secret_rotate_says_how(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("api", OLD, tmp_path)
    done = cli("rotate", "api")
    assert done.returncode == 9
    assert "--generate" in done.stderr


def test_templates_env_and_exec_follow_the_name_across_rotations(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("svc", OLD, tmp_path)
    template = _file(tmp_path, "app.json.tmpl", '{"token": "{{$credential.svc.token}}"}')
    out = tmp_path / "app.json"
    for strategy in ("immediate", "blue-green"):
        cli.ok("rotate", "svc", "--generate", "--strategy", strategy)
        current = cli.token("svc")
        cli.ok("render", template, "-o", str(out))
        assert json.loads(out.read_text()) == {"token": current}
        assert json.loads(cli.ok("env", "svc", "--shell", "json")) == {"SVC_TOKEN": current}
        printed = cli.ok("exec", "svc", "--", "sh", "-c", 'printf %s "$SVC_TOKEN"')
        assert printed == current


def test_history_get_token_version_and_rollback(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("gh", OLD, tmp_path)
    cli.ok("rotate", "gh", "--field", f"token=@{_file(tmp_path, 'n', NEW)}")
    data = _file(tmp_path, "d.json", json.dumps({"token": "FAKE-SECRET-UPDATED-3"}))
    cli.ok("update", "gh", "--data-file", data)
    history = json.loads(cli.ok("history", "gh", "--json"))
    assert [(v["version"], v["reason"], v["state"]) for v in history] == [
        (1, "create", "retired"), (2, "rotate", "retired"), (3, "update", "current"),
    ]  # fmt: skip
    assert set(history[0]) == {"version", "id", "created_at", "user", "reason", "state",
                               "grace_until"}  # fmt: skip
    assert OLD not in json.dumps(history) and NEW not in json.dumps(history)
    assert cli.token("gh", "--version", "1") == OLD
    assert cli.token("gh", "--version", "2", "--format", "json").startswith('{"value": "FAKE')
    assert cli.ok("get-token", "gh", "--version", "2", "--field", "token").strip() == NEW
    missing = cli("get-token", "gh", "--version", "9")
    assert missing.returncode == 3
    assert "kept versions: 1, 2, 3" in missing.stderr
    assert cli("get-token", "gh", "--version", "zero").returncode == 2
    assert cli.ok("rollback", "gh", "--to", "1").strip() == "4"
    assert cli.token("gh") == OLD
    reasons = [v["reason"] for v in json.loads(cli.ok("history", "gh", "--json"))]
    assert reasons == ["create", "rotate", "update", "rollback"]
    assert cli("rollback", "gh", "--to", "4").returncode == 9
    assert cli("rollback", "gh", "--to", "99").returncode == 3


def test_ten_versions_are_kept_by_default_and_max_versions_trims(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("gh", OLD, tmp_path)
    for _ in range(12):
        cli.ok("rotate", "gh", "--generate")
    versions = [v["version"] for v in json.loads(cli.ok("history", "gh", "--json"))]
    assert versions == list(range(4, 14))
    cli.ok("policy", "set", "gh", "--interval", "30d", "--max-versions", "3")
    versions = [v["version"] for v in json.loads(cli.ok("history", "gh", "--json"))]
    assert versions == [11, 12, 13]
    assert OLD not in cli.plaintext()


def test_delete_destroys_every_version_and_the_retired_ids(cli: Cli, tmp_path: Path) -> None:
    old_id = cli.create_token("gh", OLD, tmp_path)
    cli.ok("rotate", "gh", "--field", f"token=@{_file(tmp_path, 'n', NEW)}",
           "--strategy", "blue-green")  # fmt: skip
    assert OLD in cli.plaintext()
    deleted = cli("delete", "gh", "--yes")
    assert deleted.returncode == 0
    assert "every kept version went with it" in deleted.stderr
    assert "`credctl rekey`" in deleted.stderr
    plaintext = cli.plaintext()
    assert OLD not in plaintext and NEW not in plaintext
    assert cli.body()["meta"].get("rotated_ids") == {}
    gone = cli("get-token", str(old_id))
    assert gone.returncode == 3
    assert "rotated to" not in gone.stderr


def test_a_second_rotation_while_one_is_pending_exits_8_and_data_updates_wait(
    cli: Cli, tmp_path: Path
) -> None:
    """A rotation parked after its first step (test-only pause) blocks the others."""
    import subprocess

    from tests.conftest import credctl_command
    from tests.rotation_support import UNLOCK

    cli.create_token("api", OLD, tmp_path)
    from tests.peer_backends import vault_env

    env = {**__import__("os").environ, **UNLOCK, **vault_env(cli.vault),
           "CREDCTL_TEST_ONLY_ROTATION_PAUSE": "created"}  # fmt: skip
    hook = 'printf \'{"token": "FAKE-SECRET-FROM-HOOK"}\''
    parked = subprocess.Popen([*credctl_command(), "rotate", "api", "--command", hook], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert parked.stderr is not None
        assert "test-only pause after created" in parked.stderr.readline()
        second = cli("rotate", "api", "--generate")
        assert second.returncode == 8
        assert "in progress" in second.stderr and "wait for it" in second.stderr
        update = cli("update", "api", "--data-file", _file(tmp_path, "d", '{"token": "x-y"}'))
        assert update.returncode == 8
        assert cli("update", "api", "--description", "metadata is fine").returncode == 0
        assert cli.token("api") == OLD
        resumed = cli("rotate", "--resume", "api")  # its owner still runs, not stuck yet
        assert resumed.returncode == 8
        stuck = cli("rotate", "--due", "--json", env={"CREDCTL_TEST_ONLY_NOW": "+2h"})
        assert json.loads(stuck.stdout)[0]["status"] == "stuck"
        assert stuck.returncode == 11
        taken = cli("rotate", "--resume", "api", env={"CREDCTL_TEST_ONLY_NOW": "+2h"})
        assert taken.returncode == 0, taken.stderr
        assert "finished an interrupted rotation" in taken.stderr
    finally:
        parked.kill()
        parked.communicate()
    assert cli.token("api") == "FAKE-SECRET-FROM-HOOK"
    assert [v["reason"] for v in json.loads(cli.ok("history", "api", "--json"))] == [
        "create", "rotate"
    ]  # fmt: skip


def test_doctor_reports_overdue_and_show_gives_the_policy(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("gh", OLD, tmp_path)
    cli.ok("policy", "set", "gh", "--interval", "30d", "--warning", "5d")
    shown = cli.ok("show", "gh")
    assert "every 30d, warn 5d before, immediate" in shown
    assert "next due:     ok: due at" in shown
    assert "versions:     1 kept (1)" in shown
    healthy = cli("doctor")
    assert healthy.returncode == 0, healthy.stdout
    late = cli("doctor", env={"CREDCTL_TEST_ONLY_NOW": "+31d"})
    assert late.returncode == 1
    assert "1 credential(s) overdue for rotation: gh" in late.stdout


HEAVY = ("typer", "click", "rich", "pydantic", "httpx", "authlib", "keyring", "argon2",
         "fastapi", "importlib.metadata", "dataclasses", "cronsim")  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["get-token", "gh", "--version", "1"],
        ["get-token", "gh@previous"],
        ["get-token", "1"],
        ["env", "gh@previous"],
    ],
)
def test_reading_older_versions_stays_on_the_fast_path(
    cli: Cli, tmp_path: Path, args: list[str]
) -> None:
    import os
    import subprocess

    from tests.backend_support import driver_imports
    from tests.peer_backends import vault_env

    cli.create_token("gh", OLD, tmp_path)
    cli.ok("rotate", "gh", "--generate", "--strategy", "blue-green")
    session = cli.ok("unlock").split("'")[1]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "credctl", *args], capture_output=True,
        text=True, check=False,
        env={**os.environ, **vault_env(cli.vault), "CREDCTL_SESSION": session},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert OLD in done.stdout
    modules = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}  # fmt: skip
    modules -= driver_imports(done.stderr)  # PostgreSQL's driver on the lane
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    assert heavy == [], f"the fast path imported {heavy}"
