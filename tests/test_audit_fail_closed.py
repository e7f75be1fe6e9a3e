"""Fail closed: when the entry cannot be written, no secret is printed and nothing changes.

The trail is made unwritable three ways: a file-size limit (``RLIMIT_FSIZE``, so
the append is a short write), a read-only bind mount of ``VAULT.d/audit`` and a
full tiny tmpfs mounted there (both in a private mount namespace, as root), or,
for an unprivileged user, a folder without write permission.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.audit_support import PASS_ENV, audit_dir, current_log, history, ok, verify
from tests.conftest import RunCli, assert_no_traceback, credctl_command

# The trail's files and their disk; PostgreSQL's log refusing an entry is in test_backend_audit.
pytestmark = pytest.mark.vault_file

SECRET = "FAKE-SECRET-gh"
READS = [
    ["get-token", "gh"],
    ["get-token", "gh", "--field", "token"],
    ["env", "gh"],
    ["exec", "gh", "--", "sh", "-c", 'echo "$GH_TOKEN"'],
]


def run_limited(
    vault: Path, args: list[str], preexec: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PASS_ENV, "CREDCTL_VAULT": str(vault)}
    return subprocess.run(
        [*credctl_command(), *args], capture_output=True, text=True, env=env, check=False,
        input="", timeout=60, preexec_fn=preexec,
    )  # fmt: skip


def file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def assert_refused(result: subprocess.CompletedProcess[str], reason: str) -> None:
    assert_no_traceback(result)
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert SECRET not in result.stdout and SECRET not in result.stderr
    assert result.stdout == ""
    assert "cannot write the audit trail" in result.stderr
    assert reason in result.stderr
    assert "fail closed" in result.stderr


@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a[:3]))
def test_a_read_whose_entry_cannot_be_written_prints_nothing(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, args: list[str]
) -> None:
    history(run_cli, tmp_path, reads=1)
    log = current_log(initialized_vault)
    before = log.read_bytes()
    # The next line does not fit: the write is cut short, which must count as a failure.
    result = run_limited(initialized_vault, args, file_size_limit(len(before) + 16))
    assert_refused(result, "short write")
    assert log.read_bytes() == before  # the partial line was taken back
    ok(verify(run_cli))
    assert SECRET in ok(run_cli(*args, env=PASS_ENV)).stdout  # the same read, once it can log


def test_a_file_over_the_size_limit_refuses_reads(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    size = current_log(initialized_vault).stat().st_size
    result = run_limited(initialized_vault, ["get-token", "gh"], file_size_limit(size))
    assert_refused(result, "File too large")


def test_a_write_whose_entry_cannot_be_written_commits_nothing(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    vault_bytes = initialized_vault.read_bytes()
    log = current_log(initialized_vault)
    before = log.read_bytes()
    result = run_limited(
        initialized_vault, ["update", "gh", "--description", "changed"],
        file_size_limit(len(before) + 16),
    )  # fmt: skip
    assert_no_traceback(result)
    assert result.returncode == 1, result.stderr
    assert "cannot write the audit trail" in result.stderr
    assert initialized_vault.read_bytes() == vault_bytes
    assert log.read_bytes() == before


def _in_namespace(
    script: str, vault: Path, args: list[str], extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `script` (which sets up mounts), then credctl ARGS, in a private mount namespace."""
    env = {**os.environ, **PASS_ENV, "CREDCTL_VAULT": str(vault), "D": str(audit_dir(vault))}
    env.update(extra or {})
    command = " ".join(f"'{a}'" for a in [*credctl_command(), *args])
    wrapped = ["unshare", "--mount", "--propagation", "private", "sh", "-ec",
               f"{script}\nexec {command}"]  # fmt: skip
    return subprocess.run(
        wrapped, capture_output=True, text=True, env=env, check=False, input="", timeout=60
    )


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
        capture_output=True, check=False,
    )  # fmt: skip
    return probe.returncode == 0


NAMESPACES = _namespaces_work()


def test_a_read_only_trail_folder_refuses_reads(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    if NAMESPACES:
        result = _in_namespace(
            'mount --bind "$D" "$D"\nmount -o remount,ro,bind "$D" "$D"',
            initialized_vault, ["get-token", "gh"],
        )  # fmt: skip
        assert_refused(result, "Read-only file system")
    elif os.geteuid() != 0:
        folder = audit_dir(initialized_vault)
        for path in folder.iterdir():
            path.chmod(0o400)
        folder.chmod(0o500)
        try:
            result = run_limited(initialized_vault, ["get-token", "gh"])
        finally:
            folder.chmod(0o700)
        assert_refused(result, "Permission denied")
    else:
        pytest.skip("LOUD SKIP: running as root without mount namespaces (unshare): a "
                    "read-only folder cannot be made")  # fmt: skip
    ok(verify(run_cli))


@pytest.mark.skipif(not NAMESPACES, reason="LOUD SKIP: needs root and unshare for a tiny tmpfs")
def test_a_full_disk_refuses_reads(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path, reads=4)
    assert current_log(initialized_vault).stat().st_size > 1024
    saved = tmp_path / "saved-trail"
    shutil.copytree(audit_dir(initialized_vault), saved)
    script = (
        f'mount -t tmpfs -o size=16k,mode=0700 tmpfs "$D"\ncp -p {saved}/* "$D"/\n'
        'dd if=/dev/zero of="$D/filler" bs=1024 count=64 2>/dev/null || true'
    )
    # A small segment size makes this append start a new segment: its first byte
    # needs a block that the full disk no longer has.
    small = {"CREDCTL_AUDIT_SEGMENT_BYTES": "1024"}
    result = _in_namespace(script, initialized_vault, ["get-token", "gh"], small)
    assert_refused(result, "No space left on device")
    ok(verify(run_cli))  # the real folder was never touched
