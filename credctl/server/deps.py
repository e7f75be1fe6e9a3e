"""What every request needs: the server's state, the caller, and their scoped manager.

Every dependency is a coroutine: FastAPI runs a plain function in a worker
thread, and a hop to a thread costs more than the work here.

Order matters: `caller` (the bearer token) is resolved before anything else about
the request is validated, so a request without a valid token is answered 401,
never 404 or 422, and learns nothing about what exists.

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
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, TypeVar

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


async def server_state(request: Request) -> ServerState:
    """The `ServerState` of the app that serves `request`."""
    state: ServerState = request.app.state.credctl
    return state


_bearer = HTTPBearer(auto_error=False, description="A token from `credctl serve token create`.")

#: The activity logged for a refused request, by method and route.
_ACTIONS = {
    ("GET", "/credentials/"): "list",
    ("POST", "/credentials/"): "create",
    ("GET", "/credentials/{credential_id}"): "show",
    ("PUT", "/credentials/{credential_id}"): "update",
    ("DELETE", "/credentials/{credential_id}"): "delete",
    ("GET", "/credentials/{credential_id}/links"): "show",
    ("POST", "/credentials/{credential_id}/links"): "link",
    ("DELETE", "/credentials/{credential_id}/links/{workflow_id}"): "unlink",
}


def action_of(request: Request) -> str:
    """The activity a request asks for (``request`` when no route matched)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return _ACTIONS.get((request.method, str(path)), "request")


def client_ip(request: Request) -> str | None:
    """The peer address (no proxy headers are trusted; None on a Unix socket)."""
    return request.client.host if request.client is not None else None


async def authenticate(request: Request) -> ApiToken:
    """The valid token of `request`, or `ApiError` 401 (logged as a refused request)."""
    state: ServerState = request.app.state.credctl
    token = state.tokens.verify(request.headers.get("authorization"))
    if token is None:
        state.manager.log_refused_request(
            action_of(request), ip=client_ip(request), error="Unauthenticated"
        )
        raise ApiError(
            401,
            "Missing or invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="credctl"'},
        )
    if state.tokens.due_for_touch(token):
        state.in_background(functools.partial(state.manager.touch_api_token, token.id))
    return token


async def _caller(
    request: Request,
    # Declared for the OpenAPI document (security scheme); `authenticate` reads the header.
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiToken:
    return await authenticate(request)


async def _request_ids(
    x_execution_id: Annotated[
        str | None,
        Header(pattern=EXECUTION_ID_PATTERN, description="Logged with the request (audit)."),
    ] = None,
    x_workflow_id: Annotated[
        str | None,
        Header(pattern=f"^{WORKFLOW_ID_PATTERN}$", description="Logged with the request."),
    ] = None,
) -> tuple[str | None, str | None]:
    return x_execution_id, x_workflow_id


async def scoped_manager(
    request: Request,
    token: Annotated[ApiToken, Depends(_caller)],
    ids: Annotated[tuple[str | None, str | None], Depends(_request_ids)],
) -> ScopedManager:
    """The caller's `ScopedManager`: their credentials alone, every call logged as theirs."""
    state: ServerState = request.app.state.credctl
    return state.manager.acting_as(
        token.user, ip=client_ip(request), execution_id=ids[0], workflow_id=ids[1]
    )


Scoped = Annotated[ScopedManager, Depends(scoped_manager)]
State = Annotated[ServerState, Depends(server_state)]
