"""An append-only activity journal beside the vault: reads never rewrite the vault.

Each line is one JSON object ``{"t": unix, "id": N, "a": action, "ms": duration,
"e": error kind}`` (``ms`` and ``e`` only when known).  Lines are appended with
one ``write`` on an ``O_APPEND`` descriptor, which keeps concurrent processes
from interleaving them.  Nothing secret is ever written.  A damaged line is
skipped, not fatal: usage counts are statistics, not data.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from credctl.records.activity import Activity

#: Actions journalled under an older name.
_RENAMED = {"get_field": "read_field"}


class UsageJournal:
    """The journal file for one vault (an `ActivityLog`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, activity: Activity) -> None:
        """Add one line; failures are ignored (a read must not fail over statistics)."""
        entry: dict[str, object] = {"t": round(activity.at, 3), "id": activity.credential_id,
                                    "a": activity.action}  # fmt: skip
        if activity.duration_ms is not None:
            entry["ms"] = round(activity.duration_ms, 3)
        if activity.error is not None:
            entry["e"] = activity.error
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path, flags, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def activities(self) -> Iterator[Activity]:
        """Every well-formed line, oldest first."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
                credential_id = entry["id"]
                action = str(entry["a"])
                error = entry.get("e")
                yield Activity(
                    _RENAMED.get(action, action),
                    int(credential_id) if credential_id is not None else None,
                    at=float(entry["t"]),
                    duration_ms=float(entry["ms"]) if "ms" in entry else None,
                    outcome="ok" if error is None else "error",
                    error=str(error) if error is not None else None,
                )
            except (ValueError, KeyError, TypeError):
                continue
