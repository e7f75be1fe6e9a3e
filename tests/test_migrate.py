"""`credctl migrate`: file → PostgreSQL → SQLite → file, resume after SIGKILL, loud failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback, credctl_command
from tests.peer_backends import PostgresServer, postgres_fixture  # noqa: F401 - a fixture

ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}


def _fill(run_cli: RunCli, count: int, **where: str) -> None:
    env = {**ENV, **where}
    items = [{"name": f"svc-{i}", "credential_type": "token",
              "credential_data": {"token": f"FAKE-SECRET-{i}"}} for i in range(count)]  # fmt: skip
    result = run_cli("import", "-", input=json.dumps(items), env=env)
    assert result.returncode == 0, result.stderr


def _dump(run_cli: RunCli, **where: str) -> dict[str, object]:
    env = {**ENV, **where}
    listed = run_cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    names = [item["name"] for item in json.loads(listed.stdout)]
    values = run_cli("env", "--shell", "json", *names, env=env)  # every secret, one process
    assert values.returncode == 0, values.stderr
    return {"list": json.loads(listed.stdout), "values": json.loads(values.stdout)}


def test_round_trip_file_postgres_sqlite_file(
    run_cli: RunCli, initialized_vault: Path, postgres: PostgresServer, tmp_path: Path
) -> None:
    _fill(run_cli, 5)
    slots = run_cli("key", "list", "--json").stdout
    before = _dump(run_cli)
    pg = postgres.url()
    sqlite = f"sqlite:///{tmp_path / 'db' / 'copy.sqlite'}"
    back = tmp_path / "back" / "vault.credctl"
    for source, target in ((None, pg), (pg, sqlite), (sqlite, str(back))):
        args = ["migrate", "--to", target] + (["--from", source] if source else [])
        result = run_cli(*args, env=ENV)
        assert result.returncode == 0, result.stderr
        assert "verified" in result.stderr
        assert_no_traceback(result)
    assert _dump(run_cli, CREDCTL_BACKEND=pg) == before
    assert _dump(run_cli, CREDCTL_BACKEND=sqlite) == before
    assert _dump(run_cli, CREDCTL_VAULT=str(back)) == before
    assert run_cli("key", "list", "--json", env={"CREDCTL_BACKEND": pg}).stdout == slots
    # the activity log came along: every read above is in the copy's metrics too
    metrics = run_cli("metrics", "--json", env={**ENV, "CREDCTL_VAULT": str(back)})
    assert metrics.returncode == 0, metrics.stderr


def test_migrate_from_an_empty_or_unreachable_source_fails_loudly(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 't.sqlite'}"
    empty = run_cli("migrate", "--to", target, env=ENV)
    assert empty.returncode == 3, empty.stderr
    assert "no credentials" in empty.stderr
    nothing = run_cli("migrate", "--from", f"sqlite:///{tmp_path / 'none.sqlite'}", "--to",
                      str(tmp_path / "x.credctl"), env=ENV)  # fmt: skip
    assert nothing.returncode == 3, nothing.stderr
    unreachable = run_cli("migrate", "--from", "postgresql://nobody@127.0.0.1:1/none", "--to",
                          target, env=ENV)  # fmt: skip
    assert unreachable.returncode == 10, unreachable.stderr
    for result in (empty, nothing, unreachable):
        assert_no_traceback(result)


def test_a_migrate_killed_midway_resumes(
    run_cli: RunCli, initialized_vault: Path, postgres: PostgresServer, tmp_path: Path
) -> None:
    _fill(run_cli, 150)
    pg = postgres.url()
    assert run_cli("migrate", "--to", pg, env=ENV).returncode == 0
    before = _dump(run_cli, CREDCTL_BACKEND=pg)
    target = f"sqlite:///{tmp_path / 'resume.sqlite'}"
    env = {**os.environ, **ENV, "CREDCTL_BACKEND": pg}
    journal_dir = Path(os.environ["XDG_STATE_HOME"]) / "credctl" / "migrations"
    child = subprocess.Popen([*credctl_command(), "migrate", "--to", target], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    # Kill it once the journal shows copied blobs (the copy is under way, not finished).
    while time.monotonic() < deadline:
        journals = list(journal_dir.glob("*.json"))
        if journals and len(json.loads(journals[0].read_text() or "{}").get("done", [])) > 30:
            break
        if child.poll() is not None:
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the migration finished before it was killed"
    again = run_cli("migrate", "--to", target, env={"CREDCTL_BACKEND": pg, **ENV})
    assert again.returncode == 2 or again.returncode == 9, again.stderr
    assert "--resume" in again.stderr
    resumed = run_cli("migrate", "--to", target, "--resume", env={"CREDCTL_BACKEND": pg, **ENV})
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed" in resumed.stderr
    assert _dump(run_cli, CREDCTL_BACKEND=target) == before
