"""The activity log of a blob backend: sealed entries in the engine's own log.

Each `Activity` becomes one entry of the engine's ``activity`` log, sealed like
a record (`SealKeys.seal`, storage key ``log-activity``, revision = the entry's
number), so the engine sees neither names nor users, and an entry moved,
replayed or edited fails to open (exit 6).  Appending names the last entry it
follows (compare-and-swap): concurrent processes never both write entry *n*;
the loser retries after the winner.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from credctl.errors import VaultBusyError
from credctl.records.activity import Activity, Actor
from credctl.storage.blobs import BlobBackend, BlobConflictError
from credctl.storage.sealed_format import SealKeys

LOG = "activity"
_KEY = "log-activity"
_ATTEMPTS = 100


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
    ) -> None:
        self.backend = backend
        self._keys = keys
        self._active = active

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
                writer.append_log(LOG, last, sealed)
            except BlobConflictError:
                time.sleep(random.uniform(0, 0.01))  # noqa: S311 - jitter, not a secret
                continue
            return
        raise VaultBusyError("the activity log stayed busy: too many concurrent appends")

    def activities(self) -> Iterator[Activity]:
        """Every entry, oldest first; a tampered entry is exit 6."""
        keys = self._keys()
        for seq, data in self.backend.read_log(LOG):
            revision, entry = keys.open_json(_KEY, data)
            if revision != seq or not isinstance(entry, dict):
                from credctl.errors import VaultCorruptError

                raise VaultCorruptError(f"activity log entry {seq} was moved or replayed")
            yield _decode(entry)


def _encode(activity: Activity) -> dict[str, object]:
    actor = activity.actor
    entry: dict[str, object] = {
        "a": activity.action, "id": activity.credential_id, "n": activity.credential_name,
        "t": round(activity.at, 3), "o": activity.outcome, "e": activity.error,
        "ms": round(activity.duration_ms, 3) if activity.duration_ms is not None else None,
    }  # fmt: skip
    if actor is not None:
        entry["actor"] = {
            "user": actor.user, "origin": actor.origin, "owner": actor.owner,
            "host": actor.host, "ip": actor.ip, "execution_id": actor.execution_id,
            "workflow_id": actor.workflow_id,
        }  # fmt: skip
    return entry


def _decode(entry: dict[str, object]) -> Activity:
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
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
