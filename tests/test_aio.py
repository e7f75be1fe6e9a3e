"""`credctl.aio.AsyncCredentialManager`: the same API as coroutines (SPEC §4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import io
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from credctl import (
    AccessDenied,
    CacheConfig,
    CredentialContext,
    CredentialInput,
    CredentialManager,
    CredentialManagerBuilder,
    CredentialUpdate,
    DuplicateCredential,
    EncryptionConfig,
    HealthState,
    InvalidInput,
    ManagerConfig,
    NotFound,
    SecretValue,
    StorageBackend,
    UserContext,
)
from credctl.aio import AsyncCredentialManager, AsyncCredentialManagerBuilder
from credctl.storage.memory import MemoryStorage
from credctl.vault import KdfParams, Vault
from tests.conftest import PASSPHRASE

FAKE = "sk_fake_async_5ecret"
CHEAP = KdfParams(19 * 1024, 2, 1)
# Constructors stay synchronous; every other method is a coroutine (the setters too: they
# wait, without blocking the loop, for a call in flight, as the seed's `&mut self` would).
SYNCHRONOUS = {"new", "with_config", "builder"}
ASYNC_ONLY = {"manager"}  # the wrapped synchronous manager


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is not a terminal: nothing may prompt."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def vault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real vault, unlocked through CREDCTL_PASSPHRASE."""
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    path = tmp_path / "vaults" / "aio.credctl"
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    return path


@pytest.fixture(params=["memory", "vault"])
def backend(request: pytest.FixtureRequest) -> StorageBackend:
    if request.param == "memory":
        return StorageBackend.memory()
    return StorageBackend.file(request.getfixturevalue("vault_file"))


def generation(path: Path) -> int:
    return Vault(path).read_parsed().header.generation


# -- parity with CredentialManager -----------------------------------------------------


def public_names(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def _names() -> dict[str, Any]:
    """Every name the managers' annotations use, some imported only for type checking."""
    import credctl.aio
    import credctl.audit.model
    import credctl.audit.service
    import credctl.manager
    import credctl.manager_config
    import credctl.model
    import credctl.records.oauth
    import credctl.records.refs
    import credctl.records.rotation
    import credctl.records.rotation_due
    import credctl.records.store
    import credctl.records.stored
    import credctl.records.versions
    import credctl.rotation.due
    import credctl.rotation.policy

    namespace: dict[str, Any] = {}
    for module in (credctl.model, credctl.manager_config, credctl.records.refs,
                   credctl.manager, credctl.records.oauth, credctl.records.store,
                   credctl.records.stored, credctl.records.rotation,
                   credctl.records.rotation_due, credctl.records.versions,
                   credctl.rotation.due, credctl.rotation.policy,
                   credctl.audit.model, credctl.audit.service, credctl.aio):  # fmt: skip
        namespace.update(vars(module))
    namespace["Path"] = Path
    return namespace


def signature(obj: Any, name: str | None = None) -> inspect.Signature:
    target = getattr(obj, name) if name is not None else obj
    return inspect.signature(target, globals=_names(), eval_str=True)


def test_same_public_names_as_the_synchronous_manager() -> None:
    assert public_names(AsyncCredentialManager) - ASYNC_ONLY == public_names(CredentialManager)


@pytest.mark.parametrize("name", sorted(public_names(CredentialManager)))
def test_same_signature_as_the_synchronous_manager(name: str) -> None:
    sync_attr = inspect.getattr_static(CredentialManager, name)
    async_attr = inspect.getattr_static(AsyncCredentialManager, name)
    assert type(async_attr) is type(sync_attr)
    if isinstance(sync_attr, property):
        return
    sync_sig = signature(CredentialManager, name)
    async_sig = signature(AsyncCredentialManager, name)
    assert list(async_sig.parameters.values()) == list(sync_sig.parameters.values())
    if name in ("new", "with_config"):
        assert async_sig.return_annotation is AsyncCredentialManager
    elif name == "builder":
        assert async_sig.return_annotation is AsyncCredentialManagerBuilder
    else:
        assert async_sig.return_annotation == sync_sig.return_annotation
    is_coroutine = inspect.iscoroutinefunction(getattr(AsyncCredentialManager, name))
    assert is_coroutine is (name not in SYNCHRONOUS)


def test_constructor_takes_what_the_synchronous_one_takes() -> None:
    sync_params = signature(CredentialManager).parameters
    async_params = signature(AsyncCredentialManager).parameters
    assert {k: v for k, v in async_params.items() if k != "manager"} == dict(sync_params)


@pytest.mark.parametrize("name", sorted(public_names(CredentialManagerBuilder)))
def test_builder_mirrors_the_synchronous_builder(name: str) -> None:
    assert public_names(AsyncCredentialManagerBuilder) == public_names(CredentialManagerBuilder)
    sync_sig = signature(CredentialManagerBuilder, name)
    async_sig = signature(AsyncCredentialManagerBuilder, name)
    assert list(async_sig.parameters.values()) == list(sync_sig.parameters.values())
    if name == "build":
        assert async_sig.return_annotation is AsyncCredentialManager
    else:  # `Self`: chaining on the async builder stays typed as the async builder
        assert async_sig.return_annotation == sync_sig.return_annotation
        assert getattr(AsyncCredentialManagerBuilder, name) is getattr(
            CredentialManagerBuilder, name
        )


# -- construction -------------------------------------------------------------------------


def test_constructed_the_same_ways(vault_file: Path) -> None:
    assert AsyncCredentialManager().config == ManagerConfig()
    assert AsyncCredentialManager.new().config == ManagerConfig()
    config = ManagerConfig(storage_backend=StorageBackend.memory())
    assert AsyncCredentialManager.with_config(config).config == config
    built = (
        AsyncCredentialManager.builder()
        .storage_backend(StorageBackend.file(vault_file))
        .cache_ttl(dt.timedelta(seconds=300))
        .enable_audit_logging()
        .build()
    )
    assert isinstance(built, AsyncCredentialManager)
    assert built.config.cache_config.ttl == dt.timedelta(seconds=300)
    assert built.config.storage_backend == StorageBackend.file(vault_file)
    storage = MemoryStorage()
    other = (
        AsyncCredentialManager.builder()
        .storage(storage)
        .vault_path(vault_file)
        .cache_config(CacheConfig(max_size=5))
        .encryption_config(EncryptionConfig(key_rotation_interval=dt.timedelta(days=1)))
        .build()
    )
    assert other.storage is storage
    assert other.config.cache_config.max_size == 5
    assert AsyncCredentialManager(storage=storage).storage is storage


def test_wraps_an_existing_manager() -> None:
    sync = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    credential_id = sync.create_credential("token", {"token": FAKE}, name="shared")
    wrapped = AsyncCredentialManager(manager=sync)
    assert wrapped.manager is sync
    assert wrapped.storage is sync.storage

    async def main() -> str:
        return (await wrapped.get_token("shared")).value.expose()

    assert asyncio.run(main()) == FAKE
    assert sync.get_credential_metrics(credential_id).usage_count == 1
    with pytest.raises(TypeError):
        AsyncCredentialManager(ManagerConfig(), manager=sync)


# -- every method, on memory and on a vault -------------------------------------------


def test_every_method(backend: StorageBackend) -> None:
    manager = AsyncCredentialManager.builder().storage_backend(backend).build()
    alice = UserContext("alice", "192.0.2.1")

    async def main() -> None:
        first = await manager.create_credential(
            "api_key", {"api_key": FAKE}, alice, description="d", tags=["t"], metadata={"m": 1}
        )
        assert (await manager.get_credential(first)).name == f"api_key_{first}"
        same = await manager.create_credential_idempotent("token", {"token": FAKE}, alice, "k")
        assert (
            await manager.create_credential_idempotent("token", {"token": FAKE}, alice, "k")
            == same
        )
        with pytest.raises(DuplicateCredential):
            await manager.create_credential_idempotent("token", {"token": "other"}, alice, "k")

        token = await manager.get_token(first)
        assert isinstance(token.value, SecretValue)
        assert token.value.expose() == FAKE
        assert FAKE not in repr(token)
        owner = CredentialContext.builder().user_id("alice").build()
        assert (await manager.get_token_with_context(first, owner)).value.expose() == FAKE
        with pytest.raises(AccessDenied):
            await manager.get_token_with_context(same, CredentialContext(user_id="bob"))
        assert (await manager.get_field(first, "key")).expose() == FAKE
        listed = await manager.list_credentials(credential_type="api_key", tag="t")
        assert [c.id for c in listed] == [first]

        await manager.update_credential(first, CredentialUpdate.builder().name("renamed").build())
        assert (await manager.get_credential("renamed")).id == first

        results = await manager.batch_create(
            [CredentialInput.api_key("k1", "X-1"), CredentialInput("token", {})], alice
        )
        assert isinstance(results[0], int)
        assert isinstance(results[1], InvalidInput)
        deleted = await manager.batch_delete([results[0], "missing"])
        assert deleted[0] is None
        assert isinstance(deleted[1], NotFound)

        await manager.clear_cache_for(first)
        await manager.clear_cache()
        await manager.set_cache_config(CacheConfig(max_size=10))
        await manager.set_encryption_config(
            EncryptionConfig(key_rotation_interval=dt.timedelta(1))
        )
        assert (await manager.health_check()).state is HealthState.HEALTHY
        metrics = await manager.get_metrics()
        assert metrics.total_credentials == 2
        assert (await manager.get_credential_metrics(first)).usage_count == 3

        await manager.delete_credential(first)
        with pytest.raises(NotFound):
            await manager.get_credential(first)

    asyncio.run(main())
    asyncio.run(manager.set_storage_backend(StorageBackend.memory()))
    assert asyncio.run(manager.list_credentials()) == []


# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_gathers_on_a_vault(vault_file: Path) -> None:
    manager = AsyncCredentialManager.builder().vault_path(vault_file).build()

    async def main() -> None:
        start = generation(vault_file)
        ids = await asyncio.gather(
            *(manager.create_credential("token", {"token": f"{FAKE}-{i}"}) for i in range(12))
        )
        assert len(set(ids)) == 12
        assert generation(vault_file) == start + 12
        tokens = await asyncio.gather(*(manager.get_token(ids[i % 12]) for i in range(60)))
        assert [t.value.expose() for t in tokens] == [f"{FAKE}-{i % 12}" for i in range(60)]
        updates = [
            manager.update_credential(i, CredentialUpdate(description=f"d{i}")) for i in ids
        ]
        reads = [manager.get_credential(i) for i in ids]
        await asyncio.gather(*updates, *reads)
        details = await asyncio.gather(*(manager.get_credential(i) for i in ids))
        assert [c.description for c in details] == [f"d{i}" for i in ids]
        metrics = await manager.get_metrics()
        assert metrics.tokens_served == 60
        assert metrics.cache_hits + metrics.cache_misses == 60

    asyncio.run(main())


def test_concurrent_calls_with_a_tiny_cache_do_not_race() -> None:
    """The manager's cache is not thread-safe; the async manager runs calls one at a time."""
    manager = AsyncCredentialManager.builder().storage_backend(StorageBackend.memory()).build()

    async def main() -> None:
        await manager.set_cache_config(CacheConfig(max_size=1))
        ids = [await manager.create_credential("token", {"token": f"t{i}"}) for i in range(3)]
        calls: list[Any] = []
        for i in range(300):
            calls.append(manager.get_token(ids[i % 3]))
            if i % 50 == 0:
                calls.append(manager.clear_cache())
        results = await asyncio.gather(*calls)
        values = [r.value.expose() for r in results if r is not None]
        assert values == [f"t{i % 3}" for i in range(300)]

    asyncio.run(main())


def test_the_event_loop_runs_while_storage_is_busy() -> None:
    gate, waiting = threading.Event(), threading.Event()

    class GatedStorage(MemoryStorage):
        """Reads wait for the gate, which only the event loop can open."""

        def snapshot(self) -> Any:
            waiting.set()
            if not gate.wait(timeout=10):
                raise AssertionError("the event loop was blocked while storage was busy")
            return super().snapshot()

    gate.set()
    manager = AsyncCredentialManager(storage=GatedStorage())

    async def main() -> str:
        credential_id = await manager.create_credential("token", {"token": FAKE}, name="gated")
        gate.clear()
        waiting.clear()
        task = asyncio.create_task(manager.get_credential(credential_id))
        deadline = time.monotonic() + 10
        while not waiting.is_set():  # the loop keeps running while the read waits
            assert time.monotonic() < deadline, "the read never reached storage"
            await asyncio.sleep(0.001)
        assert not task.done()
        gate.set()  # possible only because the read waits in a worker thread
        return (await task).name

    assert asyncio.run(main()) == "gated"


def test_a_setter_waits_for_a_call_in_flight_without_blocking_the_loop() -> None:
    """The review found `set_cache_config` froze the loop while a storage call ran."""
    gate = threading.Event()

    class GatedStorage(MemoryStorage):
        def snapshot(self) -> Any:
            if not gate.wait(timeout=10):
                raise AssertionError("the event loop was blocked while storage was busy")
            return super().snapshot()

    gate.set()
    manager = AsyncCredentialManager(storage=GatedStorage())

    async def main() -> list[str]:
        credential_id = await manager.create_credential("token", {"token": FAKE}, name="g")
        gate.clear()
        order: list[str] = []

        async def read() -> None:
            await manager.get_credential(credential_id)
            order.append("read")

        async def configure() -> None:
            await manager.set_cache_config(CacheConfig(max_size=5))
            order.append("configured")

        reading = asyncio.create_task(read())
        await asyncio.sleep(0.01)
        configuring = asyncio.create_task(configure())
        await asyncio.sleep(0.05)  # the loop runs: this sleep returns while both wait
        assert order == []
        assert not configuring.done()
        gate.set()  # only the loop can open it
        await asyncio.gather(reading, configuring)
        assert manager.config.cache_config.max_size == 5
        return order

    assert asyncio.run(main()) == ["read", "configured"]


def test_a_cancelled_call_keeps_later_calls_waiting_until_its_thread_ends() -> None:
    gate = threading.Event()
    running = threading.Event()
    inside = 0
    overlapped = False

    class GatedStorage(MemoryStorage):
        def snapshot(self) -> Any:
            nonlocal inside, overlapped
            inside += 1
            overlapped = overlapped or inside > 1
            running.set()
            gate.wait(timeout=10)
            inside -= 1
            return super().snapshot()

    gate.set()
    manager = AsyncCredentialManager(storage=GatedStorage())

    async def main() -> None:
        credential_id = await manager.create_credential("token", {"token": FAKE}, name="c")
        gate.clear()
        running.clear()
        first = asyncio.create_task(manager.get_credential(credential_id))
        while not running.is_set():
            await asyncio.sleep(0.005)
        first.cancel()
        second = asyncio.create_task(manager.get_credential(credential_id))
        await asyncio.sleep(0.05)
        assert not second.done()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (await second).name == "c"

    asyncio.run(main())
    assert not overlapped


def test_mypy_checks_async_calls_against_the_synchronous_signatures(tmp_path: Path) -> None:
    """No signature is copied by hand: a wrong argument to a coroutine is a mypy error."""
    from mypy import api

    usage = tmp_path / "usage.py"
    usage.write_text(
        "from credctl.aio import AsyncCredentialManager\n"
        "async def main(manager: AsyncCredentialManager) -> None:\n"
        "    token = await manager.get_token('github', refresh=True)\n"
        "    reveal_type(token)\n"
        "    await manager.get_token(42, refresh='yes')\n"
        "    await manager.set_cache_config(max_size=3)\n"
    )
    stdout, _stderr, status = api.run(["--strict", "--no-incremental", str(usage)])
    assert status == 1, stdout
    assert "fallback=credctl.tokens.Token]" in stdout, stdout
    assert 'usage.py:5: error: Argument "refresh" has incompatible type "str"' in stdout, stdout
    assert 'usage.py:6: error: Unexpected keyword argument "max_size"' in stdout, stdout


def test_unlocking_a_vault_does_not_block_the_event_loop(vault_file: Path) -> None:
    """The first call pays Argon2id and decryption in a worker thread."""
    setup = CredentialManager.builder().vault_path(vault_file).build()
    credential_id = setup.create_credential("token", {"token": FAKE})
    manager = AsyncCredentialManager.builder().vault_path(vault_file).build()
    ticks = 0
    finished = False

    async def ticker() -> None:
        nonlocal ticks
        while not finished:
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> int:
        nonlocal finished
        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        await manager.get_token(credential_id)
        during = ticks - before
        finished = True
        await task
        return during

    assert asyncio.run(main()) > 1


def test_errors_are_raised_from_the_coroutine() -> None:
    manager = AsyncCredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    cases: list[tuple[type[Exception], Callable[[], Any]]] = [
        (NotFound, lambda: manager.get_token(42)),
        (InvalidInput, lambda: manager.create_credential("token", {"token": 1})),
    ]
    for kind, make in cases:
        with pytest.raises(kind):
            asyncio.run(make())
    with pytest.raises(InvalidInput):
        asyncio.run(
            manager.set_encryption_config(EncryptionConfig(key_rotation_interval=dt.timedelta(0)))
        )
