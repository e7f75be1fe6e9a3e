"""An append-only activity journal beside the vault: reads never rewrite the vault.

Each line is one JSON object ``{"t": unix, "id": N, "a": action, "ms": duration,
"e": error kind}`` (``ms`` and ``e`` only when known).  Lines are appended with
one ``write`` on an ``O_APPEND`` descriptor, which keeps concurrent processes
from interleaving them.  Nothing secret is ever written.  A damaged line is
skipped, not fatal: usage counts are statistics, not data.

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
from credctl.records.activity import Activity
from credctl.vault.sidecar import CompanionDir

# Statistics only: a journal this large is read no further than this.
MAX_JOURNAL_SIZE = 256 << 20
#: Actions journalled under an older name.
_RENAMED = {"get_field": "read_field"}


class UsageJournal:
    """The journal file for one vault (an `ActivityLog`).

    `path` is ``VAULT.d/usage.jsonl``; pass the vault's own `companion` (its
    `VaultFile.companion`) to share the already opened ``VAULT.d`` handle.
    """

    def __init__(self, path: Path, companion: CompanionDir | None = None) -> None:
        self.path = path
        self.companion = companion or CompanionDir(path.parent)

    def append(self, activity: Activity) -> None:
        """Add one line; failures are ignored (a read must not fail over statistics)."""
        entry: dict[str, object] = {"t": round(activity.at, 3), "id": activity.credential_id,
                                    "a": activity.action}  # fmt: skip
        if activity.duration_ms is not None:
            entry["ms"] = round(activity.duration_ms, 3)
        if activity.error is not None:
            entry["e"] = activity.error
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        # An unsafe VAULT.d is refused by the vault's own reads; here it only means
        # that nothing is written.
        with contextlib.suppress(OSError, CredentialError):
            folder = self.companion.get(create=True)
            if folder is not None:
                folder.append(self.path.name, line)

    def activities(self) -> Iterator[Activity]:
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
