"""`RequestGuard`: what a request must pass before any route sees it.

- **Host allow-list.**  A web page can point a name it controls at 127.0.0.1
  (DNS rebinding) and then talk to a loopback service as if it were the same
  site; its requests still carry that foreign name in ``Host``.  Only the names
  the server was bound for are accepted.
- **No browsers.**  A browser adds ``Origin`` to cross-site requests (and to
  every POST, PUT and DELETE); workflow engines and scripts do not.  Any request
  with an ``Origin`` header is refused, so a web page can never use the API, even
  with a token it stole.
- **A valid bearer token**, for everything but the OpenAPI document, checked
  here, before routing and validation: without one a request is answered 401,
  never 404, 405 or 422, and learns nothing about what exists.  The refusal is
  logged (action, client address).  The verified token is left in the ASGI
  scope for the handler (`credctl.server.deps.caller`), with the vault's state
  stamp taken before it was looked up; the two hot reads are then answered
  without FastAPI's routing (`credctl.server.hot`).
- **Body size.**  A declared ``Content-Length`` over the limit is refused before
  the body is read; a chunked body is counted as it arrives and refused when it
  passes the limit.

Each refusal is the error envelope of SPEC §6.
"""

from __future__ import annotations

import functools
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credctl.errors import CredentialError
from credctl.server import hot
from credctl.server.deps import STAMP_KEY, TOKEN_KEY, ServerState, action_of, client_ip
from credctl.server.routes import error_response, failure_response

#: Paths anyone may read (the API's description, SPEC §6).
PUBLIC_PATHS: Final = frozenset({"/openapi.json"})
UNAUTHENTICATED: Final = {"WWW-Authenticate": 'Bearer realm="credctl"'}


def host_name(value: str) -> str:
    """The host part of a Host header (without the port), lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard:
    """Pure ASGI middleware: Host, Origin, bearer token, body size."""

    def __init__(
        self,
        app: ASGIApp,
        state: ServerState,
        allowed_hosts: frozenset[str] | None,
        max_body: int,
    ) -> None:
        self.app = app
        self.state = state
        self.allowed_hosts = allowed_hosts
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = self._refusal(headers)
        if refusal is not None:
            status, message = refusal
            await error_response(status, message)(scope, receive, send)
            return
        if scope["path"] not in PUBLIC_PATHS:
            authorization = headers.get(b"authorization")
            stamp = self.state.manager.state_stamp()
            token = self.state.tokens.verify(
                authorization.decode("latin-1") if authorization is not None else None, stamp
            )
            if token is None:
                await self._refuse(scope, receive, send)
                return
            scope[TOKEN_KEY] = token
            scope[STAMP_KEY] = stamp
            if self.state.tokens.due_for_touch(token):
                touch = functools.partial(self.state.manager.touch_api_token, token.id)
                self.state.in_background(touch)
            if await hot.answer(scope, receive, send):
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """401, once the refusal is in the audit trail (fail closed: else its error)."""
        method, path = scope["method"], scope["path"]
        refused = self.state.manager.refused_request(
            action_of(method, path), ip=client_ip(scope.get("client")), error="Unauthenticated"
        )
        try:
            await self.state.audit.record(refused)
        except CredentialError as exc:
            response = failure_response(exc, method, path)
        else:
            response = error_response(401, "Missing or invalid bearer token", UNAUTHENTICATED)
        await response(scope, receive, send)

    def _refusal(self, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        if self.allowed_hosts is not None:
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.allowed_hosts:
                return 400, "Host header not allowed (see `credctl serve --allow-host`)"
        if b"origin" in headers:
            return 403, "Requests from web pages are refused"
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "Invalid Content-Length"
            if int(length) > self.max_body:
                return 413, "Request body too large"
        return None
