"""The storage contract (`credctl.testing.StorageBackendTests`) for each built-in backend."""

from __future__ import annotations

from credctl.records.activity import Activity
from credctl.storage import ActivityStorage, CredentialStorage
from credctl.storage.memory import MemoryStorage
from credctl.storage.vault_storage import VaultStorage
from credctl.testing import StorageBackendTests
from credctl.vault import EnvironmentUnlocker, KdfParams, Vault

PASSPHRASE = "contract passphrase (fake)"
CHEAP_KDF = KdfParams(19 * 1024, 2, 1)  # OWASP's floor: tests never pay 256 MiB


class TestMemoryStorage(StorageBackendTests):
    """`MemoryStorage`: one object holds everything, so a second handle is itself."""

    def make_storage(self) -> CredentialStorage:
        return MemoryStorage()


class TestVaultStorage(StorageBackendTests):
    """`VaultStorage` over a real vault file; a second handle opens the file again."""

    def vault_file(self) -> Vault:
        return Vault(self.workdir / "vault" / "contract.credctl")

    def unlocker(self) -> EnvironmentUnlocker:
        return EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})

    def make_storage(self) -> CredentialStorage:
        vault = self.vault_file()
        vault.create(PASSPHRASE.encode(), CHEAP_KDF)
        return VaultStorage(vault, self.unlocker())

    def reopen_storage(self, storage: CredentialStorage) -> CredentialStorage:
        return VaultStorage(self.vault_file(), self.unlocker())

    def generation(self) -> int:
        return self.vault_file().read_parsed().header.generation

    def test_each_writer_commits_one_generation(self) -> None:
        storage = self.make_storage()
        start = self.generation()
        with storage.writer() as draft:
            for i in range(1, 6):
                draft.put({"id": i, "name": f"c{i}", "data": {}})
        assert self.generation() == start + 1

    def test_a_failed_writer_leaves_the_file_untouched(self) -> None:
        storage = self.make_storage()
        path = self.vault_file().path
        before = path.read_bytes()
        try:
            with storage.writer() as draft:
                draft.put({"id": 1, "name": "lost", "data": {}})
                raise RuntimeError("on purpose")
        except RuntimeError:
            pass
        assert path.read_bytes() == before

    def test_usage_is_journalled_without_rewriting_the_vault(self) -> None:
        storage = self.make_storage()
        path = self.vault_file().path
        before, mtime = path.read_bytes(), path.stat().st_mtime_ns
        assert isinstance(storage, ActivityStorage)
        storage.activity_log().append(Activity("get_token", 1, at=1_700_000_000.0))
        assert path.read_bytes() == before
        assert path.stat().st_mtime_ns == mtime
        reopened = self.reopen_storage(storage)
        assert isinstance(reopened, ActivityStorage)
        [read] = reopened.activity_log().activities()
        assert (read.action, read.credential_id, read.at) == ("get_token", 1, 1_700_000_000.0)
