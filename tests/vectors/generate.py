"""Generate the vault format test vectors (docs/FORMAT.md, "Test vectors").

Usage: ``python tests/vectors/generate.py [OUT_DIR]`` (default: ``vault/`` beside this
file).  Run it after a deliberate change to the format and commit the result.
``tests/test_vectors.py`` regenerates the corpus into a temporary folder and fails if a
single byte differs, so the vectors cannot drift away from the code.

Nothing here is random.  Every vault id, salt, nonce, key and clock value is derived
from a fixed label with SHA-256 and passed in through the parameters that
`keys.passphrase_slot`, `keys.make_slot` and `store.seal_vault` offer for this purpose.
Argon2id runs at the cheapest cost the format allows (m = 19456 KiB, t = 2, p = 1).

Malformed files are built with the small encoder below (`raw_*`), which follows
docs/FORMAT.md rather than calling `format.py`, so that each vector is valid except for
the one thing it tests; `check_raw_encoder` asserts that this encoder and the library
produce identical bytes for valid vaults.

Each vector file is a few ``key: value`` lines, a blank line, then the vault file bytes,
as in C2SP CCTV's age vectors.  Keys, in this order: ``expect`` (one of `EXPECT`),
``exit``, ``passphrase`` or ``ci-key``, optional ``anchor`` (``<vault id hex>
<generation>``: the contents of ``VAULT.d/anchor`` when the file is opened), ``payload``
(successes only: SHA-256 of the decrypted body plaintext, hex), ``comment``.
"""

from __future__ import annotations

import hmac
import struct
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from hashlib import sha256
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from credctl.vault import crypto, keys
from credctl.vault.body import Body, dump_json
from credctl.vault.crypto import KdfParams
from credctl.vault.format import Header, Slot, SlotType, assemble, checksum
from credctl.vault.store import seal_vault

OUT_DIR = Path(__file__).with_name("vault")

# expect -> exit code (SPEC §3).  The vocabulary is documented in docs/FORMAT.md.
EXPECT = {
    "success": 0,
    "wrong passphrase": 5,
    "header failure": 6,
    "unsupported version": 6,
    "downgrade": 6,
    "tampered": 6,
    "body failure": 6,
    "rollback": 6,
}

PASSPHRASE = "correct horse battery staple (fake)"
OTHER_PASSPHRASE = "an older passphrase (fake)"
KDF = KdfParams(memory_kib=19456, time_cost=2, parallelism=1)
CREATED = 1_700_000_000  # 2023-11-14T22:13:20Z
STAMP = "2023-11-14T22:13:20Z"

# The layout of docs/FORMAT.md, written out independently of credctl/vault/format.py.
MAGIC = b"credctl\x00"
PREFIX = struct.Struct(">8sHHI")
FIXED = struct.Struct(">16sQ32s12s16sH")
SLOT_START = struct.Struct(">IBQB")
ARGON2_PARAMS = struct.Struct(">III16s")
SLOT_WRAP_AAD = b"credctl/v1/slot-wrap"
U32 = struct.Struct(">I")


def fixed(label: str, size: int) -> bytes:
    """Deterministic stand-in for random bytes: SHA-256 of a label, stretched to `size`."""
    out = b""
    counter = 0
    while len(out) < size:
        out += sha256(f"credctl test vectors/{label}/{counter}".encode()).digest()
        counter += 1
    return out[:size]


@cache
def argon2id(passphrase: str, salt: bytes, memory_kib: int, time_cost: int, lanes: int) -> bytes:
    """Argon2id without the range check, for slots whose parameters are out of range."""
    return hash_secret_raw(
        secret=passphrase.encode(),
        salt=salt,
        time_cost=time_cost,
        memory_cost=memory_kib,
        parallelism=lanes,
        hash_len=crypto.KEY_SIZE,
        type=Type.ID,
    )


# -- the independent encoder ---------------------------------------------------------------
# Layout and key derivations exactly as docs/FORMAT.md states them, built on
# `cryptography` and `hmac` directly rather than on credctl's helpers.


def key_check(kek: bytes) -> bytes:
    return hmac.new(kek, b"credctl/v1/key-check", sha256).digest()[:16]


def hkdf(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def data_key_check(data_key: bytes, vault_id: bytes) -> bytes:
    return hkdf(data_key, vault_id, b"credctl/v1/data-key-check", 16)


def ci_kek(secret: bytes, salt: bytes) -> bytes:
    return hkdf(secret, salt, b"credctl/v1/ci-key")


def gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def raw_slot(
    vault_id: bytes,
    data_key: bytes,
    kek: bytes,
    *,
    slot_id: int,
    type_code: int,
    label: bytes,
    params: bytes,
    nonce: bytes,
    created: int = CREATED,
) -> bytes:
    """One key slot: fields up to the key check, nonce, AES-256-GCM wrap of the data key."""
    start = SLOT_START.pack(slot_id, type_code, created, len(label)) + label + params
    authenticated = start + key_check(kek)
    wrapped = gcm_seal(kek, nonce, data_key, SLOT_WRAP_AAD + vault_id + authenticated)
    return authenticated + nonce + wrapped


def raw_header(
    *,
    vault_id: bytes,
    generation: int,
    body_salt: bytes,
    body_nonce: bytes,
    data_key: bytes,
    slots: list[bytes],
    count: int | None = None,
    version: int = 1,
    flags: int = 0,
    trailing: bytes = b"",
) -> bytes:
    """Prefix, fixed fields and slots; the length field covers all of it."""
    fields = FIXED.pack(
        vault_id,
        generation,
        body_salt,
        body_nonce,
        data_key_check(data_key, vault_id),
        len(slots) if count is None else count,
    )
    rest = fields + b"".join(slots) + trailing
    return PREFIX.pack(MAGIC, version, flags, PREFIX.size + len(rest)) + rest


def raw_file(header: bytes, data_key: bytes, plaintext: bytes) -> bytes:
    """Seal a body under the header's body salt and nonce with the header as AAD."""
    body_salt = header[PREFIX.size + 24 : PREFIX.size + 56]
    body_nonce = header[PREFIX.size + 56 : PREFIX.size + 68]
    body_key = hkdf(data_key, body_salt, b"credctl/v1/body")
    content = header + gcm_seal(body_key, body_nonce, plaintext, header)
    return content + sha256(content).digest()


def raw_body(meta: bytes, index: bytes, records: bytes) -> bytes:
    """The body plaintext: u32 length, meta JSON, u32 length, index, records."""
    return U32.pack(len(meta)) + meta + U32.pack(len(index)) + index + records


def recompute_checksum(data: bytes) -> bytes:
    """Replace the trailing SHA-256 so that damage is only seen by later checks."""
    return data[:-32] + checksum(data[:-32])


def flip(data: bytes, offset: int, mask: int = 0x01) -> bytes:
    """Flip bits of one byte."""
    return data[:offset] + bytes([data[offset] ^ mask]) + data[offset + 1 :]


# -- sample vaults -------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """A vault and everything needed to rebuild variants of it."""

    name: str
    vault_id: bytes
    data_key: bytes
    generation: int
    slots: tuple[Slot, ...]
    plaintext: bytes

    @property
    def body_salt(self) -> bytes:
        return fixed(f"{self.name}/body salt", 32)

    @property
    def body_nonce(self) -> bytes:
        return fixed(f"{self.name}/body nonce", crypto.NONCE_SIZE)

    def header(self) -> Header:
        return Header(
            self.vault_id,
            self.generation,
            self.body_salt,
            self.body_nonce,
            keys.data_key_check(self.data_key, self.vault_id),
            self.slots,
        )

    def seal(self) -> bytes:
        return seal_vault(
            self.vault_id,
            self.generation,
            list(self.slots),
            self.data_key,
            self.plaintext,
            body_salt=self.body_salt,
            body_nonce=self.body_nonce,
        )

    def seal_header(self, header_bytes: bytes) -> bytes:
        """A file whose body is sealed (correctly) under arbitrary header bytes."""
        return raw_file(header_bytes, self.data_key, self.plaintext)

    def raw_header(self, slots: list[bytes], **changes: int | bytes | None) -> bytes:
        return raw_header(
            vault_id=self.vault_id,
            generation=self.generation,
            body_salt=self.body_salt,
            body_nonce=self.body_nonce,
            data_key=self.data_key,
            slots=slots,
            **changes,
        )

    def offset_of_slot(self, index: int) -> int:
        """Where slot `index` starts in the file."""
        return PREFIX.size + FIXED.size + sum(len(s.encode()) for s in self.slots[:index])


def passphrase_slot(
    vault: str,
    vault_id: bytes,
    slot_id: int,
    passphrase: str,
    data_key: bytes,
    *,
    label: str = "passphrase",
    kdf: KdfParams = KDF,
) -> Slot:
    return keys.passphrase_slot(
        vault_id,
        slot_id,
        passphrase.encode(),
        kdf,
        data_key,
        label=label,
        salt=fixed(f"{vault}/slot {slot_id} salt", crypto.SALT_SIZE),
        created=CREATED,
        nonce=fixed(f"{vault}/slot {slot_id} nonce", crypto.NONCE_SIZE),
    )


def ci_secret(vault: str, slot_id: int) -> bytes:
    return fixed(f"{vault}/ci key {slot_id}", crypto.KEY_SIZE)


def ci_slot(vault: str, vault_id: bytes, slot_id: int, data_key: bytes, label: str) -> Slot:
    salt = fixed(f"{vault}/slot {slot_id} salt", crypto.SALT_SIZE)
    return keys.make_slot(
        vault_id,
        slot_id,
        SlotType.CI_KEY,
        keys.ci_kek(ci_secret(vault, slot_id), salt),
        salt,
        data_key,
        label=label,
        created=CREATED + 60,
        nonce=fixed(f"{vault}/slot {slot_id} nonce", crypto.NONCE_SIZE),
    )


Records = dict[int, tuple[str, dict[str, object]]]


def record(
    record_id: int,
    name: str,
    kind: str,
    data: dict[str, object],
    description: str = "",
    tags: tuple[str, ...] = (),
) -> tuple[str, dict[str, object]]:
    """A record as `CredentialManager` stores it; the format needs only id and name."""
    value = {
        "id": record_id,
        "name": name,
        "type": kind,
        "data": data,
        "description": description,
        "tags": list(tags),
        "metadata": {},
        "owner": "local",
        "created_at": STAMP,
        "updated_at": STAMP,
        "version": 1,
    }
    return name, value


def settings(last_slot_id: int, records: Records) -> dict[str, object]:
    """The body's settings object as credctl keeps it (docs/FORMAT.md, "Settings")."""
    meta: dict[str, object] = {"backup_count": 3, "created": CREATED, "last_slot_id": last_slot_id}
    if records:
        meta |= {"idempotency": {}, "next_id": max(records) + 1}
    return meta


def body(last_slot_id: int, records: Records) -> bytes:
    b = Body(settings(last_slot_id, records))
    for record_id, (name, value) in records.items():
        b.put(record_id, name, value)
    return b.encode()


def two_records() -> Records:
    return {
        1: record(1, "github", "token", {"token": "ghp_FAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE0000"},
                  "GitHub token for CI (fake)", ("ci",)),
        2: record(2, "stripe_test", "api_key",
                  {"key": "sk_test_FAKE0000000000000000", "param_name": "X-API-Key",
                   "location": "header"}, "Stripe test key (fake)", ("payments", "test")),
    }  # fmt: skip


@cache
def vault_a() -> Sample:
    """The main sample: a passphrase slot, a CI-key slot and two records."""
    vault_id, data_key = fixed("A/vault id", 16), fixed("A/data key", 32)
    slots = (
        passphrase_slot("A", vault_id, 1, PASSPHRASE, data_key),
        ci_slot("A", vault_id, 2, data_key, "ci: deploy"),
    )
    return Sample("A", vault_id, data_key, 2, slots, body(2, two_records()))


def ci_key_a(slot_id: int = 2, secret: bytes | None = None) -> str:
    return keys.CiKey(slot_id, secret or ci_secret("A", 2)).encode()


def with_body(sample: Sample, plaintext: bytes) -> bytes:
    return replace(sample, plaintext=plaintext).seal()


# -- the vectors ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Vector:
    """One file of the corpus."""

    name: str
    expect: str
    comment: str
    data: bytes
    passphrase: str | None = PASSPHRASE
    ci_key: str | None = None
    anchor: tuple[bytes, int] | None = None
    payload: bytes | None = None

    def render(self) -> bytes:
        assert self.expect in EXPECT, self.expect
        assert (self.payload is not None) == (self.expect == "success"), self.name
        lines = [f"expect: {self.expect}", f"exit: {EXPECT[self.expect]}"]
        if self.ci_key is not None:
            lines.append(f"ci-key: {self.ci_key}")
        elif self.passphrase is not None:
            lines.append(f"passphrase: {self.passphrase}")
        if self.anchor is not None:
            lines.append(f"anchor: {self.anchor[0].hex()} {self.anchor[1]}")
        if self.payload is not None:
            lines.append(f"payload: {sha256(self.payload).hexdigest()}")
        lines.append(f"comment: {self.comment}")
        assert all("\n" not in line for line in lines)
        return ("\n".join(lines) + "\n\n").encode() + self.data


Case = Callable[[], Iterator[Vector]]
CASES: list[Case] = []


def case(func: Case) -> Case:
    CASES.append(func)
    return func


@case
def successes() -> Iterator[Vector]:
    a = vault_a()
    yield Vector(
        "valid_passphrase",
        "success",
        "two records, a passphrase slot (id 1) and a CI-key slot (id 2); opened with "
        "the passphrase",
        a.seal(),
        payload=a.plaintext,
    )
    yield Vector(
        "valid_ci_key",
        "success",
        "the same file as valid_passphrase, opened with the CI key of slot 2 (HKDF, no Argon2id)",
        a.seal(),
        ci_key=ci_key_a(),
        payload=a.plaintext,
    )

    vid, dk = fixed("E/vault id", 16), fixed("E/data key", 32)
    empty = Sample(
        "E",
        vid,
        dk,
        1,
        (passphrase_slot("E", vid, 1, PASSPHRASE, dk),),
        body(1, {}),
    )
    yield Vector(
        "valid_empty",
        "success",
        "what `credctl init` writes: generation 1, one passphrase slot, no records (empty index)",
        empty.seal(),
        payload=empty.plaintext,
    )

    vid, dk = fixed("S/vault id", 16), fixed("S/data key", 32)
    records = {
        1: record(1, "aws_prod", "custom", {"access_key_id": "AKIAFAKEFAKEFAKEFAKE",
                                            "secret_access_key": "fake/fake/fake/fake"},
                  "AWS production (fake)", ("aws", "prod")),
        2: record(2, "github", "token", {"token": "ghp_FAKE1111111111111111111111111111"}),
        4: record(4, "mail-relay", "smtp", {"host": "smtp.example.com", "port": 587,
                                            "username": "relay", "password": "fake-password",
                                            "use_tls": True, "from_email": "ops@example.com",
                                            "from_name": "Zürich ops ☃"},
                  "non-ASCII text is stored as UTF-8", ("mail",)),
        7: record(7, "1password_import", "basic_auth",
                  {"username": "bob", "password": 'fake\ttab"quote'},
                  "a name may start with a digit"),
        12: record(12, "oauth_demo", "oauth2", {"client_id": "demo", "client_secret": "fake",
                                                "access_token": "fake-at",
                                                "refresh_token": "fake-rt",
                                                "token_expiry": "2099-01-01T00:00:00Z",
                                                "scopes": ["read", "write"]},
                   tags=("oauth",)),
    }  # fmt: skip
    several = Sample(
        "S",
        vid,
        dk,
        12,
        (passphrase_slot("S", vid, 1, PASSPHRASE, dk),),
        body(1, records),
    )
    yield Vector(
        "valid_several_records",
        "success",
        "five records with ids 1, 2, 4, 7, 12 (deleted ids are never reused): the index "
        "lists them in id order with contiguous offsets",
        several.seal(),
        payload=several.plaintext,
    )

    vid, dk = fixed("C/vault id", 16), fixed("C/data key", 32)
    two = Sample(
        "C",
        vid,
        dk,
        5,
        (
            passphrase_slot("C", vid, 1, OTHER_PASSPHRASE, dk),
            passphrase_slot("C", vid, 3, PASSPHRASE, dk, label="new"),
        ),
        body(3, {}),
    )
    yield Vector(
        "valid_second_passphrase_slot",
        "success",
        "two passphrase slots; the passphrase opens only the second (id 3): readers "
        "try every passphrase slot in header order",
        two.seal(),
        payload=two.plaintext,
    )

    yield Vector(
        "anchor_current_generation",
        "success",
        "the anchor names this vault and this generation (2): equal is not a rollback",
        a.seal(),
        anchor=(a.vault_id, a.generation),
        payload=a.plaintext,
    )


@case
def wrong_keys() -> Iterator[Vector]:
    a = vault_a()
    data = a.seal()
    yield Vector(
        "wrong_passphrase",
        "wrong passphrase",
        "a valid file and a passphrase no slot accepts: the key check of slot 1 does "
        "not match, so the wrap is never tried",
        data,
        passphrase="Correct horse battery staple (fake)",
    )
    yield Vector(
        "wrong_ci_key",
        "wrong passphrase",
        "a well-formed CI key for slot 2 with the wrong secret",
        data,
        ci_key=ci_key_a(secret=fixed("not the CI key", 32)),
    )
    yield Vector(
        "ci_key_unknown_slot",
        "wrong passphrase",
        "a CI key naming slot 9, which this vault does not have",
        data,
        ci_key=ci_key_a(slot_id=9),
    )
    yield Vector(
        "ci_key_names_passphrase_slot",
        "wrong passphrase",
        "a CI key naming slot 1, which is a passphrase slot",
        data,
        ci_key=ci_key_a(slot_id=1),
    )
    check = a.offset_of_slot(0) + len(a.slots[0].authenticated_prefix()) - crypto.CHECK_SIZE
    yield Vector(
        "key_check_bitflip",
        "wrong passphrase",
        "one bit of slot 1's key check flipped and the checksum recomputed: a key "
        "check that does not match means wrong passphrase by definition (exit 5); the "
        "wrap is not tried",
        recompute_checksum(flip(data, check)),
    )


@case
def header_failures() -> Iterator[Vector]:
    a = vault_a()
    data = a.seal()
    yield Vector("empty_file", "header failure", "a zero-byte file", b"")
    yield Vector(
        "bad_magic", "header failure", "one bit of the magic flipped (credctl\\x01)", flip(data, 7)
    )
    yield Vector(
        "truncated_in_header",
        "header failure",
        "the first 100 bytes only: shorter than the smallest possible file (150 bytes)",
        data[:100],
    )
    yield Vector(
        "truncated_last_byte",
        "header failure",
        "the last byte is missing, so the checksum does not match",
        data[:-1],
    )
    yield Vector(
        "trailing_garbage",
        "header failure",
        "16 bytes appended after the checksum, so the last 32 bytes are no checksum",
        data + b"\x00" * 16,
    )
    body_middle = len(data) - 32 - 40
    yield Vector(
        "checksum_mismatch",
        "header failure",
        "one bit of the body ciphertext flipped; the checksum is not updated",
        flip(data, body_middle),
    )
    yield Vector(
        "checksum_bitflip",
        "header failure",
        "one bit of the trailing checksum itself flipped",
        flip(data, len(data) - 1),
    )
    too_long = bytearray(data)
    struct.pack_into(">I", too_long, 12, len(data) - 32)
    yield Vector(
        "header_length_past_end",
        "header failure",
        "the header length field covers the whole file, leaving no room for the body "
        "tag; checksum recomputed",
        recompute_checksum(bytes(too_long)),
    )

    slots = [s.encode() for s in a.slots]
    yield Vector(
        "header_trailing_bytes",
        "header failure",
        "non-canonical: four zero bytes after the last slot, inside the header length; "
        "the body is sealed with this header as AAD and the checksum is right",
        a.seal_header(a.raw_header(slots, trailing=b"\x00" * 4)),
    )
    yield Vector(
        "slot_count_too_high",
        "header failure",
        "the slot count says 3 but the header holds 2 slots",
        a.seal_header(a.raw_header(slots, count=3)),
    )
    yield Vector(
        "zero_slots",
        "header failure",
        "a header with no key slot (count 0)",
        a.seal_header(a.raw_header([])),
    )
    duplicate = passphrase_slot("A", a.vault_id, 2, PASSPHRASE, a.data_key, label="duplicate")
    yield Vector(
        "duplicate_slot_ids",
        "header failure",
        "a passphrase slot and a CI-key slot both with id 2 (each valid on its own)",
        a.seal_header(a.raw_header([duplicate.encode(), slots[1]])),
    )
    kek = argon2id(PASSPHRASE, a.slots[0].salt, 19456, 2, 1)
    params = ARGON2_PARAMS.pack(19456, 2, 1, a.slots[0].salt)
    nonce = a.slots[0].nonce
    bad_label = raw_slot(
        a.vault_id,
        a.data_key,
        kek,
        slot_id=1,
        type_code=1,
        label=b"pass\xffphrase",
        params=params,
        nonce=nonce,
    )
    yield Vector(
        "label_not_utf8",
        "header failure",
        "slot 1's label holds the byte 0xff; the wrap covers those exact bytes",
        a.seal_header(a.raw_header([bad_label, slots[1]])),
    )
    long_label = raw_slot(
        a.vault_id,
        a.data_key,
        kek,
        slot_id=1,
        type_code=1,
        label=b"x" * 65,
        params=params,
        nonce=nonce,
    )
    yield Vector(
        "label_too_long",
        "header failure",
        "slot 1's label is 65 bytes (at most 64)",
        a.seal_header(a.raw_header([long_label, slots[1]])),
    )


@case
def unsupported() -> Iterator[Vector]:
    a = vault_a()
    slots = [s.encode() for s in a.slots]
    yield Vector(
        "version_2",
        "unsupported version",
        "format version 2 (newer than this reader); otherwise a valid version 1 file",
        a.seal_header(a.raw_header(slots, version=2)),
    )
    yield Vector(
        "version_0",
        "unsupported version",
        "format version 0, which never existed; otherwise a valid version 1 file",
        a.seal_header(a.raw_header(slots, version=0)),
    )
    yield Vector(
        "flags_nonzero",
        "unsupported version",
        "feature flags 0x0001; version 1 defines no flag, so every bit must be zero",
        a.seal_header(a.raw_header(slots, flags=1)),
    )
    ci = a.slots[1]
    kek = ci_kek(ci_secret("A", 2), ci.salt)
    unknown = raw_slot(
        a.vault_id,
        a.data_key,
        kek,
        slot_id=2,
        type_code=3,
        label=ci.label.encode(),
        params=ci.salt,
        nonce=ci.nonce,
        created=ci.created,
    )
    yield Vector(
        "unknown_slot_type",
        "unsupported version",
        "slot 2 has type 3 (only 1 and 2 exist) laid out like a CI-key slot; slots "
        "carry no length, so an unknown type cannot be skipped",
        a.seal_header(a.raw_header([slots[0], unknown])),
    )


@case
def downgrades() -> Iterator[Vector]:
    a = vault_a()
    salt, nonce = a.slots[0].salt, a.slots[0].nonce

    def kdf_vault(memory: int, time_cost: int, lanes: int, kek: bytes) -> bytes:
        slot = raw_slot(
            a.vault_id,
            a.data_key,
            kek,
            slot_id=1,
            type_code=1,
            label=b"passphrase",
            params=ARGON2_PARAMS.pack(memory, time_cost, lanes, salt),
            nonce=nonce,
        )
        return a.seal_header(a.raw_header([slot, a.slots[1].encode()]))

    def real(memory: int, time_cost: int, lanes: int) -> bytes:
        return kdf_vault(
            memory, time_cost, lanes, argon2id(PASSPHRASE, salt, memory, time_cost, lanes)
        )

    floor_kek = argon2id(PASSPHRASE, salt, 19456, 2, 1)
    yield Vector(
        "kdf_memory_below_floor",
        "downgrade",
        "Argon2id m = 19455 KiB, one KiB under the floor; the slot is otherwise valid "
        "for these parameters, so only the range check rejects it",
        real(19455, 2, 1),
    )
    yield Vector(
        "kdf_time_below_floor",
        "downgrade",
        "Argon2id t = 1 (floor 2); otherwise valid for these parameters",
        real(19456, 1, 1),
    )
    yield Vector(
        "kdf_time_above_cap",
        "downgrade",
        "Argon2id t = 11 (cap 10); otherwise valid for these parameters",
        real(19456, 11, 1),
    )
    yield Vector(
        "kdf_memory_above_cap",
        "downgrade",
        "Argon2id m = 4194305 KiB, one KiB over the 4 GiB cap: a reader must refuse "
        "before allocating; the wrap uses the m = 19456 key (never reached)",
        kdf_vault(4 * 1024 * 1024 + 1, 2, 1, floor_kek),
    )
    yield Vector(
        "kdf_parallelism_zero",
        "downgrade",
        "Argon2id p = 0 (range 1..16); no Argon2id output exists for p = 0, so the wrap "
        "uses the p = 1 key (never reached)",
        kdf_vault(19456, 2, 0, floor_kek),
    )
    yield Vector(
        "kdf_parallelism_above_cap",
        "downgrade",
        "Argon2id p = 17 (cap 16); otherwise valid for these parameters",
        real(19456, 2, 17),
    )


@case
def tampered() -> Iterator[Vector]:
    a = vault_a()
    data = a.seal()
    generation = PREFIX.size + 16
    yield Vector(
        "header_bitflip_generation",
        "tampered",
        "one bit of the generation flipped (2 -> 3), checksum recomputed: slots still "
        "open, but the header is the body's AAD, so the body tag fails",
        recompute_checksum(flip(data, generation + 7)),
    )
    dk_check = PREFIX.size + 16 + 8 + 32 + 12
    yield Vector(
        "data_key_check_bitflip",
        "tampered",
        "one bit of the data-key check flipped, checksum recomputed: the unwrapped data "
        "key no longer matches it",
        recompute_checksum(flip(data, dk_check)),
    )
    wrapped = a.offset_of_slot(1) - crypto.KEY_SIZE - crypto.TAG_SIZE + 5
    yield Vector(
        "wrapped_key_bitflip",
        "tampered",
        "one bit of slot 1's wrapped data key flipped, checksum recomputed: the key "
        "check matches, so the passphrase is right and the slot is damaged (exit 6, "
        "not 5)",
        recompute_checksum(flip(data, wrapped)),
    )
    ci_wrapped = a.offset_of_slot(2) - 1
    yield Vector(
        "ci_wrapped_key_bitflip",
        "tampered",
        "one bit of the last byte of slot 2's wrap (its GCM tag) flipped, checksum "
        "recomputed; opened with the CI key",
        recompute_checksum(flip(data, ci_wrapped)),
        ci_key=ci_key_a(),
    )
    label = a.offset_of_slot(0) + SLOT_START.size
    yield Vector(
        "slot_label_bitflip",
        "tampered",
        "one bit of slot 1's label flipped (passphrase -> qassphrase), checksum "
        "recomputed: the label is part of the wrap's AAD",
        recompute_checksum(flip(data, label)),
    )
    yield Vector(
        "body_bitflip",
        "tampered",
        "one bit of the body ciphertext flipped, checksum recomputed",
        recompute_checksum(flip(data, len(data) - 32 - 40)),
    )
    yield Vector(
        "body_tag_bitflip",
        "tampered",
        "one bit of the body's GCM tag (its last 16 bytes) flipped, checksum recomputed",
        recompute_checksum(flip(data, len(data) - 32 - 1)),
    )
    yield Vector(
        "body_truncated_by_one",
        "tampered",
        "the body ciphertext is one byte shorter, checksum recomputed",
        assemble(a.header().encode(), data[len(a.header().encode()) : -33]),
    )

    other_id = fixed("B/vault id", 16)
    spliced = passphrase_slot("B", other_id, 1, PASSPHRASE, a.data_key)
    yield Vector(
        "slot_from_other_vault",
        "tampered",
        "slot 1 comes from another vault (another vault id, same passphrase); it even "
        "wraps this vault's data key, so only the vault id in the wrap's AAD catches "
        "it; the body is sealed under this header",
        a.seal_header(a.raw_header([spliced.encode(), a.slots[1].encode()])),
    )

    b_dk = fixed("B/data key", 32)
    b = Sample(
        "B", other_id, b_dk, 2, (passphrase_slot("B", other_id, 1, PASSPHRASE, b_dk),), a.plaintext
    )
    b_data = b.seal()
    b_ciphertext = b_data[len(b.header().encode()) : -32]
    header_bytes = a.header().encode()
    yield Vector(
        "body_from_other_vault",
        "tampered",
        "this vault's header with the body ciphertext of another vault (same passphrase, "
        "same plaintext, other data key); checksum recomputed",
        assemble(header_bytes, b_ciphertext),
    )


@case
def body_failures() -> Iterator[Vector]:
    a = vault_a()
    meta = dump_json(settings(2, two_records()))
    rec1 = dump_json(two_records()[1][1])
    rec2 = dump_json(two_records()[2][1])

    def github(**changes: object) -> dict[str, object]:
        return {**two_records()[1][1], **changes}

    def line(record_id: str, name: str, offset: int | str, length: int) -> bytes:
        return f"{record_id}\t{name}\t{offset}\t{length}\n".encode()

    def hostile(name: str, comment: str, plaintext: bytes) -> Vector:
        return Vector(
            name, "body failure", comment + "; sealed with the right key", with_body(a, plaintext)
        )

    yield hostile(
        "body_meta_not_object",
        "the settings JSON is an array ([]), not an object",
        raw_body(b"[]", b"", b""),
    )
    yield hostile(
        "body_meta_length_past_end",
        "the settings length says 1000 bytes; the plaintext is far shorter",
        U32.pack(1000) + meta + U32.pack(0),
    )
    yield hostile(
        "body_index_past_records",
        "the only index line says record 1 is 4096 bytes long; the records area is shorter",
        raw_body(meta, line("1", "github", 0, 4096), rec1),
    )
    yield hostile(
        "body_index_offsets_not_canonical",
        "one byte (a space) between the two records, the second offset skipping it: "
        "offsets must be contiguous from 0",
        raw_body(
            meta,
            line("1", "github", 0, len(rec1)) + line("2", "stripe_test", len(rec1) + 1, len(rec2)),
            rec1 + b" " + rec2,
        ),
    )
    yield hostile(
        "body_index_duplicate_name",
        "two index lines (ids 1 and 2) with the same name",
        raw_body(
            meta,
            line("1", "github", 0, len(rec1)) + line("2", "github", len(rec1), len(rec2)),
            rec1 + rec2,
        ),
    )
    yield hostile(
        "body_index_leading_zero",
        "the id is written 01: numbers in the index have no leading zeros",
        raw_body(meta, line("01", "github", 0, len(rec1)), rec1),
    )
    yield hostile(
        "body_index_bad_name",
        "an index name with a dot (names are [A-Za-z0-9][A-Za-z0-9_-]{0,127})",
        raw_body(meta, line("1", "git.hub", 0, len(rec1)), rec1),
    )
    bad = b'["not", "an", "object"]'
    yield hostile(
        "body_record_not_object",
        "record 1 is a JSON array, not an object",
        raw_body(meta, line("1", "github", 0, len(bad)), bad),
    )
    bad = dump_json(github(data={"token": "@"})).replace(b'"@"', b"NaN")
    yield hostile(
        "body_record_nan",
        "record 1's token is NaN, which is not JSON (likewise Infinity, -Infinity)",
        raw_body(meta, line("1", "github", 0, len(bad)), bad),
    )
    bad = dump_json(github(metadata="@")).replace(b'"@"', b"[" * 1500 + b"]" * 1500)
    yield hostile(
        "body_record_deep_nesting",
        "record 1's metadata nests arrays 1500 levels deep (readers must reject more than 1000)",
        raw_body(meta, line("1", "github", 0, len(bad)), bad),
    )
    bad = rec1[:-1]
    yield hostile(
        "body_record_invalid_json",
        "record 1 lacks its closing brace: not valid JSON",
        raw_body(meta, line("1", "github", 0, len(bad)), bad),
    )
    bad = dump_json(github(name="stripe_test"))
    yield hostile(
        "body_record_disagrees_with_index",
        "the index line says id 1 is github; the record says its name is stripe_test",
        raw_body(meta, line("1", "github", 0, len(bad)), bad),
    )


@case
def rollbacks() -> Iterator[Vector]:
    a = vault_a()
    yield Vector(
        "rollback_older_generation",
        "rollback",
        "a valid file of generation 2 where the anchor recorded generation 3 of the same vault",
        a.seal(),
        anchor=(a.vault_id, 3),
    )
    yield Vector(
        "rollback_other_vault",
        "rollback",
        "a valid file where the anchor names another vault id (a file swapped in)",
        a.seal(),
        anchor=(fixed("B/vault id", 16), 1),
    )


# -- self-check and output -----------------------------------------------------------------


def check_raw_encoder() -> None:
    """The encoder above (docs/FORMAT.md) and credctl's agree on valid vaults."""
    a = vault_a()
    kek = argon2id(PASSPHRASE, a.slots[0].salt, 19456, 2, 1)
    params = ARGON2_PARAMS.pack(19456, 2, 1, a.slots[0].salt)
    slot1 = raw_slot(
        a.vault_id,
        a.data_key,
        kek,
        slot_id=1,
        type_code=1,
        label=b"passphrase",
        params=params,
        nonce=a.slots[0].nonce,
    )
    ci = a.slots[1]
    slot2 = raw_slot(
        a.vault_id,
        a.data_key,
        ci_kek(ci_secret("A", 2), ci.salt),
        slot_id=2,
        type_code=2,
        label=b"ci: deploy",
        params=ci.salt,
        nonce=ci.nonce,
        created=ci.created,
    )
    assert [slot1, slot2] == [s.encode() for s in a.slots], "slot encoding differs"
    assert a.raw_header([slot1, slot2]) == a.header().encode(), "header encoding differs"
    assert a.seal_header(a.raw_header([slot1, slot2])) == a.seal(), "file encoding differs"


def vectors() -> list[Vector]:
    """Every vector, in a stable order, with unique names."""
    check_raw_encoder()
    found = [vector for make in CASES for vector in make()]
    names = [v.name for v in found]
    assert len(names) == len(set(names)), "duplicate vector names"
    return found


def write_all(out_dir: Path) -> list[Path]:
    """Write every vector into `out_dir`; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for vector in vectors():
        path = out_dir / vector.name
        path.write_bytes(vector.render())
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else OUT_DIR
    written = write_all(out_dir)
    stale = sorted(p.name for p in out_dir.iterdir() if p.is_file() and p not in written)
    print(f"wrote {len(written)} vectors to {out_dir}")
    if stale:
        print("not produced by this generator (delete them?): " + ", ".join(stale))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
