"""The activity log of a blob backend: sealed entries in the engine's own log.

Each `Activity` becomes one entry of the engine's ``activity`` log, sealed like
a record (`SealKeys.seal`, storage key ``log-activity``, revision = the entry's
number), so the engine sees neither names nor users, and an entry moved,
replayed or edited fails to open (exit 6).  Appending names the last entry it
follows (compare-and-swap): concurrent processes never both write entry *n*;
the loser retries after the winner.

Every vault write records the log's last entry number and a digest of its bytes
in the settings it commits (``activity_head``, `HEAD_SETTING`), so `verify` finds
an edited, removed, reordered or foreign entry (it does not open at its number,
or a number is missing) and a tail cut off below the last write, even after new
entries filled the numbers again (the recorded one no longer matches), as
`audit verify` does for a vault file's trail.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from credctl.errors import AuditUnavailableError, VaultBusyError, VaultCorruptError
from credctl.records.activity import Activity, Actor
from credctl.storage.blobs import BackendUnavailableError, BlobBackend, BlobConflictError
from credctl.storage.sealed_format import SealKeys

LOG = "activity"
_KEY = "log-activity"
_ATTEMPTS = 100
#: The settings member where each write records the log's last entry number.
HEAD_SETTING = "activity_head"


class LogCheck(NamedTuple):
    """What `SealedActivityLog.verify` found (the fields of an audit verification)."""

    #: Every entry that opened, in order (listed even after a bad one).
    activities: list[Activity]
    #: Entries that verified, before the first problem.
    entries: int
    first_seq: int | None
    #: The last entry that verified.
    last_seq: int | None
    #: The last entry in the log, whether or not it verified, and a digest of its bytes.
    head_seq: int | None
    head_digest: bytes | None
    recorded_head: int
    first_bad_seq: int | None = None
    problem: str | None = None


class LogWriter(Protocol):
    """Where entries are appended: the engine, or the writer's own transaction."""

    def last_log_seq(self, log: str) -> int: ...

    def append_log(self, log: str, expected_last: int, entries: Sequence[bytes]) -> int: ...


class SealedActivityLog:
    """An `ActivityLog` (and `BatchLog`) in the engine's log table or log blobs.

    Inside a write (`append_batch` with the settings being committed) the entries
    go into the writer's own transaction: on SQL engines they commit, or not,
    together with the records.
    """

    def __init__(
        self,
        backend: BlobBackend,
        keys: Callable[[], SealKeys],
        active: Callable[[], LogWriter | None] = lambda: None,
        recorded_head: Callable[[], object] = lambda: None,
    ) -> None:
        self.backend = backend
        self._keys = keys
        self._active = active
        self._recorded_head = recorded_head

    def append(self, activity: Activity) -> None:
        """Seal and append one entry (retried while other processes append)."""
        self.append_batch([activity])

    def append_batch(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        """Seal and append the entries in order, in one append."""
        if not activities:
            return
        keys = self._keys()
        entries = [_encode(activity) for activity in activities]
        writer: LogWriter = (self._active() if settings is not None else None) or self.backend
        for _attempt in range(_ATTEMPTS):
            last = writer.last_log_seq(LOG)
            sealed = [keys.seal_json(_KEY, last + i, e) for i, e in enumerate(entries, 1)]
            try:
                head = writer.append_log(LOG, last, sealed)
            except BlobConflictError:
                time.sleep(random.uniform(0, 0.01))  # noqa: S311 - jitter, not a secret
                continue
            except BackendUnavailableError as exc:
                raise AuditUnavailableError(
                    f"cannot write the activity log: {exc}; nothing was handed out",
                    hint="credctl refuses to act without an audit entry (fail closed): make "
                    "the database accept the log's rows again, then retry",
                ) from None
            if settings is not None:  # the write being committed proves these entries
                settings[HEAD_SETTING] = {"seq": head, "digest": _digest(sealed[-1]).hex()}
            return
        raise VaultBusyError("the activity log stayed busy: too many concurrent appends")

    def activities(self) -> Iterator[Activity]:
        """Every entry, oldest first; a tampered entry is exit 6."""
        keys = self._keys()
        for seq, data in self.backend.read_log(LOG):
            revision, entry = keys.open_json(_KEY, data)
            if revision != seq or not isinstance(entry, dict):
                raise VaultCorruptError(f"activity log entry {seq} was moved or replayed")
            yield _decode(entry, seq)

    def verify(self) -> LogCheck:
        """Open every entry at its number, find gaps, and compare the end with the head the
        vault's last write recorded (read first: the log only grows after it)."""
        recorded, recorded_digest = _recorded(self._recorded_head())
        keys = self._keys()
        opened: list[Activity] = []
        count, first, verified_last = 0, None, None
        head: tuple[int, bytes] | None = None
        bad: tuple[int, str] | None = None
        expected = 1
        for seq, data in self.backend.read_log(LOG):
            head = (seq, _digest(data))
            if seq != expected and bad is None:
                bad = (expected, f"entry {expected} is missing (the next one is {seq})")
            expected = seq + 1
            try:
                revision, entry = keys.open_json(_KEY, data)
            except VaultCorruptError:
                bad = bad or (seq, "the entry does not authenticate: it was edited, or copied "
                                   "from another place or vault")  # fmt: skip
                continue
            if revision != seq or not isinstance(entry, dict):
                bad = bad or (seq, f"the entry was sealed as entry {revision}: moved or replayed")
                continue
            if seq == recorded and head[1] != recorded_digest:
                bad = bad or (seq, "the entry is not the one the vault's last write recorded: "
                                   "the log was cut and written again")  # fmt: skip
            opened.append(_decode(entry, seq))
            if bad is None:
                count += 1
                first = seq if first is None else first
                verified_last = seq
        end = head[0] if head else 0
        if bad is None and end < recorded:
            bad = (end + 1, f"the log ends at seq {end}, but the vault's last write recorded "
                            f"seq {recorded}: entries were removed")  # fmt: skip
        return LogCheck(opened, count, first, verified_last, head[0] if head else None,
                        head[1] if head else None, recorded, *(bad or (None, None)))  # fmt: skip


def _digest(sealed: bytes) -> bytes:
    import hashlib

    return hashlib.sha256(sealed).digest()


def _recorded(value: object) -> tuple[int, bytes | None]:
    """(seq, digest) of `HEAD_SETTING` as a write stored it; (0, None) before any."""
    if isinstance(value, dict):
        try:
            return int(value["seq"]), bytes.fromhex(str(value["digest"]))
        except (KeyError, TypeError, ValueError):
            pass
    return 0, None


def _encode(activity: Activity) -> dict[str, object]:
    actor = activity.actor
    entry: dict[str, object] = {
        "a": activity.action, "id": activity.credential_id, "n": activity.credential_name,
        "t": round(activity.at, 3), "o": activity.outcome, "e": activity.error,
        "ms": round(activity.duration_ms, 3) if activity.duration_ms is not None else None,
        "d": activity.detail,
    }  # fmt: skip
    if actor is not None:
        entry["actor"] = {
            "user": actor.user, "origin": actor.origin, "owner": actor.owner,
            "host": actor.host, "ip": actor.ip, "execution_id": actor.execution_id,
            "workflow_id": actor.workflow_id,
        }  # fmt: skip
    return entry


def _decode(entry: dict[str, object], seq: int) -> Activity:
    raw_actor = entry.get("actor")
    actor = None
    if isinstance(raw_actor, dict):
        actor = Actor(
            str(raw_actor.get("user")), origin=str(raw_actor.get("origin")),
            owner=str(raw_actor.get("owner")), host=_text(raw_actor.get("host")),
            ip=_text(raw_actor.get("ip")), execution_id=_text(raw_actor.get("execution_id")),
            workflow_id=_text(raw_actor.get("workflow_id")),
        )  # fmt: skip
    credential_id = entry.get("id")
    duration = entry.get("ms")
    return Activity(
        str(entry.get("a")),
        int(credential_id) if isinstance(credential_id, int) else None,
        _text(entry.get("n")),
        actor=actor,
        at=float(entry.get("t") or 0),  # type: ignore[arg-type]
        outcome=str(entry.get("o") or "ok"),
        error=_text(entry.get("e")),
        duration_ms=float(duration) if isinstance(duration, int | float) else None,
        detail=_text(entry.get("d")),
        seq=seq,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
