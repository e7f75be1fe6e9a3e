"""An append-only usage journal beside the vault: reads never rewrite the vault.

Each line is one JSON object ``{"t": unix, "id": N, "a": action, "ms": duration}``.
Lines are appended with one ``write`` on an ``O_APPEND`` descriptor, which keeps
concurrent processes from interleaving them.  Nothing secret is ever written.
A damaged line is skipped, not fatal: usage counts are statistics, not data.

The journal lives in ``VAULT.d`` and is opened relative to that folder's checked
handle (`credctl.vault.sidecar`, SPEC §14): never through a link, never a FIFO.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from credctl.errors import CredentialError
from credctl.storage.base import UsageEvent
from credctl.vault.sidecar import CompanionDir

# Statistics only: a journal this large is read no further than this.
MAX_JOURNAL_SIZE = 256 << 20


class UsageJournal:
    """The journal file for one vault.

    `path` is ``VAULT.d/usage.jsonl``; pass the vault's own `companion` (its
    `VaultFile.companion`) to share the already opened ``VAULT.d`` handle.
    """

    def __init__(self, path: Path, companion: CompanionDir | None = None) -> None:
        self.path = path
        self.companion = companion or CompanionDir(path.parent)

    def append(self, event: UsageEvent) -> None:
        """Add one line; failures are ignored (a read must not fail over statistics)."""
        entry: dict[str, object] = {"t": round(event.at, 3), "id": event.credential_id,
                                    "a": event.action}  # fmt: skip
        if event.duration_ms is not None:
            entry["ms"] = round(event.duration_ms, 3)
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        # An unsafe VAULT.d is refused by the vault's own reads; here it only means
        # that nothing is written.
        with contextlib.suppress(OSError, CredentialError):
            folder = self.companion.get(create=True)
            if folder is not None:
                folder.append(self.path.name, line)

    def events(self) -> Iterator[UsageEvent]:
        """Every well-formed line, oldest first (of a huge journal, the newest part)."""
        folder = self.companion.get()
        fd = folder.open_regular(self.path.name) if folder is not None else None
        if fd is None:
            return
        try:
            size = os.fstat(fd).st_size
            skip = max(0, size - MAX_JOURNAL_SIZE)
            os.lseek(fd, skip, os.SEEK_SET)
            raw = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
        except OSError:
            return
        finally:
            os.close(fd)
        lines = raw.splitlines()
        for line in lines[1:] if skip else lines:  # a cut first line is no event
            try:
                entry = json.loads(line)
                yield UsageEvent(int(entry["id"]), str(entry["a"]), float(entry["t"]),
                                 float(entry["ms"]) if "ms" in entry else None)  # fmt: skip
            except (ValueError, KeyError, TypeError):
                continue
