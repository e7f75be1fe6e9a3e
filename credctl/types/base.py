"""The contract every credential type fulfils, and the machinery they all share.

A type declares its fields once, as `FieldSpec` values; the machinery here turns
that declaration into validation, environment-variable names and text rendering.
Keeping the rules declarative is what makes "adding a type is adding one module"
(SPEC §2) true, and sharing the checks (`credctl.types.values`) makes every type refuse bad
input the same way: `InvalidInput` naming the field, never quoting a value (it
may be a secret), and nothing applied until the whole input has passed.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple

from credctl.errors import InvalidInput, NotFound, NoToken
from credctl.types.names import env_name, shown
from credctl.types.values import convert, json_kind, render

Kind = Literal["str", "int", "bool", "list"]

MAX_FIELDS: Final = 100


class FieldSpec(NamedTuple):
    """One declared field: its kind, whether it is secret or required, default and aliases."""

    name: str
    kind: Kind = "str"
    secret: bool = False
    required: bool = False
    default: Any = None
    aliases: tuple[str, ...] = ()
    description: str = ""


def field_map(*specs: FieldSpec) -> Mapping[str, FieldSpec]:
    """A read-only ``name → spec`` mapping in declaration order."""
    return MappingProxyType({spec.name: spec for spec in specs})


class CredentialType(abc.ABC):
    """A kind of credential: its fields and how they become a token, a header or variables.

    Instances are stateless; the registry holds one of each.  Subclasses set the
    class attributes and `token`, and override the other methods only to change
    the defaults described on each.
    """

    name: str
    description: str
    fields: Mapping[str, FieldSpec]
    refreshable: bool = False
    #: Fields `env_vars` exports by default, in order.
    env_fields: tuple[str, ...] = ()
    #: Required string fields that may still be empty (basic_auth's password).
    empty_allowed: frozenset[str] = frozenset()

    def validate(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A normalized copy of `data`, or `InvalidInput` naming the first bad field."""
        raw: object = data
        if not isinstance(raw, Mapping):
            raise InvalidInput(f"{self.name} data must be a JSON object, not {json_kind(raw)}")
        if len(raw) > MAX_FIELDS:
            raise InvalidInput(f"{self.name} data has {len(raw)} fields; at most {MAX_FIELDS}")
        keys: list[object] = list(raw)
        if not all(isinstance(key, str) for key in keys):
            raise InvalidInput(f"{self.name} data has a field name that is not a string")
        normalized = self._normalize(data)
        self._finish(normalized)
        return normalized

    def _normalize(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve aliases, convert values, refuse unknown and missing fields, fill defaults."""
        canonical = self._canonical()
        given_as: dict[str, str] = {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            field = canonical.get(key)
            if field is None:
                raise InvalidInput(
                    f"unknown field {shown(key)} for type {self.name}",
                    hint=f"{self.name} fields: {', '.join(self.fields)}",
                )
            if field in given_as:
                raise InvalidInput(
                    f"field {shown(field)} is given twice, as {shown(given_as[field])} "
                    f"and {shown(key)}"
                )
            given_as[field] = key
            if value is not None:  # JSON null: not set
                out[field] = convert(self.fields[field], value)
        for spec in self.fields.values():
            if spec.name not in out and spec.required:
                raise InvalidInput(
                    f"missing required field {shown(spec.name)} for type {self.name}"
                )
            if spec.name not in out and spec.default is not None:
                out[spec.name] = spec.default
            if spec.required and out[spec.name] == "" and spec.name not in self.empty_allowed:
                raise InvalidInput(f"field {shown(spec.name)} must not be empty")
        return {name: out[name] for name in self.fields if name in out}

    def _finish(self, data: dict[str, Any]) -> None:  # noqa: B027 (optional hook)
        """Type-specific rules on normalized data; may rewrite values in place."""

    def _canonical(self) -> dict[str, str]:
        names = {alias: spec.name for spec in self.fields.values() for alias in spec.aliases}
        return names | {name: name for name in self.fields}

    def _known(self, data: Mapping[str, Any]) -> list[str]:
        """The fields this credential may have (named when an unknown one is asked for)."""
        return list(self.fields)

    def _present(self, data: Mapping[str, Any]) -> list[str]:
        """The fields that are set in `data` (named when an unset one is asked for)."""
        return [name for name in self._known(data) if data.get(name) is not None]

    def secret_fields(self, data: Mapping[str, Any]) -> frozenset[str]:
        """Fields whose values are secret: every declared secret field, set or not."""
        return frozenset(spec.name for spec in self.fields.values() if spec.secret)

    @abc.abstractmethod
    def token(self, data: Mapping[str, Any]) -> str:
        """What ``get-token`` prints (SPEC §2), or `NoToken`."""

    def header(self, data: Mapping[str, Any]) -> str | None:
        """A complete HTTP header line carrying the token, or None when the type has none."""
        return None

    def env_vars(self, credential_name: str, data: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Default ``(VARIABLE, field)`` pairs for ``credctl env NAME`` (SPEC §2)."""
        return [(env_name(credential_name, field), field) for field in self._exported(data)]

    def _exported(self, data: Mapping[str, Any]) -> Iterable[str]:
        return self.env_fields

    def field_value(self, data: Mapping[str, Any], field: str) -> str:
        """One field as text for env and templates; `NotFound` names the field and the fields."""
        name = self._canonical().get(field, field)
        value = data.get(name)
        if value is not None:
            return render(value)
        if name in self._known(data):
            raise NotFound(
                f"field {shown(field)} is not set in this {self.name} credential",
                hint=f"fields that are set: {', '.join(self._present(data)) or 'none'}",
            )
        raise NotFound(
            f"{self.name} credentials have no field {shown(field)}",
            hint=f"{self.name} fields: {', '.join(self._known(data))}",
        )

    def stored(self, data: Mapping[str, Any], field: str) -> str:
        """The text of a field the token is made from, or `NoToken` when it is not set."""
        value = data.get(field)
        if value is None or value == "":
            raise NoToken(f"this {self.name} credential has no {field}")
        return render(value)
