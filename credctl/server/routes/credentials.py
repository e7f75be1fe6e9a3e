"""``/credentials/``: list, create, show, update and delete (seed 004).

Every handler acts through the caller's `ScopedManager`: another user's
credential is a 404 exactly like one that does not exist, and nothing about it
changes.  ``credential_data`` goes in, and never comes out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from credctl.server.auditing import logged
from credctl.server.deps import caller, stamp_of, state_of
from credctl.server.routes import (
    JSON,
    EnvelopeRoute,
    envelope_bytes,
    item,
    items,
    no_content,
    respond,
)
from credctl.server.schemas import (
    CreateCredential,
    CredentialEnvelope,
    CredentialListEnvelope,
    UpdateCredential,
    error_responses,
)

#: Ids are at most 18 digits in the vault's index (docs/FORMAT.md).
MAX_ID = 10**18 - 1
CredentialId = Annotated[int, Path(ge=1, le=MAX_ID, description="The credential's id.")]

router = APIRouter(route_class=EnvelopeRoute)
_NEW_ID = {"credential_id": "$response.body#/data/id"}
#: OpenAPI links: what a client (or schemathesis) can do next with a new credential's id.
CREATED_LINKS = {
    op: {"operationId": op, "parameters": _NEW_ID}
    for op in ("getCredential", "updateCredential", "deleteCredential", "listLinks", "addLink")
}


@router.get(
    "/credentials/",
    response_model=CredentialListEnvelope,
    responses=error_responses(401, 422),
    summary="List credentials",
    operation_id="listCredentials",
)
async def list_credentials(request: Request) -> Response:
    """Every credential of the caller, by id.  Secret values are never returned."""
    scope, state, stamp = caller(request), state_of(request), stamp_of(request)
    user = scope.actor.user
    kept = state.listings.get(user, stamp)

    def read() -> bytes:
        return kept if kept is not None else envelope_bytes(items(scope.list_unlogged()))

    answer = await logged(state.audit, scope, "list", None, read)
    if kept is None:
        state.listings.put(user, stamp, answer)
    return Response(answer, media_type=JSON)


@router.post(
    "/credentials/",
    status_code=201,
    response_model=CredentialEnvelope,
    responses={201: {"links": CREATED_LINKS}, **error_responses(401, 409, 413, 422, 503)},
    summary="Create a credential",
    operation_id="createCredential",
)
async def create_credential(body: CreateCredential, request: Request) -> Response:
    """Validate and store a credential the caller owns; 409 if they have one of this name."""
    scope, state = caller(request), state_of(request)

    created = await state.write(lambda: scope.create_credential(
        body.credential_type, body.credential_data, name=body.name,
        description=body.description, tags=body.tags,
    ))  # fmt: skip
    return respond(item(created), 201)


@router.get(
    "/credentials/{credential_id}",
    response_model=CredentialEnvelope,
    responses=error_responses(401, 404, 422),
    summary="Get a credential",
    operation_id="getCredential",
)
async def get_credential(credential_id: CredentialId, request: Request) -> Response:
    """One credential of the caller, without its data."""
    scope, state, stamp = caller(request), state_of(request), stamp_of(request)
    key = (scope.actor.user, credential_id)

    def read() -> bytes:
        answer = state.details.get(key, stamp)
        if answer is None:
            current = scope.get_current(credential_id)
            if current is None:  # a retired id in its grace period (that depends on the time)
                return envelope_bytes(item(scope.get_unlogged(credential_id)))  # or NotFound
            answer = envelope_bytes(item(current))
            state.details.put(key, stamp, answer)
        return answer

    return Response(await logged(state.audit, scope, "show", credential_id, read), media_type=JSON)


@router.put(
    "/credentials/{credential_id}",
    response_model=CredentialEnvelope,
    responses=error_responses(401, 404, 409, 413, 422, 503),
    summary="Update a credential",
    operation_id="updateCredential",
)
async def update_credential(
    credential_id: CredentialId, body: UpdateCredential, request: Request
) -> Response:
    """Change the members given; the others stay.  New data replaces the whole data."""
    scope, state = caller(request), state_of(request)
    updated = await state.write(lambda: scope.update_credential(
        credential_id, name=body.given("name"), credential_type=body.given("credential_type"),
        data=body.given("credential_data"), description=body.given("description"),
        tags=body.given("tags"),
    ))  # fmt: skip
    return respond(item(updated))


@router.delete(
    "/credentials/{credential_id}",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted"}, **error_responses(401, 404, 409, 422, 503)},
    summary="Delete a credential",
    operation_id="deleteCredential",
)
async def delete_credential(
    credential_id: CredentialId,
    request: Request,
    force: Annotated[
        bool, Query(description="Delete even while workflows are linked to it.")
    ] = False,
) -> Response:
    """Delete a credential; 409 while workflows are linked to it, unless ``?force=true``."""
    scope, state = caller(request), state_of(request)
    await state.write(lambda: scope.delete_credential(credential_id, force=force))
    return no_content()


# `/credentials` without the slash answers like `/credentials/`, not with a redirect.
router.add_api_route("/credentials", list_credentials, methods=["GET"], include_in_schema=False)
router.add_api_route("/credentials", create_credential, methods=["POST"], status_code=201,
                     include_in_schema=False)  # fmt: skip
