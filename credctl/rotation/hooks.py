"""Rotation hooks: the shell commands that make a new secret and test it.

A hook is a shell command string run as ``/bin/sh -c CMD`` (what cron and CI
users write), with stdin from /dev/null, in a session of its own so that a
timeout ends it and everything it started.  Its environment is built by the
caller: credctl's own without the unlock variables (SPEC §14), plus the
credential's variables; secrets never travel in its argv.  stdout is captured
(at most `MAX_OUTPUT` bytes: the new ``credential_data`` JSON object);
stderr passes through to credctl's stderr with every secret value masked.

Failures are `RotationFailed` with the exit status or the signal, never the
hook's output (it may hold secrets).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, Final

from credctl.errors import RotationFailed

MAX_OUTPUT: Final = 1024 * 1024
SHELL: Final = "/bin/sh"
_KILL_AFTER: Final = 2.0


def run(
    command: str,
    env: Mapping[str, str],
    *,
    timeout: float,
    secrets: Sequence[bytes],
    what: str,
    stderr: BinaryIO | None = None,
    late_secrets: Callable[[bytes], Sequence[bytes]] | None = None,
) -> bytes:
    """Run `command`, return its stdout; `RotationFailed` unless it exits 0 in time.

    With `late_secrets`, stderr is held back until the hook has ended and masked
    also with the values `late_secrets(stdout)` names: a rotation command that
    echoes the new secret on stderr does not show it either.
    """
    from credctl.exec.masking import StreamMasker, mask

    sink = stderr if stderr is not None else sys.stderr.buffer
    masker = StreamMasker(secrets)
    held = bytearray()
    try:
        proc = subprocess.Popen(
            [SHELL, "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise RotationFailed(f"{what} could not start ({exc.strerror})") from None
    assert proc.stdout is not None
    assert proc.stderr is not None
    output = bytearray()
    problem: str | None = None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "out")
        selector.register(proc.stderr, selectors.EVENT_READ, "err")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                problem = f"{what} did not finish within {int(timeout)} s"
                break
            for key, _ in selector.select(min(remaining, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data == "err" and late_secrets is not None:
                    held += chunk[: max(0, MAX_OUTPUT - len(held))]
                elif key.data == "err":
                    _write(sink, masker.feed(chunk))
                else:
                    output += chunk
                    if len(output) > MAX_OUTPUT:
                        problem = f"{what} printed more than {MAX_OUTPUT // 1024} KiB"
            if problem is not None:
                break
    _write(sink, masker.flush())
    if late_secrets is not None and held:
        try:
            extra = list(late_secrets(bytes(output)))
        except Exception:  # noqa: BLE001 - whatever the output was, mask, never crash
            extra = []
        _write(sink, mask(bytes(held), [*secrets, *extra]))
    if problem is not None:
        _end(proc)
    status = _wait(proc, deadline if problem is None else time.monotonic() + _KILL_AFTER)
    proc.stdout.close()
    proc.stderr.close()
    if problem is None and status is None:
        problem = f"{what} did not finish within {int(timeout)} s"
        _end(proc)
    if problem is not None:
        raise RotationFailed(problem, hint="the old secret is kept")
    assert status is not None
    kept = "the old secret is kept"
    if status < 0:
        raise RotationFailed(f"{what} was killed by signal {-status}", hint=kept)
    if status != 0:
        raise RotationFailed(f"{what} exited with status {status}", hint=kept)
    return bytes(output)


def _write(sink: BinaryIO, data: bytes) -> None:
    if data:
        with contextlib.suppress(OSError, ValueError):
            sink.write(data)
            sink.flush()


def _wait(proc: subprocess.Popen[Any], deadline: float) -> int | None:
    try:
        return proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None


def _end(proc: subprocess.Popen[Any]) -> None:
    """TERM the hook's whole session, then KILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(_KILL_AFTER)
        except subprocess.TimeoutExpired:
            continue
        return


def parse_output(raw: bytes, what: str) -> dict[str, Any]:
    """The JSON object a rotation command printed; never quotes it in errors."""
    import json

    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RotationFailed(
            f"{what} did not print a JSON object on stdout",
            hint="the old secret is kept; print the new credential_data, for example "
            '{"token": "…"}, and messages on stderr',
        ) from None
    if not isinstance(value, dict):
        raise RotationFailed(
            f"{what} printed JSON that is not an object", hint="the old secret is kept"
        )
    return value
