"""Reusable tests for code that plugs into credctl (STYLE §7).

`StorageBackendTests` is the contract every `credctl.storage.CredentialStorage`
passes, in the manner of keyring's ``keyring.testing.backend.BackendBasicTests``.
This package is for test suites only: ``import credctl`` never imports it, and it
does not import pytest.
"""

from credctl.testing.storage_contract import StorageBackendTests

__all__ = ["StorageBackendTests"]
