"""The two reads a workflow engine makes most, answered without FastAPI's routing.

``GET /credentials/{id}`` and ``GET /credentials/`` are most of a server's work.
FastAPI's router, dependency solving and path validation cost several times what
the answer itself costs once it is kept per vault generation, so `RequestGuard`
hands these two, once their token is verified, straight to the same handlers
the routes call (`credctl.server.routes.credentials`).  Everything else about them
is unchanged: the same answers, the same audit entry awaited before the answer
leaves, the same envelopes for errors.

Only a plain, canonical request is taken: ``GET`` of ``/credentials/`` or
``/credentials`` exactly, or of ``/credentials/ID`` with an ID of 1 to 18 digits
without a leading zero (every such id is within the route's bounds).  Anything
else, an id of another shape included, goes through the FastAPI routes, whose
validation answers it (tests/test_serve_reads.py checks that both answer alike).
"""

from __future__ import annotations

import re
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from credctl.errors import CredentialError
from credctl.server.deps import ApiError
from credctl.server.routes import error_response, failure_response, internal_error
from credctl.server.routes.credentials import get_credential, list_credentials

_DETAIL: Final = re.compile(r"/credentials/([1-9][0-9]{0,17})\Z")
_LISTS: Final = frozenset({"/credentials/", "/credentials"})


async def answer(scope: Scope, receive: Receive, send: Send) -> bool:
    """Answer a hot read (True), or leave the request to the routes (False)."""
    if scope["method"] != "GET":
        return False
    path: str = scope["path"]
    detail = None if path in _LISTS else _DETAIL.match(path)
    if detail is None and path not in _LISTS:
        return False
    request = Request(scope, receive)
    response: Response
    try:
        if detail is None:
            response = await list_credentials(request)
        else:
            response = await get_credential(int(detail[1]), request)
    except ApiError as exc:
        response = error_response(exc.status, exc.message, exc.headers)
    except CredentialError as exc:
        response = failure_response(exc, "GET", path)
    except Exception as exc:  # noqa: BLE001 - as `EnvelopeRoute`: no traceback
        response = internal_error(exc, "GET", path)
    await response(scope, receive, send)
    return True
