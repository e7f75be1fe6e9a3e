"""What a login puts into an oauth2 credential: pure functions, no storage.

A login creates the credential, or renews the tokens of an existing oauth2
credential of the same name and owner (logging in again after ``invalid_grant``
keeps its id, description, tags and settings).  Both set the non-secret OAuth
state (grant, lifetime, auth method) kept beside the data.  The record layer
decides which case applies and stores the result in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = ["TOKEN_FIELDS", "Login", "TokenSet", "new_login_data", "oauth_state", "relogin_data"]

#: The fields a token response replaces; everything else (client settings) is kept.
TOKEN_FIELDS: Final = ("access_token", "refresh_token", "token_expiry", "scopes")


class TokenSet(NamedTuple):
    """What a token endpoint issued: the oauth2 fields it sets, and the token's lifetime."""

    fields: dict[str, Any]
    lifetime: int | None

    def __repr__(self) -> str:  # the fields are secrets
        return f"TokenSet(fields={sorted(self.fields)}, lifetime={self.lifetime!r})"


class Login(NamedTuple):
    """A finished login, ready to store: client settings, tokens and OAuth state."""

    name: str | None
    settings: dict[str, Any]
    tokens: TokenSet
    state: dict[str, Any]
    description: str = ""

    def __repr__(self) -> str:  # settings hold the client secret
        return f"Login(name={self.name!r}, state={self.state!r})"


def oauth_state(grant: str, lifetime: int | None, auth_method: str | None) -> dict[str, Any]:
    """The non-secret state stored beside the data."""
    state: dict[str, Any] = {"grant": grant}
    if lifetime is not None:
        state["lifetime"] = lifetime
    if auth_method:
        state["auth_method"] = auth_method
    return state


def _set(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "", [])}


def new_login_data(login: Login) -> dict[str, Any]:
    """The data of a credential created by `login`."""
    return {**_set(login.settings), **login.tokens.fields}


def relogin_data(existing: Mapping[str, Any], login: Login) -> dict[str, Any]:
    """An existing credential's data after logging in again: old tokens dropped."""
    data = {key: value for key, value in existing.items() if key not in TOKEN_FIELDS}
    data.update(_set(login.settings))
    data.update(login.tokens.fields)
    return data
