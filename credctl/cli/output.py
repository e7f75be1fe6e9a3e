"""What goes to stdout (data) and stderr (everything else)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from credctl.errors import CredentialError, OutputFailed

PROGRAM = "credctl"


def data(text: str) -> None:
    """Write data to stdout, one line, in one write."""
    with _writing_stdout():
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def data_bytes(raw: bytes) -> None:
    """Write `raw` to stdout as it is, in one write."""
    with _writing_stdout():
        sys.stdout.flush()  # text written before goes first
        sys.stdout.buffer.write(raw)
        sys.stdout.buffer.flush()


@contextlib.contextmanager
def _writing_stdout() -> Iterator[None]:
    """A failed write is `OutputFailed`; a reader that went away stays BrokenPipeError."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputFailed(
            f"could not write the output: {exc.strerror or type(exc).__name__}",
            hint="check where stdout goes (a full disk, a read-only device)",
        ) from None


def data_json(value: Any) -> None:
    """Write a JSON document to stdout."""
    data(json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False))


def info(text: str, *, quiet: bool = False) -> None:
    """A message for the person at the terminal (stderr), unless --quiet."""
    if not quiet:
        sys.stderr.write(f"{PROGRAM}: {text}\n")


def warn(text: str) -> None:
    """A warning: always shown, on stderr."""
    sys.stderr.write(f"{PROGRAM}: warning: {text}\n")


def error(err: CredentialError | str, hint: str | None = None) -> None:
    """One error line, plus a hint line naming the fix when there is one."""
    message = str(err)
    if isinstance(err, CredentialError):
        hint = hint or err.hint
    sys.stderr.write(f"{PROGRAM}: error: {message}\n")
    if hint:
        sys.stderr.write(f"{PROGRAM}: hint: {hint}\n")
