"""Find a command like a shell, start it in credctl's place, and pass on how it ended.

Exit statuses follow the shell conventions scripts already know (POSIX XCU 2.8.2):
127 when the command is not found, 126 when it is found but cannot be run (not
executable, a directory, not a program format the kernel runs).  A command that
dies of signal N makes credctl die of signal N too (`exit_like`), so the caller
sees exactly what it would have seen without credctl in between.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Final, NoReturn

NOT_FOUND: Final = 127
CANNOT_RUN: Final = 126


class CommandError(Exception):
    """The command cannot be started; `status` is the shell's exit status for that."""

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.hint = hint


def find_program(word: str, search_path: str | None) -> str:
    """The file `word` runs: itself if it contains a ``/``, else the first match in PATH.

    Like a shell: PATH entries are searched in order and an empty entry means
    the current folder; a match that is not executable is remembered, so that
    "found but not executable" (126) is told apart from "not found" (127).
    """
    if "/" in word:
        problem = _problem(word)
        if problem is None:
            return word
        if problem == "missing":
            raise CommandError(f"command {word!r} does not exist", NOT_FOUND)
        raise CommandError(f"command {word!r} {problem}", CANNOT_RUN)
    denied: str | None = None
    for folder in (search_path if search_path is not None else os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", word)
        problem = _problem(candidate)
        if problem is None:
            return candidate
        if denied is None and problem == "is not executable":
            denied = candidate
    if word and denied is not None:
        raise CommandError(f"command {denied!r} is not executable", CANNOT_RUN)
    raise CommandError(
        f"command {word!r} not found",
        NOT_FOUND,
        hint="check the spelling, or give the path to the program",
    )


def _problem(path: str) -> str | None:
    """None if `path` is an executable file, else what is wrong with it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "missing"
    if stat.S_ISDIR(mode):
        return "is a directory"
    if not os.access(path, os.X_OK):
        return "is not executable"
    return None


def start_error(word: str, error: OSError) -> CommandError:
    """The `CommandError` for an ``execve`` that failed with `error`."""
    if error.errno == errno.ENOENT:
        # The file was there a moment ago: its #! interpreter is what is missing.
        return CommandError(
            f"cannot run {word!r}: the interpreter on its #! line (or the file) is missing",
            NOT_FOUND,
        )
    if error.errno == errno.ENOEXEC:
        return CommandError(
            f"cannot run {word!r}: it is not a program the system can execute",
            CANNOT_RUN,
            hint="a script needs a #! line, for example #!/bin/sh",
        )
    reason = os.strerror(error.errno or 0).lower()
    return CommandError(f"cannot run {word!r}: {reason}", CANNOT_RUN)


# Python ignores these at start-up, and ignored signals stay ignored across execve:
# a child would then see EPIPE instead of dying quietly in `cmd | head`.
_IGNORED_BY_PYTHON: Final = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


def restore_default_signals() -> None:
    """Undo Python's start-up signal settings before another program takes over."""
    for number in _IGNORED_BY_PYTHON:
        signal.signal(number, signal.SIG_DFL)


def replace_process(program: str, argv: Sequence[str], env: Mapping[str, str]) -> NoReturn:
    """Become the command (``execve``); raises `CommandError` only if that fails.

    credctl's process turns into the command: it keeps credctl's pid, stdin,
    stdout, stderr and terminal, receives every signal sent to that pid or its
    process group directly, and its exit status, death by signal included, is
    what credctl's caller sees.  No Python process stays behind.  The command gets
    the user's core-file limit back (`credctl._process.restore_core_limit`); the
    kernel makes it dumpable again on ``execve``.
    """
    from credctl._process import restore_core_limit

    sys.stdout.flush()
    sys.stderr.flush()
    restore_default_signals()
    restore_core_limit()  # the user's own limit for the command (credctl runs with 0)
    try:
        os.execve(program, list(argv), dict(env))  # noqa: S606 (argv as given, no shell)
    except OSError as exc:
        raise start_error(argv[0], exc) from None


def exit_like(returncode: int) -> int:
    """credctl's exit status for a child that ended with `returncode` (``Popen`` style).

    A normal exit is returned as is.  A death by signal N (``returncode == -N``)
    is re-raised on credctl itself with the default action, so a shell sees
    "killed by signal N" (``$?`` = 128+N) and, for SIGINT, stops a script the
    way it would have without credctl in between.  Core dumps are turned off
    first: credctl's memory holds decrypted secrets.  128+N is returned only if
    the signal did not end the process.
    """
    if returncode >= 0:
        return returncode
    number = -returncode
    sys.stdout.flush()
    sys.stderr.flush()
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
        signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
    os.kill(os.getpid(), number)
    return 128 + number
