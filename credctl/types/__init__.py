"""The credential-type registry: the one place that knows which types exist (SPEC §2).

Built-in types are listed in `_BUILTIN` below.  Other packages add types through
the ``credctl.types`` entry-point group (the name is the type name, the object a
`CredentialType` subclass or instance).  Entry points are read only when a name
is not built in, so the common path (``get-token`` on a built-in type) never pays
for scanning installed packages; a built-in name cannot be overridden.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable, Iterator
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from credctl.errors import UnsupportedType
from credctl.types.base import CredentialType, FieldSpec
from credctl.types.names import env_prefix, shown, validate_name

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "BUILTIN_TYPE_NAMES",
    "ENTRY_POINT_GROUP",
    "CredentialType",
    "FieldSpec",
    "env_prefix",
    "get_type",
    "testonly_entry_points",
    "type_names",
    "validate_name",
]

ENTRY_POINT_GROUP: Final = "credctl.types"

# Name -> (module, class).  A type's module is imported only when that type is used,
# so `get-token` on a token credential does not load the other five.
_BUILTIN: Final = MappingProxyType(
    {
        "api_key": ("credctl.types.api_key", "ApiKeyType"),
        "token": ("credctl.types.token", "TokenType"),
        "basic_auth": ("credctl.types.basic_auth", "BasicAuthType"),
        "oauth2": ("credctl.types.oauth2", "OAuth2Type"),
        "smtp": ("credctl.types.smtp", "SmtpType"),
        "custom": ("credctl.types.custom", "CustomType"),
    }
)
#: The built-in type names, in the order help lists them (naming them scans no plug-in).
BUILTIN_TYPE_NAMES: Final = tuple(_BUILTIN)
_loaded: dict[str, CredentialType] = {}
_plugins: dict[str, CredentialType] = {}


def _builtin(name: str) -> CredentialType | None:
    if name not in _loaded and name in _BUILTIN:
        module, class_name = _BUILTIN[name]
        _loaded[name] = getattr(importlib.import_module(module), class_name)()
    return _loaded.get(name)


def _installed_entry_points() -> Iterable[EntryPoint]:
    from importlib.metadata import entry_points  # only when a name is not built in

    return entry_points(group=ENTRY_POINT_GROUP)


_entry_points: Callable[[], Iterable[EntryPoint]] = _installed_entry_points


@contextlib.contextmanager
def testonly_entry_points(read: Callable[[], Iterable[EntryPoint]]) -> Iterator[None]:
    """Tests only: take plugin entry points from `read` instead of the installed packages.

    Inside the block no plugin is loaded yet (each is loaded from `read`'s entry
    points on first use); on exit the installed entry points and the plugins
    loaded before the block are back.
    """
    global _entry_points
    saved_read, saved_plugins = _entry_points, dict(_plugins)
    _entry_points = read
    _plugins.clear()
    try:
        yield
    finally:
        _entry_points = saved_read
        _plugins.clear()
        _plugins.update(saved_plugins)


def type_names() -> list[str]:
    """Every known type name: the built-ins in their order, then plugins sorted."""
    plugins = {point.name for point in _entry_points()} | set(_plugins)
    return [*_BUILTIN, *sorted(plugins - set(_BUILTIN))]


def get_type(name: str) -> CredentialType:
    """The type called `name`, or `UnsupportedType` naming the known types."""
    found = (_builtin(name) if isinstance(name, str) else None) or _plugins.get(name)
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
