"""The usage journal of earlier versions (``VAULT.d/usage.jsonl``), read once into the trail.

Each line was ``{"t": unix, "id": N, "a": action, "ms": duration, "e": error kind}``.
When a trail starts, its lines become its first entries (with what they knew:
no user, host or origin) and the file is removed.  A damaged line is skipped:
the journal held statistics, not evidence.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

from credctl.errors import VaultCorruptError
from credctl.records.activity import Activity

#: Actions journalled under an older name.
_RENAMED = {"get_field": "read_field"}
#: A journal larger than this was not written by credctl; only its end is read.
MAX_JOURNAL_BYTES = 256 << 20
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def read_journal(path: Path) -> list[Activity]:
    """Every well-formed line of the journal at `path`, oldest first ([] when absent)."""
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VaultCorruptError(f"refusing to read {path}: it is a symbolic link") from None
        return []
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            raise VaultCorruptError(f"refusing to read {path}: not a regular file of yours")
        skip = max(0, info.st_size - MAX_JOURNAL_BYTES)
        raw = os.pread(fd, info.st_size - skip, skip)
    finally:
        os.close(fd)
    lines = raw.splitlines()
    found = []
    for line in lines[1:] if skip else lines:
        try:
            entry = json.loads(line)
            credential_id = entry["id"]
            action = str(entry["a"])
            error = entry.get("e")
            found.append(
                Activity(
                    _RENAMED.get(action, action),
                    int(credential_id) if credential_id is not None else None,
                    at=float(entry["t"]),
                    duration_ms=float(entry["ms"]) if "ms" in entry else None,
                    outcome="ok" if error is None else "error",
                    error=str(error) if error is not None else None,
                    detail="migrated from usage.jsonl",
                )
            )
        except (ValueError, KeyError, TypeError, OverflowError):
            continue
    return found
