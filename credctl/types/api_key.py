"""`api_key`: one key, sent in a named header or query parameter (SPEC §2).

The seed's library example stores it as ``api_key`` and the REST API as ``key``;
both are accepted and stored as ``key`` so templates (``{{$credential.N.key}}``)
and env names (``N_KEY``) have one spelling.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from credctl.errors import InvalidInput
from credctl.types.base import CredentialType, FieldSpec, field_map
from credctl.types.names import shown
from credctl.types.values import no_line_breaks

LOCATIONS: Final = ("header", "query")
# RFC 9110 §5.6.2 token: the characters a header name may contain.
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}\Z")


class ApiKeyType(CredentialType):
    """An API key; `header` gives ``{param_name}: {key}`` when the key travels in a header."""

    name = "api_key"
    description = "an API key sent in a header or a query parameter"
    fields = field_map(
        FieldSpec(
            "key", secret=True, required=True, aliases=("api_key",), description="the API key"
        ),
        FieldSpec(
            "param_name",
            default="X-API-Key",
            description="the header or query parameter that carries the key",
        ),
        FieldSpec("location", default="header", description="where the key goes: header or query"),
    )
    env_fields = ("key",)

    def _finish(self, data: dict[str, Any]) -> None:
        location = data["location"]
        if location not in LOCATIONS:
            raise InvalidInput(f"field 'location' must be header or query, not {shown(location)}")
        no_line_breaks(data, "key")
        param_name = data["param_name"]
        if location == "header" and not _HEADER_NAME.match(param_name):
            raise InvalidInput(
                f"field 'param_name' {shown(param_name)} is not a valid HTTP header name",
                hint="use letters, digits and '-', for example X-API-Key",
            )
        if not param_name.strip():
            raise InvalidInput("field 'param_name' must not be empty")

    def token(self, data: Mapping[str, Any]) -> str:
        """The key itself."""
        return self.stored(data, "key")

    def header(self, data: Mapping[str, Any]) -> str | None:
        """``{param_name}: {key}``; None when `location` is ``query`` (it is no header)."""
        if data.get("location", "header") != "header":
            return None
        return f"{data.get('param_name') or 'X-API-Key'}: {self.token(data)}"
