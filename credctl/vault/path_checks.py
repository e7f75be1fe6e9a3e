"""What makes a file or folder beside the vault safe to use (SPEC §14), and its fixes.

Pure checks on ``stat`` results, so that `credctl.vault.sidecar` (which acts on
them) and `credctl doctor` (which only reports them) say the same thing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from credctl.errors import StorageError, UnsafePathError

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
MOVE_HINT = "keep the vault in a folder only you can write to (--vault PATH or CREDCTL_VAULT)"


def quoted(path: Path | str) -> str:
    import shlex  # only on the way to an error message

    return shlex.quote(str(path))


def describe_kind(mode: int) -> str:
    """`a symbolic link`, `a FIFO`, …: what a file type is, for messages."""
    kinds = (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((name for test, name in kinds if test(mode)), "a special file")


def folder_problem(info: os.stat_result, path: Path | str) -> UnsafePathError | None:
    """Why someone else could change the vault's folder, or None when nobody can."""
    if info.st_uid not in (os.geteuid(), 0):
        return UnsafePathError(
            f"the vault's folder {path} belongs to another user (uid {info.st_uid})",
            hint=MOVE_HINT,
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022 and not (mode & stat.S_ISVTX and info.st_uid == 0):
        who = "every user" if mode & 0o002 else "its group"
        return UnsafePathError(
            f"the vault's folder {path} can be written by {who} (mode {mode:04o}), who could "
            "replace the files beside the vault",
            hint=f"run `chmod go-w {quoted(path)}`, or {MOVE_HINT}",
        )
    return None


def private_problem(
    info: os.stat_result, path: Path | str, *, folder: bool
) -> UnsafePathError | None:
    """Why `info` is not the user's own private folder (or regular file), or None."""
    wanted = "a folder" if folder else "a regular file"
    is_right_type = stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)
    if not is_right_type:
        kind = describe_kind(info.st_mode)
        fix = "rm -r" if stat.S_ISDIR(info.st_mode) else "rm"
        return UnsafePathError(
            f"refusing to use {path}: it is {kind}, not {wanted}, and credctl does not "
            "follow links or open special files beside the vault",
            hint=f"remove it (`{fix} {quoted(path)}`; credctl recreates what it needs)",
        )
    if info.st_uid != os.geteuid():
        return UnsafePathError(
            f"refusing to use {path}: it belongs to another user (uid {info.st_uid})",
            hint=f"have its owner or root remove it, or {MOVE_HINT}",
        )
    mode = stat.S_IMODE(info.st_mode)
    if folder and mode & 0o077:
        return UnsafePathError(
            f"refusing to use {path}: mode {mode:04o} lets other users in; it must be 0700",
            hint=f"run `chmod 700 {quoted(path)}`",
        )
    return None


def make_private_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each 0700 whatever the umask."""
    missing: list[Path] = []
    current = path
    while not os.path.isdir(current) and current.parent != current:
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another process (or not a folder: opening says so)
        except OSError as exc:
            raise StorageError(f"cannot create folder {folder}: {exc.strerror}") from None
        fd = os.open(folder, DIR_FLAGS)
        try:
            os.fchmod(fd, PRIVATE_DIR_MODE)  # mkdir's mode is filtered through the umask
        finally:
            os.close(fd)


def refusal(
    name: str, path: Path, dir_fd: int | None, exc: OSError, *, folder: bool
) -> UnsafePathError | StorageError:
    """Turn a failed open into the reason: a link, a special file, another user's, or I/O."""
    try:
        info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        info = None
    problem = private_problem(info, path, folder=folder) if info is not None else None
    return problem or StorageError(f"cannot open {path}: {exc.strerror}")
