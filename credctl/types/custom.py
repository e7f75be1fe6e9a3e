"""`custom`: any named string, number or boolean fields, all secret (SPEC §2, §12).

The one setting is ``token_field``: it names the field ``get-token`` returns, is
not secret and is never exported by ``env``.  Without it, a single-field
credential's token is that field and a multi-field one has none (`NoToken`),
rather than credctl guessing which value to hand out.  Field names are limited to
what a template reference and an environment-variable suffix can both carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from credctl.errors import InvalidInput, NoToken
from credctl.types.base import CredentialType, FieldSpec, field_map
from credctl.types.names import env_prefix, shown
from credctl.types.values import check_number, check_text, render, wrong_type

TOKEN_FIELD: Final = "token_field"  # noqa: S105 (a field name, not a password)
_FIELD_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,127}\Z")


def _scalar(field: str, value: object) -> str | int | float | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return check_number(field, value)
    if isinstance(value, str):
        return check_text(field, value)
    raise wrong_type(field, "a string, a number or true/false", value)


class CustomType(CredentialType):
    """Free-form secret fields; the token is chosen by ``token_field``."""

    name = "custom"
    description = "any named fields, all secret; token_field names the one get-token returns"
    fields = field_map(
        FieldSpec(TOKEN_FIELD, description="the field get-token returns (a setting, not secret)"),
    )

    def _normalize(self, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        suffixes: dict[str, str] = {}
        for key, value in data.items():
            if not _FIELD_NAME.match(key):
                raise InvalidInput(
                    f"field name {shown(key)} is not valid",
                    hint="use 1–128 ASCII letters, digits, '_' or '-', not starting with '-'",
                )
            if key == TOKEN_FIELD:
                if value is not None:
                    out[key] = check_text(key, value)
                continue
            out[key] = _scalar(key, value)
            suffix = env_prefix(key)
            if suffix in suffixes:
                raise InvalidInput(
                    f"fields {shown(suffixes[suffix])} and {shown(key)} would both be "
                    f"exported as NAME_{suffix}",
                    hint="rename one of them",
                )
            suffixes[suffix] = key
        if not suffixes:
            raise InvalidInput("custom data has no fields", hint="give at least one field")
        chosen = out.get(TOKEN_FIELD)
        if chosen is not None and chosen not in suffixes.values():
            raise InvalidInput(
                f"field 'token_field' names {shown(chosen)}, which is not a field of this data"
            )
        return out

    def _fields_of(self, data: Mapping[str, Any]) -> list[str]:
        return sorted(key for key in data if key != TOKEN_FIELD)

    def _known(self, data: Mapping[str, Any]) -> list[str]:
        return self._fields_of(data)

    def secret_fields(self, data: Mapping[str, Any]) -> frozenset[str]:
        """Every field except ``token_field``."""
        return frozenset(self._fields_of(data))

    def _exported(self, data: Mapping[str, Any]) -> Iterable[str]:
        return self._fields_of(data)

    def token(self, data: Mapping[str, Any]) -> str:
        """The field named by ``token_field``, else the only field, else `NoToken`."""
        chosen = data.get(TOKEN_FIELD)
        fields = self._fields_of(data)
        if isinstance(chosen, str) and chosen in fields:
            return render(data[chosen])
        if chosen is None and len(fields) == 1:
            return render(data[fields[0]])
        raise NoToken(
            f"this custom credential has {len(fields)} fields and no usable token_field",
            hint="set token_field in its data, or ask for one field with --field",
        )
