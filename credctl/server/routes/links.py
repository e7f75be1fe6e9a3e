"""``/credentials/{id}/links``: the workflows that use a credential (SPEC §6).

A workflow engine links each workflow to the credentials it refers to; a linked
credential answers ``DELETE /credentials/{id}`` with 409 unless ``?force=true``.
Links follow a rotated credential to its new id (`credctl.records.links`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from credctl.records.links import WORKFLOW_ID_PATTERN
from credctl.server.auditing import logged
from credctl.server.deps import caller, state_of
from credctl.server.routes import EnvelopeRoute, link, no_content, respond
from credctl.server.routes.credentials import CredentialId
from credctl.server.schemas import CreateLink, LinkEnvelope, LinkListEnvelope, error_responses

WorkflowId = Annotated[str, Path(pattern=f"^{WORKFLOW_ID_PATTERN}$")]

router = APIRouter(route_class=EnvelopeRoute)


@router.get(
    "/credentials/{credential_id}/links",
    response_model=LinkListEnvelope,
    responses=error_responses(401, 404, 422),
    summary="List a credential's workflow links",
    operation_id="listLinks",
)
async def list_links(credential_id: CredentialId, request: Request) -> Response:
    """The workflows linked to the credential, by workflow id."""
    scope, state = caller(request), state_of(request)
    found = await logged(state.audit, scope, "show", credential_id,
                         lambda: scope.links_unlogged(credential_id))  # fmt: skip
    return respond([link(credential_id, one) for one in found])


@router.post(
    "/credentials/{credential_id}/links",
    status_code=201,
    response_model=LinkEnvelope,
    responses={
        200: {"model": LinkEnvelope, "description": "Already linked: nothing changed"},
        201: {
            "links": {
                "removeLink": {
                    "operationId": "removeLink",
                    "parameters": {
                        "credential_id": "$request.path.credential_id",
                        "workflow_id": "$response.body#/data/workflow_id",
                    },
                }
            }
        },
        **error_responses(401, 404, 413, 422, 503),
    },
    summary="Link a workflow to a credential",
    operation_id="addLink",
)
async def add_link(credential_id: CredentialId, body: CreateLink, request: Request) -> Response:
    """Link a workflow; 201 when new, 200 when it was linked already."""
    scope, state = caller(request), state_of(request)
    found, created = await state.write(lambda: scope.add_link(credential_id, body.workflow_id))
    return respond(link(credential_id, found), 201 if created else 200)


@router.delete(
    "/credentials/{credential_id}/links/{workflow_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Unlinked"}, **error_responses(401, 404, 422, 503)},
    summary="Unlink a workflow from a credential",
    operation_id="removeLink",
)
async def remove_link(
    credential_id: CredentialId, workflow_id: WorkflowId, request: Request
) -> Response:
    """Unlink a workflow; 404 if it was not linked."""
    scope, state = caller(request), state_of(request)
    await state.write(lambda: scope.remove_link(credential_id, workflow_id))
    return no_content()
