"""`AsyncCredentialManager`: the `CredentialManager` API as coroutines (SPEC §4).

Every method that may touch storage runs the synchronous method in a worker
thread (`asyncio.to_thread`), so Argon2id, vault reads and writes and waiting for
the vault lock never block the event loop.  The cheap configuration setters stay
synchronous, as in the seed (``pub fn set_…(&mut self)``).

`CredentialManager` keeps in-process state (token cache, counters, the unlocked
vault) that is not safe to change from several threads at once, so the calls of
one `AsyncCredentialManager` run one at a time, in arrival order of the worker
threads; ``asyncio.gather`` on one manager is safe.  The setters wait for a call
in flight to finish, as the seed's ``&mut self`` would.  Cancelling a call
stops the wait, not the work already running in its thread (a vault write
started is finished).  Several processes may share a vault as usual.

The method list mirrors `CredentialManager` by hand so that both stay fully
typed; ``tests/test_aio.py`` compares the two classes' public names and
signatures, so a method added to one and not the other fails the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from credctl.errors import CredentialError
from credctl.manager import CredentialManager, CredentialManagerBuilder, Ref
from credctl.model import (
    CacheConfig,
    CallbackData,
    Credential,
    CredentialContext,
    CredentialId,
    CredentialInput,
    CredentialMetrics,
    CredentialUpdate,
    EncryptionConfig,
    FlowId,
    HealthStatus,
    InteractiveFlow,
    ManagerConfig,
    Metrics,
    StorageBackend,
    Token,
    UserContext,
)
from credctl.secret import SecretValue
from credctl.storage.base import CredentialStorage

__all__ = ["AsyncCredentialManager", "AsyncCredentialManagerBuilder"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


class AsyncCredentialManager:
    """`CredentialManager` for asyncio: the same methods, as coroutines.

    Build it like the synchronous manager (``AsyncCredentialManager()``,
    `with_config`, ``builder()…build()``) or wrap one you already have with
    ``AsyncCredentialManager(manager=existing)``; `manager` gives the wrapped
    synchronous manager back.
    """

    def __init__(
        self,
        config: ManagerConfig | None = None,
        *,
        storage: CredentialStorage | None = None,
        manager: CredentialManager | None = None,
    ) -> None:
        if manager is not None and (config is not None or storage is not None):
            raise TypeError("pass either an existing manager or config/storage, not both")
        self._manager = (
            manager if manager is not None else CredentialManager(config, storage=storage)
        )
        self._lock = threading.RLock()

    async def _run(self, method: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run one synchronous call in a worker thread, one call at a time."""

        def call() -> _R:
            with self._lock:
                return method(*args, **kwargs)

        return await asyncio.to_thread(call)

    # -- construction (seed: new / with_config / builder) --------------------------

    @classmethod
    def new(cls) -> AsyncCredentialManager:
        """A manager on the default vault with default settings."""
        return cls()

    @classmethod
    def with_config(cls, config: ManagerConfig) -> AsyncCredentialManager:
        """A manager with explicit settings."""
        return cls(config)

    @classmethod
    def builder(cls) -> AsyncCredentialManagerBuilder:
        """Start building a manager step by step; ``build()`` returns the async manager."""
        return AsyncCredentialManagerBuilder()

    @property
    def manager(self) -> CredentialManager:
        """The synchronous manager doing the work."""
        return self._manager

    @property
    def storage(self) -> CredentialStorage:
        """The backend in use (built on first use; a vault is not read until then)."""
        return self._manager.storage

    @property
    def config(self) -> ManagerConfig:
        """The settings in force."""
        return self._manager.config

    # -- configuration (synchronous, as in the seed) -------------------------------

    def set_storage_backend(self, backend: StorageBackend) -> None:
        """Switch to another backend; the cache is cleared."""
        with self._lock:
            self._manager.set_storage_backend(backend)

    def set_encryption_config(self, config: EncryptionConfig) -> None:
        """Set the data-key rotation interval that `health_check` enforces."""
        with self._lock:
            self._manager.set_encryption_config(config)

    def set_cache_config(self, config: CacheConfig) -> None:
        """Configure the in-process token cache."""
        with self._lock:
            self._manager.set_cache_config(config)

    async def clear_cache(self) -> None:
        """Forget every cached token."""
        await self._run(self._manager.clear_cache)

    async def clear_cache_for(self, ref: Ref) -> None:
        """Forget the cached token of one credential."""
        await self._run(self._manager.clear_cache_for, ref)

    # -- create --------------------------------------------------------------------

    async def create_credential(
        self,
        credential_type: str,
        input: Mapping[str, Any],
        context: UserContext | None = None,
        *,
        name: str | None = None,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> CredentialId:
        """Validate and store a new credential; returns its id."""
        return await self._run(
            self._manager.create_credential, credential_type, input, context,
            name=name, description=description, tags=tags, metadata=metadata,
        )  # fmt: skip

    async def create_credential_idempotent(
        self,
        credential_type: str,
        input: Mapping[str, Any],
        context: UserContext | None = None,
        idempotency_key: str | None = None,
        *,
        name: str | None = None,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> CredentialId:
        """`create_credential` that returns the same id when a request is repeated."""
        return await self._run(
            self._manager.create_credential_idempotent, credential_type, input, context,
            idempotency_key, name=name, description=description, tags=tags, metadata=metadata,
        )  # fmt: skip

    async def batch_create(
        self, credentials: Sequence[CredentialInput], context: UserContext | None = None
    ) -> list[CredentialId | CredentialError]:
        """Create many in one write; one result per input, in order (errors returned)."""
        return await self._run(self._manager.batch_create, credentials, context)

    # -- read ----------------------------------------------------------------------

    async def get_credential(self, ref: Ref) -> Credential:
        """A credential's details, without its secret data."""
        return await self._run(self._manager.get_credential, ref)

    async def list_credentials(
        self, *, credential_type: str | None = None, tag: str | None = None
    ) -> list[Credential]:
        """Every credential's details, filtered by type and tag."""
        return await self._run(
            self._manager.list_credentials, credential_type=credential_type, tag=tag
        )

    async def get_token(
        self, ref: Ref, *, min_valid: dt.timedelta | None = None, refresh: bool = True
    ) -> Token:
        """The credential's token (a `SecretValue`), renewed first when it expires soon."""
        return await self._run(self._manager.get_token, ref, min_valid=min_valid, refresh=refresh)

    async def get_token_with_context(
        self,
        ref: Ref,
        context: CredentialContext | None,
        *,
        min_valid: dt.timedelta | None = None,
        refresh: bool = True,
    ) -> Token:
        """`get_token`, checking that `context.user_id` owns the credential."""
        return await self._run(
            self._manager.get_token_with_context, ref, context,
            min_valid=min_valid, refresh=refresh,
        )  # fmt: skip

    async def get_field(self, ref: Ref, field: str) -> SecretValue:
        """One field of a credential's data as text."""
        return await self._run(self._manager.get_field, ref, field)

    # -- lifecycle and interactive flows ---------------------------------------------

    async def refresh_credential(self, ref: Ref) -> Token:
        """Renew an oauth2 credential's access token now (under the vault lock)."""
        return await self._run(self._manager.refresh_credential, ref)

    async def refresh_all_expired(self) -> list[CredentialId]:
        """Renew every oauth2 credential that is expired or about to be; their ids."""
        return await self._run(self._manager.refresh_all_expired)

    async def start_interactive_flow(
        self,
        credential_type: str,
        input: Mapping[str, Any],
        context: UserContext | None = None,
    ) -> InteractiveFlow:
        """Start an OAuth login; the flow says what the person must do."""
        return await self._run(
            self._manager.start_interactive_flow, credential_type, input, context
        )

    async def complete_interactive_flow(
        self, flow_id: FlowId, callback_data: CallbackData
    ) -> CredentialId:
        """Finish a login; the credential's id.

        A device flow polls in the worker thread until the person approves, and this
        manager's other calls wait meanwhile (one call at a time): poll on an
        `AsyncCredentialManager` of its own if the program must go on serving tokens.
        """
        return await self._run(self._manager.complete_interactive_flow, flow_id, callback_data)

    # -- update and delete -----------------------------------------------------------

    async def update_credential(self, ref: Ref, updates: CredentialUpdate) -> None:
        """Apply an update; the type's rules check new data before anything is stored."""
        await self._run(self._manager.update_credential, ref, updates)

    async def delete_credential(self, ref: Ref) -> None:
        """Remove a credential (its id is never reused)."""
        await self._run(self._manager.delete_credential, ref)

    async def batch_delete(self, refs: Sequence[Ref]) -> list[CredentialError | None]:
        """Delete many in one write; one result per input (None or the error)."""
        return await self._run(self._manager.batch_delete, refs)

    # -- health and metrics ----------------------------------------------------------

    async def health_check(self) -> HealthStatus:
        """Healthy, degraded (with issues) or unhealthy (with the error)."""
        return await self._run(self._manager.health_check)

    async def get_metrics(self) -> Metrics:
        """Totals, cache hit rate and refresh times."""
        return await self._run(self._manager.get_metrics)

    async def get_credential_metrics(self, ref: Ref) -> CredentialMetrics:
        """Usage count, last use and refreshes of one credential, across processes."""
        return await self._run(self._manager.get_credential_metrics, ref)


class AsyncCredentialManagerBuilder:
    """``AsyncCredentialManager.builder()…build()``: `CredentialManagerBuilder`, async result."""

    def __init__(self) -> None:
        self._builder = CredentialManagerBuilder()

    def storage_backend(self, backend: StorageBackend) -> AsyncCredentialManagerBuilder:
        """Where records live."""
        self._builder.storage_backend(backend)
        return self

    def vault_path(self, path: Path | str) -> AsyncCredentialManagerBuilder:
        """Shorthand for ``storage_backend(StorageBackend.file(path))``."""
        self._builder.vault_path(path)
        return self

    def storage(self, storage: CredentialStorage) -> AsyncCredentialManagerBuilder:
        """Use an already-built storage object."""
        self._builder.storage(storage)
        return self

    def cache_ttl(self, ttl: dt.timedelta) -> AsyncCredentialManagerBuilder:
        """How long a token stays in the in-process cache."""
        self._builder.cache_ttl(ttl)
        return self

    def cache_config(self, config: CacheConfig) -> AsyncCredentialManagerBuilder:
        """The whole cache configuration."""
        self._builder.cache_config(config)
        return self

    def encryption_config(self, config: EncryptionConfig) -> AsyncCredentialManagerBuilder:
        """Encryption settings."""
        self._builder.encryption_config(config)
        return self

    def enable_audit_logging(self) -> AsyncCredentialManagerBuilder:
        """Record usage in the journal (on by default)."""
        self._builder.enable_audit_logging()
        return self

    def build(self) -> AsyncCredentialManager:
        """The configured async manager (nothing is read until the first call)."""
        return AsyncCredentialManager(manager=self._builder.build())
