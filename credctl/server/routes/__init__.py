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

from credctl.errors import CredentialError
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
                log.error(  # noqa: TRY400 - a traceback could quote request values
                    "internal error (%s) on %s %s", type(exc).__name__,
                          request.method, request.url.path)  # fmt: skip
                return error_response(500, "The credential service failed; see its log")

        return guarded
