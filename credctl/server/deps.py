"""What every request needs: the server's state, the caller, and their scoped manager.

No FastAPI dependencies: solving them costs more per request than the work itself
(about 1 ms for five small ones).  The bearer token is checked by `RequestGuard`
before routing, so a request without a valid token is answered 401, never 404,
405 or 422, and learns nothing about what exists; a handler then calls `caller`.

Reads run on the event loop: each is a snapshot of the vault (decrypted once per
generation and cached by the storage) plus one small parse, cheaper than a hop
to a worker thread.  Writes run in one writer thread, one at a time, in the order
they arrive (`ServerState.write`); reads go on meanwhile and see the previous
generation, whole.  A write that was queued always finishes, even if its client
goes away or the server is told to stop: it is shielded from cancellation, and
the writer thread is joined before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import re
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request

from credctl.records.api_tokens import ApiToken
from credctl.records.links import WORKFLOW_ID_PATTERN
from credctl.scoped import ScopedManager
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
        # One thread, so writes run one at a time in the order they came.  Its thread
        # is joined when the interpreter exits, so a write under way always finishes.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="credctl-write")
        self._background: set[asyncio.Task[None]] = set()
        self.listings = Listings()

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


class Listings:
    """Encoded ``GET /credentials/`` answers per user, valid while the vault is unchanged.

    A list of 1,000 credentials parses 1,000 records; a workflow engine asks for it
    far more often than anyone writes.  An answer is kept under the storage stamp
    taken before it was built, so a write in between only costs a rebuild.
    """

    SIZE = 64

    def __init__(self) -> None:
        self._answers: OrderedDict[str, tuple[object, bytes]] = OrderedDict()

    def get(self, user: str, stamp: object) -> bytes | None:
        """The answer kept for `user` at `stamp`, if any."""
        found = self._answers.get(user)
        if stamp is None or found is None or found[0] != stamp:
            return None
        self._answers.move_to_end(user)
        return found[1]

    def put(self, user: str, stamp: object, answer: bytes) -> None:
        """Keep an answer (the least recently used user's goes past `SIZE`)."""
        if stamp is None:
            return
        self._answers[user] = (stamp, answer)
        self._answers.move_to_end(user)
        while len(self._answers) > self.SIZE:
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
    return state_of(request).manager.acting_as(
        token.user, ip=client_ip(request.scope.get("client")), execution_id=ids[0],
        workflow_id=ids[1],
    )  # fmt: skip


#: The headers every operation takes, for the OpenAPI document.
ID_HEADERS = [
    {"name": "X-Execution-Id", "in": "header", "required": False,
     "description": "The workflow execution asking (logged in the audit trail).",
     "schema": {"type": "string", "pattern": EXECUTION_ID_PATTERN}},
    {"name": "X-Workflow-Id", "in": "header", "required": False,
     "description": "The workflow asking (logged in the audit trail).",
     "schema": {"type": "string", "pattern": f"^{WORKFLOW_ID_PATTERN}$"}},
]  # fmt: skip
