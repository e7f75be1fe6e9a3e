"""The settings types of the seed's `ManagerConfig`, and the one place that checks them.

Every field either does something or is refused with `InvalidInput` (exit 9) when the
manager is built (`CredentialManager(config)`, `with_config`, ``builder()…build()``) or
a setter is called: nothing is accepted and then ignored, and nothing fails late.
Durations are a `datetime.timedelta` or a number of seconds (the seed's
``Duration::from_secs(300)`` is ``300``); `checked_*` turns them into timedeltas.
docs/seed-000.md lists what each field does.

The seed spells enum members in CamelCase (``CacheStrategy::Lru``); credctl's members
are UPPER_CASE and the seed's spelling is the very same member (SPEC §13), declared
as a `ClassVar` in the class and assigned right after it.  (An alias written inside
the enum body, ``Lru = LRU``, is the same member at run time, but mypy takes it for a
second member, so ``x is CacheStrategy.Lru`` and exhaustive matches fail under
``--strict``.)

Plain named tuples: `get-token` imports this module and must stay cheap (SPEC §8).
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import ClassVar, NamedTuple, TypeVar

from credctl.errors import InvalidInput

Duration = dt.timedelta | float
_E = TypeVar("_E", bound=enum.Enum)
_T = TypeVar("_T")


def as_timedelta(value: object, name: str, *, allow_zero: bool = True) -> dt.timedelta:
    """`value` (a timedelta or seconds) as a timedelta, or `InvalidInput` naming `name`."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise InvalidInput(
            f"{name} must be a datetime.timedelta or a number of seconds, "
            f"not {type(value).__name__}"
        )
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "more than zero"
        raise InvalidInput(f"{name} must be {bound} seconds")
    return dt.timedelta(seconds=seconds)


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} must be True or False, not {type(value).__name__}")
    return value


def _member(value: object, kind: type[_E], name: str) -> _E:
    if isinstance(value, kind):
        return value
    known = ", ".join(f"{kind.__name__}.{member.name}" for member in kind)
    raise InvalidInput(f"{name} {value!r} is not supported", hint=f"credctl offers {known}")


def typed(value: object, kind: type[_T], name: str) -> _T:
    if not isinstance(value, kind):
        raise InvalidInput(f"{name} must be a {kind.__name__}, not {type(value).__name__}")
    return value


# -- cache ---------------------------------------------------------------------------


class CacheStrategy(enum.Enum):
    """How the token cache evicts entries past `CacheConfig.max_size`."""

    LRU = "lru"
    Lru: ClassVar[CacheStrategy]


CacheStrategy.Lru = CacheStrategy.LRU


class CacheConfig(NamedTuple):
    """The in-process token cache (`set_cache_config`).

    `enabled`: tokens are kept between calls (the command line never caches).
    `ttl`: how long one is kept.  `max_size`: how many; past it, `strategy` (LRU) drops
    one.  `refresh_ahead`: an oauth2 token is renewed when it expires within the
    refresh-ahead window (60 s, at most half its lifetime); False renews only one that
    has expired (or that `min_valid` asks for).
    """

    enabled: bool = True
    ttl: Duration = dt.timedelta(seconds=300)
    max_size: int = 1000
    strategy: CacheStrategy = CacheStrategy.LRU
    refresh_ahead: bool = True

    @classmethod
    def default(cls) -> CacheConfig:
        """The defaults, as the seed's ``CacheConfig::default()``."""
        return cls()


def checked_cache(config: object) -> CacheConfig:
    """`config` checked, with `ttl` as a timedelta."""
    config = typed(config, CacheConfig, "cache_config")
    size = config.max_size
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput("cache max_size must be a whole number, zero or more")
    return CacheConfig(
        enabled=_flag(config.enabled, "cache enabled"),
        ttl=as_timedelta(config.ttl, "cache ttl"),
        max_size=size,
        strategy=_member(config.strategy, CacheStrategy, "cache strategy"),
        refresh_ahead=_flag(config.refresh_ahead, "cache refresh_ahead"),
    )


# -- encryption ------------------------------------------------------------------------


class EncryptionAlgorithm(enum.Enum):
    """Body encryption; the vault format has exactly one."""

    AES_256_GCM = "aes-256-gcm"
    Aes256Gcm: ClassVar[EncryptionAlgorithm]


EncryptionAlgorithm.Aes256Gcm = EncryptionAlgorithm.AES_256_GCM


class KeyDerivation(enum.Enum):
    """Passphrase key derivation; the vault format has exactly one."""

    ARGON2ID = "argon2id"
    Argon2id: ClassVar[KeyDerivation]


KeyDerivation.Argon2id = KeyDerivation.ARGON2ID


class EncryptionConfig(NamedTuple):
    """Encryption settings (`set_encryption_config`).

    `algorithm` and `key_derivation` are checked: the vault format has AES-256-GCM and
    Argon2id only, anything else is refused.  `key_rotation_interval` is the age past
    which `health_check` reports the data key as due for ``credctl rekey``.
    """

    algorithm: EncryptionAlgorithm = EncryptionAlgorithm.AES_256_GCM
    key_rotation_interval: Duration = dt.timedelta(days=90)
    key_derivation: KeyDerivation = KeyDerivation.ARGON2ID

    @classmethod
    def default(cls) -> EncryptionConfig:
        """The defaults."""
        return cls()


def checked_encryption(config: object) -> EncryptionConfig:
    """`config` checked, with the interval as a timedelta."""
    config = typed(config, EncryptionConfig, "encryption_config")
    return EncryptionConfig(
        algorithm=_member(config.algorithm, EncryptionAlgorithm, "encryption algorithm"),
        key_rotation_interval=as_timedelta(
            config.key_rotation_interval, "key_rotation_interval", allow_zero=False
        ),
        key_derivation=_member(config.key_derivation, KeyDerivation, "key derivation"),
    )


# -- security, rotation, audit, performance -------------------------------------------


class SecurityConfig(NamedTuple):
    """What this manager refuses.

    `allow_env_passphrase`: False refuses to open a vault while ``CREDCTL_PASSPHRASE``
    is set (every process this one starts inherits it, and ``/proc/PID/environ``
    shows it): unlock with ``CREDCTL_PASSPHRASE_FILE``, a session or a CI key instead.
    `allow_plain_http`: False refuses OAuth endpoints on plain http, which SPEC §12
    otherwise accepts on loopback addresses (a provider under test).
    """

    allow_env_passphrase: bool = True
    allow_plain_http: bool = True

    @classmethod
    def default(cls) -> SecurityConfig:
        """What the command line does."""
        return cls()

    @classmethod
    def strict(cls) -> SecurityConfig:
        """No passphrase in the environment, no plain-http provider."""
        return cls(allow_env_passphrase=False, allow_plain_http=False)


class RotationConfig(NamedTuple):
    """Rotation settings.

    `auto_rotate` must stay False: credctl is local-first and has no background
    worker, so rotation happens when asked (`rotate_credential`, or ``credctl rotate
    --due`` from cron or CI); True is refused rather than silently never rotating.
    """

    auto_rotate: bool = False

    @classmethod
    def default(cls) -> RotationConfig:
        """The defaults."""
        return cls()


class AuditConfig(NamedTuple):
    """The audit trail (SPEC §7): always on, so `enabled` must stay True.

    Every operation of every front end is recorded, fail-closed, before anything is
    handed out; a manager cannot opt out, and ``enabled=False`` is refused.
    ``builder().enable_audit_logging()`` states the default.
    """

    enabled: bool = True

    @classmethod
    def default(cls) -> AuditConfig:
        """The defaults."""
        return cls()


class PerformanceConfig(NamedTuple):
    """Performance settings.

    `lock_timeout`: how long a write waits for another process's vault lock before it
    fails with `VaultBusyError` (exit 8, retryable); None takes ``CREDCTL_LOCK_TIMEOUT``
    or 10 s.  It applies to a vault file; the memory and custom backends have no such
    lock, and a value for them is refused.
    """

    lock_timeout: Duration | None = None

    @classmethod
    def default(cls) -> PerformanceConfig:
        """The defaults."""
        return cls()


def checked_security(config: object) -> SecurityConfig:
    """`config` checked."""
    config = typed(config, SecurityConfig, "security_config")
    return SecurityConfig(
        _flag(config.allow_env_passphrase, "security allow_env_passphrase"),
        _flag(config.allow_plain_http, "security allow_plain_http"),
    )


def checked_rotation(config: object) -> RotationConfig:
    """`config` checked (`auto_rotate` refused)."""
    config = typed(config, RotationConfig, "rotation_config")
    if _flag(config.auto_rotate, "rotation auto_rotate"):
        raise InvalidInput(
            "RotationConfig(auto_rotate=True) is not supported: credctl has no background "
            "worker, so nothing would ever rotate",
            hint="call rotate_credential, or run `credctl rotate --due` from cron or CI",
        )
    return config


def checked_audit(config: object) -> AuditConfig:
    """`config` checked (``enabled=False`` refused)."""
    config = typed(config, AuditConfig, "audit_config")
    if not _flag(config.enabled, "audit enabled"):
        raise InvalidInput(
            "AuditConfig(enabled=False) is not supported: the audit trail is always on",
            hint="every operation is recorded (SPEC §7); leave audit_config at its default",
        )
    return config


def checked_performance(config: object, storage_kind: str) -> PerformanceConfig:
    """`config` checked for a backend of `storage_kind` (``memory``, ``file``, …)."""
    config = typed(config, PerformanceConfig, "performance_config")
    if config.lock_timeout is None:
        return config
    timeout = as_timedelta(config.lock_timeout, "lock_timeout", allow_zero=False)
    if storage_kind != "file":
        raise InvalidInput(
            f"PerformanceConfig.lock_timeout applies to a vault file, not to {storage_kind} "
            "storage",
            hint="leave lock_timeout as None for this backend",
        )
    return PerformanceConfig(timeout)
