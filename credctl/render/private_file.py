"""Writing a rendered file that holds secrets: atomically, mode 0600, never through a link.

The same steps as the vault's own writes (`credctl.vault.file`): a temporary
file in the target's folder, created with O_EXCL and O_NOFOLLOW and mode 0600,
written and fsynced, then renamed over the target, and the folder fsynced.  A
reader sees the old file or the new one, never half of one; a replaced file
takes mode 0600 whatever its old mode was.  A symbolic link at the target is
refused rather than followed or replaced: it usually points somewhere the user
did not mean to put secrets.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path
from typing import Final

from credctl.errors import InvalidInput
from credctl.types.names import shown
from credctl.vault.file import fsync_dir

PRIVATE_MODE: Final = 0o600
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def check_output_path(path: Path) -> None:
    """`InvalidInput` (exit 9) unless `path` is a regular file or a new name in a folder."""
    named = shown(str(path), 80)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise InvalidInput(
                f"cannot write {named}: the folder {shown(str(path.parent), 80)} does not exist"
            ) from None
        return
    except OSError as exc:
        raise InvalidInput(f"cannot write {named}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InvalidInput(
            f"refusing to write {named}: it is a symbolic link",
            hint="give the path the link points to, or remove the link first",
        )
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(
            f"refusing to write {named}: it is not a regular file",
            hint="use -o - (or no -o) to write to stdout",
        )


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically; the file ends up with mode 0600."""
    path = Path(os.path.abspath(path))
    check_output_path(path)
    temporary, fd = _create_temporary(path)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # exactly 0600, whatever the umask
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        # rename(2) replaces a link planted since the check instead of following it.
        os.replace(temporary, path)
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise InvalidInput(
                f"cannot write {shown(str(path), 80)}: {exc.strerror or type(exc).__name__}"
            ) from None
        raise
    with contextlib.suppress(OSError):  # the file is in place; durability is best effort here
        fsync_dir(path.parent)


def _create_temporary(path: Path) -> tuple[Path, int]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
    for _attempt in range(16):
        temporary = path.with_name(f".{path.name[:200]}.{secrets.token_hex(6)}.tmp")
        try:
            return temporary, os.open(temporary, flags, PRIVATE_MODE)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InvalidInput(
                f"cannot write in {shown(str(path.parent), 80)}: {exc.strerror}"
            ) from None
    raise InvalidInput(f"cannot create a temporary file in {shown(str(path.parent), 80)}")
