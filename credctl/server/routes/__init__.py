"""The routes of the REST API, and how they answer (the envelope of seed 004).

Responses are JSON written here, in the shape the models of
`credctl.server.schemas` describe in the OpenAPI document: building the bytes
directly spares a validation pass over data the core has already checked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import Response

from credctl.errors import (
    AccessDenied,
    CredentialError,
    CredentialInUse,
    DuplicateCredential,
    InteractionRequired,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    UnsupportedType,
    VaultBusyError,
    VaultNotFoundError,
)
from credctl.server.deps import ApiError

if TYPE_CHECKING:
    from credctl.records.links import Link
    from credctl.scoped import CredentialSummary

JSON = "application/json"
log = logging.getLogger("credctl.server")


def envelope_bytes(data: Any, *, success: bool = True, message: str = "Success") -> bytes:
    """``{"success", "message", "data"}`` as compact UTF-8 JSON."""
    body = {"success": success, "message": message, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def respond(data: Any, status: int = 200) -> Response:
    """A success envelope."""
    return Response(envelope_bytes(data), status_code=status, media_type=JSON)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error envelope: ``data`` is null."""
    body = envelope_bytes(None, success=False, message=message)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def status_of(exc: CredentialError) -> tuple[int, str]:
    """The HTTP status and the client's message for a credctl error."""
    if isinstance(exc, VaultNotFoundError | VaultBusyError | ServiceUnavailable):
        return 503, "The vault is busy or unavailable; retry"
    if isinstance(exc, InteractionRequired):
        return 503, "The vault is locked; restart the service with an unlock source"
    if isinstance(exc, CredentialInUse):
        return 409, f"{exc.message}; unlink them, or delete with ?force=true"
    if isinstance(exc, DuplicateCredential):
        return 409, exc.message
    if isinstance(exc, NotFound):
        return 404, exc.message
    if isinstance(exc, InvalidInput | UnsupportedType):
        return 422, exc.message
    if isinstance(exc, AccessDenied):
        return 404, "Credential not found"
    return 500, "The credential service failed; see its log"


def failure_response(exc: CredentialError, method: str, path: str) -> Response:
    """The envelope of a credctl error; a server-side failure is logged by kind (no values)."""
    status, message = status_of(exc)
    if status >= 500:
        log.error("%s on %s %s", type(exc).__name__, method, path)
    return error_response(status, message)


def no_content() -> Response:
    """204: no body at all."""
    return Response(status_code=204)


def item(summary: CredentialSummary) -> dict[str, Any]:
    """A ``CredentialListItem``."""
    return {
        "id": summary.id,
        "name": summary.name,
        "credential_type": summary.credential_type,
        "created_at": summary.created_at,
        "updated_at": summary.updated_at,
    }


def items(summaries: Iterable[CredentialSummary]) -> list[dict[str, Any]]:
    """A list of ``CredentialListItem``."""
    return [item(s) for s in summaries]


def link(credential_id: int, found: Link) -> dict[str, Any]:
    """A workflow link."""
    return {
        "workflow_id": found.workflow_id,
        "credential_id": credential_id,
        "created_at": found.created_at,
    }


class EnvelopeRoute(APIRoute):
    """A route whose unexpected errors become a 500 envelope, logged without a traceback."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except (ApiError, CredentialError, RequestValidationError, HTTPException):
                raise
            except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
                return internal_error(exc, request.method, request.url.path)

        return guarded


def internal_error(exc: Exception, method: str, path: str) -> Response:
    """A 500 envelope for a bug, logged by kind without a traceback (it could quote values)."""
    log.error("internal error (%s) on %s %s", type(exc).__name__, method, path)
    return error_response(500, "The credential service failed; see its log")
