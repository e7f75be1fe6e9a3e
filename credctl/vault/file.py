"""The vault on disk: lock file, atomic replace, backups, rollback anchor.

Writers hold an exclusive `flock` on ``VAULT.lock``, re-read the vault under it,
write ``VAULT.tmp`` (O_EXCL, O_NOFOLLOW, 0600), fsync it, read it back and
verify it, keep the current file as a backup by hard link, rename the temporary
file over the vault and fsync the folder.  Readers take no lock: a rename is
atomic, so a reader always holds one whole generation.

Every use first checks the vault's folder and ``VAULT.d`` (`credctl.vault.sidecar`,
SPEC §14); names in the vault's folder are resolved relative to its descriptor,
and everything in ``VAULT.d`` through `PrivateDir`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from credctl.errors import (
    StorageError,
    UnsafePathError,
    VaultBusyError,
    VaultCorruptError,
    VaultNotFoundError,
)
from credctl.vault.path_checks import MOVE_HINT, describe_kind, private_problem, refusal
from credctl.vault.sidecar import CompanionDir, PrivateDir, VaultFolder

DEFAULT_LOCK_TIMEOUT = 10.0
DEFAULT_BACKUP_COUNT = 3
# Matches format.MAX_FILE_SIZE: a larger file is refused before it is read.
MAX_READ_SIZE = 1 << 30
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_ANCHOR = "anchor"
_BACKUPS = "backups"
KEYRING_MARKER = "keyring"


class VaultFile:
    """File-system operations on one vault path and its companions."""

    def __init__(self, path: Path, *, lock_timeout: float | None = None) -> None:
        self.path = Path(os.path.abspath(path))
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        self.sidecar = self.path.with_name(self.path.name + ".d")
        self.backup_dir = self.sidecar / _BACKUPS
        self.session_dir = self.sidecar / "sessions"
        self.anchor_path = self.sidecar / _ANCHOR
        self.keyring_marker = self.sidecar / KEYRING_MARKER
        self.folder = VaultFolder(self.path.parent)
        self.companion = CompanionDir(self.sidecar, self.folder)
        if lock_timeout is None:
            lock_timeout = _env_float("CREDCTL_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
        self.lock_timeout = lock_timeout

    # -- the checked folders ---------------------------------------------------------

    def folder_fd(self, *, create: bool = False) -> int:
        """The vault's folder, checked (others cannot write it); created 0700 if asked."""
        try:
            return self.folder.fd(create=create)
        except FileNotFoundError:
            raise StorageError(f"the folder {self.path.parent} does not exist") from None

    def sidecar_dir(self, *, create: bool = False) -> PrivateDir | None:
        """``VAULT.d``, checked and kept open; None when it does not exist (and not `create`)."""
        return self.companion.get(create=create)

    def has_keyring_marker(self) -> bool:
        """Whether ``VAULT.d/keyring`` exists (anything but a regular file is refused)."""
        folder = self.sidecar_dir()
        return folder is not None and folder.check_file(KEYRING_MARKER)

    # -- reading -------------------------------------------------------------------

    def exists(self) -> bool:
        """True if something (even a broken link) is at the vault path."""
        return os.path.lexists(self.path)

    def read(self) -> bytes:
        """The whole vault file, refusing symlinks, non-regular files and unsafe folders."""
        missing = VaultNotFoundError(f"no vault at {self.path}", hint=self._create_hint())
        try:
            self.folder.fd()
        except FileNotFoundError:
            raise missing from None
        return read_regular_file(self.path, missing=missing)

    def _create_hint(self) -> str:
        """How to create this vault: `--vault PATH` when the default would be another."""
        from credctl.paths import default_vault_path

        if default_vault_path().absolute() == self.path.absolute():
            return "create one with `credctl init`"
        import shlex

        return f"create one with `credctl --vault {shlex.quote(str(self.path))} init`"

    # -- locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive writer lock, or raise `VaultBusyError` after the timeout."""
        fd = self._open_lock(self.folder_fd(create=True))
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

    def _open_lock(self, dir_fd: int) -> int:
        """Open (or create) the lock file; refuse a link, a special file or another user's.

        A lock file of another user is refused rather than used: its owner could
        hold the lock for ever, or swap the file for something else.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC
        try:
            fd = os.open(self.lock_path.name, flags, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            raise refusal(self.lock_path.name, self.lock_path, dir_fd, exc, folder=False) from None
        info = os.fstat(fd)
        problem = private_problem(info, self.lock_path, folder=False)
        if problem is not None:
            os.close(fd)
            raise problem
        return fd

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
        folder = self.folder_fd(create=True)
        self._preflight()
        tmp_name = self._write_temporary(folder, data)
        try:
            written = read_regular_file(
                self.path.with_name(tmp_name), missing=StorageError("temporary vanished")
            )
            if written != data:
                raise StorageError(f"read-back of {self.tmp_path} differs from what was written")
            verify(written)
            if previous_generation is not None and backup_count > 0:
                self.keep_backup(previous_generation)
            os.replace(tmp_name, self.path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name, dir_fd=folder)
            raise
        os.fsync(folder)
        self.prune_backups(backup_count)
        self.write_anchor(vault_id, generation)

    def _preflight(self) -> None:
        """Refuse an unsafe ``VAULT.d`` before anything is written, not after the rename."""
        companion = self.sidecar_dir(create=True)
        assert companion is not None  # create=True makes it or raises
        companion.check_file(_ANCHOR)
        companion.check_file(_ANCHOR + ".tmp")

    def _write_temporary(self, folder: int, data: bytes) -> str:
        """Write the next generation beside the vault; returns the name used."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
        name = self.tmp_path.name
        for _attempt in range(3):
            try:
                fd = os.open(name, flags, 0o600, dir_fd=folder)
                break
            except FileExistsError:
                name = self._clear_temporary(folder, name)
            except OSError as exc:
                raise StorageError(f"cannot create {self.tmp_path}: {exc.strerror}") from None
        else:  # pragma: no cover - each retry removed or avoided what was there
            raise StorageError(f"cannot create {self.tmp_path}")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        return name

    def _clear_temporary(self, folder: int, name: str) -> str:
        """Deal with a file found at the temporary name; returns the name to try next."""
        try:
            info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return name
        path = self.path.with_name(name)
        if info.st_uid != os.geteuid():
            # Another user's, in a sticky folder such as /tmp: neither ours to remove
            # nor to follow, and it must not stop every write: write beside it.
            self._remove_own_temporaries(folder)
            return f"{self.tmp_path.name}.{os.urandom(8).hex()}"
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(
                f"refusing to write: {path} exists and is {describe_kind(info.st_mode)}, "
                "not a regular file",
                hint=f"remove it and run the command again; {MOVE_HINT} if you did not put it "
                "there",
            )
        # Left by a writer that died; we hold the lock, so it is ours to remove.
        os.unlink(name, dir_fd=folder)
        return name

    def _remove_own_temporaries(self, folder: int) -> None:
        """Remove our own `VAULT.tmp.<random>` files left by writers that died."""
        prefix = self.tmp_path.name + "."
        uid = os.geteuid()
        with os.scandir(folder) as entries:
            stale = [
                entry.name
                for entry in entries
                if entry.name.startswith(prefix)
                and entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == uid
            ]
        for name in stale:
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=folder)

    # -- backups -------------------------------------------------------------------

    def backup_path(self, generation: int) -> Path:
        """Where the copy of `generation` is kept."""
        return self.backup_dir / f"{self.path.name}.{generation:012d}"

    def _backup_folder(self, *, create: bool = False) -> PrivateDir | None:
        return self.companion.subdir(_BACKUPS, create=create)

    def backups(self) -> list[tuple[int, Path]]:
        """Kept generations, newest first (regular files only; links are never listed)."""
        folder = self._backup_folder()
        if folder is None:
            return []
        with folder:
            names = folder.regular_files()
        found: list[tuple[int, Path]] = []
        prefix = self.path.name + "."
        for name in names:
            suffix = name[len(prefix) :]
            if name.startswith(prefix) and suffix.isdigit():
                found.append((int(suffix), self.backup_dir / name))
        return sorted(found, reverse=True)

    def keep_backup(self, generation: int) -> None:
        folder = self.folder_fd()
        try:
            info = os.stat(self.path.name, dir_fd=folder, follow_symlinks=False)
        except FileNotFoundError:
            return
        if not stat.S_ISREG(info.st_mode):
            return
        backups = self._backup_folder(create=True)
        assert backups is not None  # create=True makes it or raises
        with backups:
            target = self.backup_path(generation).name
            backups.unlink(target)
            try:
                # A hard link: no copy, and it is the old inode.
                os.link(self.path.name, target, src_dir_fd=folder, dst_dir_fd=backups.fd,
                        follow_symlinks=False)  # fmt: skip
            except OSError:
                backups.create_file(target, self.read())

    def prune_backups(self, keep: int) -> None:
        surplus = self.backups()[keep:]
        if surplus:
            self._remove(path for _generation, path in surplus)

    def remove_backups(self) -> int:
        """Delete every kept generation (after `rekey`); returns how many."""
        return self._remove(path for _generation, path in self.backups())

    def _remove(self, paths: Iterable[Path]) -> int:
        folder = self._backup_folder()
        if folder is None:
            return 0
        removed = 0
        with folder:
            for path in paths:
                with contextlib.suppress(OSError):
                    removed += folder.unlink(path.name)
        return removed

    # -- rollback anchor -----------------------------------------------------------

    def read_anchor(self) -> tuple[bytes, int] | None:
        """The (vault id, generation) last committed at this path, if recorded."""
        try:
            folder = self.sidecar_dir()
            raw_bytes = folder.read_file(_ANCHOR) if folder is not None else None
        except OSError:
            return None
        if raw_bytes is None:
            return None
        try:
            raw = json.loads(raw_bytes)
            return bytes.fromhex(raw["vault_id"]), int(raw["generation"])
        except (ValueError, KeyError, TypeError, OverflowError):
            return None

    def write_anchor(self, vault_id: bytes, generation: int) -> None:
        """Record the newest generation; best effort, never fails a commit over I/O."""
        payload = json.dumps({"vault_id": vault_id.hex(), "generation": generation}).encode()
        with contextlib.suppress(OSError):
            folder = self.sidecar_dir(create=True)
            assert folder is not None  # create=True makes it or raises
            folder.create_file(_ANCHOR + ".tmp", payload)
            os.replace(_ANCHOR + ".tmp", _ANCHOR, src_dir_fd=folder.fd, dst_dir_fd=folder.fd)


def read_regular_file(path: Path, *, missing: Exception) -> bytes:
    """Read a whole regular file without following a symlink at `path`."""
    try:
        # O_NONBLOCK: a FIFO planted at the path must not hang the open before fstat.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC)
    except FileNotFoundError:
        raise missing from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(
                f"refusing to open {path}: it is a symbolic link",
                hint="credctl does not follow links here; point --vault at the file itself",
            ) from None
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
