"""The bodies and the envelope of the REST API, as pydantic models (seed 004).

Request bodies forbid unknown members and take JSON types strictly: a typo such as
``credentials_data`` or a number where a name belongs is a 422, never a guess.
Optional members of an update may be left out but are never ``null``: the field's
type says so in the OpenAPI document, and leaving a member out is how a client
says "keep it" (`fields_given`).

Responses are written as JSON directly (`credctl.server.routes.respond`); these
models describe them in ``/openapi.json``, where every error status has the same
envelope: ``{"success": false, "message": "…", "data": null}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from credctl.records.links import WORKFLOW_ID_PATTERN

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
TYPE_DESCRIPTION = (
    "api_key, token, basic_auth, oauth2, smtp or custom (and any installed plug-in type)"
)
_STRICT = ConfigDict(extra="forbid", strict=True)
#: The default of an update member the client left out (typed Any for `Field`).
_KEEP: Any = None


class CredentialListItem(BaseModel):
    """A credential as every response shows it: never its secret data."""

    id: int
    name: str
    credential_type: str
    created_at: dt.datetime
    updated_at: dt.datetime


class CreateCredential(BaseModel):
    """``POST /credentials/``."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"name": "my_api_credential", "credential_type": "api_key",
         "credential_data": {"key": "your-secret-api-key-here"}},
        {"name": "github_token", "credential_type": "token",
         "credential_data": {"token": "ghp_xxxxxxxxxxxx"}},
        {"name": "jenkins_auth", "credential_type": "basic_auth",
         "credential_data": {"username": "admin", "password": "secure-password"}},
    ]})  # fmt: skip

    name: StrictStr = Field(pattern=NAME_PATTERN, description="Unique per user; no dots.")
    credential_type: StrictStr = Field(max_length=64, description=TYPE_DESCRIPTION)
    credential_data: dict[str, Any] = Field(
        description="Type-specific data; validated per type, never returned."
    )
    description: StrictStr = Field(default="", max_length=4096)
    tags: list[StrictStr] = Field(default_factory=list, max_length=64)


class UpdateCredential(BaseModel):
    """``PUT /credentials/{id}``: only the members given change."""

    model_config = _STRICT

    # Declared without None so that the schema says "string", not "string or null";
    # a member left out keeps its default, which `fields_given` tells apart.
    name: StrictStr = Field(default=_KEEP, pattern=NAME_PATTERN)
    credential_type: StrictStr = Field(default=_KEEP, max_length=64, description=TYPE_DESCRIPTION)
    credential_data: dict[str, Any] = Field(
        default=_KEEP, description="Replaces the whole data; a new type needs it."
    )
    description: StrictStr = Field(default=_KEEP, max_length=4096)
    tags: list[StrictStr] = Field(default=_KEEP, max_length=64)

    def given(self, name: str) -> Any:
        """The member's value if the client sent it, else None."""
        return getattr(self, name) if name in self.model_fields_set else None


class CreateLink(BaseModel):
    """``POST /credentials/{id}/links``."""

    model_config = _STRICT

    workflow_id: StrictStr = Field(pattern=f"^{WORKFLOW_ID_PATTERN}$")


class Link(BaseModel):
    """A workflow that uses a credential."""

    workflow_id: str
    credential_id: int
    created_at: dt.datetime


class CredentialEnvelope(BaseModel):
    """A response that carries one credential."""

    success: Literal[True]
    message: str
    data: CredentialListItem


class CredentialListEnvelope(BaseModel):
    """A response that carries a list of credentials."""

    success: Literal[True]
    message: str
    data: list[CredentialListItem]


class LinkEnvelope(BaseModel):
    """A response that carries one workflow link."""

    success: Literal[True]
    message: str
    data: Link


class LinkListEnvelope(BaseModel):
    """A response that carries a credential's workflow links."""

    success: Literal[True]
    message: str
    data: list[Link]


class ErrorEnvelope(BaseModel):
    """Every error: what went wrong in `message`, never a secret, `data` null."""

    success: Literal[False]
    message: str
    data: None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, all with the error envelope."""
    described = {
        401: "Missing, malformed, unknown, revoked or expired bearer token",
        403: "A request from a web page (Origin header) is refused",
        404: "Credential not found (or another user's)",
        409: "Conflict: the name is taken, or workflows are linked to the credential",
        413: "Request body too large",
        422: "Invalid request: body, path, query or header",
        503: "The vault is busy or cannot be opened; retry",
    }
    return {s: {"model": ErrorEnvelope, "description": described[s]} for s in statuses}
