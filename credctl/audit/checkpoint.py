"""Checkpoints: a MACed statement of the trail's head, to keep somewhere else.

Like a Certificate Transparency checkpoint (origin, size, root hash, then a
signature), a credctl checkpoint names the vault, the seq and mac of the last
entry and the time, and ends with an HMAC-SHA256 of those lines under a key of
the trail's current epoch (``credctl/v1/audit/checkpoint``)::

    credctl audit checkpoint v1
    vault 2f87598b27c221207d082ca89e7c385c
    epoch 1
    seq 1234
    hash fb5BRoBDlnWRl69iPsnHDJNsGybv1TxUl9GgxlJhY9o=
    time 2025-06-01T10:00:00Z
    mac 3u0Jm…=

Kept in a CI artifact or a git repository, it lets `audit verify --checkpoint
FILE` prove that the trail still holds that entry: nothing at or before it was
cut, replaced or rolled back since.  Making or checking one needs the vault
unlocked (the key is in the vault).
"""

from __future__ import annotations

import hmac
from typing import NamedTuple

from credctl._time import format_rfc3339, parse_rfc3339, utc_now
from credctl.audit import seal
from credctl.errors import AuditTamperedError, InvalidInput

MAGIC = "credctl audit checkpoint v1"
MAX_SIZE = 4096


class Checkpoint(NamedTuple):
    """A parsed checkpoint."""

    vault_id: bytes
    epoch: int
    seq: int
    hash: bytes
    time: str

    def body(self) -> str:
        """The lines the mac covers (each ending in a newline)."""
        return (
            f"{MAGIC}\nvault {self.vault_id.hex()}\nepoch {self.epoch}\nseq {self.seq}\n"
            f"hash {seal.b64(self.hash)}\ntime {self.time}\n"
        )


def _mac(config: seal.TrailConfig, checkpoint: Checkpoint) -> bytes:
    key = config.keys(checkpoint.epoch).checkpoint_key(config.vault_id)
    return hmac.digest(key, checkpoint.body().encode(), "sha256")


def make(config: seal.TrailConfig, head: tuple[int, bytes]) -> str:
    """The checkpoint text of `head` (seq, mac), MACed in the current epoch."""
    checkpoint = Checkpoint(
        config.vault_id, config.epoch, head[0], head[1], format_rfc3339(utc_now())
    )
    return checkpoint.body() + f"mac {seal.b64(_mac(config, checkpoint))}\n"


def parse(text: str | bytes, config: seal.TrailConfig) -> Checkpoint:
    """Parse and authenticate a checkpoint of this vault's trail.

    `InvalidInput` (exit 9) when it is not a checkpoint; `AuditTamperedError`
    (exit 6) when it belongs to another vault or its mac does not match.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode()
        except UnicodeDecodeError:
            raise InvalidInput("the checkpoint is not text") from None
    if len(text) > MAX_SIZE:
        raise InvalidInput("the checkpoint is too long to be one")
    lines = text.strip("\n").split("\n")
    fields = dict(line.partition(" ")[::2] for line in lines[1:])
    try:
        if lines[0] != MAGIC or len(lines) != 7:
            raise ValueError("not a checkpoint")
        checkpoint = Checkpoint(
            bytes.fromhex(fields["vault"]),
            int(fields["epoch"]),
            int(fields["seq"]),
            seal.unb64(fields["hash"]),
            fields["time"],
        )
        parse_rfc3339(checkpoint.time)
        mac = seal.unb64(fields["mac"])
    except (KeyError, ValueError):
        raise InvalidInput(
            "this is not a credctl audit checkpoint",
            hint="make one with `credctl audit checkpoint > FILE`",
        ) from None
    if checkpoint.vault_id != config.vault_id:
        raise AuditTamperedError("the checkpoint belongs to another vault")
    if not 1 <= checkpoint.epoch <= config.epoch or not hmac.compare_digest(
        _mac(config, checkpoint), mac
    ):
        raise AuditTamperedError(
            "the checkpoint does not authenticate: it was edited, or made for another trail"
        )
    return checkpoint
