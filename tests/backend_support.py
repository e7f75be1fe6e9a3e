"""Building sealed storages on each engine for tests (contract, CLI, concurrency)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from credctl.storage.anchors import Anchors
from credctl.storage.backend_vault import BackendVault
from credctl.storage.base import CredentialStorage
from credctl.storage.blobs import BlobBackend
from credctl.storage.sealed import SealedStorage
from credctl.vault import EnvironmentUnlocker, KdfParams

PASSPHRASE = "backend contract passphrase (fake)"
CHEAP_KDF = KdfParams(19 * 1024, 2, 1)  # OWASP's floor: tests never pay 256 MiB


def unlocker() -> EnvironmentUnlocker:
    """Unlocks with the test passphrase only."""
    return EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})


def init_backend(backend: BlobBackend) -> None:
    """Create a vault in an empty engine."""
    BackendVault(backend).create(PASSPHRASE.encode(), CHEAP_KDF)


def sealed(backend: BlobBackend, anchors: Path) -> SealedStorage:
    """A storage handle on `backend`, with this test's own anchor folder."""
    return SealedStorage(backend, unlocker(), anchors=Anchors(anchors))


# -- a test's vault in either lane (the file, or its PostgreSQL space) ----------------------


def open_storage(vault: Path, env: Mapping[str, str]) -> CredentialStorage:
    """The storage of a test's vault, unlocked from `env`: the file, or its lane space.

    Give it back with `close_storage` (a PostgreSQL one holds connections).
    """
    from credctl.storage.backends import open_backend_storage
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault import Vault
    from tests.peer_backends import lane_server, lane_url

    unlock = EnvironmentUnlocker(env=env)
    backend = lane_url(lane_server(), vault)
    if backend is None:
        return VaultStorage(Vault(vault), unlock)
    return open_backend_storage(backend, unlocker=unlock)


def close_storage(storage: CredentialStorage) -> None:
    """Close what `open_storage` opened (a connection pool; nothing for a file)."""
    if isinstance(storage, SealedStorage):
        storage.backend.close()


@contextlib.contextmanager
def opened_storage(vault: Path, env: Mapping[str, str]) -> Iterator[CredentialStorage]:
    """`open_storage` for the length of a block."""
    storage = open_storage(vault, env)
    try:
        yield storage
    finally:
        close_storage(storage)


def commits(vault: Path, env: Mapping[str, str]) -> int:
    """How many commits the vault has seen: the file's generation, or the root's revision
    (both grow by one per write)."""
    with opened_storage(vault, env) as storage:
        if isinstance(storage, SealedStorage):
            stamp = storage.state_stamp()
            assert isinstance(stamp, int), stamp
            return stamp
    from credctl.vault import Vault

    return Vault(vault).read_parsed().header.generation


def stored(vault: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The vault's settings and records as stored now (``{"meta", "records": {id: …}}``)."""
    with opened_storage(vault, env) as storage:
        view = storage.snapshot()
        return {"meta": dict(view.meta), "records": {int(r["id"]): r for r in view.records()}}


def vault_state(vault: Path, env: Mapping[str, str]) -> object:
    """What changes with any write: the file's bytes, or the root's revision."""
    with opened_storage(vault, env) as storage:
        if isinstance(storage, SealedStorage):
            return storage.state_stamp()
    return vault.read_bytes()


#: The database drivers' top-level packages: what they import is theirs, not credctl's.
DRIVERS = ("psycopg", "psycopg_binary", "psycopg_pool")


def driver_imports(importtime: str) -> set[str]:
    """Modules a database driver imported (nested under it in ``-X importtime`` output).

    A driver is needed on a backend's fast path; its own imports (psycopg brings
    asyncio, dataclasses and importlib.metadata) are the price of the backend, not
    something credctl chose.
    """
    rows = []
    for line in importtime.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1]
            rows.append((len(name) - len(name.lstrip()), name.strip()))
    found: set[str] = set()
    for index, (depth, name) in enumerate(rows):
        if name.split(".")[0] not in DRIVERS:
            continue
        found.add(name)
        back = index - 1
        while back >= 0 and rows[back][0] > depth:  # imported while `name` was importing
            found.add(rows[back][1])
            back -= 1
    return found
