"""The credential-type registry: the one place that knows which types exist (SPEC §2).

Built-in types are listed in `_BUILTIN` below.  Other packages add types through
the ``credctl.types`` entry-point group (the name is the type name, the object a
`CredentialType` subclass or instance).  Entry points are read only when a name
is not built in, so the common path (``get-token`` on a built-in type) never pays
for scanning installed packages; a built-in name cannot be overridden.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from credctl.errors import UnsupportedType
from credctl.types.api_key import ApiKeyType
from credctl.types.base import CredentialType, FieldSpec
from credctl.types.basic_auth import BasicAuthType
from credctl.types.custom import CustomType
from credctl.types.names import env_prefix, shown, validate_name
from credctl.types.oauth2 import OAuth2Type
from credctl.types.smtp import SmtpType
from credctl.types.token import TokenType

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "CredentialType",
    "FieldSpec",
    "env_prefix",
    "get_type",
    "type_names",
    "validate_name",
]

ENTRY_POINT_GROUP: Final = "credctl.types"

_BUILTIN: Final = MappingProxyType(
    {
        kind.name: kind
        for kind in (
            ApiKeyType(),
            TokenType(),
            BasicAuthType(),
            OAuth2Type(),
            SmtpType(),
            CustomType(),
        )
    }
)
_plugins: dict[str, CredentialType] = {}


def _entry_points() -> Iterable[EntryPoint]:
    from importlib.metadata import entry_points  # only when a name is not built in

    return entry_points(group=ENTRY_POINT_GROUP)


def type_names() -> list[str]:
    """Every known type name: the built-ins in their order, then plugins sorted."""
    plugins = {point.name for point in _entry_points()} | set(_plugins)
    return [*_BUILTIN, *sorted(plugins - set(_BUILTIN))]


def get_type(name: str) -> CredentialType:
    """The type called `name`, or `UnsupportedType` naming the known types."""
    found = _BUILTIN.get(name) or _plugins.get(name)
    if found is not None:
        return found
    for point in _entry_points():
        if point.name == name:
            _plugins[name] = _load(point)
            return _plugins[name]
    raise UnsupportedType(
        f"unknown credential type {shown(str(name))}",
        hint=f"known types: {', '.join(type_names())}",
    )


def _load(point: EntryPoint) -> CredentialType:
    try:
        provided = point.load()
        if isinstance(provided, type) and issubclass(provided, CredentialType):
            provided = provided()
    except Exception as exc:  # a broken plugin must not look like a credctl crash
        raise UnsupportedType(
            f"credential type {shown(point.name)} could not be loaded from {point.value}",
            hint="reinstall or remove the package that provides it",
        ) from exc
    if not isinstance(provided, CredentialType) or provided.name != point.name:
        raise UnsupportedType(
            f"{point.value} does not provide a credential type named {shown(point.name)}",
            hint="the entry point must name a CredentialType subclass whose name matches",
        )
    return provided
