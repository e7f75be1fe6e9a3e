"""Who did what to which credential: the activity the record layer logs.

Every operation of the record layer appends one `Activity` (its action, the
credential, the `Actor`, and whether it worked) to the backend's `ActivityLog`:
for a vault, the sealed audit trail (`credctl.audit.trail`), which fails closed.
Usage metrics are computed from it, so reading a token never rewrites the vault.
An activity never holds a secret: names, ids, times and error kinds only.

Plain classes with ``__slots__`` rather than dataclasses or named tuples:
``get-token`` builds one on every call and must stay cheap to import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Final, Protocol, runtime_checkable

#: Where an operation came from (SPEC §13 ``origin``).
ORIGINS: Final = ("cli", "library", "api")


class Actor:
    """Who acts, from where, and why (SPEC §13: user, host, ip, origin, execution, workflow).

    `owner` is the owner id given to credentials this actor creates; `scope`, when
    set, hides every credential of another owner (they answer `NotFound`, as the
    REST API requires), while None sees the whole vault, as its local user does.
    """

    __slots__ = ("execution_id", "host", "ip", "origin", "owner", "scope", "user", "workflow_id")

    def __init__(
        self,
        user: str,
        *,
        origin: str = "library",
        owner: str = "local",
        scope: str | None = None,
        host: str | None = None,
        ip: str | None = None,
        execution_id: str | None = None,
        workflow_id: str | None = None,
    ) -> None:
        self.user = user
        self.origin = origin
        self.owner = owner
        self.scope = scope
        self.host = host if host is not None else local_host()
        self.ip = ip
        self.execution_id = execution_id
        self.workflow_id = workflow_id

    def __repr__(self) -> str:
        return f"Actor(user={self.user!r}, origin={self.origin!r}, owner={self.owner!r})"

    def with_ids(self, execution_id: str | None, workflow_id: str | None) -> Actor:
        """The same actor, acting for an execution and a workflow."""
        return Actor(
            self.user, origin=self.origin, owner=self.owner, scope=self.scope, host=self.host,
            ip=self.ip, execution_id=execution_id, workflow_id=workflow_id,
        )  # fmt: skip


def local_host() -> str:
    """This machine's name (``uname -n``), without importing `socket`."""
    return os.uname().nodename


def os_user() -> str:
    """The name of the user this process runs as (the effective uid, not $USER)."""
    import pwd

    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return str(uid)


class Activity:
    """One logged operation; `outcome` is ``ok`` or ``error`` (then `error` is its kind).

    `seq` is its place in the log (from 1), set when it is read back; `detail` is a
    short note of the log's own (a repaired tail, a migration), never a secret.
    """

    __slots__ = (
        "action", "actor", "at", "credential_id", "credential_name", "detail", "duration_ms",
        "error", "outcome", "seq",
    )  # fmt: skip

    def __init__(
        self,
        action: str,
        credential_id: int | None = None,
        credential_name: str | None = None,
        *,
        actor: Actor | None = None,
        at: float | None = None,
        outcome: str = "ok",
        error: str | None = None,
        duration_ms: float | None = None,
        detail: str | None = None,
        seq: int | None = None,
    ) -> None:
        self.action = action
        self.credential_id = credential_id
        self.credential_name = credential_name
        self.actor = actor
        self.at = time.time() if at is None else at
        self.outcome = outcome
        self.error = error
        self.duration_ms = duration_ms
        self.detail = detail
        self.seq = seq

    def __repr__(self) -> str:
        return (
            f"Activity({self.action!r}, credential_id={self.credential_id!r}, "
            f"outcome={self.outcome!r})"
        )

    @property
    def ok(self) -> bool:
        """True when the operation succeeded."""
        return self.outcome == "ok"


@runtime_checkable
class ActivityLog(Protocol):
    """Where activities are appended and read back, oldest first."""

    def append(self, activity: Activity) -> None:
        """Add one activity."""
        ...

    def activities(self) -> Iterator[Activity]:
        """Every activity, oldest first."""
        ...


@runtime_checkable
class BatchLog(Protocol):
    """An `ActivityLog` that appends several activities at once, and can record its head.

    With `settings` (the backend's settings inside a write, just before it is
    committed), the log records where it stands in them, so that the write
    proves which entries existed when it was made (the vault's audit trail).
    """

    def append_batch(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        """Add the activities in order, in one go."""
        ...


class MemoryActivityLog:
    """An `ActivityLog` that lives as long as the process (memory and plug-in backends)."""

    def __init__(self) -> None:
        import threading  # not on the command line's path: its logs are files

        self._entries: list[Activity] = []
        self._lock = threading.Lock()

    def append(self, activity: Activity) -> None:
        """Add one activity."""
        self.append_batch([activity])

    def append_batch(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        """Add the activities in order (numbered from 1 as they arrive)."""
        with self._lock:
            for activity in activities:
                activity.seq = len(self._entries) + 1
                self._entries.append(activity)

    def activities(self) -> Iterator[Activity]:
        """Every activity, oldest first (a copy: appends during iteration are not seen)."""
        with self._lock:
            return iter(list(self._entries))
