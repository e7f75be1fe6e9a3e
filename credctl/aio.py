"""`AsyncCredentialManager`: the `CredentialManager` API as coroutines (SPEC §4).

Each coroutine is made from the synchronous method itself (`_in_thread`,
`_on_loop`), typed with `ParamSpec`, so its parameters are the synchronous
method's by construction and mypy checks every call against them: there is no
second copy of a signature to drift.

`CredentialManager` keeps in-process state (token cache, the unlocked vault)
that is not safe to change from several threads at once, so the calls of one
`AsyncCredentialManager` run one at a time, in the order they acquire an
`asyncio.Lock`.  Waiting for that lock never blocks the event loop, and the work
itself (Argon2id, vault reads and writes, the vault lock, provider calls) runs
in a worker thread.  The configuration setters are cheap and run on the loop,
but under the same lock, as the seed's ``&mut self`` would have them wait for a
call in flight.  Cancelling a call stops the wait, not the work already running
in its thread: the lock is held until that work ends, so no two calls ever
overlap.  Several processes may share a vault as usual.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from credctl.manager import CredentialManager, CredentialManagerBuilder
from credctl.records.api_tokens import ApiToken
from credctl.scoped import ScopedManager

if TYPE_CHECKING:
    from credctl.model import ManagerConfig
    from credctl.records.store import RecordStore
    from credctl.storage.base import CredentialStorage

__all__ = ["AsyncCredentialManager", "AsyncCredentialManagerBuilder"]
#: Types the manager's REST API methods name (imported lazily there, off the fast path).
API_TYPES = (ApiToken, ScopedManager)

_P = ParamSpec("_P")
_R = TypeVar("_R")
_Method = Callable[Concatenate[CredentialManager, _P], _R]
_Coroutine = Callable[Concatenate["AsyncCredentialManager", _P], Coroutine[Any, Any, _R]]


def _in_thread(method: _Method[_P, _R]) -> _Coroutine[_P, _R]:
    """The synchronous `method` as a coroutine that runs it in a worker thread."""

    async def call(self: AsyncCredentialManager, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with self._serial:
            loop = asyncio.get_running_loop()
            work = functools.partial(
                contextvars.copy_context().run, method, self._manager, *args, **kwargs
            )
            future = loop.run_in_executor(None, work)
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                # The thread cannot be stopped: keep the lock until it has finished, so
                # the next call never runs beside it.
                await asyncio.wait([future])
                raise

    return _named(call, method)


def _named(call: _Coroutine[_P, _R], method: _Method[_P, _R]) -> _Coroutine[_P, _R]:
    """`call` with the name, docs and signature of `method`, as a method of this class."""
    functools.update_wrapper(call, method)
    call.__qualname__ = f"AsyncCredentialManager.{method.__name__}"
    return call


def _on_loop(method: _Method[_P, _R]) -> _Coroutine[_P, _R]:
    """The synchronous `method` (cheap, no I/O) as a coroutine that runs it on the loop."""

    async def call(self: AsyncCredentialManager, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with self._serial:
            return method(self._manager, *args, **kwargs)

    return _named(call, method)


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
        origin: str = "library",
        cache_tokens: bool = True,
        manager: CredentialManager | None = None,
    ) -> None:
        if manager is not None and (config is not None or storage is not None):
            raise TypeError("pass either an existing manager or config/storage, not both")
        self._manager = (
            manager
            if manager is not None
            else CredentialManager(
                config, storage=storage, origin=origin, cache_tokens=cache_tokens
            )
        )
        self._serial = asyncio.Lock()

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
    def records(self) -> RecordStore:
        """The record layer over `storage`."""
        return self._manager.records

    @property
    def config(self) -> ManagerConfig:
        """The settings in force."""
        return self._manager.config

    # -- the API, made from CredentialManager's own methods -------------------------

    set_storage_backend = _on_loop(CredentialManager.set_storage_backend)
    set_encryption_config = _on_loop(CredentialManager.set_encryption_config)
    set_cache_config = _on_loop(CredentialManager.set_cache_config)
    clear_cache = _on_loop(CredentialManager.clear_cache)
    clear_cache_for = _on_loop(CredentialManager.clear_cache_for)

    unlock = _in_thread(CredentialManager.unlock)
    create_credential = _in_thread(CredentialManager.create_credential)
    create_credential_idempotent = _in_thread(CredentialManager.create_credential_idempotent)
    batch_create = _in_thread(CredentialManager.batch_create)
    batch_upsert = _in_thread(CredentialManager.batch_upsert)
    get_credential = _in_thread(CredentialManager.get_credential)
    name_in_use = _in_thread(CredentialManager.name_in_use)
    list_credentials = _in_thread(CredentialManager.list_credentials)
    get_token = _in_thread(CredentialManager.get_token)
    get_token_with_context = _in_thread(CredentialManager.get_token_with_context)
    get_field = _in_thread(CredentialManager.get_field)
    read_secrets = _in_thread(CredentialManager.read_secrets)
    refresh_credential = _in_thread(CredentialManager.refresh_credential)
    refresh_all_expired = _in_thread(CredentialManager.refresh_all_expired)
    refresh_expired = _in_thread(CredentialManager.refresh_expired)
    start_interactive_flow = _in_thread(CredentialManager.start_interactive_flow)
    # A device flow polls in the worker thread until the person approves, and this
    # manager's other calls wait meanwhile: poll on an `AsyncCredentialManager` of its
    # own if the program must go on serving tokens.
    complete_interactive_flow = _in_thread(CredentialManager.complete_interactive_flow)
    cancel_interactive_flow = _in_thread(CredentialManager.cancel_interactive_flow)
    login_client_credentials = _in_thread(CredentialManager.login_client_credentials)
    login_settings = _in_thread(CredentialManager.login_settings)
    update_credential = _in_thread(CredentialManager.update_credential)
    delete_credential = _in_thread(CredentialManager.delete_credential)
    batch_delete = _in_thread(CredentialManager.batch_delete)
    # The REST API's users and tokens (`credctl serve` uses the synchronous manager).
    acting_as = _on_loop(CredentialManager.acting_as)
    state_stamp = _on_loop(CredentialManager.state_stamp)
    log_refused_request = _in_thread(CredentialManager.log_refused_request)
    refused_request = _on_loop(CredentialManager.refused_request)
    issue_api_token = _in_thread(CredentialManager.issue_api_token)
    api_tokens = _in_thread(CredentialManager.api_tokens)
    revoke_api_token = _in_thread(CredentialManager.revoke_api_token)
    verify_api_token = _in_thread(CredentialManager.verify_api_token)
    touch_api_token = _in_thread(CredentialManager.touch_api_token)
    health_check = _in_thread(CredentialManager.health_check)
    get_metrics = _in_thread(CredentialManager.get_metrics)
    get_credential_metrics = _in_thread(CredentialManager.get_credential_metrics)
    usage_report = _in_thread(CredentialManager.usage_report)
    rotate_credential = _in_thread(CredentialManager.rotate_credential)
    rotate = _in_thread(CredentialManager.rotate)
    resume_rotation = _in_thread(CredentialManager.resume_rotation)
    schedule_rotation = _in_thread(CredentialManager.schedule_rotation)
    set_rotation_policy = _in_thread(CredentialManager.set_rotation_policy)
    clear_rotation_policy = _in_thread(CredentialManager.clear_rotation_policy)
    get_rotation_policy = _in_thread(CredentialManager.get_rotation_policy)
    rotation_status = _in_thread(CredentialManager.rotation_status)
    rotation_report = _in_thread(CredentialManager.rotation_report)
    rotate_due = _in_thread(CredentialManager.rotate_due)
    get_versions = _in_thread(CredentialManager.get_versions)
    rollback = _in_thread(CredentialManager.rollback)
    get_audit_logs = _in_thread(CredentialManager.get_audit_logs)
    export_audit_report = _in_thread(CredentialManager.export_audit_report)
    verify_audit_trail = _in_thread(CredentialManager.verify_audit_trail)
    audit_checkpoint = _in_thread(CredentialManager.audit_checkpoint)
    prune_audit_trail = _in_thread(CredentialManager.prune_audit_trail)


class AsyncCredentialManagerBuilder(CredentialManagerBuilder):
    """``AsyncCredentialManager.builder()…build()``: the same builder, async result."""

    def build(self) -> AsyncCredentialManager:  # type: ignore[override]
        """The configured async manager (nothing is read until the first call)."""
        return AsyncCredentialManager(manager=super().build())
