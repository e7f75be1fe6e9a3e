"""The storage contract (`credctl.testing.StorageBackendTests`) on every blob backend.

Each engine runs the same tests through `SealedStorage`: SQLite here, and the
real peers (PostgreSQL, the KV v2 server, moto, the Azure responder) in their
own classes below when they can be started.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from credctl.storage import CredentialStorage
from credctl.storage.blobs import BlobBackend, BlobConflictError, Change, closing_reader
from credctl.storage.sqlite import SqliteBackend
from credctl.testing import StorageBackendTests
from tests.azure_responder import FakeCredential, azure_vault
from tests.backend_support import init_backend, sealed
from tests.kv2_server import kv2_server
from tests.peer_backends import PostgresServer, moto_fixture, postgres_fixture  # noqa: F401


class SealedBackendTests(StorageBackendTests):
    """Build a fresh vault in a fresh engine; a second handle opens the same engine."""

    def engine(self) -> BlobBackend:
        raise NotImplementedError

    def make_storage(self) -> CredentialStorage:
        backend = self.engine()
        init_backend(backend)
        return sealed(backend, self.workdir / "anchors")

    def reopen_storage(self, storage: CredentialStorage) -> CredentialStorage:
        return sealed(self.engine(), self.workdir / "anchors")

    def test_the_engine_refuses_a_stale_write(self) -> None:
        engine = self.engine()
        with engine.transaction() as txn:
            first = txn.commit([Change("x-cas", b"one", None)])["x-cas"]
        with engine.transaction() as txn:
            txn.commit([Change("x-cas", b"two", first)])
        for stale in (first, None):  # replacing an old version; creating an existing key
            with pytest.raises(BlobConflictError), engine.transaction() as txn:
                txn.commit([Change("x-cas", b"lost", stale)])
        with closing_reader(engine.reader()) as reader:
            assert reader.get_many(["x-cas"])["x-cas"].data == b"two"

    def test_a_stale_log_append_is_refused(self) -> None:
        engine = self.engine()
        assert engine.append_log("activity", 0, [b"first"]) == 1
        with pytest.raises(BlobConflictError):
            engine.append_log("activity", 0, [b"second"])
        assert list(engine.read_log("activity")) == [(1, b"first")]


class TestSqliteStorage(SealedBackendTests):
    """``sqlite:///PATH``."""

    def engine(self) -> BlobBackend:
        return SqliteBackend(self.workdir / "db" / "credctl.sqlite")


class TestPostgresStorage(SealedBackendTests):
    """``postgresql://…`` on a real server (Debian's PostgreSQL, started for the session)."""

    @pytest.fixture(autouse=True)
    def _server(self, postgres: PostgresServer) -> None:
        self.server = postgres
        self.url = postgres.url()

    def engine(self) -> BlobBackend:
        from credctl.storage.postgres import PostgresBackend

        backend = PostgresBackend(self.url, space=self.url.rsplit("=", 1)[1])
        self.opened.append(backend)
        return backend

    def setup_method(self, method: object = None) -> None:
        super().setup_method(method)
        self.opened: list[BlobBackend] = []

    def teardown_method(self, method: object = None) -> None:
        for backend in self.opened:
            backend.close()
        super().teardown_method(method)


class TestHashicorpStorage(SealedBackendTests):
    """``vault://…`` against the KV v2 test server (or a real Vault: VAULT_ADDR/VAULT_TOKEN)."""

    @pytest.fixture(autouse=True)
    def _server(self, kv2: tuple[str, str, bool]) -> None:
        address, token, tls = kv2
        self.address, self.token = address, token
        self.prefix = f"t{uuid.uuid4().hex[:12]}"
        self.query = "" if tls else "?tls=false"

    def engine(self) -> BlobBackend:
        from credctl.storage.hashicorp import HashicorpBackend

        url = f"vault://{self.address}/secret/{self.prefix}{self.query}"
        return HashicorpBackend.from_url(url, token=self.token)


@pytest.fixture(scope="module")
def kv2() -> Iterator[tuple[str, str, bool]]:
    """A real Vault when VAULT_ADDR and VAULT_TOKEN are set, else the KV v2 test server."""
    address, token = os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    if address and token:
        parts = urlsplit(address)
        yield parts.netloc, token, parts.scheme == "https"
        return
    with kv2_server() as served:
        yield served, "FAKE-VAULT-TOKEN", False


class TestAwsStorage(SealedBackendTests):
    """``awssm://…`` against moto's server (ThreadedMotoServer on 127.0.0.1)."""

    @pytest.fixture(autouse=True)
    def _server(self, moto_endpoint: str) -> None:
        self.endpoint = moto_endpoint
        self.prefix = f"t{uuid.uuid4().hex[:12]}"

    def engine(self) -> BlobBackend:
        from credctl.storage.aws import AwsBackend

        return AwsBackend.from_url(f"awssm://us-east-1/{self.prefix}?endpoint={self.endpoint}")


class TestAzureStorage(SealedBackendTests):
    """``azurekv://…`` answered with recorded-shape responses (no emulator exists here)."""

    @pytest.fixture(autouse=True)
    def _service(self) -> Iterator[None]:
        self.vault_name = f"t{uuid.uuid4().hex[:10]}"
        with azure_vault(self.vault_name) as stored:
            self.stored = stored
            yield

    def engine(self) -> BlobBackend:
        from credctl.storage.azure import AzureBackend

        return AzureBackend.from_url(f"azurekv://{self.vault_name}", credential=FakeCredential())

    def test_the_service_sees_sealed_values_only(self) -> None:
        storage = self.make_storage()
        self.put_secret(storage)
        values = " ".join(v["value"] for versions in self.stored.values() for v in versions)
        names = " ".join(self.stored)
        for plain in ("github", "FAKE-SECRET-AZURE", "platform"):
            assert plain not in values
            assert plain not in names

    def put_secret(self, storage: CredentialStorage) -> None:
        record = {
            "id": 1, "name": "github", "type": "token",
            "data": {"token": "FAKE-SECRET-AZURE"}, "metadata": {"team": "platform"},
        }  # fmt: skip
        self.put(storage, record)
