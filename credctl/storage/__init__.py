"""Storage backends: memory, the vault file, and plug-ins (group ``credctl.storage``)."""

from __future__ import annotations

from typing import Any

from credctl.errors import InvalidInput
from credctl.storage.base import (
    ActivityStorage,
    ChangeStamped,
    CredentialStorage,
    Record,
    StorageSnapshot,
    StorageWriter,
    VaultLocated,
)

ENTRY_POINT_GROUP = "credctl.storage"

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActivityStorage",
    "ChangeStamped",
    "CredentialStorage",
    "Record",
    "StorageSnapshot",
    "StorageWriter",
    "VaultLocated",
    "load_plugin",
]


def load_plugin(name: str, **options: Any) -> CredentialStorage:
    """Build the storage registered under `name` in the ``credctl.storage`` group."""
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            factory = entry.load()
            storage = factory(**options)
            if not isinstance(storage, CredentialStorage):
                raise InvalidInput(
                    f"storage plug-in {name!r} does not implement CredentialStorage"
                )
            return storage
    known = sorted(e.name for e in entry_points(group=ENTRY_POINT_GROUP))
    raise InvalidInput(
        f"no storage plug-in named {name!r}",
        hint="installed plug-ins: " + (", ".join(known) if known else "none"),
    )
