"""Backends through the console script: what PostgreSQL sees, tampering, selection, machines."""

# ruff: noqa: S608 - the SQL here plays the database operator, with values the test made

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback
from tests.peer_backends import PostgresServer, postgres_fixture  # noqa: F401 - a fixture
from tests.test_fast_path import imported_modules

ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
SECRET = "FAKE-SECRET-pg-token-7f3a"


def _init(run_cli: RunCli, url: str) -> dict[str, str]:
    env = {**ENV, "CREDCTL_BACKEND": url}
    result = run_cli("init", *CHEAP_KDF, env=env)
    assert result.returncode == 0, result.stderr
    return env


def _create(run_cli: RunCli, env: dict[str, str], name: str, secret: str) -> None:
    result = run_cli("create", "token", name, "--field", "token=@-", "--description",
                     "deploys-the-platform", "--tag", "tag-prod-eu", "--meta", "team=team-blue",
                     input=secret, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr


def _rows(postgres: PostgresServer, space: str) -> list[tuple[str, str, bytes]]:
    out = postgres.psql(
        f"SELECT key, rev, encode(data, 'hex') FROM credctl_blobs WHERE space = '{space}' "
        f"UNION ALL SELECT log || '-' || seq, seq, encode(data, 'hex') FROM credctl_log "
        f"WHERE space = '{space}'"
    )
    rows = []
    for line in out.splitlines():
        key, rev, data = line.split("|")
        rows.append((key, rev, bytes.fromhex(data)))
    return rows


def test_the_database_sees_no_name_secret_or_metadata(
    run_cli: RunCli, postgres: PostgresServer
) -> None:
    url = postgres.url()
    env = _init(run_cli, url)
    _create(run_cli, env, "github-deploy", SECRET)
    assert run_cli("get-token", "github-deploy", env=env).stdout.strip() == SECRET
    space = url.rsplit("=", 1)[1]
    rows = _rows(postgres, space)
    assert len(rows) > 5
    dump = b"\n".join(key.encode() + b" " + data for key, _rev, data in rows)
    # The host name quoted as JSON holds it: a short one ("vm") alone turns up in random bytes.
    for plain in ("github-deploy", SECRET, "deploys-the-platform", "tag-prod-eu", "team-blue",
                  f'"{socket.gethostname()}"', "get_token"):  # fmt: skip
        assert plain.encode() not in dump, plain
    keys = [key for key, _rev, _data in rows]
    assert all(k == "keys" or k.startswith(("r-", "i-", "m-", "root-", "meta-", "activity-"))
               for k in keys), keys  # fmt: skip


def _swap_env(run_cli: RunCli, postgres: PostgresServer) -> tuple[dict[str, str], str]:
    url = postgres.url()
    env = _init(run_cli, url)
    _create(run_cli, env, "first", "FAKE-SECRET-first")
    _create(run_cli, env, "second", "FAKE-SECRET-second")
    return env, url.rsplit("=", 1)[1]


def test_a_swapped_row_is_refused(run_cli: RunCli, postgres: PostgresServer) -> None:
    env, space = _swap_env(run_cli, postgres)
    records = [(k, d) for k, _r, d in _rows(postgres, space) if k.startswith("r-")]
    (a, data_a), (b, data_b) = records
    postgres.psql(
        f"UPDATE credctl_blobs SET data = CASE key WHEN '{a}' THEN '\\x{data_b.hex()}'::bytea "
        f"ELSE '\\x{data_a.hex()}'::bytea END WHERE space = '{space}' AND key IN ('{a}', '{b}')"
    )
    for name in ("first", "second"):
        result = run_cli("get-token", name, env=env)
        assert result.returncode == 6, result.stderr
        assert "FAKE-SECRET" not in result.stdout + result.stderr
        assert_no_traceback(result)


@pytest.mark.parametrize("with_revision", [True, False])
def test_a_replayed_row_is_refused(
    run_cli: RunCli, postgres: PostgresServer, with_revision: bool
) -> None:
    env, space = _swap_env(run_cli, postgres)
    before = {k: (rev, data) for k, rev, data in _rows(postgres, space) if k.startswith("r-")}
    update = run_cli("update", "first", "--data-file", "-",
                     input='{"token": "FAKE-SECRET-rotated"}', env=env)  # fmt: skip
    assert update.returncode == 0, update.stderr
    after = {k: rev for k, rev, _d in _rows(postgres, space) if k.startswith("r-")}
    [changed] = [k for k in after if after[k] != before[k][0]]
    rev, data = before[changed]
    assignment = f"data = '\\x{data.hex()}'::bytea" + (f", rev = {rev}" if with_revision else "")
    postgres.psql(f"UPDATE credctl_blobs SET {assignment} WHERE space = '{space}' "
                  f"AND key = '{changed}'")  # fmt: skip
    result = run_cli("get-token", "first", env=env)
    assert result.returncode == 6, result.stderr
    assert "FAKE-SECRET-first" not in result.stdout
    assert "replayed" in result.stderr or "failed authentication" in result.stderr


def test_a_rolled_back_database_is_refused_where_the_newer_state_was_seen(
    run_cli: RunCli, postgres: PostgresServer
) -> None:
    env, space = _swap_env(run_cli, postgres)
    postgres.psql(
        f"CREATE TABLE snap_{space} AS SELECT * FROM credctl_blobs WHERE space = '{space}'"
    )
    _create(run_cli, env, "third", "FAKE-SECRET-third")
    postgres.psql(f"DELETE FROM credctl_blobs WHERE space = '{space}'; INSERT INTO credctl_blobs "
                  f"SELECT * FROM snap_{space}")  # fmt: skip
    result = run_cli("list", env=env)
    assert result.returncode == 6, result.stderr
    assert "rolled back" in result.stderr


def test_selection_flags_environment_and_config_file(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'cfg.sqlite'}"
    no_vault = {"CREDCTL_VAULT": ""}
    assert run_cli("config", "set", "backend", sqlite, env=no_vault).returncode == 0
    assert run_cli("config", "get", "backend").stdout.strip() == sqlite
    assert run_cli("init", *CHEAP_KDF, env={**ENV, **no_vault}).returncode == 0
    _create(run_cli, {**ENV, **no_vault}, "in-sqlite", "FAKE-SECRET-cfg")
    got = run_cli("get-token", "in-sqlite", env={**ENV, **no_vault})
    assert got.stdout.strip() == "FAKE-SECRET-cfg", got.stderr
    # the environment (CREDCTL_VAULT, set by the fixture) and the flag win over the file
    assert run_cli("get-token", "in-sqlite", env=ENV).returncode == 3
    flag = run_cli(
        "--vault", str(initialized_vault), "get-token", "in-sqlite", env={**ENV, **no_vault}
    )
    assert flag.returncode == 3
    both = run_cli("--vault", "x", "--backend", sqlite, "list", env=ENV)
    assert both.returncode == 2, both.stderr
    bad = run_cli("config", "set", "backend", "postgresql://u:FAKE-PW@h/db")
    assert bad.returncode == 9
    assert "FAKE-PW" not in bad.stderr
    assert run_cli("config", "set", "colour", "x").returncode == 9


def test_one_session_unlocks_from_another_machine(
    run_cli: RunCli, postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.url()
    env = _init(run_cli, url)
    _create(run_cli, env, "shared", "FAKE-SECRET-shared")
    session = run_cli("unlock", "--ttl", "5m", env=env).stdout.strip().split("'")[1]
    ci_key = run_cli("key", "add-ci", env=env).stdout.strip()
    other = tmp_path / "other-machine"
    machine = {"HOME": str(other), "XDG_STATE_HOME": str(other / "state"),
               "XDG_CONFIG_HOME": str(other / "config"), "CREDCTL_BACKEND": url}  # fmt: skip
    for grant in ({"CREDCTL_SESSION": session}, {"CREDCTL_KEY": ci_key}):
        got = run_cli("get-token", "shared", env={**machine, **grant})
        assert got.stdout.strip() == "FAKE-SECRET-shared", got.stderr
    assert run_cli("lock", env=machine).returncode == 0
    locked = run_cli("get-token", "shared", env={**machine, "CREDCTL_SESSION": session})
    assert locked.returncode == 4, locked.stderr


def test_get_token_on_the_vault_file_imports_no_backend(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    _create(run_cli, ENV, "plain", "FAKE-SECRET-plain")
    env = {**ENV, "CREDCTL_VAULT": str(initialized_vault)}
    modules, stdout = imported_modules(["get-token", "plain"], env)
    assert "FAKE-SECRET-plain" in stdout
    heavy = {"psycopg", "psycopg_pool", "hvac", "boto3", "botocore", "azure", "sqlite3",
             "tomllib", "credctl.storage.sealed", "credctl.storage.backends"}  # fmt: skip
    assert not {m for m in modules if m in heavy or m.split(".")[0] in heavy}
    assert os.environ.get("CREDCTL_BACKEND") is None


def test_config_file_is_parsed_once_then_read_from_its_cache(
    run_cli: RunCli, tmp_path: Path
) -> None:
    sqlite = f"sqlite:///{tmp_path / 'fast.sqlite'}"
    assert run_cli("config", "set", "backend", sqlite).returncode == 0
    env = {**ENV, "CREDCTL_VAULT": ""}
    assert run_cli("init", *CHEAP_KDF, env=env).returncode == 0
    _create(run_cli, env, "cached", "FAKE-SECRET-cached")
    modules, stdout = imported_modules(["get-token", "cached"], env)
    assert "FAKE-SECRET-cached" in stdout
    assert "tomllib" not in modules  # the cache written by `config set` answered


def test_doctor_checks_the_backend(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "doc.sqlite"
    env = {**ENV, "CREDCTL_BACKEND": f"sqlite:///{path}"}
    assert run_cli("init", *CHEAP_KDF, env=env).returncode == 0
    healthy = run_cli("doctor", "--json", env=env)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert {c["name"] for c in json.loads(healthy.stdout)["checks"]} >= {"backend", "key slots"}
    path.chmod(0o644)
    loose = run_cli("doctor", env=env)
    assert loose.returncode == 2
    assert "chmod 600" in loose.stdout
    unreachable = run_cli("doctor", env={**ENV, "CREDCTL_BACKEND": "postgresql://x@127.0.0.1:1/x"})
    assert unreachable.returncode == 2
    assert_no_traceback(unreachable)


def test_a_missing_extra_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from credctl.storage.blobs import MissingExtraError

    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.delitem(sys.modules, "credctl.storage.hashicorp", raising=False)
    with pytest.raises(MissingExtraError) as raised:
        importlib.import_module("credctl.storage.hashicorp")
    assert raised.value.exit_code == 9
    assert "credctl[hashicorp]" in (raised.value.hint or "")


def test_remember_is_refused_on_a_backend(run_cli: RunCli, tmp_path: Path) -> None:
    env = {**ENV, "CREDCTL_BACKEND": f"sqlite:///{tmp_path / 'k.sqlite'}"}
    assert run_cli("init", *CHEAP_KDF, env=env).returncode == 0
    result = run_cli("unlock", "--remember", env=env)
    assert result.returncode == 4
    assert "session" in result.stderr


def test_export_rekey_and_a_locked_doctor_on_postgresql(
    run_cli: RunCli, postgres: PostgresServer, tmp_path: Path
) -> None:
    env = _init(run_cli, postgres.url())
    _create(run_cli, env, "gh", SECRET)
    locked = run_cli("doctor", env={"CREDCTL_BACKEND": env["CREDCTL_BACKEND"]})
    assert locked.returncode == 0, locked.stdout  # locked is a state, as for a vault file
    assert "not checked: the vault is locked" in locked.stdout
    backup = tmp_path / "backup.credctl"
    exported = run_cli("export", "-o", str(backup),
                       env={**env, "CREDCTL_EXPORT_PASSPHRASE": "backup (fake)"})  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    restored = run_cli("--vault", str(backup), "get-token", "gh", vault=None,
                       env={"CREDCTL_PASSPHRASE": "backup (fake)"})  # fmt: skip
    assert restored.stdout == SECRET + "\n", restored.stderr
    new = {"CREDCTL_NEW_PASSPHRASE": "the passphrase after the rekey (fake)"}
    rekeyed = run_cli("rekey", env={**env, **new})
    assert rekeyed.returncode == 0, rekeyed.stderr
    after = {**env, "CREDCTL_PASSPHRASE": new["CREDCTL_NEW_PASSPHRASE"]}
    assert run_cli("get-token", "gh", env=after).stdout == SECRET + "\n"
    listed = json.loads(run_cli("audit", "list", "--json", env=after).stdout)
    assert [e["action"] for e in listed] == ["init", "create", "export", "rekey", "get_token"]
