"""The audit operations behind `CredentialManager`: list, export, verify, checkpoint, prune.

Each one reads the record layer's activity log: the sealed trail of a vault
(`AuditTrail`), a log that verifies itself (`SelfVerifyingLog`: a shared
backend's sealed log, which has no checkpoints and is not pruned), or a plain
log (memory and plug-in backends), whose entries are listed and exported alike
but cannot be verified, checkpointed or pruned.
Every operation appends its own entry (``audit_list``, ``audit_export``, …)
before its result is handed out, so reading the trail is audited too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from credctl.audit import seal
from credctl.audit.model import AuditEntry, AuditFilter, ExportFormat
from credctl.errors import AuditTamperedError, InvalidInput

if TYPE_CHECKING:
    import datetime as dt

    from credctl.audit.reader import TrailReport
    from credctl.audit.trail import AuditTrail
    from credctl.records.activity import Actor
    from credctl.records.store import RecordStore
    from credctl.storage.sealed_log import LogCheck


@runtime_checkable
class SelfVerifyingLog(Protocol):
    """An activity log that checks its own entries and end (a shared backend's)."""

    def verify(self) -> LogCheck:
        """Every entry that opened, and the first problem, if any."""
        ...


class AuditVerification(NamedTuple):
    """The result of `verify_audit_trail`.

    `verified` is None for a log that is not sealed (memory and plug-in
    backends).  `first_bad_seq` and `problem` say where and why verification
    failed; `torn_bytes` is a last entry cut off by a writer that died (not
    tampering: the next append repairs it).
    """

    verified: bool | None
    entries: int
    first_seq: int | None
    last_seq: int | None
    head_seq: int | None
    head_hash: str | None
    first_bad_seq: int | None = None
    problem: str | None = None
    torn_bytes: int = 0
    recorded_head_seq: int | None = None
    checkpoint_seq: int | None = None

    def describe(self) -> str:
        """One line for people."""
        if self.verified is None:
            return f"{self.entries} entries; this backend's log is not sealed"
        if not self.verified:
            return f"the audit trail does not verify: first bad seq {self.first_bad_seq}: " \
                   f"{self.problem}"  # fmt: skip
        span = f" (seq {self.first_seq}..{self.last_seq})" if self.entries else ""
        text = f"the audit trail verifies: {self.entries} entries{span}; head seq " \
               f"{self.head_seq} {self.head_hash}"  # fmt: skip
        if self.checkpoint_seq is not None:
            text += f"; it extends the checkpoint at seq {self.checkpoint_seq}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The `audit verify --json` object."""
        return {
            "verified": self.verified,
            "entries": self.entries,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head": {"seq": self.head_seq, "hash": self.head_hash},
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "torn_bytes": self.torn_bytes,
            "recorded_head_seq": self.recorded_head_seq,
            "checkpoint_seq": self.checkpoint_seq,
        }


def trail_of(store: RecordStore) -> AuditTrail | None:
    """The sealed trail behind the record layer, if it has one."""
    from credctl.audit.trail import AuditTrail

    log = store.activity_log
    return log if isinstance(log, AuditTrail) else None


def verification(report: TrailReport) -> AuditVerification:
    """The verification of one pass over the trail."""
    bad = report.problem
    recorded = report.config.head
    return AuditVerification(
        verified=bad is None,
        entries=report.count,
        first_seq=report.first_seq,
        last_seq=report.head[0] if report.count else None,
        head_seq=report.last[0],
        head_hash=seal.b64(report.last[1]),
        first_bad_seq=bad[0] if bad else None,
        problem=bad[1] if bad else None,
        torn_bytes=report.torn,
        recorded_head_seq=recorded[0] if recorded else None,
        checkpoint_seq=report.checkpoint.seq if report.checkpoint else None,
    )


def load(
    store: RecordStore,
    *,
    verify: bool,
    checkpoint: str | bytes | None = None,
    chosen: AuditFilter | None = None,
    decrypt: bool = True,
) -> tuple[list[AuditEntry], AuditVerification]:
    """The entries `chosen` lets through (all by default), oldest first, and what
    verifying the trail found (nothing is decrypted without `decrypt`)."""
    trail = trail_of(store)
    if trail is None:
        if checkpoint is not None:
            raise InvalidInput(_no("checkpoints", store))
        log = store.activity_log
        if isinstance(log, SelfVerifyingLog):
            check = log.verify()
            return select([entry_of(a) for a in check.activities], chosen), checked(check)
        entries = [entry_of(a) for a in store.activities()]
        last = entries[-1].seq if entries else None
        plain = AuditVerification(None, len(entries), entries[0].seq if entries else None,
                                  last, last, None)  # fmt: skip
        return select(entries, chosen), plain
    from credctl.audit import checkpoint as checkpoints
    from credctl.audit.reader import read_trail

    parsed = checkpoints.parse(checkpoint, trail.config()) if checkpoint is not None else None
    report = read_trail(trail, verify=verify, decrypt=decrypt, checkpoint=parsed)
    entries = []
    for seq, fields in report.entries:
        try:
            if chosen is None or chosen.matches_fields(fields):
                entries.append(AuditEntry.from_fields(seq, fields))
        except (KeyError, TypeError, ValueError):
            continue  # authenticated, yet not an entry this version understands
    return entries, verification(report)


def verifiable(store: RecordStore) -> bool:
    """Whether the store's log can be verified (a vault's trail, a backend's sealed log)."""
    return trail_of(store) is not None or isinstance(store.activity_log, SelfVerifyingLog)


def checked(check: LogCheck) -> AuditVerification:
    """The verification of a self-verifying log."""
    digest = seal.b64(check.head_digest) if check.head_digest is not None else "-"
    return AuditVerification(
        verified=check.problem is None,
        entries=check.entries,
        first_seq=check.first_seq,
        last_seq=check.last_seq,
        head_seq=check.head_seq or 0,
        head_hash=digest,
        first_bad_seq=check.first_bad_seq,
        problem=check.problem,
        recorded_head_seq=check.recorded_head,
    )


def _no(what: str, store: RecordStore) -> str:
    if isinstance(store.activity_log, SelfVerifyingLog):
        return f"a shared backend's activity log has no {what}: a vault file's trail has them"
    return f"this backend's activity log is not sealed: it has no {what}"


def entry_of(activity: Any) -> AuditEntry:
    """An `AuditEntry` from an `Activity` of a plain log."""
    from credctl._time import from_unix

    actor = activity.actor
    return AuditEntry(
        seq=activity.seq or 0,
        timestamp=from_unix(activity.at),
        action=activity.action,
        credential_id=activity.credential_id,
        credential_name=activity.credential_name,
        user=actor.user if actor else None,
        host=actor.host if actor else None,
        ip=actor.ip if actor else None,
        execution_id=actor.execution_id if actor else None,
        workflow_id=actor.workflow_id if actor else None,
        origin=actor.origin if actor else None,
        outcome=activity.outcome,
        error=activity.error,
        detail=activity.detail,
        duration_ms=activity.duration_ms,
    )


def select(entries: list[AuditEntry], chosen: AuditFilter | None) -> list[AuditEntry]:
    """The entries a filter lets through, oldest first."""
    if chosen is None:
        return list(entries)
    return [entry for entry in entries if chosen.matches(entry)]


def log(store: RecordStore, action: str, actor: Actor, detail: str, *, ok: bool = True,
        error: str | None = None) -> None:  # fmt: skip
    """Append the audit operation's own entry (raises if it cannot: nothing is handed out)."""
    from credctl.records.activity import Activity

    store.log(Activity(action, actor=actor, outcome="ok" if ok else "error", error=error,
                       detail=detail[:200]))  # fmt: skip


def export(
    store: RecordStore, actor: Actor, output: ExportFormat | str, chosen: AuditFilter | None
) -> bytes:
    """The report in `output` format (JSON, CSV or PDF), after logging ``audit_export``."""
    from credctl.audit import export as exporters

    try:
        kind = ExportFormat(str(output).lower())
    except ValueError:
        raise InvalidInput(f"unknown export format {output!r}", hint="use json, csv or pdf") \
            from None  # fmt: skip
    selected, verified = load(store, verify=True, chosen=chosen)
    report = exporters.Report(selected, chosen or AuditFilter(), verified)
    data = exporters.render(kind, report)
    log(store, "audit_export", actor, f"{kind.value}: {len(selected)} entries; "
        f"{(chosen or AuditFilter()).describe()}")  # fmt: skip
    return data


def checkpoint(store: RecordStore, actor: Actor) -> str:
    """A checkpoint of the verified trail (its own entry included)."""
    trail = trail_of(store)
    if trail is None:
        raise InvalidInput(_no("checkpoints", store))
    from credctl.audit import checkpoint as checkpoints
    from credctl.audit.reader import read_trail

    log(store, "audit_checkpoint", actor, "checkpoint made")
    report = read_trail(trail, verify=True, decrypt=False)
    if report.problem is not None:
        raise AuditTamperedError(
            report.describe(), hint="a checkpoint is made only of a trail that verifies"
        )
    return checkpoints.make(report.config, report.head)


def prune(store: RecordStore, actor: Actor, before: dt.datetime) -> int:
    """Remove the entries older than `before`; how many were removed."""
    trail = trail_of(store)
    if trail is None:
        if isinstance(store.activity_log, SelfVerifyingLog):
            raise InvalidInput("a shared backend's activity log is not pruned: only a vault "
                               "file's trail is")  # fmt: skip
        raise InvalidInput("this backend's activity log is not sealed: it cannot be pruned")
    from credctl.audit.prune import prune_trail

    return prune_trail(store, trail, actor, before)
