"""Key derivation and authenticated encryption for the vault.

Every primitive comes from `cryptography` (AES-256-GCM, HKDF-SHA256, HMAC) or
`argon2-cffi` (Argon2id).  Failures inside this module are collapsed into one
opaque `AuthenticationFailed`, as Fernet does, so that callers cannot build an
oracle from the kind of failure; the vault layer decides what to tell the user.
"""

from __future__ import annotations

import contextlib
import os
from _operator import _compare_digest
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credctl.errors import InvalidInput, KdfDowngradeError, KdfMemoryError

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
SALT_SIZE = 16
CHECK_SIZE = 16

# OWASP's floor for Argon2id (m = 19 MiB, t = 2); caps against absurd values that
# would exhaust memory or hang the process.  Memory is in KiB, as Argon2 counts it.
MIN_MEMORY_KIB = 19 * 1024
MAX_MEMORY_KIB = 4 * 1024 * 1024
MIN_TIME_COST = 2
MAX_TIME_COST = 10
MIN_PARALLELISM = 1
MAX_PARALLELISM = 16


class AuthenticationFailed(Exception):  # noqa: N818 - mirrors cryptography's InvalidTag
    """A key did not authenticate the data it was given."""


class KdfParams(NamedTuple):
    """Argon2id cost parameters; `memory_kib` is in KiB."""

    memory_kib: int = 256 * 1024
    time_cost: int = 3
    parallelism: int = 4

    def problems(self) -> list[str]:
        """Every way these parameters fall outside the allowed range."""
        found: list[str] = []
        if self.memory_kib < MIN_MEMORY_KIB:
            found.append(f"memory {self.memory_kib} KiB is below the floor of 19 MiB")
        if self.memory_kib > MAX_MEMORY_KIB:
            found.append(f"memory {self.memory_kib} KiB is above the cap of 4 GiB")
        if self.time_cost < MIN_TIME_COST:
            found.append(f"time cost {self.time_cost} is below the floor of 2")
        if self.time_cost > MAX_TIME_COST:
            found.append(f"time cost {self.time_cost} is above the cap of 10")
        if not MIN_PARALLELISM <= self.parallelism <= MAX_PARALLELISM:
            found.append(f"parallelism {self.parallelism} is outside 1..16")
        if self.memory_kib < 8 * self.parallelism:
            found.append("memory must be at least 8 KiB per lane")
        return found

    def check_for_init(self) -> None:
        """Refuse weak or absurd parameters chosen by a user (exit 9)."""
        found = self.problems()
        if found:
            raise InvalidInput(
                "invalid key-derivation settings: " + "; ".join(found),
                hint="use --kdf-memory 19..4096 (MiB), --kdf-time 2..10, --kdf-parallelism 1..16",
            )

    def check_from_file(self) -> None:
        """Refuse parameters read from a file before any memory is allocated (exit 6)."""
        found = self.problems()
        if found:
            raise KdfDowngradeError(
                "the vault's key-derivation parameters are outside the allowed range "
                "(" + "; ".join(found) + "); refusing to open a possibly downgraded file"
            )


#: Wraps each Argon2id run; a front end shows progress with it (`observe_kdf`).
KdfObserver = Callable[[KdfParams], AbstractContextManager[object]]
_observers: list[KdfObserver] = []


def observe_kdf(observer: KdfObserver | None) -> None:
    """Run every later Argon2id derivation inside ``observer(params)`` (None: stop).

    The library prints nothing; the command line passes a spinner for the
    seconds a derivation takes on a terminal.
    """
    _observers.clear()
    if observer is not None:
        _observers.append(observer)


def random_bytes(size: int) -> bytes:
    """Cryptographically secure random bytes from the operating system."""
    return os.urandom(size)


def derive_passphrase_key(passphrase: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id(passphrase, salt) → a 256-bit key-encryption key."""
    params.check_from_file()
    from argon2.exceptions import HashingError  # imported only when needed
    from argon2.low_level import Type, hash_secret_raw

    watching = _observers[0](params) if _observers else contextlib.nullcontext()
    try:
        with watching:
            return hash_secret_raw(
                secret=passphrase,
                salt=salt,
                time_cost=params.time_cost,
                memory_cost=params.memory_kib,
                parallelism=params.parallelism,
                hash_len=KEY_SIZE,
                type=Type.ID,
            )
    except (HashingError, MemoryError) as exc:
        if isinstance(exc, HashingError) and "memory" not in str(exc).lower():
            raise
        mib = params.memory_kib // 1024
        raise KdfMemoryError(
            f"Argon2id needs {mib} MiB of memory to derive the key, and this process could "
            "not get it (a container or ulimit may cap memory)",
            hint="give the job a CI key (CREDCTL_KEY, from `credctl key add-ci`), which needs "
            "no key derivation; or, on a machine with enough memory, lower the cost with "
            "`credctl passwd --kdf-memory 64` (new vaults: `credctl init --kdf-memory 64`)",
        ) from None


def hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 with a 256-bit output."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=salt, info=info).derive(key)


def key_check(kek: bytes) -> bytes:
    """A short value that tells a wrong key apart from a damaged wrapped key."""
    mac = crypto_hmac.HMAC(kek, hashes.SHA256())
    mac.update(b"credctl/v1/key-check")
    return mac.finalize()[:CHECK_SIZE]


# `_operator._compare_digest` is the constant-time comparison `hmac.compare_digest`
# falls back to without OpenSSL; importing `hmac` itself would load OpenSSL's hashlib
# bindings (~2 ms) on the get-token path.  Public so that a test can check which it is.
constant_time_compare = _compare_digest


def checks_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return constant_time_compare(a, b)


def seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM encrypt; the 16-byte tag is appended."""
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decrypt or raise `AuthenticationFailed`."""
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise AuthenticationFailed from exc
