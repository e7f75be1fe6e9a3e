"""The vault's folder and its companion folder ``VAULT.d``, used only once checked.

SPEC §14.  Whoever can write the folder that holds the vault, or anything in
``VAULT.d``, could make credctl follow a planted link (and delete or overwrite
what it points at), hang on a FIFO, or make every write fail.  Hence:

* the vault's folder must belong to the user (or root) and be writable by no one
  else, unless it is a sticky folder owned by root (``/tmp``), where others may
  add names but cannot rename or remove the user's;
* ``VAULT.d`` and its subfolders must be real folders (not links) of the user
  with mode 0700, and the files credctl uses there regular files of the user;
* every name in ``VAULT.d`` is resolved relative to a descriptor opened with
  ``O_DIRECTORY|O_NOFOLLOW`` and checked with ``fstat``, so a name swapped after
  a check is never followed either.  Files are opened with ``O_NOFOLLOW`` and
  ``O_NONBLOCK`` (a FIFO cannot hang the open), read only when regular and small,
  and only regular files are ever deleted.

A failed check raises `UnsafePathError` (exit 6) naming the path and the fix.
Files of the user that are merely too open are tightened to 0600 on use, not
refused: inside a 0700 folder nobody else can reach them anyway.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from credctl.errors import StorageError, UnsafePathError
from credctl.vault.path_checks import (
    DIR_FLAGS,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    folder_problem,
    make_private_dirs,
    private_problem,
    quoted,
    refusal,
)

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC
_TOUCH_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC
# The files credctl keeps in VAULT.d (anchor, sessions, marker) are a few hundred
# bytes; anything far larger was put there by someone else.
SMALL_FILE_LIMIT = 64 * 1024


def _read_all(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class PrivateDir:
    """An open folder that passed `private_problem`; names in it resolve relative to it.

    Close it (or use it as a context manager) unless it came from `CompanionDir`,
    which keeps its handle for the life of the vault object.
    """

    def __init__(self, fd: int, path: Path, info: os.stat_result) -> None:
        self.fd = fd
        self.path = path
        self.identity = (info.st_dev, info.st_ino)

    @classmethod
    def open(
        cls, name: str, path: Path, *, dir_fd: int | None, create: bool = False
    ) -> PrivateDir | None:
        """Open and check folder `name` (relative to `dir_fd`); None if absent and not `create`."""
        created = False
        for _attempt in range(3):
            try:
                fd = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                break
            except FileNotFoundError:
                if not create:
                    return None
                try:
                    os.mkdir(name, PRIVATE_DIR_MODE, dir_fd=dir_fd)
                    created = True
                except FileExistsError:
                    pass  # made meanwhile by another process: open and check it
                except OSError as exc:
                    raise StorageError(f"cannot create folder {path}: {exc.strerror}") from None
            except OSError as exc:
                raise refusal(name, path, dir_fd, exc, folder=True) from None
        else:
            raise StorageError(f"cannot open folder {path}: it keeps disappearing")
        try:
            info = os.fstat(fd)
            if created and info.st_uid == os.geteuid():
                os.fchmod(fd, PRIVATE_DIR_MODE)  # mkdir's mode is filtered through the umask
                info = os.fstat(fd)
            problem = private_problem(info, path, folder=True)
            if problem is not None:
                raise problem
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path, info)

    def close(self) -> None:
        """Release the descriptor."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> PrivateDir:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.close()

    def subdir(self, name: str, *, create: bool = False) -> PrivateDir | None:
        """A checked subfolder (the caller closes it); None if absent and not `create`."""
        return PrivateDir.open(name, self.path / name, dir_fd=self.fd, create=create)

    def lstat(self, name: str) -> os.stat_result | None:
        """What is at `name`, without following a link; None if nothing."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check_file(self, name: str) -> bool:
        """Whether `name` exists; refuses anything there but a regular file of the user."""
        info = self.lstat(name)
        if info is None:
            return False
        problem = private_problem(info, self.path / name, folder=False)
        if problem is not None:
            raise problem
        return True

    def _checked(self, fd: int, name: str) -> os.stat_result:
        info = os.fstat(fd)
        problem = private_problem(info, self.path / name, folder=False)
        if problem is not None:
            raise problem
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the user's own file, too open: files here are 0600
        return info

    def _open(self, name: str, flags: int) -> int:
        try:
            return os.open(name, flags, PRIVATE_FILE_MODE, dir_fd=self.fd)
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError as exc:
            raise refusal(name, self.path / name, self.fd, exc, folder=False) from None

    def open_regular(self, name: str) -> int | None:
        """A read descriptor of regular file `name` (the caller closes it), None if absent."""
        try:
            fd = self._open(name, _READ_FLAGS)
        except FileNotFoundError:
            return None
        try:
            self._checked(fd, name)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read_file(self, name: str, *, limit: int = SMALL_FILE_LIMIT) -> bytes | None:
        """The whole of regular file `name`, None if absent; refuses links, FIFOs, huge files."""
        fd = self.open_regular(name)
        if fd is None:
            return None
        try:
            data = _read_all(fd, limit)
        finally:
            os.close(fd)
        if len(data) > limit:
            raise UnsafePathError(
                f"refusing to read {self.path / name}: it is larger than anything "
                f"credctl writes there ({limit} bytes at most)",
                hint=f"remove it (`rm {quoted(self.path / name)}`)",
            )
        return data

    def create_file(self, name: str, data: bytes, *, fsync: bool = False) -> None:
        """Write new file `name` (0600, O_EXCL), replacing a regular file of ours left there."""
        for attempt in range(2):
            try:
                fd = self._open(name, _CREATE_FLAGS)
                break
            except FileExistsError:
                if attempt:
                    raise StorageError(f"cannot create {self.path / name}") from None
                # Left by a process that died: ours to remove, unless it is a link,
                # a special file or another user's (check_file refuses those).
                self.check_file(name)
                self.unlink(name)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def write_file_atomic(self, name: str, data: bytes, *, fsync: bool = False) -> None:
        """Replace `name` with `data` through ``name.tmp`` and a rename in this folder."""
        temporary = name + ".tmp"
        self.create_file(temporary, data, fsync=fsync)
        try:
            self.rename(temporary, name)
        except BaseException:
            self.unlink(temporary)
            raise

    def rename(self, source: str, target: str) -> None:
        """Rename within this folder (a link at `target` is replaced, never followed)."""
        os.replace(source, target, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def touch(self, name: str) -> None:
        """Make sure regular file `name` exists (an empty marker)."""
        fd = self._open(name, _TOUCH_FLAGS)
        try:
            self._checked(fd, name)
        finally:
            os.close(fd)

    def append(self, name: str, data: bytes) -> None:
        """Append `data` with one write (O_APPEND) to regular file `name`, creating it 0600."""
        fd = self._open(name, _APPEND_FLAGS)
        try:
            self._checked(fd, name)
            os.write(fd, data)
        finally:
            os.close(fd)

    def unlink(self, name: str) -> bool:
        """Remove `name` if it is a regular file of the user; anything else is left alone.

        If the name is swapped for a link between the check and the removal, the
        link itself is what goes: nothing outside this folder is ever touched.
        """
        info = self.lstat(name)
        if info is None or not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
            return False
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def regular_files(self) -> list[str]:
        """Names of the user's regular files here; links, folders and special files are skipped."""
        uid = os.geteuid()
        with os.scandir(self.fd) as entries:
            return [
                entry.name
                for entry in entries
                if entry.is_file(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == uid
            ]

    def entries(self) -> list[tuple[str, os.stat_result]]:
        """Every name here with what `lstat` says about it (for `doctor`)."""
        with os.scandir(self.fd) as entries:
            return sorted((entry.name, entry.stat(follow_symlinks=False)) for entry in entries)


class VaultFolder:
    """The folder that holds the vault: checked on every use, opened once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._identity = (0, 0)

    def fd(self, *, create: bool = False) -> int:
        """A descriptor of the checked folder; FileNotFoundError when it is missing.

        One ``stat`` per call re-checks owner and mode (and notices a folder put in
        place of the one opened before); the folder itself is opened once.
        """
        try:
            info = os.stat(self.path)  # links in the user's own path are the user's choice
        except FileNotFoundError:
            if not create:
                raise
            make_private_dirs(self.path)
            info = os.stat(self.path)
        except OSError as exc:
            raise StorageError(f"cannot use folder {self.path}: {exc.strerror}") from None
        problem = folder_problem(info, self.path)
        if problem is not None:
            raise problem
        if self._fd < 0 or (info.st_dev, info.st_ino) != self._identity:
            self.close()
            try:
                fd = os.open(self.path, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
            except OSError as exc:
                raise StorageError(f"cannot open folder {self.path}: {exc.strerror}") from None
            opened = os.fstat(fd)
            problem = folder_problem(opened, self.path)
            if problem is not None:
                os.close(fd)
                raise problem
            self._fd, self._identity = fd, (opened.st_dev, opened.st_ino)
        return self._fd

    def close(self) -> None:
        """Release the descriptor."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.close()


class CompanionDir:
    """``VAULT.d`` of one vault, opened relative to its checked folder and kept open.

    Each use costs one ``stat`` of the vault's folder and one ``lstat`` of
    ``VAULT.d`` (re-checking owner, type and mode, and noticing a replaced
    folder); the descriptors are opened once per object.
    """

    def __init__(self, path: Path, folder: VaultFolder | None = None) -> None:
        self.path = path
        self.folder = folder or VaultFolder(path.parent)
        self._dir: PrivateDir | None = None

    def get(self, *, create: bool = False) -> PrivateDir | None:
        """The checked folder, or None when it (or the vault's folder) does not exist."""
        try:
            parent = self.folder.fd(create=create)
        except FileNotFoundError:
            return None
        cached = self._dir
        if cached is not None:
            try:
                info = os.stat(self.path.name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None and (info.st_dev, info.st_ino) == cached.identity:
                problem = private_problem(info, self.path, folder=True)
                if problem is not None:
                    raise problem
                return cached
            cached.close()
            self._dir = None
        self._dir = PrivateDir.open(self.path.name, self.path, dir_fd=parent, create=create)
        return self._dir

    def subdir(self, name: str, *, create: bool = False) -> PrivateDir | None:
        """A checked subfolder of ``VAULT.d`` (the caller closes it), or None."""
        folder = self.get(create=create)
        return folder.subdir(name, create=create) if folder is not None else None
