"""The FastAPI application of ``credctl serve`` (`create_app`).

Every answer that is not a success is the envelope ``{"success": false, "message",
"data": null}`` (SPEC §6), whatever raised it: a `credctl.errors` class, a
validation error, an unknown route or method, a refused Host or Origin, a body
that is too large, or a bug (500, logged by kind only).  Messages never quote a
request's values, so a secret sent in a bad body is never echoed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from credctl._version import __version__
from credctl.errors import CredentialError
from credctl.server.deps import ID_HEADERS, ApiError, ServerState
from credctl.server.guard import PUBLIC_PATHS, RequestGuard
from credctl.server.routes import error_response, failure_response

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

log = logging.getLogger("credctl.server")
DEFAULT_MAX_BODY = 1024 * 1024
_REASONS = {404: "Not found", 405: "Method not allowed", 413: "Request body too large"}


def validation_message(exc: RequestValidationError) -> str:
    """Which members are wrong and why, without the values that were sent."""
    parts = []
    for error in exc.errors()[:10]:
        where = ".".join(_safe(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts)


def _safe(part: object) -> str:
    text = str(part)[:64]
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def create_app(
    manager: CredentialManager,
    *,
    allowed_hosts: frozenset[str] | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    """The REST API over `manager` (built with ``origin="api"`` and already unlocked).

    `allowed_hosts` are the host names a request's Host header may carry (None:
    any, for a Unix socket); `max_body` caps request bodies (413 beyond).
    """
    from credctl.server.routes import credentials, links

    app = FastAPI(
        title="credctl Credentials API",
        version=__version__,
        description="Credentials for workflow engines: seed 004 of credctl's SPEC §6.",
        docs_url=None,  # the interactive docs load scripts from the network
        redoc_url=None,
        redirect_slashes=False,
    )
    state = ServerState(manager)
    app.state.credctl = state
    app.include_router(credentials.router)
    app.include_router(links.router)
    _handlers(app)
    app.add_middleware(RequestGuard, state=state, allowed_hosts=allowed_hosts, max_body=max_body)
    _document_security(app)
    return app


def _document_security(app: FastAPI) -> None:
    """Add the bearer scheme and the id headers to every operation of the document.

    They are checked by `RequestGuard` and `caller`, not by FastAPI parameters,
    whose per-request cost is larger than the work they would do.
    """
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "A token from `credctl serve token create --user U`.",
        }}  # fmt: skip
        for path, operations in schema["paths"].items():
            if path in PUBLIC_PATHS:
                continue
            for operation in operations.values():
                operation["security"] = [{"bearerAuth": []}]
                operation.setdefault("parameters", []).extend(ID_HEADERS)
        app.openapi_schema = schema
        return schema

    app.openapi = document  # type: ignore[method-assign]


def _handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.message, exc.headers)

    async def credential_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CredentialError)
        return failure_response(exc, request.method, request.url.path)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT") and "json" not in content_type:
            return error_response(422, "Invalid request: send the body as JSON, with "
                                  "Content-Type: application/json")  # fmt: skip
        return error_response(422, validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and request.method in ("POST", "PUT"):
            # FastAPI's answer to a body its JSON parser gave up on (nested too deep)
            return error_response(422, "Invalid request: the body is not JSON it can read")
        message = _REASONS.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message, dict(exc.headers or {}) or None)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(CredentialError, credential_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
