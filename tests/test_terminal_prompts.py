"""Hidden prompts on a real pseudo-terminal: init asks twice, unlock retries."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from pathlib import Path

from tests.conftest import CHEAP_KDF, credctl_command, echo_is_off


def _become_terminal_owner() -> None:
    # getpass talks to /dev/tty: the pty must be the child's controlling terminal.
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def prompt_is_up(controller: int) -> bool:
    """A hidden prompt has turned echo off (False once the terminal is gone)."""
    try:
        return echo_is_off(controller)
    except OSError:
        return False


def run_on_terminal(args: list[str], answers: list[str], env: dict[str, str],
                    timeout: float = 30) -> tuple[int, str]:  # fmt: skip
    """Run credctl with stdin, stdout and stderr on a pty, answering each prompt in turn."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*credctl_command(), *args], stdin=terminal, stdout=terminal, stderr=terminal,
        env={**os.environ, **env}, preexec_fn=_become_terminal_owner,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    since_answer = b""
    answered = False  # an answer is out and its prompt has not ended yet
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            since_answer += chunk
        elif process.poll() is not None:
            break
        # getpass turns echo off (flushing typed input) before it prompts, and prints
        # a newline once it has read the answer and turned echo back on (flushing
        # again): answer a prompt that is up, and only after the last one has ended.
        if answered and b"\n" in since_answer:
            answered = False
        if (pending and not answered and since_answer.rstrip().endswith(b":")
                and prompt_is_up(controller)):  # fmt: skip
            os.write(controller, pending.pop(0).encode() + b"\n")
            seen += b"\n"
            since_answer = b""
            answered = True
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"credctl did not finish; screen so far:\n{seen.decode()}") from None
    os.close(controller)
    return code, seen.decode(errors="replace")


def test_init_asks_twice_and_hides_the_passphrase(vault_path: Path) -> None:
    env = {"CREDCTL_VAULT": str(vault_path)}
    secret = "fake-terminal-passphrase"
    code, screen = run_on_terminal(["init", *CHEAP_KDF], [secret, secret], env)
    assert code == 0, screen
    assert "New passphrase" in screen
    assert "Repeat" in screen
    assert secret not in screen  # getpass turned echo off
    assert vault_path.exists()


def test_init_refuses_different_passphrases(vault_path: Path) -> None:
    env = {"CREDCTL_VAULT": str(vault_path)}
    code, screen = run_on_terminal(["init", *CHEAP_KDF], ["fake-one", "fake-two"], env)
    assert code == 9, screen
    assert "differ" in screen
    assert not vault_path.exists()


def test_unlock_prompt_retries_then_succeeds(vault_path: Path) -> None:
    env = {"CREDCTL_VAULT": str(vault_path)}
    secret = "fake-terminal-passphrase"
    assert run_on_terminal(["init", *CHEAP_KDF], [secret, secret], env)[0] == 0
    code, screen = run_on_terminal(["unlock"], ["fake-wrong", secret], env)
    assert code == 0, screen
    assert "wrong passphrase, try again" in screen
    assert "export CREDCTL_SESSION=" in screen
    assert secret not in screen


def test_unlock_prompt_gives_up_after_three_wrong_answers(vault_path: Path) -> None:
    env = {"CREDCTL_VAULT": str(vault_path)}
    secret = "fake-terminal-passphrase"
    assert run_on_terminal(["init", *CHEAP_KDF], [secret, secret], env)[0] == 0
    code, screen = run_on_terminal(["unlock"], ["fake-a", "fake-b", "fake-c"], env)
    assert code == 5, screen
    assert "fake-a" not in screen
