"""Writing what a provider issued into oauth2 records.

A login creates the credential, or renews the tokens of an existing oauth2
credential of the same name and owner (logging in again after ``invalid_grant``
keeps its id, description, tags and settings).  A refresh replaces the access
token, and the refresh token when the provider rotated it.  Both set the record's
non-secret OAuth state (`credctl.oauth.expiry.STATE_KEY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import AccessDenied, DuplicateCredential
from credctl.model import CredentialInput, UserContext, to_rfc3339, utc_now
from credctl.oauth.expiry import STATE_KEY
from credctl.storage.base import Record, StorageWriter

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

#: The fields a token response replaces; everything else (client settings) is kept.
TOKEN_FIELDS: Final = ("access_token", "refresh_token", "token_expiry", "scopes")


def oauth_state(grant: str, lifetime: int | None, auth_method: str | None) -> dict[str, Any]:
    """The non-secret state stored beside the data."""
    state: dict[str, Any] = {"grant": grant}
    if lifetime is not None:
        state["lifetime"] = lifetime
    if auth_method:
        state["auth_method"] = auth_method
    return state


def store_login(
    manager: CredentialManager,
    *,
    name: str | None,
    settings: Mapping[str, Any],
    tokens: Mapping[str, Any],
    state: dict[str, Any],
    context: UserContext | None,
    description: str = "",
) -> int:
    """Create the credential, or renew the tokens of the oauth2 credential called `name`."""
    owner = (context or UserContext.system()).user_id
    with manager.storage.writer() as draft:
        existing = draft.get_by_name(name) if name else None
        if existing is None:
            data = {**{k: v for k, v in settings.items() if v not in (None, "", [])}, **tokens}
            item = CredentialInput("oauth2", data, name, description)
            prepared = manager._prepare(item, context, None)  # the manager's own checks
            prepared[STATE_KEY] = state
            return manager._insert(draft, prepared, None)
        if existing.get("type") != "oauth2":
            raise DuplicateCredential(
                f"a {existing.get('type')} credential named {name!r} already exists",
                hint="choose another name for the OAuth login",
            )
        if existing.get("owner", "local") != owner:
            raise AccessDenied(f"user {owner!r} may not change this credential")
        data = {k: v for k, v in dict(existing["data"]).items() if k not in TOKEN_FIELDS}
        data.update({k: v for k, v in settings.items() if v not in (None, "", [])})
        data.update(tokens)
        renew(manager, draft, existing, data, state)
        return int(existing["id"])


def renew(
    manager: CredentialManager,
    draft: StorageWriter,
    record: Record,
    data: Mapping[str, Any],
    state: dict[str, Any],
) -> Record:
    """Validate `data`, put it into a copy of `record` with `state`, store it; the copy."""
    from credctl.types import get_type

    updated = dict(record)
    updated["data"] = get_type("oauth2").validate(data)
    updated[STATE_KEY] = state
    updated["version"] = int(record.get("version", 1)) + 1
    updated["updated_at"] = to_rfc3339(utc_now())
    draft.put(updated)
    manager.clear_cache_for(int(record["id"]))
    return updated
