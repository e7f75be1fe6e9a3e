"""Every request's audit entry, written in batches, awaited before the answer leaves.

Appending one entry costs the trail's lock, a read of its tail, a write and an
``fsync`` (`credctl.audit.trail`); 64 requests in flight would pay that 64 times
over, one after the other, on the event loop.  Here a request builds its
`Activity` (who, from where, what, and how it ended) and awaits
`AuditQueue.record`: the entry joins the loop's queue, and one flush at a time
appends everything queued so far with one `RecordStore.log_all` (one lock, one
tail, one write, one fsync) in the audit thread, then wakes every request of
that batch.  While a batch is being written the next one fills up, so under
load a batch holds about as many entries as there are requests in flight, and
with no load an entry waits for its own fsync alone.  The loop itself never
blocks on the trail, and wakes once per batch, not once per entry.

Fail closed, as before: when a batch cannot be written, every request in it
gets the error (the trail's `AuditUnavailableError`: a 500 envelope) instead of
its answer.  A request whose client went away still waits for its entry, and the
audit thread is joined before the process exits (`close`); an entry that comes
after that is refused like one that cannot be written.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from credctl.errors import AuditUnavailableError, CredentialError
from credctl.records.activity import Activity

if TYPE_CHECKING:
    from credctl.records.store import RecordStore
    from credctl.scoped import ScopedManager

_T = TypeVar("_T")
Waiter = asyncio.Future[None]


class AuditQueue:
    """The server's way into the activity log (see the module docs)."""

    def __init__(self, records: RecordStore) -> None:
        self._records = records
        # One thread: batches are appended one at a time, in the order they were flushed.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credctl-audit")
        # One queue per event loop (a test client may run each request in a loop of its own).
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = (
            weakref.WeakKeyDictionary()
        )

    async def record(self, activity: Activity) -> None:
        """Return once `activity` is durable in the log; raise what the append raised."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _LoopQueue(self, loop)
        await queue.add(activity)

    def append(self, batch: list[Activity]) -> None:
        """Append a batch durably, or raise (runs in the audit thread)."""
        self._records.log_all(batch)

    def close(self) -> None:
        """Wait for the batches under way (the server stopped; nothing new comes in)."""
        self._thread.shutdown(wait=True)


class _LoopQueue:
    """The entries of one event loop waiting for the next flush."""

    def __init__(self, owner: AuditQueue, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = owner
        self.loop = loop
        self.pending: list[tuple[Activity, Waiter]] = []
        self.flushing = False

    def add(self, activity: Activity) -> Waiter:
        waiter: Waiter = self.loop.create_future()
        self.pending.append((activity, waiter))
        if not self.flushing:
            # After the callbacks already due: the requests of this turn join the batch.
            self.flushing = True
            self.loop.call_soon(self.flush)
        return waiter

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        activities = [activity for activity, _waiter in batch]
        try:
            written = self.loop.run_in_executor(self.owner._thread, self.owner.append, activities)
        except RuntimeError:  # the audit thread was shut down: the server is stopping
            self.settle(batch, _stopped())
            return
        written.add_done_callback(lambda done: self.settle(batch, _outcome(done)))

    def settle(self, batch: list[tuple[Activity, Waiter]], error: BaseException | None) -> None:
        for _activity, waiter in batch:
            if waiter.done():  # its request was cancelled (the client went away)
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)
        if self.pending:
            self.flush()
        else:
            self.flushing = False


def _outcome(done: asyncio.Future[None]) -> BaseException | None:
    return _stopped() if done.cancelled() else done.exception()


def _stopped() -> AuditUnavailableError:
    return AuditUnavailableError(
        "the audit trail's writer has stopped (the server is stopping); nothing was handed out",
        hint="retry once the server is back",
    )


async def logged(
    audit: AuditQueue,
    scope: ScopedManager,
    action: str,
    credential_id: int | None,
    read: Callable[[], _T],
) -> _T:
    """`read()`'s result once its entry is durable; a failed read is logged with its kind."""
    try:
        result = read()
    except CredentialError as exc:
        await audit.record(Activity(action, credential_id, actor=scope.actor, outcome="error",
                                    error=type(exc).__name__))  # fmt: skip
        raise
    await audit.record(Activity(action, credential_id, actor=scope.actor))
    return result
