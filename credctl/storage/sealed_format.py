"""The sealed record format: what every blob backend stores (docs/FORMAT.md, "Sealed records").

A sealed blob is ``"CS1" 0x00 || u64 revision || salt (16) || nonce (12) ||
AES-256-GCM(record key, nonce, plaintext, AAD) || tag``, with

    record key = HKDF-SHA256(data key, salt, "credctl/v1/sealed-record")
    AAD        = "credctl/v1/sealed-record" || vault id || u16 len(key) || key || u64 revision

so a blob opens only in its own vault, under its own storage key, at its own
revision: a blob moved to another key, put back at an older revision, or copied
from another vault fails authentication (exit 6).  Revisions are the vault's
commit numbers, so no two blobs ever written under one key share one.

Storage keys are keyed HMACs (HMAC-SHA256 under the *index key*, derived from the
data key) of what they name, so an operator of the engine cannot test a guess at
a credential's name:

    index key   = HKDF-SHA256(data key, vault id, "credctl/v1/sealed-index")
    record      "r-" || hex(HMAC(index key, "name" 0x00 owner 0x00 name))[0:32]
    id alias    "i-" || hex(HMAC(index key, "id" 0x00 decimal id))[0:32]
    bucket n    "m-" || hex(HMAC(index key, "bucket" 0x00 decimal n))[0:32]
    root, meta  "root-" / "meta-" || hex(HMAC(index key, "root" / "meta"))[0:32]

A record's bucket is ``u32(HMAC(index key, "bucket-of" 0x00 key)[0:4]) mod 2048``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from credctl.errors import VaultCorruptError
from credctl.vault import crypto

MAGIC = b"CS1\x00"
BUCKETS = 2048
KEYS_KEY = "keys"  # the key-slot blob: a vault file with an empty index (not sealed here)
SESSION_PREFIX = "s-"
_INFO = b"credctl/v1/sealed-record"
_INDEX_INFO = b"credctl/v1/sealed-index"
_ENVELOPE = struct.Struct(f">4sQ{crypto.SALT_SIZE}s{crypto.NONCE_SIZE}s")
MAX_JSON_DEPTH = 64


class SealKeys:
    """The keys of one vault generation: sealing, opening, and naming blobs."""

    __slots__ = ("_data_key", "_index_key", "vault_id")

    def __init__(self, vault_id: bytes, data_key: bytes) -> None:
        self.vault_id = vault_id
        self._data_key = data_key
        self._index_key = crypto.hkdf(data_key, vault_id, _INDEX_INFO)

    def __repr__(self) -> str:  # never a key
        return f"SealKeys(vault_id={self.vault_id.hex()[:12]}…)"

    def data_key_check(self) -> bytes:
        """The data-key check of the key-slot blob's header, for this data key."""
        from credctl.vault.keys import data_key_check

        return data_key_check(self._data_key, self.vault_id)

    def _mac(self, *parts: str) -> bytes:
        mac = crypto_hmac.HMAC(self._index_key, hashes.SHA256())
        mac.update("\x00".join(parts).encode())
        return mac.finalize()

    def name(self, prefix: str, *parts: str) -> str:
        """A storage key: `prefix` and 128 bits of the keyed HMAC of `parts`."""
        return prefix + self._mac(*parts).hex()[:32]

    def record_key(self, owner: str, name: str) -> str:
        """Where the record `owner` keeps under `name` lives."""
        return self.name("r-", "name", owner, name)

    def id_key(self, credential_id: int) -> str:
        """The alias that leads from an id to its record."""
        return self.name("i-", "id", str(credential_id))

    def bucket_of(self, key: str) -> int:
        """Which manifest bucket lists `key`."""
        return int.from_bytes(self._mac("bucket-of", key)[:4], "big") % BUCKETS

    def bucket_key(self, bucket: int) -> str:
        """The storage key of manifest bucket `bucket`."""
        return self.name("m-", "bucket", str(bucket))

    @property
    def root_key(self) -> str:
        """The root: commit number, bucket revisions, count, meta revision."""
        return self.name("root-", "root")

    @property
    def meta_key(self) -> str:
        """The settings (next id, idempotency keys, pending flows, …)."""
        return self.name("meta-", "meta")

    def _aad(self, key: str, revision: int) -> bytes:
        raw = key.encode()
        return (
            _INFO + self.vault_id + struct.pack(">H", len(raw)) + raw + struct.pack(">Q", revision)
        )

    def seal(self, key: str, revision: int, plaintext: bytes) -> bytes:
        """Seal `plaintext` for `key` at `revision` under a fresh per-blob key."""
        salt = crypto.random_bytes(crypto.SALT_SIZE)
        nonce = crypto.random_bytes(crypto.NONCE_SIZE)
        record_key = crypto.hkdf(self._data_key, salt, _INFO)
        sealed = crypto.seal(record_key, nonce, plaintext, self._aad(key, revision))
        return _ENVELOPE.pack(MAGIC, revision, salt, nonce) + sealed

    def open(self, key: str, blob: bytes) -> tuple[int, bytes]:
        """(revision, plaintext) of a blob stored under `key`, or exit 6."""
        revision = revision_of(key, blob)
        _magic, _rev, salt, nonce = _ENVELOPE.unpack_from(blob, 0)
        record_key = crypto.hkdf(self._data_key, salt, _INFO)
        try:
            plaintext = crypto.unseal(
                record_key, nonce, blob[_ENVELOPE.size :], self._aad(key, revision)
            )
        except crypto.AuthenticationFailed:
            raise VaultCorruptError(
                "a stored record failed authentication: it was changed, moved to another "
                "key or copied from another vault outside credctl",
                hint="restore the backend from a backup, or run `credctl doctor`",
            ) from None
        return revision, plaintext

    def seal_json(self, key: str, revision: int, value: Any) -> bytes:
        """Seal a JSON value in canonical form."""
        return self.seal(key, revision, canonical_json(value))

    def open_json(self, key: str, blob: bytes) -> tuple[int, Any]:
        """(revision, JSON value) of a sealed blob."""
        revision, plaintext = self.open(key, blob)
        return revision, parse_json(plaintext)


def revision_of(key: str, blob: bytes) -> int:
    """The revision a sealed blob claims (authenticated only by `SealKeys.open`)."""
    if len(blob) < _ENVELOPE.size + crypto.TAG_SIZE or blob[:4] != MAGIC:
        raise VaultCorruptError(f"stored blob {key} is not a sealed credctl record")
    return int(_ENVELOPE.unpack_from(blob, 0)[1])


def canonical_json(value: Any) -> bytes:
    """Compact, sorted JSON as UTF-8 (the vault body's canonical form)."""
    return json.dumps(
        value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False
    ).encode()


def parse_json(raw: bytes) -> Any:
    """Parse authenticated JSON; NaN and friends are refused as damage."""

    def refuse(token: str) -> Any:
        raise ValueError(token)

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise VaultCorruptError("a stored record is not valid JSON") from exc
