"""`oauth2`: client settings and the tokens an OAuth 2.0 provider issued (SPEC §2).

This module only describes and checks the data; the flows that fill it and the
refresh that renews it live in ``credctl.oauth``.  `token_expiry` is stored
normalized to RFC 3339 in UTC (``…Z``) so expiry checks compare one form, and
`scopes` as a list, whether given as a list or as OAuth's space-separated string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from credctl._time import format_rfc3339, parse_rfc3339
from credctl.errors import InvalidInput
from credctl.types.base import CredentialType, FieldSpec, field_map
from credctl.types.values import no_line_breaks

# Enough to be a usable credential: a token now, or a way to get one.
_ANY_OF: Final = ("access_token", "refresh_token", "client_id")


class OAuth2Type(CredentialType):
    """OAuth 2.0 tokens and client settings; the token is `access_token`, refreshable."""

    name = "oauth2"
    description = "OAuth 2.0 client settings and tokens, refreshed automatically"
    refreshable = True
    fields = field_map(
        FieldSpec("client_id", description="the OAuth client id"),
        FieldSpec("client_secret", secret=True, description="the OAuth client secret"),
        FieldSpec("access_token", secret=True, description="the current access token"),
        FieldSpec("refresh_token", secret=True, description="the refresh token"),
        FieldSpec("token_expiry", description="when access_token expires (RFC 3339)"),
        FieldSpec("token_url", description="the provider's token endpoint"),
        FieldSpec("auth_url", description="the provider's authorization endpoint"),
        FieldSpec("scopes", kind="list", description="the scopes asked for"),
        FieldSpec("provider", description="a provider preset, for example github or google"),
        FieldSpec("issuer", description="an OpenID Connect issuer URL, for discovery"),
    )
    env_fields = ("access_token",)

    def _finish(self, data: dict[str, Any]) -> None:
        if not any(data.get(field) for field in _ANY_OF):
            raise InvalidInput(
                "oauth2 data needs at least one of 'access_token', 'refresh_token' or 'client_id'",
                hint="use 'credctl oauth login' to obtain tokens from a provider",
            )
        no_line_breaks(data, "access_token")
        expiry = data.get("token_expiry")
        if expiry is not None:
            try:
                data["token_expiry"] = format_rfc3339(parse_rfc3339(expiry))
            except ValueError:
                raise InvalidInput(
                    "field 'token_expiry' must be an RFC 3339 date-time with a time zone",
                    hint="for example 2025-12-01T10:00:00Z",
                ) from None

    def token(self, data: Mapping[str, Any]) -> str:
        """The stored access token, as is; refreshing it is the manager's job."""
        return self.stored(data, "access_token")

    def header(self, data: Mapping[str, Any]) -> str | None:
        """``Authorization: Bearer {access_token}``."""
        return f"Authorization: Bearer {self.token(data)}"
