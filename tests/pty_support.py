"""Running a program on a real pseudo-terminal, as a person at a terminal would.

The pty is the child's controlling terminal, so ``/dev/tty`` and getpass work as
they do for a person.  stdin may be the terminal too, or a pipe carrying data
(``pass show x | credctl create …``).  Prompts (a line ending in ":") are
answered in turn.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import time
from collections.abc import Sequence


def run_on_pty(
    argv: Sequence[str],
    answers: Sequence[str],
    env: dict[str, str],
    *,
    stdin_data: bytes | None = None,
    cwd: str | None = None,
    timeout: float = 120,
) -> tuple[int, str, int]:
    """Run `argv` on a pty, answering each prompt in turn: (exit code, screen, prompts seen).

    With `stdin_data`, stdin is a pipe carrying it and the pty is only the
    controlling terminal (and stdout, stderr).
    """
    controller, terminal = pty.openpty()

    def become_terminal_owner() -> None:
        os.setsid()
        fcntl.ioctl(terminal, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin_data is not None else terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=cwd,
        pass_fds=(terminal,),
        preexec_fn=become_terminal_owner,
    )
    os.close(terminal)
    if stdin_data is not None:
        assert process.stdin is not None
        process.stdin.write(stdin_data)
        process.stdin.close()
    seen = b""
    answered_at = 0
    prompts = 0
    pending = list(answers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if seen[answered_at:].rstrip().endswith(b":"):
                prompts += 1
                answered_at = len(seen)
                if pending:
                    time.sleep(0.3)  # let getpass finish switching echo off (it flushes input)
                    os.write(controller, pending.pop(0).encode() + b"\n")
        elif process.poll() is not None:
            break
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"did not finish; screen so far:\n{seen.decode()}") from None
    os.close(controller)
    return code, seen.decode(errors="replace"), prompts
