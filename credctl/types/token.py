"""`token`: a bearer or access token kept as one opaque string (SPEC §2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from credctl.types.base import CredentialType, FieldSpec, field_map
from credctl.types.values import no_line_breaks


class TokenType(CredentialType):
    """A single token; `header` sends it as ``Authorization: Bearer …``."""

    name = "token"
    description = "a bearer or access token"
    fields = field_map(
        FieldSpec("token", secret=True, required=True, description="the token"),
    )
    env_fields = ("token",)

    def _finish(self, data: dict[str, Any]) -> None:
        no_line_breaks(data, "token")

    def token(self, data: Mapping[str, Any]) -> str:
        """The token itself."""
        return self.stored(data, "token")

    def header(self, data: Mapping[str, Any]) -> str | None:
        """``Authorization: Bearer {token}``."""
        return f"Authorization: Bearer {self.token(data)}"
