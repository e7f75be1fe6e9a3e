"""Keys, sealing and chaining of audit entries (docs/FORMAT.md, "The audit trail").

Each entry is one line of a segment file::

    <seq> <epoch> <nonce> <ciphertext> <mac>\\n

``seq`` counts from 1; ``epoch`` numbers the key the entry is sealed under
(a new epoch starts after each `rekey`); the last three fields are standard
base64.  The ciphertext is AES-256-GCM of the entry's JSON under the epoch's
seal key, with the vault id, seq, epoch and the previous entry's mac as
associated data; the mac is HMAC-SHA256 under the epoch's chain key of the
previous mac, seq, epoch, nonce and ciphertext.  So an entry can neither be
read nor made without the key, and changing, removing, inserting or reordering
one breaks the chain at that entry.

An epoch's root key is HKDF of the vault's data key (label
``credctl/v1/audit/root``); the roots of every epoch are kept in the vault's
encrypted settings, so entries of earlier epochs stay verifiable after a
`rekey` replaced the data key, and only someone who can unlock the vault can
read or extend the trail.

Standard library and `cryptography` only, no dataclasses: ``get-token`` seals
one entry on every call.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from credctl.errors import VaultCorruptError
from credctl.vault import crypto

ROOT_INFO = b"credctl/v1/audit/root"
SEAL_INFO = b"credctl/v1/audit/seal"
CHAIN_INFO = b"credctl/v1/audit/chain"
CHECKPOINT_INFO = b"credctl/v1/audit/checkpoint"
GENESIS_LABEL = b"credctl/v1/audit/genesis"
ENTRY_AAD = b"credctl/v1/audit/entry"
SETTINGS_KEY = "audit"
MAC_SIZE = 32
#: Free text from callers (users, hosts, execution ids) is cut to this many characters.
MAX_TEXT = 256
#: Entry fields in the order of SPEC §13 (after `seq`), then credctl's own.
FIELDS = (
    "timestamp", "action", "credential_id", "credential_name", "user", "host", "ip",
    "execution_id", "workflow_id", "origin", "outcome", "error", "duration_ms", "detail",
)  # fmt: skip


def b64(raw: bytes) -> str:
    """Standard base64 with padding, no newline."""
    return binascii.b2a_base64(raw, newline=False).decode()


def unb64(text: str | bytes) -> bytes:
    """Strict, canonical base64 (anything else raises ValueError)."""
    raw = binascii.a2b_base64(text, strict_mode=True)
    if binascii.b2a_base64(raw, newline=False) != (
        text.encode() if isinstance(text, str) else text
    ):
        raise ValueError("non-canonical base64")
    return raw


def u64(value: int) -> bytes:
    """Big-endian unsigned 64-bit."""
    return value.to_bytes(8, "big")


def u16(value: int) -> bytes:
    """Big-endian unsigned 16-bit."""
    return value.to_bytes(2, "big")


def epoch_root(data_key: bytes, vault_id: bytes) -> bytes:
    """The root key of the epoch that `data_key` seals."""
    return crypto.hkdf(data_key, vault_id, ROOT_INFO)


class EpochKeys:
    """The keys of one epoch, derived from its root."""

    __slots__ = ("aead", "chain", "epoch", "root", "seal")

    def __init__(self, epoch: int, root: bytes, vault_id: bytes) -> None:
        self.epoch = epoch
        self.root = root
        self.seal = crypto.hkdf(root, vault_id, SEAL_INFO)
        self.chain = crypto.hkdf(root, vault_id, CHAIN_INFO)
        self.aead = AESGCM(self.seal)

    def checkpoint_key(self, vault_id: bytes) -> bytes:
        """The key that MACs checkpoints made in this epoch."""
        return crypto.hkdf(self.root, vault_id, CHECKPOINT_INFO)


def mac(chain_key: bytes, prev: bytes, seq: int, epoch: int, nonce: bytes, ct: bytes) -> bytes:
    """The entry's link in the chain (HMAC-SHA256)."""
    h = crypto_hmac.HMAC(chain_key, hashes.SHA256())
    h.update(prev + u64(seq) + u16(epoch) + nonce + ct)
    return h.finalize()


def aad(vault_id: bytes, seq: int, epoch: int, prev: bytes) -> bytes:
    """The associated data of an entry's ciphertext."""
    return ENTRY_AAD + vault_id + u64(seq) + u16(epoch) + prev


def genesis(keys: EpochKeys, vault_id: bytes) -> bytes:
    """The chain value before entry 1 of a new trail."""
    h = crypto_hmac.HMAC(keys.chain, hashes.SHA256())
    h.update(GENESIS_LABEL + vault_id)
    return h.finalize()


class TrailConfig:
    """The trail's settings, kept in the vault's encrypted settings under ``audit``."""

    __slots__ = ("_keys", "base", "epochs", "head", "vault_id")

    def __init__(
        self,
        vault_id: bytes,
        epochs: list[bytes],
        base: tuple[int, bytes],
        head: tuple[int, bytes] | None = None,
    ) -> None:
        self.vault_id = vault_id
        self.epochs = epochs
        self.base = base
        self.head = head
        self._keys: dict[int, EpochKeys] = {}

    @classmethod
    def new(cls, vault_id: bytes, root: bytes) -> TrailConfig:
        """The settings of a trail that starts now."""
        config = cls(vault_id, [root], (0, b""))
        config.base = (0, genesis(config.keys(1), vault_id))
        return config

    @classmethod
    def from_settings(cls, value: Any, vault_id: bytes) -> TrailConfig | None:
        """Parse the settings; None when absent or copied from another vault (an export)."""
        if value is None:
            return None
        try:
            if value["vault"] != vault_id.hex():
                return None
            epochs = [unb64(root) for root in value["epochs"]]
            base = (int(value["base"]["seq"]), unb64(value["base"]["hash"]))
            head_value = value.get("head")
            head = (int(head_value["seq"]), unb64(head_value["hash"])) if head_value else None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise VaultCorruptError("the vault's audit settings are malformed") from exc
        if not epochs or any(len(root) != crypto.KEY_SIZE for root in epochs):
            raise VaultCorruptError("the vault's audit settings hold an invalid key")
        return cls(vault_id, epochs, base, head)

    def to_settings(self) -> dict[str, Any]:
        """The JSON-able form stored in the vault."""
        out: dict[str, Any] = {
            "v": 1,
            "vault": self.vault_id.hex(),
            "epochs": [b64(root) for root in self.epochs],
            "base": {"seq": self.base[0], "hash": b64(self.base[1])},
        }
        if self.head is not None:
            out["head"] = {"seq": self.head[0], "hash": b64(self.head[1])}
        return out

    @property
    def epoch(self) -> int:
        """The epoch new entries are sealed in."""
        return len(self.epochs)

    def is_current(self, root: bytes) -> bool:
        """True when `root` (from the data key in use) is the newest epoch's."""
        return crypto.checks_equal(self.epochs[-1], root)

    def keys(self, epoch: int) -> EpochKeys:
        """The keys of `epoch` (1-based); KeyError for an epoch the vault does not know."""
        found = self._keys.get(epoch)
        if found is None:
            if not 1 <= epoch <= len(self.epochs):
                raise KeyError(epoch)
            found = self._keys[epoch] = EpochKeys(epoch, self.epochs[epoch - 1], self.vault_id)
        return found


def timestamp(at: float) -> str:
    """Unix seconds as RFC 3339 UTC with milliseconds."""
    whole = int(at)
    millis = round((at - whole) * 1000)
    if millis >= 1000:
        whole, millis = whole + 1, millis - 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def _text(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT]
    return value


def entry_json(fields: Mapping[str, Any]) -> bytes:
    """An entry's plaintext: compact JSON of the fields that are set."""
    present = {name: _text(fields[name]) for name in FIELDS if fields.get(name) is not None}
    return json.dumps(present, separators=(",", ":"), ensure_ascii=False).encode()


def seal_line(
    keys: EpochKeys,
    vault_id: bytes,
    seq: int,
    prev: bytes,
    plaintext: bytes,
    nonce: bytes | None = None,
) -> tuple[bytes, bytes]:
    """One sealed line and its mac (`nonce` is a parameter only for test vectors)."""
    nonce = nonce or crypto.random_bytes(crypto.NONCE_SIZE)
    ct = keys.aead.encrypt(nonce, plaintext, aad(vault_id, seq, keys.epoch, prev))
    link = mac(keys.chain, prev, seq, keys.epoch, nonce, ct)
    line = f"{seq} {keys.epoch} {b64(nonce)} {b64(ct)} {b64(link)}\n".encode()
    return line, link


class Line:
    """The clear fields of one line."""

    __slots__ = ("ct", "epoch", "mac", "nonce", "seq")

    def __init__(self, seq: int, epoch: int, nonce: bytes, ct: bytes, link: bytes) -> None:
        self.seq = seq
        self.epoch = epoch
        self.nonce = nonce
        self.ct = ct
        self.mac = link


def _number(text: bytes) -> int:
    if not text.isdigit() or (len(text) > 1 and text[:1] == b"0") or len(text) > 18:
        raise ValueError("not a canonical number")
    return int(text)


def parse_line(raw: bytes) -> Line:
    """Parse one complete line (with its newline); ValueError when malformed."""
    if not raw.endswith(b"\n"):
        raise ValueError("no newline")
    parts = raw[:-1].split(b" ")
    if len(parts) != 5:
        raise ValueError("wrong number of fields")
    seq, epoch = _number(parts[0]), _number(parts[1])
    nonce, ct, link = unb64(parts[2]), unb64(parts[3]), unb64(parts[4])
    if seq < 1 or not 1 <= epoch < 1 << 16:
        raise ValueError("seq or epoch out of range")
    if len(nonce) != crypto.NONCE_SIZE or len(link) != MAC_SIZE or len(ct) < crypto.TAG_SIZE:
        raise ValueError("wrong field size")
    return Line(seq, epoch, nonce, ct, link)
