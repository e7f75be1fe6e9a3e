"""Building sealed storages on each engine for tests (contract, CLI, concurrency)."""

from __future__ import annotations

from pathlib import Path

from credctl.storage.anchors import Anchors
from credctl.storage.backend_vault import BackendVault
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
