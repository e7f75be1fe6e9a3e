"""Opening, changing and creating a vault: the layer commands talk to.

`Vault.open` unlocks without taking the lock (readers never wait on writers).
`Vault.edit` unlocks first, then takes the lock, re-reads the file under it,
decrypts that copy with the data key (no second Argon2 run), lets the caller
change it, and commits a new generation.  Nothing is written unless the whole
vault was read and authenticated first.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from credctl.errors import (
    InvalidInput,
    VaultCorruptError,
    VaultExistsError,
    VaultRollbackError,
)
from credctl.vault import crypto, keys
from credctl.vault.body import Body
from credctl.vault.crypto import KdfParams
from credctl.vault.file import DEFAULT_BACKUP_COUNT, VaultFile
from credctl.vault.format import Header, ParsedFile, Slot, SlotType, assemble, parse_file


class StaleDataKeyError(VaultCorruptError):
    """The data key does not belong to the vault's current generation (rekeyed)."""


class Unlocker(Protocol):
    """Finds the data key for a parsed vault, from whatever source it knows."""

    def unlock(self, vault: Vault, parsed: ParsedFile) -> tuple[bytes, str]:
        """Return (data key, name of the source that gave it)."""
        ...


class OpenVault:
    """An unlocked generation; inside `Vault.edit` its fields may be changed."""

    def __init__(
        self,
        vault_id: bytes,
        generation: int,
        data_key: bytes,
        slots: list[Slot],
        body: Body,
        source: str,
        header: Header,
    ) -> None:
        self.vault_id = vault_id
        self.generation = generation
        self.data_key = data_key
        self.slots = slots
        self.body = body
        self.source = source
        self.header = header

    def __repr__(self) -> str:  # never the data key
        return f"OpenVault(generation={self.generation}, source={self.source!r})"

    def add_ci_key(self, label: str = "") -> keys.CiKey:
        """Add a CI-key slot wrapping the data key; the key is returned, never stored."""
        secret = crypto.random_bytes(crypto.KEY_SIZE)
        salt = crypto.random_bytes(crypto.SALT_SIZE)
        slot_id = self.next_slot_id()
        kek = keys.ci_kek(secret, salt)
        self.slots.append(
            keys.make_slot(
                self.vault_id, slot_id, SlotType.CI_KEY, kek, salt, self.data_key, label=label
            )
        )
        return keys.CiKey(slot_id, secret)

    def next_slot_id(self) -> int:
        """Slot ids are never reused within a vault."""
        stored = self.body.meta.get("last_slot_id", 0)
        if not isinstance(stored, int) or isinstance(stored, bool) or not 0 <= stored < 2**32:
            raise VaultCorruptError("the vault's settings hold an invalid last_slot_id")
        highest = max([stored, *(s.slot_id for s in self.slots)])
        if highest + 1 >= 2**32:
            raise VaultCorruptError("the vault has no key slot ids left")
        self.body.meta["last_slot_id"] = highest + 1
        return highest + 1

    @property
    def backup_count(self) -> int:
        """How many previous generations each write keeps."""
        value = self.body.meta.get("backup_count", DEFAULT_BACKUP_COUNT)
        return value if isinstance(value, int) and 0 <= value <= 100 else DEFAULT_BACKUP_COUNT


def seal_vault(
    vault_id: bytes,
    generation: int,
    slots: list[Slot],
    data_key: bytes,
    plaintext: bytes,
    *,
    body_salt: bytes | None = None,
    body_nonce: bytes | None = None,
) -> bytes:
    """Encrypt a body under a fresh body key and assemble the file.

    `body_salt` and `body_nonce` are parameters only so that test vectors can be
    reproduced; real writes always draw them at random.
    """
    header = Header(
        vault_id=vault_id,
        generation=generation,
        body_salt=body_salt or crypto.random_bytes(32),
        body_nonce=body_nonce or crypto.random_bytes(crypto.NONCE_SIZE),
        data_key_check=keys.data_key_check(data_key, vault_id),
        slots=tuple(slots),
    )
    header_bytes = header.encode()
    ciphertext = crypto.seal(
        keys.body_key(data_key, header), header.body_nonce, plaintext, header_bytes
    )
    return assemble(header_bytes, ciphertext)


def decrypt_body(parsed: ParsedFile, data_key: bytes) -> Body:
    """Authenticate and split the body of a parsed file."""
    return Body.decode(_decrypt_plaintext(parsed, data_key))


def _decrypt_plaintext(parsed: ParsedFile, data_key: bytes) -> bytes:
    """The authenticated body plaintext of a parsed file."""
    header = parsed.header
    expected = keys.data_key_check(data_key, header.vault_id)
    if not crypto.checks_equal(expected, header.data_key_check):
        raise StaleDataKeyError(
            "the key does not belong to this generation of the vault",
            hint="the vault was rekeyed meanwhile; unlock again and rerun the command",
        )
    try:
        plaintext = crypto.unseal(
            keys.body_key(data_key, header),
            header.body_nonce,
            parsed.body_ciphertext,
            parsed.header_bytes,
        )
    except crypto.AuthenticationFailed:
        raise VaultCorruptError(
            "the vault's contents failed authentication: the file is damaged or was tampered with"
        ) from None
    return plaintext


class Vault:
    """One vault file and the operations that keep it whole."""

    def __init__(self, path: Path | str, *, lock_timeout: float | None = None) -> None:
        self.file = VaultFile(Path(path), lock_timeout=lock_timeout)

    @property
    def path(self) -> Path:
        """Absolute path of the vault file."""
        return self.file.path

    def exists(self) -> bool:
        """True if a file (or anything) is at the vault path."""
        return self.file.exists()

    def read_parsed(self) -> ParsedFile:
        """Read and validate the current file, checking it against the rollback anchor."""
        anchor = self.file.read_anchor()  # before the file: see docs/FORMAT.md §Rollback
        parsed = parse_file(self.file.read())
        if anchor is not None:
            anchor_id, anchor_generation = anchor
            hint = (
                f"if you put this file there on purpose, delete {self.file.anchor_path} "
                "and run the command again"
            )
            if anchor_id != parsed.header.vault_id:
                raise VaultRollbackError(
                    f"{self.path} is not the vault that was last written at this path",
                    hint=hint,
                )
            if parsed.header.generation < anchor_generation:
                raise VaultRollbackError(
                    f"{self.path} is an older copy (generation {parsed.header.generation}) "
                    f"than the one last written here (generation {anchor_generation})",
                    hint=hint,
                )
        return parsed

    def open(self, unlocker: Unlocker) -> OpenVault:
        """Unlock and decrypt the current generation without taking the lock."""
        parsed = self.read_parsed()
        data_key, source = unlocker.unlock(self, parsed)
        return self._open_parsed(parsed, data_key, source)

    def open_with_key(self, data_key: bytes, source: str = "data-key") -> OpenVault:
        """Decrypt the current generation with a known data key."""
        return self._open_parsed(self.read_parsed(), data_key, source)

    @contextlib.contextmanager
    def edit(self, unlocker: Unlocker | None = None, *, data_key: bytes | None = None,
             source: str = "data-key") -> Iterator[OpenVault]:  # fmt: skip
        """Unlock, lock, re-read, yield the open vault, and commit what changed."""
        if data_key is None:
            if unlocker is None:
                raise TypeError("edit() needs an unlocker or a data key")
            opened = self.open(unlocker)
            data_key, source = opened.data_key, opened.source
        with self.file.locked():
            parsed = self.read_parsed()
            current = self._open_parsed(parsed, data_key, source)
            current.body.names()  # structural check of the whole index before any write
            yield current
            self._commit(current, previous_generation=parsed.header.generation)

    def _open_parsed(self, parsed: ParsedFile, data_key: bytes, source: str) -> OpenVault:
        body = decrypt_body(parsed, data_key)
        header = parsed.header
        return OpenVault(
            header.vault_id, header.generation, data_key, list(header.slots), body, source, header
        )

    def _commit(self, opened: OpenVault, *, previous_generation: int | None) -> None:
        if not opened.slots:
            raise InvalidInput("a vault must keep at least one key slot")
        generation = (previous_generation or 0) + 1
        plaintext = opened.body.encode()
        data = seal_vault(opened.vault_id, generation, opened.slots, opened.data_key, plaintext)

        def verify(written: bytes) -> None:
            # Decrypting what reached the disk and finding exactly the body we sealed
            # proves the file whole; Body.decode also re-checks its framing.
            parsed = parse_file(written)
            if _decrypt_plaintext(parsed, opened.data_key) != plaintext:
                raise VaultCorruptError("the vault written to disk does not read back")

        self.file.commit(
            data,
            opened.vault_id,
            generation,
            verify,
            previous_generation=previous_generation,
            backup_count=opened.backup_count,
        )
        opened.generation = generation

    def create(
        self,
        passphrase: bytes,
        kdf: KdfParams,
        *,
        backup_count: int = DEFAULT_BACKUP_COUNT,
        meta: dict[str, object] | None = None,
    ) -> OpenVault:
        """Create a new vault with one passphrase slot; refuses to replace a file."""
        kdf.check_for_init()
        if not passphrase:
            raise InvalidInput("the passphrase must not be empty")
        if not 0 <= backup_count <= 100:
            raise InvalidInput("the backup count must be between 0 and 100")
        vault_id = crypto.random_bytes(16)
        data_key = crypto.random_bytes(crypto.KEY_SIZE)
        slot = keys.passphrase_slot(vault_id, 1, passphrase, kdf, data_key)
        now = int(time.time())
        body = Body({"backup_count": backup_count, "last_slot_id": 1, "created": now,
                     "data_key_created": now,
                     **(meta or {})})  # fmt: skip
        with self.file.locked():
            if self.exists():
                raise VaultExistsError(
                    f"a vault already exists at {self.path}; it was left untouched",
                    hint="use --vault PATH for another vault, or `credctl passwd` to change "
                    "the passphrase",
                )
            opened = OpenVault(vault_id, 0, data_key, [slot], body, "passphrase", header=_EMPTY)
            self._commit(opened, previous_generation=None)
        return opened


_EMPTY = Header(b"\0" * 16, 0, b"\0" * 32, b"\0" * 12, b"\0" * 16)


def passphrase_slots(opened: OpenVault) -> list[Slot]:
    """The passphrase slots of an open vault."""
    return [s for s in opened.slots if s.slot_type is SlotType.PASSPHRASE]
