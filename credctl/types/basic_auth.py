"""`basic_auth`: a username and password for HTTP Basic authentication (SPEC §2).

The token is ``base64(username:password)`` as RFC 7617 builds it, so the username
may not contain a colon (the receiver would split there).  The password may be
empty: some services take a key as the username and no password.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from credctl.errors import InvalidInput, NoToken
from credctl.types.base import CredentialType, FieldSpec, field_map


class BasicAuthType(CredentialType):
    """Username and password; the token and header are their RFC 7617 encoding."""

    name = "basic_auth"
    description = "a username and password for HTTP Basic authentication"
    fields = field_map(
        FieldSpec("username", required=True, description="the user name"),
        FieldSpec("password", secret=True, required=True, description="the password"),
    )
    env_fields = ("username", "password")
    empty_allowed = frozenset({"password"})

    def _finish(self, data: dict[str, Any]) -> None:
        if ":" in data["username"]:
            raise InvalidInput(
                "field 'username' contains ':', which Basic authentication cannot carry",
                hint="RFC 7617 splits user and password at the first colon",
            )

    def token(self, data: Mapping[str, Any]) -> str:
        """``base64("username:password")`` of the UTF-8 text."""
        username = self.stored(data, "username")
        password = data.get("password")
        if password is None:
            raise NoToken("this basic_auth credential has no password")
        return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def header(self, data: Mapping[str, Any]) -> str | None:
        """``Authorization: Basic {token}``."""
        return f"Authorization: Basic {self.token(data)}"
