"""What every request needs: the server's state, the caller, and their scoped manager.

No FastAPI dependencies: solving them costs more per request than the work itself
(about 1 ms for five small ones).  The bearer token is checked by `RequestGuard`
before routing, so a request without a valid token is answered 401, never 404,
405 or 422, and learns nothing about what exists; a handler then calls `caller`.

Reads run on the event loop: each is a snapshot of the vault (decrypted once per
generation and cached by the storage) plus one small parse, cheaper than a hop
to a worker thread, and their encoded answers are kept per generation
(`Answers`).  Each request's audit entry goes through `ServerState.audit`
(`credctl.server.auditing`): written in batches by one thread, awaited before
the answer leaves.  Writes run in one writer thread, one at a time, in the order
they arrive (`ServerState.write`); reads go on meanwhile and see the previous
generation, whole.  A write that was queued always finishes, even if its client
goes away or the server is told to stop: it is shielded from cancellation, and
the writer thread is joined before the process exits (`ServerState.close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request

from credctl.records.activity import local_host
from credctl.records.api_tokens import ApiToken
from credctl.records.links import WORKFLOW_ID_PATTERN
from credctl.scoped import ScopedManager
from credctl.server.auditing import AuditQueue
from credctl.server.tokens import TokenGate

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

_T = TypeVar("_T")
#: Execution ids as engines make them (n8n numbers, Airflow run ids, Temporal run UUIDs).
EXECUTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:+@-]{0,199}$"


class ApiError(Exception):
    """An error answered with the envelope; `status` is the HTTP status."""

    def __init__(
        self, status: int, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class ServerState:
    """The one manager of this process, its token gate and its write queue."""

    def __init__(self, manager: CredentialManager) -> None:
        self.manager = manager
        self.tokens = TokenGate(manager)
        # The audit trail's `host`, asked for once: a system call on the event loop per
        # request lets the audit thread take the GIL, and the loop waits to get it back.
        self.host = local_host()
        # One thread, so writes run one at a time in the order they came.  Its thread
        # is joined when the interpreter exits, so a write under way always finishes.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credctl-write")
        self.audit = AuditQueue(manager.records)
        self._background: set[asyncio.Task[None]] = set()
        #: Encoded ``GET /credentials/`` answers by user, ``GET /credentials/{id}`` by (user, id).
        self.listings = Answers(64)
        self.details = Answers(4096)

    def close(self) -> None:
        """Finish the writes under way, then the audit entries queued (the server stopped)."""
        self.writer.shutdown(wait=True)
        self.audit.close()

    async def write(self, work: Callable[[], _T]) -> _T:
        """Run one write in the writer thread, after every write that came before it.

        The write is shielded: once queued it runs to its end even if the request
        that asked for it is cancelled (its client went away, the server stops).
        """
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.writer, contextvars.copy_context().run, work)
        return await asyncio.shield(future)

    def in_background(self, work: Callable[[], None]) -> None:
        """Queue a write nobody waits for (a token's last use)."""

        async def run() -> None:
            # Bookkeeping must never fail a request, nor log a traceback.
            with contextlib.suppress(Exception):
                await self.write(work)

        task = asyncio.get_running_loop().create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class Answers:
    """Encoded answers by key, valid while the vault is unchanged (least recently used out).

    A list of 1,000 credentials parses 1,000 records, and even one credential costs
    a parse and an encoding; a workflow engine asks far more often than anyone
    writes.  An answer is kept under the storage stamp taken before it was built,
    so a write in between only costs a rebuild.  Only answers that depend on the
    vault's state alone are kept (never one that depends on the time).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, tuple[object, bytes]] = OrderedDict()

    def get(self, key: Hashable, stamp: object) -> bytes | None:
        """The answer kept for `key` at `stamp`, if any."""
        found = self._answers.get(key)
        if stamp is None or found is None or found[0] != stamp:
            return None
        self._answers.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, stamp: object, answer: bytes) -> None:
        """Keep an answer (the least recently used one goes past `size`)."""
        if stamp is None:
            return
        self._answers[key] = (stamp, answer)
        self._answers.move_to_end(key)
        while len(self._answers) > self.size:
            self._answers.popitem(last=False)


def state_of(request: Request) -> ServerState:
    """The `ServerState` of the app that serves `request`."""
    state: ServerState = request.app.state.credctl
    return state


#: The activity a request asks for, by method and path (logged when it is refused).
_ACTIONS: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(pattern), action)
    for method, pattern, action in (
        ("GET", r"/credentials/?\Z", "list"),
        ("POST", r"/credentials/?\Z", "create"),
        ("GET", r"/credentials/[^/]+\Z", "show"),
        ("PUT", r"/credentials/[^/]+\Z", "update"),
        ("DELETE", r"/credentials/[^/]+\Z", "delete"),
        ("GET", r"/credentials/[^/]+/links\Z", "show"),
        ("POST", r"/credentials/[^/]+/links\Z", "link"),
        ("DELETE", r"/credentials/[^/]+/links/[^/]+\Z", "unlink"),
    )
]


def action_of(method: str, path: str) -> str:
    """The activity a request asks for (``request`` for anything else)."""
    for wanted, pattern, action in _ACTIONS:
        if method == wanted and pattern.match(path):
            return action
    return "request"


def client_ip(client: tuple[str, int] | None) -> str | None:
    """The peer address (no proxy headers are trusted; None on a Unix socket)."""
    return client[0] if client else None


#: Where `RequestGuard` leaves the verified token of a request (ASGI scope key).
TOKEN_KEY = "credctl.token"  # noqa: S105 - a dictionary key, not a secret
#: Where it leaves the vault's state stamp, taken before the token was looked up.
STAMP_KEY = "credctl.stamp"
_EXECUTION_ID = re.compile(EXECUTION_ID_PATTERN)
_WORKFLOW_ID = re.compile(f"^{WORKFLOW_ID_PATTERN}$")


def caller(request: Request) -> ScopedManager:
    """The caller's `ScopedManager`: their credentials alone, every call logged as theirs.

    The token was verified by `RequestGuard` before routing; the optional
    ``X-Execution-Id`` and ``X-Workflow-Id`` headers go into the activity log and
    must look like ids (422 otherwise).
    """
    token: ApiToken = request.scope[TOKEN_KEY]
    ids = []
    for header, pattern in (("x-execution-id", _EXECUTION_ID), ("x-workflow-id", _WORKFLOW_ID)):
        value = request.headers.get(header)
        if value is not None and not pattern.match(value):
            raise ApiError(422, f"Invalid request: header {header}: not a valid id")
        ids.append(value)
    state = state_of(request)
    return state.manager.acting_as(
        token.user, ip=client_ip(request.scope.get("client")), execution_id=ids[0],
        workflow_id=ids[1], host=state.host,
    )  # fmt: skip


def stamp_of(request: Request) -> object:
    """The vault's state stamp as the request found it: what its cached answers are keyed by.

    Taken once, before the token was looked up: an answer kept under it is the vault
    as it was when the request came in (a write since then makes a newer stamp).
    """
    return request.scope[STAMP_KEY]


#: The headers every operation takes, for the OpenAPI document.
ID_HEADERS = [
    {"name": "X-Execution-Id", "in": "header", "required": False,
     "description": "The workflow execution asking (logged in the audit trail).",
     "schema": {"type": "string", "pattern": EXECUTION_ID_PATTERN}},
    {"name": "X-Workflow-Id", "in": "header", "required": False,
     "description": "The workflow asking (logged in the audit trail).",
     "schema": {"type": "string", "pattern": f"^{WORKFLOW_ID_PATTERN}$"}},
]  # fmt: skip
