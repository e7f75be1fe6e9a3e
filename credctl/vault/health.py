"""The vault's health, as `credctl doctor` reports it (no I/O beyond reading)."""

from __future__ import annotations

import enum
import fcntl
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from credctl.errors import CredentialError, UnsafePathError, VaultLockedError
from credctl.vault import sessions
from credctl.vault.crypto import KdfParams
from credctl.vault.file import VaultFile
from credctl.vault.format import FORMAT_VERSION, SlotType
from credctl.vault.path_checks import DIR_FLAGS, describe_kind, folder_problem, private_problem
from credctl.vault.store import Unlocker, Vault

RECOMMENDED = KdfParams()
# RFC 9106's second recommended option; below it the KDF is only "acceptable".
STRONG_MEMORY_KIB = 64 * 1024


class Level(enum.IntEnum):
    """How bad a finding is; the worst finding is the vault's status."""

    OK = 0
    DEGRADED = 1
    UNHEALTHY = 2


@dataclass
class Check:
    """One line of the report."""

    name: str
    level: Level
    detail: str


@dataclass
class HealthReport:
    """Every check and the overall status (0 healthy, 1 degraded, 2 unhealthy)."""

    checks: list[Check] = field(default_factory=list)

    @property
    def status(self) -> Level:
        """The worst level found."""
        return max((c.level for c in self.checks), default=Level.OK)

    def add(self, name: str, level: Level, detail: str) -> None:
        """Record a finding."""
        self.checks.append(Check(name, level, detail))


def _mode_check(report: HealthReport, name: str, path: str, allowed: int) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    mode = stat.S_IMODE(info.st_mode)
    if mode & ~allowed:
        report.add(name, Level.DEGRADED,
                   f"{path} has mode {mode:04o}; expected {allowed:04o} or stricter "
                   f"(chmod {allowed:o} {path})")  # fmt: skip
    else:
        report.add(name, Level.OK, f"{path} mode {mode:04o}")


def examine(vault: Vault, unlocker: Unlocker | None) -> HealthReport:
    """Check the vault file, its folders (SPEC §14), keys, backups, lock and keyring."""
    report = HealthReport()
    files = vault.file
    if not vault.exists():
        report.add(
            "vault", Level.UNHEALTHY, f"no vault at {vault.path} (create one: credctl init)"
        )
        return report
    _folder_check(report, files)
    _sidecar_checks(report, files)
    _lock_check(report, files)
    _temporary_check(report, files)
    try:
        parsed = vault.read_parsed()
    except UnsafePathError as exc:
        if report.status is not Level.UNHEALTHY:  # else a check above already named it
            report.add("vault", Level.UNHEALTHY, _explained(exc))
        return report
    except CredentialError as exc:
        report.add("vault", Level.UNHEALTHY, str(exc))
        return report
    header = parsed.header
    report.add("format", Level.OK, f"format version {header.version} (current {FORMAT_VERSION}), "
               f"generation {header.generation}")  # fmt: skip
    if _checked_out_read_only(vault.path):
        mode = stat.S_IMODE(os.lstat(vault.path).st_mode)
        report.add("permissions", Level.OK,
                   f"{vault.path} mode {mode:04o}: a file checked out of git, whose copy in "
                   "the repository others may read anyway; the vault is encrypted, and no "
                   "one but you can write it")  # fmt: skip
    else:
        _mode_check(report, "permissions", str(vault.path), 0o600)
    for slot in header.slots:
        if slot.slot_type is SlotType.PASSPHRASE and slot.kdf is not None:
            kdf = slot.kdf
            text = (f"slot {slot.slot_id}: Argon2id m={kdf.memory_kib // 1024} MiB "
                    f"t={kdf.time_cost} p={kdf.parallelism}")  # fmt: skip
            if kdf.memory_kib < STRONG_MEMORY_KIB:
                text += " (weaker than recommended; raise with `credctl passwd --kdf-memory 256`)"
            report.add("kdf", Level.OK, text)
    ci_keys = sum(1 for s in header.slots if s.slot_type is SlotType.CI_KEY)
    report.add("keys", Level.OK, f"{len(header.slots)} key slot(s), {ci_keys} CI key(s)")
    try:
        backups = files.backups()
        kept = f"{len(backups)} previous generation(s) kept in {files.backup_dir}"
        report.add("backups", Level.OK, kept)
        report.add("sessions", Level.OK, f"{sessions.count_live(files)} live session(s)")
        remembered = files.has_keyring_marker()
    except CredentialError as exc:
        report.add("sidecar", Level.UNHEALTHY, _explained(exc))
        return report
    report.add("keyring", *_keyring_state(remembered))
    if unlocker is not None:
        try:
            opened = vault.open(unlocker)
            opened.body.validate()
            report.add("contents", Level.OK,
                       f"decrypted and authenticated with {opened.source}; "
                       f"{len(opened.body)} record(s)")  # fmt: skip
        except VaultLockedError:
            report.add("contents", Level.OK, "not checked: the vault is locked")
        except CredentialError as exc:
            level = Level.DEGRADED if exc.exit_code == 5 else Level.UNHEALTHY
            report.add("contents", level, str(exc))
    return report


def _checked_out_read_only(path: Path) -> bool:
    """True for a vault inside a git work tree that only its owner may write (git's 0644).

    git checks files out with the umask (usually 0644), and the vault then sits
    in the repository's history anyway: being readable by others is not news
    there, while being writable by others still is.
    """
    try:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return False
    if mode & 0o022:
        return False
    folder = path.absolute().parent
    return any(os.path.lexists(candidate / ".git") for candidate in (folder, *folder.parents))


def _explained(exc: CredentialError) -> str:
    return f"{exc}; fix: {exc.hint}" if exc.hint else str(exc)


def _folder_check(report: HealthReport, files: VaultFile) -> None:
    folder = files.path.parent
    try:
        info = os.stat(folder)
    except OSError as exc:
        report.add("folder", Level.UNHEALTHY, f"cannot inspect {folder}: {exc.strerror}")
        return
    problem = folder_problem(info, folder)
    if problem is not None:
        report.add("folder", Level.UNHEALTHY, f"credctl refuses this vault: {_explained(problem)}")
    elif info.st_mode & stat.S_ISVTX and stat.S_IMODE(info.st_mode) & 0o022:
        report.add("folder", Level.OK, f"{folder} is shared but sticky and owned by root")
    else:
        report.add("folder", Level.OK, f"{folder} can be written by its owner only")


# Names in VAULT.d that credctl reads or writes: anything wrong there is refused.
_SIDECAR_FILES = {"anchor", "anchor.tmp", "keyring", "usage.jsonl"}
_SIDECAR_FOLDERS = {"backups", "sessions"}


def _sidecar_checks(report: HealthReport, files: VaultFile) -> None:
    """VAULT.d, its subfolders and every entry in them, without following anything."""
    try:
        info = os.lstat(files.sidecar)
    except FileNotFoundError:
        report.add("sidecar", Level.OK, f"{files.sidecar} not created yet")
        return
    except OSError as exc:
        report.add("sidecar", Level.UNHEALTHY, f"cannot inspect {files.sidecar}: {exc.strerror}")
        return
    problem = private_problem(info, files.sidecar, folder=True)
    if problem is not None:
        report.add(
            "sidecar", Level.UNHEALTHY, f"credctl refuses this vault: {_explained(problem)}"
        )
    else:
        report.add("sidecar", Level.OK, f"{files.sidecar} is a private folder")
    if stat.S_ISDIR(info.st_mode):
        _entry_checks(report, files.sidecar, top=True)


def _entry_checks(report: HealthReport, folder: Path, *, top: bool) -> None:
    """Each entry: what credctl uses there is refused when wrong, anything else skipped."""
    try:
        fd = os.open(folder, DIR_FLAGS)
    except OSError as exc:
        report.add("sidecar", Level.UNHEALTHY, f"cannot inspect {folder}: {exc.strerror}")
        return
    try:
        with os.scandir(fd) as listing:
            entries = sorted((e.name, e.stat(follow_symlinks=False)) for e in listing)
    finally:
        os.close(fd)
    for name, info in entries:
        path = folder / name
        used = top and name in _SIDECAR_FILES | _SIDECAR_FOLDERS
        wants_folder = name in _SIDECAR_FOLDERS if used else stat.S_ISDIR(info.st_mode)
        problem = private_problem(info, path, folder=wants_folder)
        if problem is not None:
            if used:
                report.add("sidecar", Level.UNHEALTHY,
                           f"refused: {_explained(problem)}")  # fmt: skip
            else:
                report.add("sidecar", Level.DEGRADED,
                           f"skipped: {_explained(problem)}")  # fmt: skip
        elif wants_folder:
            if used:
                report.add("sidecar", Level.OK, f"{path} is a private folder")
                _entry_checks(report, path, top=False)
        elif stat.S_IMODE(info.st_mode) & 0o077:
            report.add("sidecar", Level.DEGRADED,
                       f"{path} has mode {stat.S_IMODE(info.st_mode):04o}; credctl makes it 0600 "
                       f"when it next uses it (or run `chmod 600 {path}`)")  # fmt: skip


def _lock_check(report: HealthReport, files: VaultFile) -> None:
    try:
        info = os.lstat(files.lock_path)
    except FileNotFoundError:
        report.add("lock", Level.OK, "not locked")
        return
    except OSError as exc:
        report.add("lock", Level.UNHEALTHY, f"cannot inspect {files.lock_path}: {exc.strerror}")
        return
    problem = private_problem(info, files.lock_path, folder=False)
    if problem is not None:
        report.add("lock", Level.UNHEALTHY, f"writes are refused: {_explained(problem)}")
    else:
        report.add("lock", Level.OK, _lock_state(files.lock_path))


def _temporary_check(report: HealthReport, files: VaultFile) -> None:
    try:
        info = os.lstat(files.tmp_path)
    except OSError:
        return
    if info.st_uid != os.geteuid():
        report.add("temporary", Level.DEGRADED,
                   f"{files.tmp_path} belongs to another user (uid {info.st_uid}); credctl "
                   "leaves it alone and writes beside it; keep the vault in a folder only you "
                   "can write to")  # fmt: skip
    elif not stat.S_ISREG(info.st_mode):
        report.add("temporary", Level.UNHEALTHY,
                   f"writes are refused: {files.tmp_path} is {describe_kind(info.st_mode)}; "
                   "remove it")  # fmt: skip
    else:
        report.add("temporary", Level.OK, f"{files.tmp_path} left by an interrupted write; "
                   "the next write removes it")  # fmt: skip


def _lock_state(path: object) -> str:
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return "not locked"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return "a write is in progress in another process"
    finally:
        os.close(fd)
    return "not locked"


def _keyring_state(remembered: bool) -> tuple[Level, str]:
    reason = ""
    usable = False
    name = ""
    try:
        import keyring
        from keyring.backends import fail

        backend = keyring.get_keyring()
        usable = not isinstance(backend, fail.Keyring)
        name = type(backend).__name__
    except Exception as exc:  # noqa: BLE001 - any failure means "unavailable"
        reason = type(exc).__name__
    if not usable:
        detail = "no OS keyring backend (sessions and CI keys still work)"
        if reason:
            detail += f" ({reason})"
        if remembered:
            return Level.DEGRADED, detail + "; `unlock --remember` was used but cannot be read"
        return Level.OK, detail
    return Level.OK, f"backend {name}" + ("; unlock remembered" if remembered else "")
