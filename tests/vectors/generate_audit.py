"""Generate the audit trail test vectors (docs/FORMAT.md, "The audit trail").

Usage: ``python tests/vectors/generate_audit.py [OUT_DIR]`` (default: ``audit/`` beside
this file).  ``tests/test_audit_vectors.py`` regenerates the corpus into a temporary
folder and fails if a byte differs, then checks every vector against credctl.

The trail is built here from docs/FORMAT.md alone, with `cryptography` and `hmac`,
never with `credctl.audit`, so that the vectors pin the format rather than the code.
Nothing is random: keys and nonces are SHA-256 of fixed labels.

Each vector file is ``key: value`` lines, a blank line, then the segment's bytes.
Keys: ``expect`` (``verified`` or ``tampered``), ``first-bad-seq`` (tampered),
``entries`` and ``head-seq``/``head-hash`` (verified: the entries that verify and the
last one's seq and mac), ``torn-bytes``, ``vault-id`` (hex), ``settings`` (the JSON the
vault keeps under ``audit``), ``comment``.
"""

from __future__ import annotations

import base64
import hmac
import json
import sys
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

OUT_DIR = Path(__file__).with_name("audit")


def fixed(label: str, size: int = 32) -> bytes:
    return sha256(f"credctl audit vectors/{label}".encode()).digest()[:size]


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


VAULT_ID = fixed("vault id", 16)
OTHER_VAULT_ID = fixed("other vault id", 16)
DATA_KEY = fixed("data key")
REKEYED_DATA_KEY = fixed("data key after rekey")

#: The plaintexts of the entries, in order (compact JSON, fields of SPEC §13).
ENTRIES = [
    {"timestamp": "2025-06-01T10:00:00.000Z", "action": "init", "user": "alice",
     "host": "build-1", "origin": "cli", "outcome": "ok"},
    {"timestamp": "2025-06-01T10:00:01.250Z", "action": "create", "credential_id": 1,
     "credential_name": "github", "user": "alice", "host": "build-1", "origin": "cli",
     "outcome": "ok", "duration_ms": 12.5},
    {"timestamp": "2025-06-01T10:00:02.000Z", "action": "get_token", "credential_id": 1,
     "credential_name": "github", "user": "ci", "host": "runner-7", "ip": "192.0.2.10",
     "execution_id": "exec-42", "workflow_id": "deploy", "origin": "library", "outcome": "ok"},
    {"timestamp": "2025-06-01T10:00:03.000Z", "action": "get_token", "user": "ci",
     "host": "runner-7", "origin": "api", "outcome": "error", "error": "NotFound"},
    {"timestamp": "2025-06-01T10:00:04.500Z", "action": "audit_verify", "user": "alice",
     "host": "build-1", "origin": "cli", "outcome": "ok", "detail": "verified"},
]  # fmt: skip


class Epoch:
    def __init__(self, number: int, data_key: bytes, vault_id: bytes) -> None:
        self.number = number
        self.root = hkdf(data_key, vault_id, b"credctl/v1/audit/root")
        self.seal = hkdf(self.root, vault_id, b"credctl/v1/audit/seal")
        self.chain = hkdf(self.root, vault_id, b"credctl/v1/audit/chain")


def genesis(epoch: Epoch, vault_id: bytes) -> bytes:
    return hmac.digest(epoch.chain, b"credctl/v1/audit/genesis" + vault_id, "sha256")


def seal_entry(
    epoch: Epoch, vault_id: bytes, seq: int, prev: bytes, fields: dict[str, object]
) -> tuple[bytes, bytes]:
    """One line and its mac, as docs/FORMAT.md states them."""
    plaintext = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
    nonce = fixed(f"nonce {vault_id.hex()} {seq} {epoch.number}", 12)
    numbers = seq.to_bytes(8, "big") + epoch.number.to_bytes(2, "big")
    aad = b"credctl/v1/audit/entry" + vault_id + numbers + prev
    ct = AESGCM(epoch.seal).encrypt(nonce, plaintext, aad)
    mac = hmac.digest(epoch.chain, prev + numbers + nonce + ct, "sha256")
    line = f"{seq} {epoch.number} {b64(nonce)} {b64(ct)} {b64(mac)}\n".encode()
    return line, mac


def trail(
    vault_id: bytes, epochs: list[Epoch], epoch_of: list[int]
) -> tuple[list[bytes], list[bytes], bytes]:
    """Lines and macs of ENTRIES (entry i sealed in epochs[epoch_of[i]]), and the genesis."""
    start = genesis(epochs[0], vault_id)
    prev, lines, macs = start, [], []
    for index, fields in enumerate(ENTRIES):
        line, prev = seal_entry(epochs[epoch_of[index]], vault_id, index + 1, prev, fields)
        lines.append(line)
        macs.append(prev)
    return lines, macs, start


def settings(epochs: list[Epoch], base: tuple[int, bytes], head: tuple[int, bytes] | None,
             vault_id: bytes = VAULT_ID) -> dict[str, object]:  # fmt: skip
    out: dict[str, object] = {
        "v": 1, "vault": vault_id.hex(), "epochs": [b64(e.root) for e in epochs],
        "base": {"seq": base[0], "hash": b64(base[1])},
    }  # fmt: skip
    if head is not None:
        out["head"] = {"seq": head[0], "hash": b64(head[1])}
    return out


def vector(body: bytes, comment: str, config: dict[str, object], **expect: object) -> bytes:
    header = [f"{key.replace('_', '-')}: {value}" for key, value in expect.items()]
    header += [f"vault-id: {VAULT_ID.hex()}",
               f"settings: {json.dumps(config, separators=(',', ':'))}",
               f"comment: {comment}"]  # fmt: skip
    return ("\n".join(header) + "\n\n").encode() + body


def flip(line: bytes) -> bytes:
    seq, epoch, nonce, ct, mac = line.rstrip(b"\n").split(b" ")
    raw = bytearray(base64.b64decode(ct))
    raw[0] ^= 0x80
    return b" ".join((seq, epoch, nonce, base64.b64encode(bytes(raw)), mac)) + b"\n"


def corpus() -> dict[str, bytes]:
    one = Epoch(1, DATA_KEY, VAULT_ID)
    two = Epoch(2, REKEYED_DATA_KEY, VAULT_ID)
    lines, macs, start = trail(VAULT_ID, [one], [0] * 5)
    base = (0, start)
    plain = settings([one], base, (2, macs[1]))
    head = {"head_seq": 5, "head_hash": b64(macs[4])}
    out: dict[str, bytes] = {}

    def bad(
        name: str, body: list[bytes], seq: int, comment: str, config: dict[str, object] = plain
    ):
        out[name] = vector(b"".join(body), comment, config, expect="tampered", first_bad_seq=seq)

    out["valid"] = vector(b"".join(lines), "five entries; the vault's last write recorded seq 2",
                          plain, expect="verified", entries=5, **head, torn_bytes=0)  # fmt: skip
    bad("ciphertext_bitflip", [*lines[:2], flip(lines[2]), *lines[3:]], 3,
        "one bit of entry 3's ciphertext flipped")  # fmt: skip
    bad("seq_edited", [*lines[:2], b"9" + lines[2][1:], *lines[3:]], 3,
        "entry 3 claims seq 9")  # fmt: skip
    bad("entry_deleted", [*lines[:2], *lines[3:]], 3, "entry 3 removed")
    bad("entry_inserted", [*lines[:3], lines[1], *lines[3:]], 4,
        "a copy of entry 2 inserted after entry 3")  # fmt: skip
    bad(
        "entries_swapped", [*lines[:2], lines[3], lines[2], lines[4]], 3, "entries 3 and 4 swapped"
    )
    bad("tail_cut", lines[:1], 2, "only entry 1 left; the vault recorded seq 2")
    bad("head_replaced", lines, 2, "the vault recorded another mac for seq 2",
        settings([one], base, (2, macs[0])))  # fmt: skip
    bad("non_canonical_base64", [*lines[:1], lines[1].replace(b"=\n", b"\n"), *lines[2:]], 2,
        "entry 2's mac without its base64 padding")  # fmt: skip
    other, _, _ = trail(OTHER_VAULT_ID, [Epoch(1, DATA_KEY, OTHER_VAULT_ID)], [0] * 5)
    bad("other_vault", other, 1, "the trail of another vault (same data key, other vault id)")
    torn = len(lines[4]) - 30
    out["torn_tail"] = vector(
        b"".join(lines)[:-30], "entry 5 cut off by a writer that died (no newline)", plain,
        expect="verified", entries=4, head_seq=4, head_hash=b64(macs[3]), torn_bytes=torn,
    )  # fmt: skip
    rekeyed, rekeyed_macs, _ = trail(VAULT_ID, [one, two], [0, 0, 0, 1, 1])
    both = settings([one, two], base, (2, rekeyed_macs[1]))
    out["rekeyed"] = vector(b"".join(rekeyed), "entries 4 and 5 sealed after a rekey (epoch 2)",
                            both, expect="verified", entries=5, head_seq=5,
                            head_hash=b64(rekeyed_macs[4]), torn_bytes=0)  # fmt: skip
    downgraded, _, _ = trail(VAULT_ID, [one, two], [0, 0, 0, 1, 0])
    bad("epoch_went_back", downgraded, 5, "entry 5 sealed with epoch 1 after epoch 2", both)
    bad("unknown_epoch", rekeyed, 4, "entries of epoch 2, which the vault does not know", plain)
    pruned = settings([one], (2, macs[1]), (2, macs[1]))
    out["pruned"] = vector(b"".join(lines[2:]), "entries 1 and 2 pruned; base seq 2", pruned,
                           expect="verified", entries=3, **head, torn_bytes=0)  # fmt: skip
    return out


def main(out_dir: Path = OUT_DIR) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, data in corpus().items():
        (out_dir / name).write_bytes(data)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR)
