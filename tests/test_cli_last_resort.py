"""The CLI's last line of defence, through the console script (credctl.cli.main).

* An exception no credctl code expects is exit 1 and one ``credctl: error: internal
  error (TYPE)`` line with a hint: no traceback, and not the exception's message
  (it could hold anything).  ``CREDCTL_DEBUG=1`` shows the traceback.
* A reader that goes away (``credctl list --json | head -c1``) is no error: exit 0,
  nothing on stderr.

The unexpected exception is injected from outside credctl, so that nothing in credctl
can trigger it in production: a ``sitecustomize`` module, written into a temporary
folder that only these tests put on ``PYTHONPATH``, installs an audit hook
(PEP 578) that raises `RuntimeError` when the process opens the vault file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import credctl_command
from tests.env_support import SessionVault

LEAK = "FAKE-SECRET-in-an-unexpected-exception"
TESTONLY_SITECUSTOMIZE = f'''\
"""Written by tests/test_cli_last_resort.py: opening a vault file raises RuntimeError."""
import os
import sys


def testonly_fail_on_vault_open(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        if os.fsdecode(args[0]).endswith(".credctl"):
            raise RuntimeError({LEAK!r})


sys.addaudithook(testonly_fail_on_vault_open)
'''
# Two commands of the fast path, two through Typer.
COMMANDS = {"get-token": ["get-token", "t0000"], "env": ["env", "t0000"],
            "list": ["list", "--json"], "show": ["show", "t0000"]}  # fmt: skip


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    """A session-unlocked vault with enough credentials to fill a pipe (list --json)."""
    made = SessionVault(tmp_path_factory.mktemp("last-resort"))
    made.create([("token", f"t{i:04d}", {"token": f"FAKE-token-{i:04d}"}) for i in range(1500)])
    return made


@pytest.fixture
def failing_env(vault: SessionVault, tmp_path: Path) -> dict[str, str]:
    """The vault's environment, with the test-only sitecustomize on PYTHONPATH."""
    hook = tmp_path / "testonly-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(TESTONLY_SITECUSTOMIZE)
    return {**vault.env, "PYTHONPATH": str(hook)}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS.keys())
def test_an_unexpected_exception_is_exit_1_without_traceback(
    vault: SessionVault, failing_env: dict[str, str], args: list[str]
) -> None:
    done = vault.run(*args, extra=failing_env, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "credctl: error: internal error (RuntimeError)", done.stderr
    assert lines[1].startswith(
        "credctl: hint: this is a bug in credctl; rerun with CREDCTL_DEBUG=1"
    )
    assert len(lines) == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert LEAK not in done.stderr


@pytest.mark.parametrize("args", [["get-token", "t0000"], ["list"]], ids=["fast", "typer"])
def test_credctl_debug_shows_the_traceback(
    vault: SessionVault, failing_env: dict[str, str], args: list[str]
) -> None:
    done = vault.run(*args, extra={**failing_env, "CREDCTL_DEBUG": "1"}, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Traceback (most recent call last):"), done.stderr
    assert "testonly_fail_on_vault_open" in done.stderr  # where it was raised
    assert "credctl: error: internal error (RuntimeError)" in done.stderr


def test_without_the_hook_the_same_commands_work(vault: SessionVault) -> None:
    """The failures above come from the injected exception, not from the set-up."""
    assert vault.run("get-token", "t0000").stdout == "FAKE-token-0000\n"
    assert vault.run("list", "--json").returncode == 0


def test_a_reader_that_goes_away_mid_output_is_no_error(vault: SessionVault) -> None:
    """`credctl list --json | head -c1`: the rest of the output has nowhere to go.

    (The write under way when the reader leaves returns short and CPython drops the
    rest, so this passes even through Typer; a pipe closed from the start, below,
    is the harder case.)
    """
    process = subprocess.Popen(
        [*credctl_command(), "list", "--json"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=vault.env,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(1) == b"["
    process.stdout.close()  # more than a pipe's 64 KiB is still to come
    stderr = process.stderr.read()
    process.stderr.close()
    assert (process.wait(timeout=60), stderr) == (0, b"")


@pytest.mark.parametrize(
    "args",
    [pytest.param(args, id=name) for name, args in COMMANDS.items()],
)
def test_a_closed_pipe_on_stdout_is_exit_0_and_silent(
    vault: SessionVault, args: list[str]
) -> None:
    reader, writer = os.pipe()
    os.close(reader)  # nobody will ever read: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [*credctl_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
            env=vault.env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (0, b"")


@pytest.mark.parametrize(
    "args",
    [pytest.param(args, id=name) for name, args in COMMANDS.items()],
)
def test_a_full_disk_on_stdout_is_exit_1_and_says_so(vault: SessionVault, args: list[str]) -> None:
    """`credctl get-token NAME > /dev/full`: the output did not arrive, and the user is told.

    Not "internal error, this is a bug": nothing in credctl went wrong.  The fast path
    ends with `os._exit` (credctl.cli.main.end_process), so its output must be out
    before; this shows it is, and that a failure to write it is not lost either.
    """
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [*credctl_command(), *args],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            env=vault.env,
            timeout=60,
            check=False,
        )
    stderr = done.stderr.decode()
    assert done.returncode == 1, stderr
    assert stderr.startswith("credctl: error: could not write the output: "), stderr
    assert "Traceback" not in stderr and "FAKE-token" not in stderr
