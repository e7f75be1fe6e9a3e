"""Reading and verifying the sealed trail: one pass over every segment.

`read_trail` walks the entries in order, checks each one's seq, epoch and mac
against the chain (and, when asked, decrypts it), then checks the chain against
the head recorded by the vault's last write and against a checkpoint.  The
first entry that fails is the *first bad seq*; a last line without its newline
is a *torn tail* (a writer died mid-append), reported apart from tampering.
Entries after a bad one are still decrypted for listing, each against its
predecessor as stored, but the trail does not verify.
"""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any

from credctl.audit import seal
from credctl.audit.model import entry_time
from credctl.records.activity import Activity, Actor

if TYPE_CHECKING:
    from credctl.audit.checkpoint import Checkpoint
    from credctl.audit.trail import AuditTrail


class TrailReport:
    """What one pass over the trail found."""

    def __init__(self, config: seal.TrailConfig) -> None:
        self.config = config
        #: (seq, fields) of every entry that decrypted, in trail order.
        self.entries: list[tuple[int, dict[str, Any]]] = []
        #: The mac of each entry that verified, by seq (for the head and checkpoint checks).
        self.captured: dict[int, bytes] = {}
        #: Entries that verified (in the chain, before any problem).
        self.count = 0
        self.first_seq: int | None = None
        #: (seq, mac) of the last entry that verified, else the base.
        self.head: tuple[int, bytes] = config.base
        #: (seq, mac) of the last entry in the files, whether or not it verified.
        self.last: tuple[int, bytes] = config.base
        #: The first bad seq and why; None when the trail verifies.
        self.problem: tuple[int, str] | None = None
        #: Bytes of a last line cut off by a writer that died (0: none).
        self.torn = 0
        #: Entries that did not decrypt or parse (listing only).
        self.unreadable = 0
        self.checkpoint: Checkpoint | None = None

    def activities(self) -> list[Activity]:
        """The decrypted entries as `Activity`s (for metrics)."""
        return [activity_of(seq, fields) for seq, fields in self.entries]

    @property
    def verified(self) -> bool:
        """True when no entry failed."""
        return self.problem is None

    def fail(self, seq: int, why: str) -> None:
        """Note the first bad seq (later ones are not reported)."""
        if self.problem is None:
            self.problem = (seq, why)

    def describe(self) -> str:
        """One line for people: the result."""
        if self.problem is not None:
            seq, why = self.problem
            return f"the audit trail does not verify: first bad seq {seq}: {why}"
        span = f"seq {self.first_seq}..{self.head[0]}" if self.count else "no entries"
        return f"the audit trail verifies: {self.count} entries ({span}), head {self.head[0]} " \
               f"{seal.b64(self.head[1])}"  # fmt: skip


def stored_config(trail: AuditTrail) -> seal.TrailConfig:
    """The trail's settings without writing the vault (derived when none are stored yet)."""
    return trail.config()


def read_trail(
    trail: AuditTrail,
    *,
    verify: bool = True,
    decrypt: bool = True,
    checkpoint: Checkpoint | None = None,
    config: seal.TrailConfig | None = None,
) -> TrailReport:
    """Read (and verify) every segment under the trail's shared lock.

    `config`: the trail's settings as a vault write sees them (default: as the
    vault was last read).
    """
    config = config or stored_config(trail)
    files = trail.files
    with files.locked(shared=True, create=False) as folder:
        contents = (
            [files.read(folder, name) for name in files.segments(folder)]
            if folder is not None
            else []
        )
    return examine(config, contents, verify=verify, decrypt=decrypt, checkpoint=checkpoint)


def examine(
    config: seal.TrailConfig,
    contents: list[bytes],
    *,
    verify: bool = True,
    decrypt: bool = True,
    checkpoint: Checkpoint | None = None,
) -> TrailReport:
    """Walk the segments' `contents` (oldest first) against the trail's settings."""
    report = TrailReport(config)
    _walk(report, contents, verify=verify, decrypt=decrypt)
    if verify:
        _check_anchor(report, config.head, "the vault's last write recorded")
        if checkpoint is not None:
            report.checkpoint = checkpoint
            _check_anchor(report, (checkpoint.seq, checkpoint.hash), "the checkpoint names")
    return report


def _walk(report: TrailReport, contents: list[bytes], *, verify: bool, decrypt: bool) -> None:
    config = report.config
    vault_id = config.vault_id
    base_seq, prev = config.base
    stored_prev = prev
    expected = base_seq + 1
    epoch = 1
    chain: dict[int, bytes] = {}
    started = False
    for index, data in enumerate(contents):
        lines = data.split(b"\n")
        fragment = lines.pop()
        for raw in lines:
            try:
                line = seal.parse_line(raw + b"\n")
            except ValueError:
                report.fail(expected, "the entry is malformed (edited or damaged)")
                report.unreadable += 1
                started = True
                continue
            if not started and line.seq <= base_seq:
                stored_prev = line.mac  # pruned already, not yet removed from the file
                continue
            started = True
            if verify and report.problem is None:
                _check_link(report, line, expected, epoch, prev, chain)
                if report.problem is None:
                    if report.first_seq is None:
                        report.first_seq = line.seq
                    report.count += 1
                    report.head = (line.seq, line.mac)
                    prev, epoch, expected = line.mac, line.epoch, expected + 1
            if decrypt:
                fields = _open(config, vault_id, line, stored_prev)
                if fields is None:
                    report.unreadable += 1
                    report.fail(line.seq, "the entry does not decrypt")
                else:
                    report.entries.append((line.seq, fields))
            stored_prev = line.mac
            report.last = (line.seq, line.mac)
        if fragment:
            if index == len(contents) - 1:
                report.torn = len(fragment)
            else:
                report.fail(expected, "an entry is cut off inside an archived segment")


def _check_link(
    report: TrailReport,
    line: seal.Line,
    expected: int,
    epoch: int,
    prev: bytes,
    chain: dict[int, bytes],
) -> None:
    config = report.config
    if line.seq > expected:
        missing = f"entry {expected} is" if line.seq == expected + 1 else \
                  f"entries {expected}..{line.seq - 1} are"  # fmt: skip
        report.fail(expected, f"{missing} missing (removed, or the trail was cut and replaced)")
        return
    if line.seq < expected:
        report.fail(expected, f"entry {line.seq} appears again after entry {expected - 1} "
                    "(inserted, copied or reordered)")  # fmt: skip
        return
    if not epoch <= line.epoch <= config.epoch:
        report.fail(line.seq, f"the entry names key epoch {line.epoch}, which the vault "
                    "does not expect here")  # fmt: skip
        return
    key = chain.get(line.epoch)
    if key is None:
        key = chain[line.epoch] = config.keys(line.epoch).chain
    message = prev + seal.u64(line.seq) + seal.u16(line.epoch) + line.nonce + line.ct
    if not hmac.compare_digest(hmac.digest(key, message, "sha256"), line.mac):
        report.fail(line.seq, "the entry does not authenticate (edited, moved, or sealed with "
                    "another vault's key)")  # fmt: skip
        return
    report.captured[line.seq] = line.mac


def _check_anchor(report: TrailReport, anchor: tuple[int, bytes] | None, what: str) -> None:
    if anchor is None or report.problem is not None:
        return
    seq, digest = anchor
    base_seq, base_hash = report.config.base
    if seq == base_seq:
        if not hmac.compare_digest(digest, base_hash):
            report.fail(seq + 1, f"{what} seq {seq}, which the pruned start does not match")
        return
    if seq < base_seq:
        report.fail(base_seq + 1, f"{what} seq {seq}, older than the pruned start "
                    f"(seq {base_seq}): it can no longer be checked")  # fmt: skip
        return
    last = report.head[0]
    if seq > last:
        report.fail(last + 1, f"the trail ends at seq {last} but {what} seq {seq}: entries "
                    "were cut off, or an older copy of the trail was put back")  # fmt: skip
        return
    if not hmac.compare_digest(report.captured[seq], digest):
        report.fail(seq, f"entry {seq} is not the one {what}")


def _open(
    config: seal.TrailConfig, vault_id: bytes, line: seal.Line, prev: bytes
) -> dict[str, Any] | None:
    try:
        keys = config.keys(line.epoch)
        plaintext = keys.aead.decrypt(
            line.nonce, line.ct, seal.aad(vault_id, line.seq, line.epoch, prev)
        )
        fields = json.loads(plaintext)
        if not (isinstance(fields["action"], str) and isinstance(fields["timestamp"], str)):
            return None
    except Exception:  # noqa: BLE001 - any failure means the entry cannot be read
        return None
    return fields if isinstance(fields, dict) else None


def activity_of(seq: int, fields: dict[str, Any]) -> Activity:
    """An `Activity` from an entry's fields (unknown user or origin: empty text)."""
    actor = Actor(
        str(fields.get("user") or ""),
        origin=str(fields.get("origin") or ""),
        host=str(fields.get("host") or ""),
        ip=fields.get("ip"),
        execution_id=fields.get("execution_id"),
        workflow_id=fields.get("workflow_id"),
    )
    duration = fields.get("duration_ms")
    return Activity(
        str(fields["action"]),
        fields.get("credential_id"),
        fields.get("credential_name"),
        actor=actor,
        at=entry_time(fields["timestamp"]).timestamp(),
        outcome=str(fields.get("outcome", "ok")),
        error=fields.get("error"),
        duration_ms=float(duration) if duration is not None else None,
        detail=fields.get("detail"),
        seq=seq,
    )
