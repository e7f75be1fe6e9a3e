"""The highest commit number this machine has seen of each backend vault.

A blob backend's root is authentic (sealed with the data key), but an engine
operator could put back an older root together with the older blobs it names:
a whole earlier state, perfectly consistent.  Like the vault file's anchor, a
small file per vault id remembers the newest commit this machine has read or
written, and an older root is refused (exit 6).  It protects machines that saw
the newer state; a first use on a new machine has no expectation.

The files live in ``platformdirs.user_state_dir("credctl")/anchors`` (0700 /
0600): ``<vault id hex>`` holds the commit number as decimal text.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from credctl.errors import VaultRollbackError


def default_dir() -> Path:
    """Where anchors are kept for this user."""
    from platformdirs import user_state_dir

    return Path(user_state_dir("credctl")) / "anchors"


class Anchors:
    """Commit numbers by vault id, in one folder."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_dir()
        self._seen: dict[bytes, int] = {}

    def _path(self, vault_id: bytes) -> Path:
        return self.folder / vault_id.hex()

    def read(self, vault_id: bytes) -> int:
        """The highest commit number recorded (0 when none)."""
        try:
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
            fd = os.open(self._path(vault_id), flags)
        except OSError:
            return 0
        try:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
        return int(text) if text.isdigit() else 0

    def check(self, vault_id: bytes, seq: int, where: str) -> None:
        """Refuse a root older than one seen before; remember a newer one."""
        known = self._seen.get(vault_id)
        if known is None:
            known = self._seen[vault_id] = self.read(vault_id)
        if seq < known:
            raise VaultRollbackError(
                f"{where} holds commit {seq}, older than commit {known} this machine has "
                "already seen: the backend was rolled back or restored",
                hint=f"if the restore was on purpose, delete {self._path(vault_id)} and run "
                "the command again",
            )
        if seq > known:
            self.record(vault_id, seq)

    def record(self, vault_id: bytes, seq: int) -> None:
        """Remember `seq` (best effort: a failure only weakens the check)."""
        self._seen[vault_id] = max(seq, self._seen.get(vault_id, 0))
        with contextlib.suppress(OSError):
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self._path(vault_id)
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(temporary, flags, 0o600)
            try:
                os.write(fd, str(seq).encode())
            finally:
                os.close(fd)
            # Concurrent writers race; a lower number must not replace a higher one.
            if self.read(vault_id) < seq:
                os.replace(temporary, path)
            else:
                os.unlink(temporary)
