"""The vault file's byte layout (docs/FORMAT.md): parse and serialise, no I/O.

A file is ``header || body ciphertext || SHA-256(header || body ciphertext)``.
The header carries the key slots; the body is sealed with AES-256-GCM using the
whole header as associated data, so no header byte can change unnoticed.
Decoders reject anything non-canonical: a header that re-serialises to other
bytes is treated as damage.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes

from credctl.errors import UnsupportedFormatError, VaultCorruptError
from credctl.vault.crypto import CHECK_SIZE, KEY_SIZE, NONCE_SIZE, SALT_SIZE, TAG_SIZE, KdfParams

MAGIC = b"credctl\x00"
FORMAT_VERSION = 1
VAULT_ID_SIZE = 16
BODY_SALT_SIZE = 32
CHECKSUM_SIZE = 32
WRAPPED_KEY_SIZE = KEY_SIZE + TAG_SIZE
MAX_SLOTS = 64
MAX_LABEL_BYTES = 64
# 1 GiB: far above any real vault, low enough that a hostile size field cannot
# make credctl allocate without bound.
MAX_FILE_SIZE = 1 << 30

_PREFIX = struct.Struct(">8sHHI")  # magic, version, flags, header length
_FIXED = struct.Struct(f">{VAULT_ID_SIZE}sQ{BODY_SALT_SIZE}s{NONCE_SIZE}s{CHECK_SIZE}sH")
_SLOT_START = struct.Struct(">IBQB")  # id, type, created (unix s), label length
_PASSPHRASE_PARAMS = struct.Struct(f">III{SALT_SIZE}s")
_CI_PARAMS = struct.Struct(f">{SALT_SIZE}s")
_SLOT_END = struct.Struct(f">{CHECK_SIZE}s{NONCE_SIZE}s{WRAPPED_KEY_SIZE}s")
MIN_FILE_SIZE = _PREFIX.size + _FIXED.size + TAG_SIZE + CHECKSUM_SIZE


class SlotType(enum.IntEnum):
    """What unlocks a key slot."""

    PASSPHRASE = 1
    CI_KEY = 2


class Slot(NamedTuple):
    """One key slot: the data key wrapped under a key-encryption key."""

    slot_id: int
    slot_type: SlotType
    created: int
    label: str
    salt: bytes
    check: bytes
    nonce: bytes
    wrapped_key: bytes
    kdf: KdfParams | None = None

    def authenticated_prefix(self) -> bytes:
        """The slot's bytes up to (not including) its nonce: the wrap's associated data."""
        label = self.label.encode()
        out = _SLOT_START.pack(self.slot_id, self.slot_type, self.created, len(label)) + label
        if self.slot_type is SlotType.PASSPHRASE:
            assert self.kdf is not None
            out += _PASSPHRASE_PARAMS.pack(
                self.kdf.memory_kib, self.kdf.time_cost, self.kdf.parallelism, self.salt
            )
        else:
            out += _CI_PARAMS.pack(self.salt)
        return out + self.check

    def encode(self) -> bytes:
        """The slot as it stands in the header."""
        return self.authenticated_prefix() + self.nonce + self.wrapped_key


class Header(NamedTuple):
    """Everything before the body: identity, generation, body key inputs, slots."""

    vault_id: bytes
    generation: int
    body_salt: bytes
    body_nonce: bytes
    data_key_check: bytes
    slots: tuple[Slot, ...] = ()
    version: int = FORMAT_VERSION

    def encode(self) -> bytes:
        """Serialise the header; its length field covers the whole header."""
        fixed = _FIXED.pack(
            self.vault_id,
            self.generation,
            self.body_salt,
            self.body_nonce,
            self.data_key_check,
            len(self.slots),
        )
        slots = b"".join(slot.encode() for slot in self.slots)
        length = _PREFIX.size + len(fixed) + len(slots)
        return _PREFIX.pack(MAGIC, self.version, 0, length) + fixed + slots

    def slot(self, slot_id: int) -> Slot | None:
        """The slot with this id, if any."""
        return next((s for s in self.slots if s.slot_id == slot_id), None)


class ParsedFile(NamedTuple):
    """A vault file split into its authenticated parts."""

    header: Header
    header_bytes: bytes
    body_ciphertext: bytes


def checksum(data: bytes) -> bytes:
    """The trailing SHA-256 that detects accidental damage before any key work."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def assemble(header_bytes: bytes, body_ciphertext: bytes) -> bytes:
    """Join header and body and append the checksum."""
    content = header_bytes + body_ciphertext
    return content + checksum(content)


def parse_file(data: bytes) -> ParsedFile:
    """Split and validate a vault file, or raise a `VaultCorruptError` subclass."""
    if len(data) < _PREFIX.size or data[: len(MAGIC)] != MAGIC:
        raise VaultCorruptError("not a credctl vault file (bad magic or empty)")
    _magic, version, flags, header_length = _PREFIX.unpack_from(data, 0)
    if version != FORMAT_VERSION:
        if version > FORMAT_VERSION:
            raise UnsupportedFormatError(
                f"vault format version {version} is newer than this credctl supports "
                f"({FORMAT_VERSION})",
                hint="upgrade credctl to open this vault",
            )
        raise UnsupportedFormatError(f"vault format version {version} is not supported")
    if len(data) > MAX_FILE_SIZE:
        raise VaultCorruptError("vault file is larger than any valid vault")
    if len(data) < MIN_FILE_SIZE:
        raise VaultCorruptError("vault file is truncated")
    content, stored_sum = data[:-CHECKSUM_SIZE], data[-CHECKSUM_SIZE:]
    if checksum(content) != stored_sum:
        raise VaultCorruptError("vault file is damaged (checksum mismatch)")
    if flags != 0:
        raise UnsupportedFormatError(f"vault uses unknown feature flags 0x{flags:04x}")
    if not _PREFIX.size + _FIXED.size <= header_length <= len(content) - TAG_SIZE:
        raise VaultCorruptError("vault header length is out of range")
    header = _parse_header(content[:header_length], version)
    header_bytes = content[:header_length]
    if header.encode() != header_bytes:
        raise VaultCorruptError("vault header is not in canonical form")
    return ParsedFile(header, header_bytes, content[header_length:])


def _parse_header(raw: bytes, version: int) -> Header:
    try:
        vault_id, generation, body_salt, body_nonce, dk_check, count = _FIXED.unpack_from(
            raw, _PREFIX.size
        )
        offset = _PREFIX.size + _FIXED.size
        if not 1 <= count <= MAX_SLOTS:
            raise VaultCorruptError(f"vault has {count} key slots (allowed: 1..{MAX_SLOTS})")
        slots: list[Slot] = []
        for _ in range(count):
            slot, offset = _parse_slot(raw, offset)
            slots.append(slot)
    except struct.error as exc:
        raise VaultCorruptError("vault header is truncated") from exc
    if offset != len(raw):
        raise VaultCorruptError("vault header has trailing bytes")
    if len({s.slot_id for s in slots}) != len(slots):
        raise VaultCorruptError("vault header has duplicate key slot ids")
    return Header(vault_id, generation, body_salt, body_nonce, dk_check, tuple(slots), version)


def _parse_slot(raw: bytes, offset: int) -> tuple[Slot, int]:
    slot_id, type_code, created, label_len = _SLOT_START.unpack_from(raw, offset)
    offset += _SLOT_START.size
    if label_len > MAX_LABEL_BYTES:
        raise VaultCorruptError("key slot label is too long")
    label_bytes = raw[offset : offset + label_len]
    if len(label_bytes) != label_len:
        raise struct.error("label")
    try:
        label = label_bytes.decode()
    except UnicodeDecodeError as exc:
        raise VaultCorruptError("key slot label is not UTF-8") from exc
    offset += label_len
    kdf: KdfParams | None = None
    if type_code == SlotType.PASSPHRASE:
        memory, time_cost, lanes, salt = _PASSPHRASE_PARAMS.unpack_from(raw, offset)
        kdf = KdfParams(memory, time_cost, lanes)
        kdf.check_from_file()  # before any Argon2 memory is allocated
        offset += _PASSPHRASE_PARAMS.size
    elif type_code == SlotType.CI_KEY:
        (salt,) = _CI_PARAMS.unpack_from(raw, offset)
        offset += _CI_PARAMS.size
    else:
        raise UnsupportedFormatError(f"vault has a key slot of unknown type {type_code}")
    check, nonce, wrapped = _SLOT_END.unpack_from(raw, offset)
    offset += _SLOT_END.size
    slot = Slot(slot_id, SlotType(type_code), created, label, salt, check, nonce, wrapped, kdf)
    return slot, offset
