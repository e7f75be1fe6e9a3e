"""The vault on disk: lock file, atomic replace, backups, rollback anchor.

Writers hold an exclusive `flock` on ``VAULT.lock``, re-read the vault under it,
write ``VAULT.tmp`` (O_EXCL, O_NOFOLLOW, 0600), fsync it, read it back and
verify it, keep the current file as a backup by hard link, rename the temporary
file over the vault and fsync the folder.  Readers take no lock: a rename is
atomic, so a reader always holds one whole generation.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from credctl.errors import (
    StorageError,
    VaultBusyError,
    VaultCorruptError,
    VaultNotFoundError,
)

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_BACKUP_COUNT = 3
# Matches format.MAX_FILE_SIZE: a larger file is refused before it is read.
MAX_READ_SIZE = 1 << 30
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class VaultFile:
    """File-system operations on one vault path and its companions."""

    def __init__(self, path: Path, *, lock_timeout: float | None = None) -> None:
        self.path = Path(os.path.abspath(path))
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        self.sidecar = self.path.with_name(self.path.name + ".d")
        self.backup_dir = self.sidecar / "backups"
        self.session_dir = self.sidecar / "sessions"
        self.anchor_path = self.sidecar / "anchor"
        self.keyring_marker = self.sidecar / "keyring"
        if lock_timeout is None:
            lock_timeout = _env_float("CREDCTL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
        self.lock_timeout = lock_timeout

    # -- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        """True if something (even a broken link) is at the vault path."""
        return os.path.lexists(self.path)

    def read(self) -> bytes:
        """The whole vault file, refusing symlinks and non-regular files."""
        return read_regular_file(self.path, missing=VaultNotFoundError(
            f"no vault at {self.path}", hint="create one with `credctl init`"
        ))  # fmt: skip

    # -- locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive writer lock, or raise `VaultBusyError` after the timeout."""
        ensure_private_dir(self.path.parent)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise VaultCorruptError(
                    f"refusing to use {self.lock_path}: it is a symbolic link"
                ) from None
            raise StorageError(f"cannot open lock file {self.lock_path}: {exc.strerror}") from None
        try:
            deadline = time.monotonic() + self.lock_timeout
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise VaultBusyError(
                            f"the vault is busy: another credctl process held {self.lock_path} "
                            f"for more than {self.lock_timeout:g} s",
                            hint="retry, or raise CREDCTL_LOCK_TIMEOUT (seconds)",
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    # -- writing -------------------------------------------------------------------

    def commit(
        self,
        data: bytes,
        vault_id: bytes,
        generation: int,
        verify: Callable[[bytes], None],
        *,
        previous_generation: int | None,
        backup_count: int = DEFAULT_BACKUP_COUNT,
    ) -> None:
        """Atomically replace the vault with `data`; the caller holds the lock."""
        ensure_private_dir(self.path.parent)
        self._write_temporary(data)
        try:
            written = read_regular_file(self.tmp_path, missing=StorageError("temporary vanished"))
            if written != data:
                raise StorageError(f"read-back of {self.tmp_path} differs from what was written")
            verify(written)
            if previous_generation is not None and backup_count > 0:
                self.keep_backup(previous_generation)
            os.replace(self.tmp_path, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp_path)
            raise
        fsync_dir(self.path.parent)
        self.prune_backups(backup_count)
        self.write_anchor(vault_id, generation)

    def _write_temporary(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
        for _attempt in range(2):
            try:
                fd = os.open(self.tmp_path, flags, 0o600)
                break
            except FileExistsError:
                # Left by a writer that died; we hold the lock, so it is ours to remove,
                # unless someone planted a link or device there.
                info = os.lstat(self.tmp_path)
                if not stat.S_ISREG(info.st_mode):
                    raise VaultCorruptError(
                        f"refusing to write: {self.tmp_path} exists and is not a regular file"
                    ) from None
                os.unlink(self.tmp_path)
        else:  # pragma: no cover - the unlink above makes the second attempt succeed
            raise StorageError(f"cannot create {self.tmp_path}")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- backups -------------------------------------------------------------------

    def backup_path(self, generation: int) -> Path:
        """Where the copy of `generation` is kept."""
        return self.backup_dir / f"{self.path.name}.{generation:012d}"

    def backups(self) -> list[tuple[int, Path]]:
        """Kept generations, newest first."""
        if not self.backup_dir.is_dir():
            return []
        found: list[tuple[int, Path]] = []
        prefix = self.path.name + "."
        for entry in self.backup_dir.iterdir():
            suffix = entry.name[len(prefix) :]
            if entry.name.startswith(prefix) and suffix.isdigit():
                found.append((int(suffix), entry))
        return sorted(found, reverse=True)

    def keep_backup(self, generation: int) -> None:
        """Keep the current vault file as the backup of `generation` (`commit` calls this)."""
        if not os.path.isfile(self.path) or os.path.islink(self.path):
            return
        ensure_private_dir(self.sidecar)
        ensure_private_dir(self.backup_dir)
        target = self.backup_path(generation)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        try:
            os.link(self.path, target)  # a hard link: no copy, and it is the old inode
        except OSError:
            target.write_bytes(self.path.read_bytes())
            os.chmod(target, 0o600)

    def prune_backups(self, keep: int) -> None:
        """Delete all but the newest `keep` backups (`commit` calls this)."""
        for _generation, path in self.backups()[keep:]:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def remove_backups(self) -> int:
        """Delete every kept generation (after `rekey`); returns how many."""
        removed = 0
        for _generation, path in self.backups():
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed += 1
        return removed

    # -- rollback anchor -----------------------------------------------------------

    def read_anchor(self) -> tuple[bytes, int] | None:
        """The (vault id, generation) last committed at this path, if recorded."""
        try:
            raw = json.loads(self.anchor_path.read_text())
            return bytes.fromhex(raw["vault_id"]), int(raw["generation"])
        except (OSError, ValueError, KeyError, TypeError, OverflowError):
            return None

    def write_anchor(self, vault_id: bytes, generation: int) -> None:
        """Record the newest generation; best effort, never fails a commit."""
        with contextlib.suppress(OSError):
            ensure_private_dir(self.sidecar)
            tmp = self.anchor_path.with_name("anchor.tmp")
            tmp.write_text(json.dumps({"vault_id": vault_id.hex(), "generation": generation}))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.anchor_path)


def read_regular_file(path: Path, *, missing: Exception) -> bytes:
    """Read a whole regular file without following a symlink at `path`."""
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the open before fstat.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC)
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VaultCorruptError(f"refusing to open {path}: it is a symbolic link") from None
        raise StorageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise VaultCorruptError(f"refusing to open {path}: not a regular file")
        if info.st_size > MAX_READ_SIZE:
            raise VaultCorruptError(f"{path} is larger than any valid vault")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def ensure_private_dir(path: Path) -> None:
    """Create a folder (and missing parents) with mode 0700; existing ones are left alone."""
    if path.is_dir():
        return
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create folder {path}: {exc.strerror}") from None


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
