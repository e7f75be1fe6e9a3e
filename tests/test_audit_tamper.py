"""Tampering with the trail, through the console script: `audit verify` exits 6 naming
the first bad seq; a torn tail is reported apart from tampering and repaired.

These edit the trail's files beside the vault file (``vault_file``); the same attacks
on PostgreSQL's log rows are in ``test_backend_audit.py``."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

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
from tests.conftest import CHEAP_KDF, RunCli


def flip_ciphertext(line: bytes) -> bytes:
    """The same line with one byte of its ciphertext changed (still valid base64)."""
    seq, epoch, nonce, ct, mac = line.rstrip(b"\n").split(b" ")
    raw = bytearray(base64.b64decode(ct))
    raw[len(raw) // 2] ^= 0x01
    return b" ".join((seq, epoch, nonce, base64.b64encode(bytes(raw)), mac)) + b"\n"


def test_an_untouched_trail_verifies(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path)
    result = ok(verify(run_cli))
    # init, create, four reads
    assert "the audit trail verifies: 6 entries (seq 1..6)" in result.stdout
    assert "head seq 6 " in result.stdout


@pytest.mark.vault_file
def test_editing_one_byte_is_detected(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    lines[2] = flip_ciphertext(lines[2])
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 3)


@pytest.mark.vault_file
def test_editing_a_seq_number_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    lines[1] = b"7" + lines[1][1:]  # seq 2 -> 7
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 2)


@pytest.mark.vault_file
def test_deleting_an_entry_is_detected(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    del lines[2]
    write_lines(initialized_vault, lines)
    result = verify(run_cli)
    assert_tampered(result, 3)
    assert "entry 3 is missing" in result.stderr


@pytest.mark.vault_file
def test_inserting_an_entry_is_detected(run_cli: RunCli, initialized_vault: Path, tmp_path: Path):
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    lines.insert(3, lines[1])  # a copy of entry 2 after entry 3
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 4)


@pytest.mark.vault_file
def test_inserting_a_forged_entry_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    forged = b"4" + flip_ciphertext(lines[3])[1:]  # right seq, made without the key
    lines.insert(3, forged)
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 4)


@pytest.mark.vault_file
def test_swapping_two_entries_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    lines = read_lines(initialized_vault)
    lines[2], lines[3] = lines[3], lines[2]
    write_lines(initialized_vault, lines)
    assert_tampered(verify(run_cli), 3)


@pytest.mark.vault_file
def test_cutting_the_tail_below_the_last_write_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=2)  # seq 1 init, 2 create, 3-4 reads
    add_token(run_cli, tmp_path, "gl")  # seq 5: this write records head 5
    ok(run_cli("get-token", "gl", env=PASS_ENV))  # seq 6
    write_lines(initialized_vault, read_lines(initialized_vault)[:2])
    result = verify(run_cli)
    assert_tampered(result, 3)
    assert "the vault's last write recorded seq 5" in result.stderr
    # Later appends never heal the gap: they continue after the recorded head.
    ok(run_cli("get-token", "gl", env=PASS_ENV))
    assert_tampered(verify(run_cli), 3)


@pytest.mark.vault_file
def test_deleting_the_whole_trail_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    shutil.rmtree(audit_dir(initialized_vault))
    assert_tampered(verify(run_cli), 1)


@pytest.mark.vault_file
def test_another_vaults_trail_is_detected(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    other = tmp_path / "other" / "other.credctl"
    env = {**PASS_ENV, "CREDCTL_VAULT": str(other)}
    ok(run_cli("init", *CHEAP_KDF, env=env))
    secret = tmp_path / "other.secret"
    secret.write_text("FAKE-SECRET-other")
    ok(run_cli("create", "token", "gh", "--field", f"token=@{secret}", env=env))
    for _ in range(5):
        ok(run_cli("get-token", "gh", env=env))
    shutil.copyfile(current_log(other), current_log(initialized_vault))
    result = verify(run_cli)
    assert_tampered(result, 1)
    assert "another vault" in result.stderr


@pytest.mark.vault_file
def test_replaying_an_older_copy_is_detected_after_a_write(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)  # seq 1..6
    older = read_lines(initialized_vault)
    add_token(run_cli, tmp_path, "gl")  # seq 7, recorded in the vault
    ok(run_cli("get-token", "gl", env=PASS_ENV))
    write_lines(initialized_vault, older)
    result = verify(run_cli)
    assert_tampered(result, 7)
    assert "an older copy of the trail was put back" in result.stderr


@pytest.mark.vault_file
def test_replaying_an_older_copy_is_detected_by_a_checkpoint(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)  # seq 1..6; the vault recorded head 2
    older = read_lines(initialized_vault)
    ok(run_cli("get-token", "gh", env=PASS_ENV))  # 7
    checkpoint = tmp_path / "audit.checkpoint"
    checkpoint.write_text(ok(run_cli("audit", "checkpoint", env=PASS_ENV)).stdout)  # 8
    assert "\nseq 8\n" in checkpoint.read_text()
    ok(verify(run_cli, "--checkpoint", str(checkpoint)))  # 9
    write_lines(initialized_vault, older)
    assert_tampered(verify(run_cli, "--checkpoint", str(checkpoint)), 7)
    # No vault write since the copy was made: without the checkpoint nothing tells.
    assert verify(run_cli).returncode == 0


@pytest.mark.vault_file
def test_a_forged_or_foreign_checkpoint_is_refused(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    text = ok(run_cli("audit", "checkpoint", env=PASS_ENV)).stdout
    edited = tmp_path / "edited.checkpoint"
    edited.write_text(text.replace("\nseq 4\n", "\nseq 3\n"))
    result = verify(run_cli, "--checkpoint", str(edited))
    assert result.returncode == 6, result.stderr
    assert "does not authenticate" in result.stderr
    foreign = tmp_path / "foreign.checkpoint"
    foreign.write_text(text.replace(text.split("\n")[1], "vault " + "00" * 16))
    result = verify(run_cli, "--checkpoint", str(foreign))
    assert result.returncode == 6 and "another vault" in result.stderr
    junk = tmp_path / "junk.checkpoint"
    junk.write_text("hello\n")
    assert verify(run_cli, "--checkpoint", str(junk)).returncode == 9


@pytest.mark.vault_file
def test_a_torn_tail_is_reported_then_repaired(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    log = current_log(initialized_vault)
    data = log.read_bytes()
    log.write_bytes(data[:-40])  # the last entry (seq 5) was cut off mid-write
    result = verify(run_cli)
    assert result.returncode == 0, result.stderr
    assert "torn" in result.stderr and "not tampering" in result.stderr
    assert "verifies: 5 entries" in result.stdout
    # verify's own entry repaired it: the torn bytes are gone and an entry says so.
    listed = entries(run_cli)
    repair = next(e for e in listed if e["action"] == "audit_repair")
    assert repair["seq"] == 6 and repair["error"] == "TornTail"
    assert "after seq 5" in repair["detail"]
    again = ok(verify(run_cli))
    assert "torn" not in again.stderr


@pytest.mark.vault_file
def test_doctor_reports_a_tampered_trail_as_unhealthy(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    assert run_cli("doctor", env=PASS_ENV).returncode == 0
    lines = read_lines(initialized_vault)
    del lines[1]
    write_lines(initialized_vault, lines)
    result = run_cli("doctor", env=PASS_ENV)
    assert result.returncode == 2, result.stdout
    assert "first bad seq 2" in result.stdout


@pytest.mark.vault_file
def test_doctor_reports_a_torn_trail_as_degraded(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path)
    log = current_log(initialized_vault)
    log.write_bytes(log.read_bytes()[:-10])
    result = run_cli("doctor", env=PASS_ENV)
    assert result.returncode == 1, result.stdout
    assert "torn" in result.stdout


@pytest.mark.vault_file
def test_a_symlinked_trail_is_refused(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=1)
    log = current_log(initialized_vault)
    elsewhere = tmp_path / "elsewhere.log"
    shutil.move(log, elsewhere)
    log.symlink_to(elsewhere)
    result = run_cli("get-token", "gh", env=PASS_ENV)
    assert result.returncode == 6 and result.stdout == ""
    assert "symbolic link" in result.stderr
