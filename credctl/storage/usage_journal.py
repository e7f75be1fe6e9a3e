"""An append-only usage journal beside the vault: reads never rewrite the vault.

Each line is one JSON object ``{"t": unix, "id": N, "a": action, "ms": duration}``.
Lines are appended with one ``write`` on an ``O_APPEND`` descriptor, which keeps
concurrent processes from interleaving them.  Nothing secret is ever written.
A damaged line is skipped, not fatal: usage counts are statistics, not data.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from credctl.storage.base import UsageEvent


class UsageJournal:
    """The journal file for one vault."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: UsageEvent) -> None:
        """Add one line; failures are ignored (a read must not fail over statistics)."""
        entry: dict[str, object] = {"t": round(event.at, 3), "id": event.credential_id,
                                    "a": event.action}  # fmt: skip
        if event.duration_ms is not None:
            entry["ms"] = round(event.duration_ms, 3)
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(self.path, flags, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def events(self) -> Iterator[UsageEvent]:
        """Every well-formed line, oldest first."""
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
                yield UsageEvent(int(entry["id"]), str(entry["a"]), float(entry["t"]),
                                 float(entry["ms"]) if "ms" in entry else None)  # fmt: skip
            except (ValueError, KeyError, TypeError):
                continue
