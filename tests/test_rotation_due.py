"""`rotate --due`, policies and schedules: a clock moved across warning, due and grace
boundaries (``CREDCTL_TEST_ONLY_NOW``), cron in UTC across DST changes and month ends,
JSON and JUnit reports, exit 11."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from credctl.errors import InvalidInput
from credctl.rotation.due import OK, OVERDUE, WARNING, assess, cron_next, due_at
from credctl.rotation.policy import RotationPolicy
from tests.conftest import RunCli
from tests.rotation_support import Cli

UTC = dt.UTC


@pytest.fixture
def cli(run_cli: RunCli, initialized_vault: Path) -> Cli:
    return Cli(run_cli, initialized_vault)


def _statuses(cli: Cli, *args: str, now: str) -> tuple[int, dict[str, dict[str, object]]]:
    done = cli("rotate", "--due", "--json", *args, env={"CREDCTL_TEST_ONLY_NOW": now})
    return done.returncode, {item["name"]: item for item in json.loads(done.stdout)}


def test_due_report_across_warning_overdue_and_rotation(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("auto", "FAKE-SECRET-AUTO-1", tmp_path)
    cli.create_token("manual", "FAKE-SECRET-MANUAL-1", tmp_path)
    cli.create_token("free", "FAKE-SECRET-FREE-1", tmp_path)
    cli.ok("policy", "set", "auto", "--interval", "30d", "--warning", "5d", "--generate")
    cli.ok("policy", "set", "manual", "--interval", "30d", "--warning", "5d")

    code, found = _statuses(cli, now="+24d")
    assert code == 0
    assert {n: s["status"] for n, s in found.items()} == {
        "auto": "ok", "manual": "ok", "free": "no-policy"}  # fmt: skip
    code, found = _statuses(cli, now="+26d")  # inside the 5-day warning
    assert code == 0
    assert found["auto"]["status"] == found["manual"]["status"] == "warning"
    assert found["auto"]["action"] is None  # a warning is not rotated

    # Overdue: the dry run changes nothing and fails (exit 11) ...
    code, found = _statuses(cli, "--dry-run", now="+31d")
    assert code == 11
    assert found["auto"]["action"] == "would rotate"
    assert found["manual"]["action"] is None
    assert cli.token("auto") == "FAKE-SECRET-AUTO-1"
    # ... the real run rotates what it can and still fails for the one it cannot.
    code, found = _statuses(cli, now="+31d")
    assert code == 11
    assert found["auto"]["status_before"] == "overdue"
    assert (found["auto"]["status"], found["auto"]["action"]) == ("ok", "rotated")
    assert found["auto"]["new_id"] == found["auto"]["id"]
    assert found["manual"]["status"] == "overdue"
    assert "no way to get a new secret" in str(found["manual"]["detail"])
    assert cli.token("auto") != "FAKE-SECRET-AUTO-1"
    # The interval counts from the rotation, on the same (moved) clock.
    code, found = _statuses(cli, now="+55d")
    assert found["auto"]["status"] == "ok"
    code, found = _statuses(cli, now="+57d")
    assert found["auto"]["status"] == "warning"
    # Rotating the other by hand clears the failure.
    new = tmp_path / "m2"
    new.write_text("FAKE-SECRET-MANUAL-2")
    cli.ok("rotate", "manual", "--field", f"token=@{new}", env={"CREDCTL_TEST_ONLY_NOW": "+58d"})
    code, found = _statuses(cli, now="+58d")
    assert code == 0
    assert found["manual"]["status"] == "ok"


def test_junit_report_shows_each_overdue_credential_as_a_failing_test(
    cli: Cli, tmp_path: Path
) -> None:
    for name in ("alpha", "beta", "gamma"):
        cli.create_token(name, f"FAKE-SECRET-{name}", tmp_path)
    cli.ok("policy", "set", "alpha", "--interval", "10d")
    cli.ok("policy", "set", "beta", "--interval", "10d")
    cli.ok("policy", "set", "gamma", "--interval", "100d")
    done = cli("rotate", "--due", "--format", "junit", env={"CREDCTL_TEST_ONLY_NOW": "+11d"})
    assert done.returncode == 11
    assert "2 credential(s) overdue or stuck: alpha, beta" in done.stderr
    root = ET.fromstring(done.stdout)  # noqa: S314 - our own output, parsed to check it
    assert root.get("tests") == "3" and root.get("failures") == "2"
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert cases["alpha"].find("failure") is not None
    assert cases["alpha"].find("failure").get("type") == "overdue"  # type: ignore[union-attr]
    assert cases["gamma"].find("failure") is None
    assert "FAKE-SECRET" not in done.stdout
    text = cli("rotate", "--due", env={"CREDCTL_TEST_ONLY_NOW": "+11d"})
    assert text.returncode == 11
    assert any(line.startswith("overdue   alpha (id 1)") for line in text.stdout.splitlines())


def test_schedule_a_one_off_rotation(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("gh", "FAKE-SECRET-GH-1", tmp_path)
    cli.ok("policy", "set", "gh", "--interval", "90d", "--generate")
    cli.ok("schedule", "gh", "--at", "+3d")
    _, found = _statuses(cli, now="+2d")
    assert found["gh"]["status"] == "warning"  # 3 days < the 7-day default warning
    code, found = _statuses(cli, now="+3d")
    assert (code, found["gh"]["action"], found["gh"]["status"]) == (0, "rotated", "ok")
    assert found["gh"]["scheduled_at"] is None  # done: the schedule is used up
    assert cli("schedule", "gh").returncode == 2
    assert cli("schedule", "gh", "--at", "tomorrow").returncode == 9
    at = "2030-01-31T03:00:00Z"
    cli.ok("schedule", "gh", "--at", at)
    assert json.loads(cli.ok("show", "gh", "--json"))["rotation"]["scheduled_at"] == at
    cli.ok("schedule", "gh", "--clear")
    assert json.loads(cli.ok("show", "gh", "--json"))["rotation"]["scheduled_at"] is None
    assert [a.action for a in cli.activities()].count("schedule") == 3


def test_policy_set_show_clear_and_its_rules(cli: Cli, tmp_path: Path) -> None:
    cli.create_token("gh", "FAKE-SECRET-GH-1", tmp_path)
    for bad in (
        ("--interval", "90d", "--schedule", "0 3 * * *"),  # never both (Vault's rule)
        (),  # never neither
        ("--schedule", "0 3 * *"),  # 4 fields
        ("--schedule", "0 0 3 * * *"),  # 6 fields (seconds) is not the 5-field cron asked for
        ("--schedule", "61 3 * * *"),
        ("--interval", "7d", "--warning", "7d"),
        ("--interval", "7d", "--strategy", "sideways"),
        ("--interval", "7d", "--generate", "--command", "true"),
        ("--interval", "7d", "--max-versions", "0"),
        ("--interval", "7d", "--timeout", "2h"),  # longer than the 1h window
    ):
        done = cli("policy", "set", "gh", *bad)
        assert done.returncode == 9, (bad, done.stderr)
    assert json.loads(cli.ok("policy", "show", "gh", "--json"))["policy"] is None
    cli.ok("policy", "set", "gh", "--schedule", "0 3 * * MON", "--strategy", "blue-green",
           "--grace", "6h", "--command", "./mint.sh", "--test-command", "./check.sh")  # fmt: skip
    shown = json.loads(cli.ok("policy", "show", "gh", "--json"))
    assert shown["policy"]["schedule"] == "0 3 * * MON"
    assert shown["policy"]["strategy"] == "blue-green"
    assert shown["policy"]["grace"] == 6 * 3600
    assert shown["policy"]["command"] == "./mint.sh"
    assert "cron '0 3 * * MON' (UTC)" in cli.ok("policy", "show", "gh")
    cli.ok("policy", "clear", "gh")
    assert json.loads(cli.ok("policy", "show", "gh", "--json"))["status"] == "no-policy"
    actions = [a.action for a in cli.activities() if a.ok]
    assert actions.count("policy_set") == 2
    failed = [a for a in cli.activities() if a.action == "policy_set" and not a.ok]
    assert failed == []  # refused before the vault was opened for writing


# -- pure due arithmetic -----------------------------------------------------------------------


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Europe and the US change clocks on these dates; UTC cron does not move.
        ("0 3 * * *", "2026-03-29 02:30", "2026-03-29 03:00"),
        ("0 3 * * *", "2026-03-29 03:00", "2026-03-30 03:00"),
        ("0 3 * * *", "2026-10-25 02:59", "2026-10-25 03:00"),
        ("30 2 * * *", "2026-03-08 01:00", "2026-03-08 02:30"),  # US spring-forward gap
        ("30 1 * * *", "2026-11-01 01:31", "2026-11-02 01:30"),  # US fall-back repeat
        ("0 3 * * MON", "2026-03-27 12:00", "2026-03-30 03:00"),
        # Month ends: the 31st skips short months; the 29th of February only in leap years.
        ("0 0 31 * *", "2026-01-31 00:00", "2026-03-31 00:00"),
        ("0 0 31 * *", "2026-04-01 00:00", "2026-05-31 00:00"),
        ("0 0 29 2 *", "2026-01-01 00:00", "2028-02-29 00:00"),
        ("0 0 L * *", "2026-02-01 00:00", "2026-02-28 00:00"),
        ("59 23 31 12 *", "2026-12-31 23:58", "2026-12-31 23:59"),
    ],
)
def test_cron_in_utc_across_dst_and_month_ends(expression: str, after: str, expected: str) -> None:
    assert cron_next(expression, _at(after)) == _at(expected)


def test_cron_policy_due_and_warning() -> None:
    policy = RotationPolicy(schedule="0 3 1 * *", warning_period=dt.timedelta(days=2)).checked()
    last = _at("2026-01-31 12:00")
    assert due_at(policy, last) == _at("2026-02-01 03:00")

    def status(now: str) -> str:
        return assess(1, "x", policy=policy, last_rotated=last, scheduled_at=None,
                      pending_since=None, pending_stuck=False, can_rotate=True,
                      now=_at(now)).status  # fmt: skip

    assert status("2026-01-30 02:59") == OK
    assert status("2026-01-30 03:00") == WARNING
    assert status("2026-02-01 02:59") == WARNING
    assert status("2026-02-01 03:00") == OVERDUE


def test_interval_boundaries_are_exact() -> None:
    policy = RotationPolicy.periodic(dt.timedelta(days=90))
    last = _at("2026-01-01 00:00")
    due = due_at(policy, last)
    assert due == _at("2026-04-01 00:00")
    assert due_at(policy, last, _at("2026-02-01 00:00")) == _at("2026-02-01 00:00")
    with pytest.raises(InvalidInput):
        RotationPolicy(interval=dt.timedelta(seconds=30)).checked()
