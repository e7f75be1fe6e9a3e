"""The vault's health, as `credctl doctor` reports it (no I/O beyond reading)."""

from __future__ import annotations

import enum
import fcntl
import os
import stat
from dataclasses import dataclass, field

from credctl.errors import CredentialError, VaultLockedError
from credctl.vault import sessions
from credctl.vault.crypto import KdfParams
from credctl.vault.format import FORMAT_VERSION, SlotType
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
    """Check the vault file, its folder, keys, backups, lock and keyring."""
    report = HealthReport()
    files = vault.file
    if not vault.exists():
        report.add(
            "vault", Level.UNHEALTHY, f"no vault at {vault.path} (create one: credctl init)"
        )
        return report
    try:
        parsed = vault.read_parsed()
    except CredentialError as exc:
        report.add("vault", Level.UNHEALTHY, str(exc))
        return report
    header = parsed.header
    report.add("format", Level.OK, f"format version {header.version} (current {FORMAT_VERSION}), "
               f"generation {header.generation}")  # fmt: skip
    _mode_check(report, "permissions", str(vault.path), 0o600)
    _mode_check(report, "folder", str(vault.path.parent), 0o755)
    if os.lstat(vault.path.parent).st_mode & stat.S_IWOTH:
        report.add("folder", Level.DEGRADED, f"{vault.path.parent} is writable by everyone")
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
    backups = files.backups()
    report.add(
        "backups", Level.OK, f"{len(backups)} previous generation(s) kept in {files.backup_dir}"
    )
    report.add("sessions", Level.OK, f"{sessions.count_live(files)} live session(s)")
    report.add("lock", Level.OK, _lock_state(files.lock_path))
    if os.path.lexists(files.tmp_path):
        report.add("temporary", Level.OK, f"{files.tmp_path} left by an interrupted write; "
                   "the next write removes it")  # fmt: skip
    report.add("keyring", *_keyring_state(files.keyring_marker.exists()))
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


def _lock_state(path: object) -> str:
    try:
        fd = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW)
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
