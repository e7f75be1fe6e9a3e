"""The activity log on PostgreSQL: `audit verify` finds what a database operator changed,
and an entry that cannot be written stops the operation (SPEC §7).

The same attacks on a vault file's trail (its files) are in test_audit_tamper.py and
test_audit_fail_closed.py; here they are made with SQL on the log's rows.
"""

# ruff: noqa: S608 - the SQL here plays the database operator, with values the test made

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit_support import assert_tampered
from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback
from tests.peer_backends import PostgresServer, postgres_fixture  # noqa: F401 - a fixture

SECRET = "FAKE-SECRET-audit-gh"


class Space:
    """One vault space in the test's PostgreSQL, and credctl pointed at it."""

    def __init__(self, run_cli: RunCli, postgres: PostgresServer, tmp_path: Path) -> None:
        self.postgres = postgres
        self.url = postgres.url()
        self.name = self.url.rsplit("=", 1)[1]
        self.env = {"CREDCTL_PASSPHRASE": PASSPHRASE, "CREDCTL_BACKEND": self.url}
        self._run = run_cli
        self.tmp_path = tmp_path
        self.ok("init", *CHEAP_KDF)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self._run(*args, env=self.env)
        assert_no_traceback(result)
        return result

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout

    def add_token(self, name: str, value: str) -> None:
        secret = self.tmp_path / f"{name}.secret"
        secret.write_text(value)
        self.ok("create", "token", name, "--field", f"token=@{secret}")

    def history(self, reads: int = 4) -> None:
        """init (seq 1), create gh (2, recorded by its write), then `reads` reads."""
        self.add_token("gh", SECRET)
        for _ in range(reads):
            assert self.ok("get-token", "gh") == SECRET + "\n"

    def sql(self, statement: str) -> str:
        return self.postgres.psql(statement)

    def log_where(self, seq: int) -> str:
        return f"space = '{self.name}' AND log = 'activity' AND seq = {seq}"

    def seqs(self) -> list[int]:
        out = self.sql(f"SELECT seq FROM credctl_log WHERE space = '{self.name}' ORDER BY seq")
        return [int(line) for line in out.split()]

    def listed(self) -> list[dict[str, object]]:
        value: list[dict[str, object]] = json.loads(self.ok("audit", "list", "--json"))
        return value


@pytest.fixture
def space(run_cli: RunCli, postgres: PostgresServer, tmp_path: Path) -> Space:
    return Space(run_cli, postgres, tmp_path)


def test_an_untouched_log_verifies_and_numbers_every_entry(space: Space) -> None:
    space.history()
    result = space("audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "the audit trail verifies: 6 entries (seq 1..6)" in result.stdout
    assert "head seq 6 " in result.stdout
    listed = space.listed()
    assert [e["seq"] for e in listed] == list(range(1, 8))  # + audit_verify
    assert [e["action"] for e in listed][:3] == ["init", "create", "get_token"]


def test_an_edited_entry_is_detected(space: Space) -> None:
    space.history()
    space.sql(f"UPDATE credctl_log SET data = set_byte(data, 60, get_byte(data, 60) # 1) "
              f"WHERE {space.log_where(3)}")  # fmt: skip
    assert_tampered(space("audit", "verify"), 3)


def test_a_removed_entry_is_detected(space: Space) -> None:
    space.history()
    space.sql(f"DELETE FROM credctl_log WHERE {space.log_where(2)}")
    result = space("audit", "verify")
    assert_tampered(result, 2)
    assert "missing" in result.stderr
    space.sql(f"DELETE FROM credctl_log WHERE {space.log_where(1)}")
    assert_tampered(space("audit", "verify"), 1)


def test_swapped_entries_are_detected(space: Space) -> None:
    space.history()
    where = f"space = '{space.name}' AND log = 'activity'"
    space.sql(f"UPDATE credctl_log SET seq = -seq WHERE {where} AND seq IN (3, 4)")
    space.sql(f"UPDATE credctl_log SET seq = CASE seq WHEN -3 THEN 4 ELSE 3 END "
              f"WHERE {where} AND seq IN (-3, -4)")  # fmt: skip
    assert_tampered(space("audit", "verify"), 3)


def test_an_entry_from_another_vault_is_detected(
    run_cli: RunCli, postgres: PostgresServer, tmp_path: Path, space: Space
) -> None:
    space.history(reads=1)
    (tmp_path / "other").mkdir()
    other = Space(run_cli, postgres, tmp_path / "other")
    other.history(reads=1)
    space.sql(f"UPDATE credctl_log SET data = (SELECT data FROM credctl_log WHERE "
              f"{other.log_where(2)}) WHERE {space.log_where(2)}")  # fmt: skip
    assert_tampered(space("audit", "verify"), 2)


def test_a_cut_tail_is_detected_even_after_new_entries_fill_it(space: Space) -> None:
    space.history(reads=2)  # seq 1 init, 2 create, 3-4 reads
    space.add_token("gl", "FAKE-SECRET-gl")  # seq 5: this write records head 5
    space.ok("get-token", "gl")  # 6
    space.sql(f"DELETE FROM credctl_log WHERE space = '{space.name}' AND seq >= 3")
    result = space("audit", "verify")  # its own entry becomes seq 3
    assert_tampered(result, 3)
    assert "recorded seq 5" in result.stderr
    space.ok("get-token", "gl")  # 4
    space.ok("get-token", "gl")  # 5: the number the write recorded, with other bytes
    assert space.seqs() == [1, 2, 3, 4, 5]
    result = space("audit", "verify")
    assert_tampered(result, 5)
    assert "cut and written again" in result.stderr


def test_doctor_reports_a_tampered_log_as_unhealthy(space: Space) -> None:
    space.history()
    assert space("doctor").returncode == 0
    space.sql(f"DELETE FROM credctl_log WHERE {space.log_where(2)}")
    result = space("doctor")
    assert result.returncode == 2, result.stdout
    assert "first bad seq 2" in result.stdout


def test_the_report_of_a_tampered_log_says_so(space: Space) -> None:
    space.history(reads=3)
    space.sql(f"DELETE FROM credctl_log WHERE {space.log_where(3)}")
    report = json.loads(space.ok("audit", "export", "--format", "json", "-o", "-"))
    assert report["verified"] is False
    assert report["verification"]["first_bad_seq"] == 3
    assert len(space.listed()) >= 4  # what still opens is listed


def test_checkpoints_and_prune_say_they_are_for_a_vault_file(space: Space) -> None:
    space.history(reads=1)
    for args in (["audit", "checkpoint"], ["audit", "prune", "--before", "1s"]):
        result = space(*args)
        assert result.returncode == 9, result.stderr
        assert "vault file" in result.stderr and "not sealed" not in result.stderr


def test_a_rekey_keeps_the_log_verifiable(space: Space) -> None:
    space.history(reads=1)
    new = "a new passphrase for the log (fake)"
    result = space._run("rekey", env={**space.env, "CREDCTL_NEW_PASSPHRASE": new})
    assert result.returncode == 0, result.stderr
    space.env["CREDCTL_PASSPHRASE"] = new
    assert space.ok("get-token", "gh") == SECRET + "\n"
    assert "verifies: 5 entries" in space.ok("audit", "verify")
    assert [e["action"] for e in space.listed()][3:5] == ["rekey", "get_token"]


# -- fail closed --------------------------------------------------------------------------


@pytest.fixture
def refusing_log(space: Space) -> Iterator[Space]:
    """The space, its history made, with the database refusing new log entries."""
    space.history(reads=1)
    function = f"refuse_{space.name}"
    space.sql(f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
              f"IF NEW.space = '{space.name}' THEN RAISE EXCEPTION 'log refused'; END IF; "
              f"RETURN NEW; END $$")  # fmt: skip
    space.sql(f"CREATE TRIGGER {function} BEFORE INSERT ON credctl_log FOR EACH ROW "
              f"EXECUTE FUNCTION {function}()")  # fmt: skip
    yield space
    space.sql(f"DROP TRIGGER IF EXISTS {function} ON credctl_log")
    space.sql(f"DROP FUNCTION IF EXISTS {function}()")


@pytest.mark.parametrize(
    "args",
    [
        ["get-token", "gh"],
        ["get-token", "gh", "--field", "token"],
        ["env", "gh"],
        ["exec", "gh", "--", "sh", "-c", 'echo "$GH_TOKEN"'],
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_a_read_whose_entry_cannot_be_written_prints_nothing(
    refusing_log: Space, args: list[str]
) -> None:
    before = refusing_log.seqs()
    result = refusing_log(*args)
    assert result.returncode not in (0, 3), result.stderr
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert result.stdout == ""
    assert "audit" in result.stderr or "activity log" in result.stderr, result.stderr
    assert refusing_log.seqs() == before


def test_a_write_whose_entry_cannot_be_written_commits_nothing(refusing_log: Space) -> None:
    rows = f"SELECT key, rev FROM credctl_blobs WHERE space = '{refusing_log.name}' ORDER BY key"
    before = refusing_log.sql(rows)
    result = refusing_log("update", "gh", "--description", "changed")
    assert result.returncode not in (0, 3), result.stderr
    assert refusing_log.sql(rows) == before
