"""Helpers for the audit trail tests: the trail's files, and a vault with some history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}


def audit_dir(vault: Path) -> Path:
    """``VAULT.d/audit``."""
    return vault.with_name(vault.name + ".d") / "audit"


def current_log(vault: Path) -> Path:
    """The current segment."""
    return audit_dir(vault) / "current.log"


def read_lines(vault: Path) -> list[bytes]:
    """The current segment's lines, newlines kept."""
    return current_log(vault).read_bytes().splitlines(keepends=True)


def write_lines(vault: Path, lines: list[bytes]) -> None:
    """Replace the current segment's contents."""
    current_log(vault).write_bytes(b"".join(lines))


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    """Assert success (and no traceback); return the result."""
    assert_no_traceback(result)
    assert result.returncode == 0, (result.args, result.stderr)
    return result


def entries(run_cli: RunCli, *args: str, env: dict[str, str] | None = None) -> list[Any]:
    """`audit list --json ARGS`."""
    result = ok(run_cli("audit", "list", "--json", *args, env={**PASS_ENV, **(env or {})}))
    listed: list[Any] = json.loads(result.stdout)
    return listed


def verify(run_cli: RunCli, *args: str) -> subprocess.CompletedProcess[str]:
    """`audit verify ARGS` (no traceback, whatever the result)."""
    result = run_cli("audit", "verify", *args, env=PASS_ENV)
    assert_no_traceback(result)
    return result


def assert_tampered(result: subprocess.CompletedProcess[str], seq: int) -> None:
    """`audit verify` failed with exit 6, naming `seq` as the first bad one."""
    assert result.returncode == 6, (result.returncode, result.stdout, result.stderr)
    assert f"first bad seq {seq}:" in result.stderr, result.stderr
    assert result.stdout == ""


def add_token(run_cli: RunCli, tmp_path: Path, name: str, value: str | None = None) -> None:
    """Create a `token` credential (value from a file, never argv)."""
    secret = tmp_path / f"{name}.secret"
    secret.write_text(value or f"FAKE-SECRET-{name}")
    ok(run_cli("create", "token", name, "--field", f"token=@{secret}", env=PASS_ENV))


def history(run_cli: RunCli, tmp_path: Path, reads: int = 4) -> None:
    """A vault with one credential (its create recorded the head) and `reads` reads after."""
    add_token(run_cli, tmp_path, "gh")
    for _ in range(reads):
        ok(run_cli("get-token", "gh", env=PASS_ENV))
