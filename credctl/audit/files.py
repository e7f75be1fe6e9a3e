"""The trail's files in ``VAULT.d/audit/``: the lock, the current segment, archived ones.

All file I/O of the audit trail is here, so that the checked directory handles
of ``VAULT.d`` (SPEC §14) replace it in one place.  Every name is opened
relative to a descriptor of the folder, opened with ``O_DIRECTORY|O_NOFOLLOW``
and checked to be the user's own; files are opened with ``O_NOFOLLOW`` and must
be regular files of the user.

An append is a few system calls: open the lock file, ``flock`` it, open the
current segment with ``O_APPEND``, read its last few KiB to find the tail,
one ``write``, one ``fsync``.  Standard library only (``get-token`` appends).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from credctl.errors import AuditUnavailableError, VaultBusyError, VaultCorruptError

LOCK = "lock"
CURRENT = "current.log"
_ARCHIVED_PREFIX = "segment-"
_ARCHIVED_SUFFIX = ".log"
#: A segment is archived once it holds this many bytes (`CREDCTL_AUDIT_SEGMENT_BYTES`).
SEGMENT_BYTES = 8 << 20
#: How much of a segment's end is read to find its last line; a line is far shorter.
TAIL_CHUNK = 8192
LOCK_TIMEOUT = 10.0

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
_FILE_FLAGS = _O_NOFOLLOW | _O_CLOEXEC | os.O_NONBLOCK


def archived_name(first_seq: int) -> str:
    """The name of an archived segment whose first entry is `first_seq`."""
    return f"{_ARCHIVED_PREFIX}{first_seq:012d}{_ARCHIVED_SUFFIX}"


def archived_first_seq(name: str) -> int | None:
    """The first seq an archived segment's name gives, or None for other names."""
    if not (name.startswith(_ARCHIVED_PREFIX) and name.endswith(_ARCHIVED_SUFFIX)):
        return None
    digits = name[len(_ARCHIVED_PREFIX) : -len(_ARCHIVED_SUFFIX)]
    return int(digits) if len(digits) == 12 and digits.isdigit() else None


def segment_limit() -> int:
    """The size at which the current segment is archived."""
    value = os.environ.get("CREDCTL_AUDIT_SEGMENT_BYTES", "")
    return max(1024, int(value)) if value.isdigit() else SEGMENT_BYTES


def _unavailable(path: Path, exc: OSError) -> AuditUnavailableError:
    return AuditUnavailableError(
        f"cannot write the audit trail {path}: {exc.strerror or type(exc).__name__}; "
        "nothing was handed out",
        hint="credctl refuses to act without an audit entry (fail closed): free disk space "
        "or fix the folder's permissions, then retry",
    )


def _check(fd: int, path: Path, *, folder: bool) -> os.stat_result:
    info = os.fstat(fd)
    right_type = stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)
    if not right_type:
        raise VaultCorruptError(
            f"refusing to use {path}: it is not a {'folder' if folder else 'regular file'}",
            hint=f"remove it; credctl recreates {'the folder' if folder else 'what it needs'}",
        )
    if info.st_uid != os.geteuid():
        raise VaultCorruptError(
            f"refusing to use {path}: it belongs to another user (uid {info.st_uid})"
        )
    return info


class TrailFiles:
    """``VAULT.d/audit`` of one vault."""

    def __init__(self, folder: Path) -> None:
        self.path = folder

    # -- folders -------------------------------------------------------------------

    def _open_dir(self, path: Path, *, create: bool, dir_fd: int | None = None) -> int | None:
        name = path.name if dir_fd is not None else str(path)
        for _attempt in range(3):
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                break
            except FileNotFoundError:
                if not create:
                    return None
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise VaultCorruptError(
                        f"refusing to use {path}: it is a symbolic link or not a folder",
                        hint="remove it; credctl recreates the folder",
                    ) from None
                raise _unavailable(path, exc) from None
        else:
            raise AuditUnavailableError(f"cannot create the folder {path}")
        try:
            _check(fd, path, folder=True)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_folder(self, *, create: bool) -> int | None:
        """A descriptor of ``VAULT.d/audit`` (None when absent and not `create`)."""
        try:
            sidecar = self._open_dir(self.path.parent, create=create)
        except OSError as exc:  # pragma: no cover - _open_dir converts its own errors
            raise _unavailable(self.path.parent, exc) from None
        if sidecar is None:
            return None
        try:
            return self._open_dir(self.path, create=create, dir_fd=sidecar)
        finally:
            os.close(sidecar)

    # -- locking -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, shared: bool = False, create: bool = True) -> Iterator[int | None]:
        """Hold the trail's lock; yields the folder's descriptor (None: no trail yet)."""
        folder = self.open_folder(create=create)
        if folder is None:
            yield None
            return
        try:
            try:
                lock = os.open(LOCK, os.O_RDWR | os.O_CREAT | _FILE_FLAGS, 0o600, dir_fd=folder)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise VaultCorruptError(
                        f"refusing to use {self.path / LOCK}: it is a symbolic link"
                    ) from None
                if shared and exc.errno in (errno.EROFS, errno.EACCES):
                    yield folder  # a read-only trail can still be read
                    return
                raise _unavailable(self.path / LOCK, exc) from None
            try:
                _check(lock, self.path / LOCK, folder=False)
                _flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX, self.path / LOCK)
                yield folder
            finally:
                os.close(lock)
        finally:
            os.close(folder)

    # -- reading ---------------------------------------------------------------------

    def segments(self, folder: int) -> list[str]:
        """Names of the segments, oldest first (archived ones, then the current one)."""
        names = os.listdir(folder)
        archived = sorted(
            (seq, name) for name in names if (seq := archived_first_seq(name)) is not None
        )
        ordered = [name for _seq, name in archived]
        if CURRENT in names:
            ordered.append(CURRENT)
        return ordered

    def read(self, folder: int, name: str) -> bytes:
        """The whole of one segment."""
        fd = self._open_file(folder, name, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def _open_file(self, folder: int, name: str, flags: int) -> int:
        try:
            fd = os.open(name, flags | _FILE_FLAGS, 0o600, dir_fd=folder)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise VaultCorruptError(
                    f"refusing to use {self.path / name}: it is a symbolic link",
                    hint="remove the link",
                ) from None
            raise _unavailable(self.path / name, exc) from None
        try:
            _check(fd, self.path / name, folder=False)
        except BaseException:
            os.close(fd)
            raise
        return fd

    # -- appending -------------------------------------------------------------------

    def open_current(self, folder: int) -> Segment:
        """The current segment, opened for appending (created if missing)."""
        fd = self._open_file(folder, CURRENT, os.O_RDWR | os.O_APPEND | os.O_CREAT)
        return Segment(fd, self.path / CURRENT)

    def tail_of(self, folder: int, name: str) -> bytes:
        """The last complete line of a segment (b"" if it has none)."""
        fd = self._open_file(folder, name, os.O_RDONLY)
        try:
            return Segment(fd, self.path / name).tail()[0]
        finally:
            os.close(fd)

    def first_line(self, folder: int, name: str) -> bytes:
        """The first line of a segment (b"" when empty)."""
        fd = self._open_file(folder, name, os.O_RDONLY)
        try:
            head = os.pread(fd, TAIL_CHUNK, 0)
        finally:
            os.close(fd)
        end = head.find(b"\n")
        return head[: end + 1] if end >= 0 else b""

    def archive_current(self, folder: int, first_seq: int) -> None:
        """Rename the current segment to its archived name (the next append starts a new one)."""
        try:
            os.rename(CURRENT, archived_name(first_seq), src_dir_fd=folder, dst_dir_fd=folder)
            os.fsync(folder)
        except OSError as exc:
            raise _unavailable(self.path / CURRENT, exc) from None

    def replace(self, folder: int, name: str, data: bytes) -> None:
        """Replace segment `name` with `data` (temporary file, fsync, rename)."""
        temporary = name + ".tmp"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary, dir_fd=folder)
        fd = self._open_file(folder, temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            _write_all(fd, data, self.path / temporary)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            os.fsync(folder)
        except OSError as exc:
            raise _unavailable(self.path / name, exc) from None

    def remove(self, folder: int, name: str) -> None:
        """Delete one segment (a regular file of the user only)."""
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
            os.unlink(name, dir_fd=folder)


class Segment:
    """An open segment: its tail, and appending to it."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def close(self) -> None:
        """Release the descriptor."""
        os.close(self.fd)

    def size(self) -> int:
        """Its length in bytes."""
        return os.fstat(self.fd).st_size

    def tail(self) -> tuple[bytes, int]:
        """The last complete line, and how many bytes follow it (a torn tail)."""
        size = self.size()
        chunk = TAIL_CHUNK
        while True:
            start = max(0, size - chunk)
            data = os.pread(self.fd, size - start, start)
            end = data.rfind(b"\n")
            if end < 0 and start > 0:
                chunk *= 4
                continue
            torn = len(data) - end - 1
            if end < 0:
                return b"", torn
            previous = data.rfind(b"\n", 0, end)
            if previous < 0 and start > 0:
                chunk *= 4
                continue
            return data[previous + 1 : end + 1], torn

    def cut(self, size: int) -> None:
        """Drop everything after the first `size` bytes (a torn tail)."""
        try:
            os.ftruncate(self.fd, size)
        except OSError as exc:
            raise _unavailable(self.path, exc) from None

    def append(self, data: bytes) -> None:
        """One write and one fsync; a short write is undone and reported (fail closed)."""
        before = self.size()
        try:
            written = os.write(self.fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "the disk is full (short write)")
            os.fsync(self.fd)
        except OSError as exc:
            # Undo what part of the line reached the file: a torn line left behind
            # would only be repaired by the next append.
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, before)
            raise _unavailable(self.path, exc) from None


def _write_all(fd: int, data: bytes, path: Path) -> None:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        raise _unavailable(path, exc) from None


def _flock(fd: int, operation: int, path: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT
    delay = 0.0005
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise VaultBusyError(
                    f"the audit trail is busy: another credctl process held {path} for more "
                    f"than {LOCK_TIMEOUT:g} s",
                    hint="retry",
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.005)
        else:
            return
