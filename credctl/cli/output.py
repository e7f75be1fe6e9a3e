"""What goes to stdout (data) and stderr (everything else)."""

from __future__ import annotations

import json
import sys
from typing import Any

from credctl.errors import CredentialError

PROGRAM = "credctl"


def data(text: str) -> None:
    """Write data to stdout, one line."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


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
