"""`RequestGuard`: what a request must pass before any route sees it.

- **Host allow-list.**  A web page can point a name it controls at 127.0.0.1
  (DNS rebinding) and then talk to a loopback service as if it were the same
  site; its requests still carry that foreign name in ``Host``.  Only the names
  the server was bound for are accepted.
- **No browsers.**  A browser adds ``Origin`` to cross-site requests (and to
  every POST, PUT and DELETE); workflow engines and scripts do not.  Any request
  with an ``Origin`` header is refused, so a web page can never use the API, even
  with a token it stole.
- **Body size.**  A declared ``Content-Length`` over the limit is refused before
  the body is read; a chunked body is counted as it arrives and refused when it
  passes the limit.

Each refusal is the error envelope of SPEC §6.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credctl.server.routes import error_response


def host_name(value: str) -> str:
    """The host part of a Host header (without the port), lower-cased."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8000
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard:
    """Pure ASGI middleware: Host allow-list, Origin refusal, body size limit."""

    def __init__(self, app: ASGIApp, allowed_hosts: frozenset[str] | None, max_body: int) -> None:
        self.app = app
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
