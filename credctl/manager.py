"""`CredentialManager`: the seed's library API over one storage backend.

The CLI, the library and (later) the REST service all go through this class.
It validates input through the type registry, keeps records in a
`CredentialStorage`, caches tokens in-process, and appends usage to the
backend's journal, so reading a token never rewrites the vault.

Heavy modules are imported lazily: ``credctl get-token`` goes through here and
must stay fast (SPEC §8).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credctl import errors
from credctl.errors import (
    AccessDenied,
    CredentialError,
    DuplicateCredential,
    Expired,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
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
    HealthState,
    HealthStatus,
    InteractiveFlow,
    ManagerConfig,
    Metrics,
    StorageBackend,
    StorageKind,
    Token,
    UserContext,
    from_rfc3339,
    to_rfc3339,
    utc_now,
)
from credctl.secret import SecretValue
from credctl.storage.base import CredentialStorage, Record, StorageSnapshot, UsageEvent

if TYPE_CHECKING:
    from credctl.token_cache import TokenCache

MAX_DESCRIPTION = 4096
MAX_TAGS = 64
MAX_TAG_LENGTH = 64
MAX_METADATA_BYTES = 64 * 1024
Ref = int | str


def _types() -> Any:
    from credctl import types

    return types


class CredentialManager:
    """Create, read, update and delete credentials, and hand out their tokens.

    ``CredentialManager()`` opens the default vault exactly as the CLI does
    (``CREDCTL_VAULT`` and the unlock sources of SPEC §5); nothing is read
    until the first call.
    """

    def __init__(
        self,
        config: ManagerConfig | None = None,
        *,
        storage: CredentialStorage | None = None,
    ) -> None:
        self._config = config or ManagerConfig()
        self._storage = storage
        self._token_cache: TokenCache | None = None

    # -- construction (seed: new / with_config / builder) --------------------------

    @classmethod
    def new(cls) -> CredentialManager:
        """A manager on the default vault with default settings."""
        return cls()

    @classmethod
    def with_config(cls, config: ManagerConfig) -> CredentialManager:
        """A manager with explicit settings."""
        return cls(config)

    @classmethod
    def builder(cls) -> CredentialManagerBuilder:
        """Start building a manager step by step."""
        return CredentialManagerBuilder()

    @property
    def _cache(self) -> TokenCache:
        # Created on first use: the command line never caches, and `threading` costs
        # the startup-bound path half a millisecond.
        if self._token_cache is None:
            from credctl.token_cache import TokenCache

            self._token_cache = TokenCache()
        return self._token_cache

    @property
    def storage(self) -> CredentialStorage:
        """The backend in use (opened on first use)."""
        if self._storage is None:
            self._storage = open_storage(self._config.storage_backend)
        return self._storage

    @property
    def config(self) -> ManagerConfig:
        """The settings in force."""
        return self._config

    # -- configuration -------------------------------------------------------------

    def set_storage_backend(self, backend: StorageBackend) -> None:
        """Switch to another backend; the cache is cleared."""
        self._config = _replace(self._config, storage_backend=backend)
        self._storage = None
        self.clear_cache()

    def set_encryption_config(self, config: EncryptionConfig) -> None:
        """Set encryption settings; only AES-256-GCM and Argon2id exist, so this sets
        the data-key rotation interval that `health_check` enforces."""
        if config.key_rotation_interval <= dt.timedelta(0):
            raise InvalidInput("key_rotation_interval must be positive")
        self._config = _replace(self._config, encryption_config=config)

    def set_cache_config(self, config: CacheConfig) -> None:
        """Configure the in-process token cache."""
        if config.max_size < 0 or config.ttl < dt.timedelta(0):
            raise InvalidInput("cache max_size and ttl must not be negative")
        self._config = _replace(self._config, cache_config=config)
        self._cache.resize(config.max_size)
        if not config.enabled:
            self._cache.clear()

    def clear_cache(self) -> None:
        """Forget every cached token."""
        self._cache.clear()

    def clear_cache_for(self, ref: Ref) -> None:
        """Forget the cached token of one credential."""
        credential_id = _as_id(ref)
        self._cache.forget(credential_id, None if credential_id is not None else str(ref))

    # -- create --------------------------------------------------------------------

    def create_credential(
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
        return self.create_credential_idempotent(
            credential_type, input, context, None,
            name=name, description=description, tags=tags, metadata=metadata,
        )  # fmt: skip

    def create_credential_idempotent(
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
        """Like `create_credential`; repeating a key with the same body returns the same
        id, with another body raises `DuplicateCredential` (exit 8)."""
        item = CredentialInput(credential_type, input, name, description, tuple(tags))
        prepared = self._prepare(item, context, metadata)
        with self.storage.writer() as draft:
            return self._insert(draft, prepared, idempotency_key)

    def batch_create(
        self, credentials: Sequence[CredentialInput], context: UserContext | None = None
    ) -> list[CredentialId | CredentialError]:
        """Create many in one write; one result per input, in order (errors returned)."""
        results: list[CredentialId | CredentialError] = []
        with self.storage.writer() as draft:
            for item in credentials:
                try:
                    results.append(self._insert(draft, self._prepare(item, context, None), None))
                except CredentialError as exc:
                    results.append(exc)
        return results

    def _prepare(
        self,
        item: CredentialInput,
        context: UserContext | None,
        metadata: Mapping[str, Any] | None,
    ) -> Record:
        types = _types()
        kind = types.get_type(item.credential_type)
        data = kind.validate(item.data)
        if item.name is not None:
            types.validate_name(item.name)
        return {
            "name": item.name,
            "type": kind.name,
            "data": data,
            "description": _check_description(item.description),
            "tags": _check_tags(item.tags),
            "metadata": _check_metadata(metadata or {}),
            "owner": (context or UserContext.system()).user_id,
        }

    def _insert(self, draft: Any, prepared: Record, idempotency_key: str | None) -> int:
        meta = draft.meta
        idempotency: dict[str, Any] = meta.setdefault("idempotency", {})
        digest = None
        scoped_key = f"{prepared['owner']}\x00{idempotency_key}"
        if idempotency_key is not None:
            import hashlib

            digest = hashlib.sha256(
                json.dumps(
                    {k: v for k, v in prepared.items() if k != "owner"}, sort_keys=True
                ).encode()
            ).hexdigest()
            seen = idempotency.get(scoped_key)
            if seen is not None:
                if seen.get("digest") != digest:
                    raise DuplicateCredential(
                        "this idempotency key was already used with a different request"
                    )
                if draft.get_by_id(int(seen["id"])) is not None:
                    return int(seen["id"])
        credential_id = int(meta.get("next_id", 1))
        if prepared["name"] is None:
            # Skip ids whose default name someone already chose by hand.
            while draft.get_by_name(f"{prepared['type']}_{credential_id}") is not None:
                credential_id += 1
        name = prepared["name"] or f"{prepared['type']}_{credential_id}"
        if draft.get_by_name(name) is not None:
            raise DuplicateCredential(
                f"a credential named {name!r} already exists",
                hint="choose another name, or `credctl update` the existing one",
            )
        now = to_rfc3339(utc_now())
        record = {**prepared, "id": credential_id, "name": name, "created_at": now,
                  "updated_at": now, "version": 1}  # fmt: skip
        draft.put(record)
        meta["next_id"] = credential_id + 1
        if idempotency_key is not None:
            idempotency[scoped_key] = {"digest": digest, "id": credential_id}
        return credential_id

    # -- read ----------------------------------------------------------------------

    def get_credential(self, ref: Ref) -> Credential:
        """A credential's details, without its secret data."""
        return _to_credential(self._find(self.storage.snapshot(), ref))

    def list_credentials(
        self, *, credential_type: str | None = None, tag: str | None = None
    ) -> list[Credential]:
        """Every credential's details, filtered by type and tag."""
        found = []
        for record in self.storage.snapshot().records():
            if credential_type and record["type"] != credential_type:
                continue
            if tag and tag not in record.get("tags", []):
                continue
            found.append(_to_credential(record))
        return found

    def get_token(
        self, ref: Ref, *, min_valid: dt.timedelta | None = None, refresh: bool = True
    ) -> Token:
        """The credential's token (a `SecretValue`), from the cache when fresh.

        An oauth2 token that expires within the refresh-ahead window (60 s, at most half
        its lifetime) or within `min_valid` is renewed first, under the vault lock, unless
        `refresh` is False; an expired one that cannot be renewed raises `Expired`.
        """
        return self.get_token_with_context(ref, None, min_valid=min_valid, refresh=refresh)

    def get_token_with_context(
        self,
        ref: Ref,
        context: CredentialContext | None,
        *,
        min_valid: dt.timedelta | None = None,
        refresh: bool = True,
    ) -> Token:
        """`get_token`, checking that `context.user_id` owns the credential."""
        cache = self._config.cache_config
        stamp = self._state_stamp() if cache.enabled else None
        if cache.enabled:
            credential_id = _as_id(ref)
            entry = self._cache.lookup(
                credential_id, None if credential_id is not None else str(ref), stamp
            )
            if entry is not None and _fresh_enough(entry.token, min_valid):
                self._check_access({"owner": entry.owner}, context)
                self._record(entry.token.credential_id, "get_token")
                return entry.token
        record = self._find(self.storage.snapshot(), ref)
        self._check_access(record, context)
        if record.get("type") == "oauth2":
            record = self._renewed(record, min_valid, refresh)
        token = self._make_token(record)
        if cache.enabled and cache.max_size > 0 and stamp is not None:
            deadline = time.monotonic() + cache.ttl.total_seconds()
            from credctl.token_cache import CacheEntry

            entry = CacheEntry(token, str(record.get("owner", "local")), deadline, stamp)
            self._cache.store(str(record["name"]), entry, cache.max_size)
        self._record(token.credential_id, "get_token")
        return token

    def _state_stamp(self) -> Any:
        stamp = getattr(self.storage, "state_stamp", None)
        return stamp() if callable(stamp) else None

    def get_field(self, ref: Ref, field: str) -> SecretValue:
        """One field of a credential's data as text (for `--field`, `env`, templates).

        An oauth2 ``access_token`` is renewed first when it is about to expire, as in
        `get_token`.
        """
        record = self._find(self.storage.snapshot(), ref)
        if record.get("type") == "oauth2" and field == "access_token":
            record = self._renewed(record, None, True)
        kind, data = load_record(record)
        value = SecretValue(kind.field_value(data, field))
        self._record(int(record["id"]), "get_field")
        return value

    def _renewed(self, record: Record, min_valid: dt.timedelta | None, refresh: bool) -> Record:
        """The oauth2 record, refreshed under the vault lock if its token expires soon."""
        from credctl.oauth import expiry

        seconds = min_valid.total_seconds() if min_valid is not None else 0.0
        if not refresh or not expiry.needs_refresh(record, min_valid=seconds):
            return record
        if expiry.grant(record) is None:
            return record  # nothing can renew it; `_make_token` says what is wrong
        from credctl.oauth.refresh import refresh as refresh_locked

        try:
            return refresh_locked(self, int(record["id"]), min_valid=seconds, seen=record)
        except ServiceUnavailable:
            # The provider is unreachable, but the token in hand still works: use it.
            if expiry.valid_for(record, seconds):
                return record
            raise

    def _make_token(self, record: Record) -> Token:
        kind, data = load_record(record)
        expires_at = _unexpired_until(record, data)
        header = kind.header(data)
        return Token(
            value=SecretValue(kind.token(data)),
            credential_id=int(record["id"]),
            token_type=kind.name,
            header=SecretValue(header) if header is not None else None,
            expires_at=expires_at,
        )

    # -- lifecycle: refresh (seed: refresh_credential / refresh_all_expired) ---------

    def refresh_credential(self, ref: Ref) -> Token:
        """Renew an oauth2 credential's access token now; the new token.

        The refresh holds the vault lock from before the provider is called until the
        rotated tokens are stored, so parallel processes never spend one refresh token
        twice.  `RefreshNotSupported` for other types, `NoRefreshToken` when nothing can
        renew it, `RefreshFailed` when the provider refuses (exit 7), `ServiceUnavailable`
        when it cannot be reached (exit 10).
        """
        from credctl.oauth.refresh import refresh

        record = refresh(self, self._resolve_id(ref), force=True)
        return self._make_token(record)

    def refresh_all_expired(self) -> list[CredentialId]:
        """Renew every oauth2 credential that is expired or about to be; their ids.

        Every credential is tried.  If any failed, one error naming each failure is
        raised after the others were renewed (`ServiceUnavailable` when every failure
        was an unreachable provider, else the failures' common kind or `RefreshFailed`).
        """
        from credctl.oauth.refresh import refresh_expired

        report = refresh_expired(self)
        if report.failed:
            raise report.error()
        return report.refreshed

    # -- interactive flows (seed: start_interactive_flow / complete_interactive_flow) --

    def start_interactive_flow(
        self,
        credential_type: str,
        input: Mapping[str, Any],
        context: UserContext | None = None,
    ) -> InteractiveFlow:
        """Start an OAuth login; the returned flow says what the person must do.

        `input` takes ``client_id`` and one of ``provider`` (google, github, microsoft,
        gitlab), ``issuer`` (discovery) or ``auth_url``/``token_url``; optionally
        ``name``, ``client_secret``, ``scopes``, ``description``, and ``flow``:
        ``"browser"`` (the default; needs ``redirect_uri``) or ``"device"``.  The pending
        flow is kept in the vault until it expires (`FlowExpired`).
        """
        from credctl.oauth.flows import start

        return start(self, credential_type, input, context)

    def complete_interactive_flow(
        self, flow_id: FlowId, callback_data: CallbackData
    ) -> CredentialId:
        """Finish a login with what the provider sent back; the credential's id.

        A browser flow checks `callback_data` (`state`, ``iss``) and exchanges the code
        (PKCE); a device flow polls until the person approved (pass ``CallbackData()``).
        `InvalidCallback` for a forged or mismatched callback (the flow stays pending),
        `AccessDenied` when consent was refused, `FlowExpired` after the flow's expiry.
        """
        from credctl.oauth.flows import complete

        return complete(self, flow_id, callback_data)

    # -- update and delete -----------------------------------------------------------

    def update_credential(self, ref: Ref, updates: CredentialUpdate) -> None:
        """Apply an update; the type's rules check new data before anything is stored."""
        with self.storage.writer() as draft:
            record = dict(self._find(draft, ref))
            if updates.name is not None and updates.name != record["name"]:
                _types().validate_name(updates.name)
                if draft.get_by_name(updates.name) is not None:
                    raise DuplicateCredential(
                        f"a credential named {updates.name!r} already exists"
                    )
                record["name"] = updates.name
            if updates.description is not None:
                record["description"] = _check_description(updates.description)
            if updates.tags is not None:
                record["tags"] = _check_tags(updates.tags)
            if updates.metadata is not None:
                record["metadata"] = _check_metadata(updates.metadata)
            if updates.data is not None:
                record["data"] = _types().get_type(record["type"]).validate(updates.data)
                record["version"] = int(record.get("version", 1)) + 1
            record["updated_at"] = to_rfc3339(utc_now())
            draft.put(record)
        self.clear_cache_for(int(record["id"]))

    def delete_credential(self, ref: Ref) -> None:
        """Remove a credential from the vault (its id is never reused)."""
        with self.storage.writer() as draft:
            record = self._find(draft, ref)
            draft.delete(int(record["id"]))
        self._cache.forget(int(record["id"]))

    def batch_delete(self, refs: Sequence[Ref]) -> list[CredentialError | None]:
        """Delete many in one write; one result per input (None or the error)."""
        results: list[CredentialError | None] = []
        deleted: list[int] = []
        with self.storage.writer() as draft:
            for ref in refs:
                try:
                    record = self._find(draft, ref)
                    draft.delete(int(record["id"]))
                    deleted.append(int(record["id"]))
                    results.append(None)
                except CredentialError as exc:
                    results.append(exc)
        for credential_id in deleted:
            self._cache.forget(credential_id)
        return results

    # -- health and metrics ----------------------------------------------------------

    def health_check(self) -> HealthStatus:
        """Healthy, degraded (with issues) or unhealthy (with the error)."""
        try:
            snapshot = self.storage.snapshot()
            issues = list(self.storage.health_issues())
        except CredentialError as exc:
            return HealthStatus(HealthState.UNHEALTHY, (str(exc),))
        key_created = snapshot.meta.get("data_key_created", snapshot.meta.get("created"))
        interval = self._config.encryption_config.key_rotation_interval
        if isinstance(key_created, int | float):
            age = dt.timedelta(seconds=time.time() - key_created)
            if age > interval:
                from credctl.durations import format_duration

                issues.append(
                    f"the data key is {format_duration(int(age.total_seconds()))} old, older "
                    f"than the rotation interval of "
                    f"{format_duration(int(interval.total_seconds()))} (run `credctl rekey`)"
                )
        broken = 0
        for record in snapshot.records():
            try:
                _types().get_type(record["type"]).validate(record["data"])
            except CredentialError:
                broken += 1
        if broken:
            issues.append(f"{broken} credential(s) fail their type's validation")
        if issues:
            return HealthStatus(HealthState.DEGRADED, tuple(issues))
        return HealthStatus(HealthState.HEALTHY)

    def get_metrics(self) -> Metrics:
        """Totals, cache hit rate (this process) and refresh times (journal)."""
        snapshot = self.storage.snapshot()
        by_type: dict[str, int] = {}
        for record in snapshot.records():
            by_type[record["type"]] = by_type.get(record["type"], 0) + 1
        served = refreshes = 0
        refresh_ms: list[float] = []
        for event in self.storage.usage_events():
            if event.action == "get_token":
                served += 1
            elif event.action == "refresh":
                refreshes += 1
                if event.duration_ms is not None:
                    refresh_ms.append(event.duration_ms)
        average = (
            dt.timedelta(milliseconds=sum(refresh_ms) / len(refresh_ms)) if refresh_ms else None
        )
        return Metrics(
            total_credentials=snapshot.count(),
            credentials_by_type=by_type,
            tokens_served=served,
            cache_hits=self._cache.hits,
            cache_misses=self._cache.misses,
            refresh_count=refreshes,
            avg_refresh_time=average,
        )

    def get_credential_metrics(self, ref: Ref) -> CredentialMetrics:
        """Usage count, last use and refreshes of one credential, across processes."""
        credential_id = int(self._find(self.storage.snapshot(), ref)["id"])
        usage = refreshes = 0
        last_used = last_refreshed = None
        for event in self.storage.usage_events():
            if event.credential_id != credential_id:
                continue
            if event.action in ("get_token", "get_field"):
                usage += 1
                last_used = event.at
            elif event.action == "refresh":
                refreshes += 1
                last_refreshed = event.at
        return CredentialMetrics(credential_id, usage, _from_unix(last_used), refreshes,
                                 _from_unix(last_refreshed))  # fmt: skip

    # -- internals -----------------------------------------------------------------

    def _find(self, snapshot: StorageSnapshot, ref: Ref) -> Record:
        return find_record(snapshot, ref)

    def _resolve_id(self, ref: Ref) -> int:
        credential_id = _as_id(ref)
        if credential_id is not None:
            return credential_id
        return int(self._find(self.storage.snapshot(), ref)["id"])

    def _check_access(self, record: Record, context: CredentialContext | None) -> None:
        owner = record.get("owner", "local")
        if context is not None and context.user_id is not None and owner != context.user_id:
            raise AccessDenied(f"user {context.user_id!r} may not read this credential")

    def _record(self, credential_id: int, action: str, duration_ms: float | None = None) -> None:
        self.storage.record_usage(UsageEvent(credential_id, action, time.time(), duration_ms))


class CredentialManagerBuilder:
    """``CredentialManager.builder().storage_backend(...).cache_ttl(...).build()``."""

    def __init__(self) -> None:
        self._config = ManagerConfig()
        self._storage: CredentialStorage | None = None

    def storage_backend(self, backend: StorageBackend) -> CredentialManagerBuilder:
        """Where records live."""
        self._config = _replace(self._config, storage_backend=backend)
        return self

    def vault_path(self, path: Path | str) -> CredentialManagerBuilder:
        """Shorthand for ``storage_backend(StorageBackend.file(path))``."""
        return self.storage_backend(StorageBackend.file(path))

    def storage(self, storage: CredentialStorage) -> CredentialManagerBuilder:
        """Use an already-built storage object."""
        self._storage = storage
        return self

    def cache_ttl(self, ttl: dt.timedelta) -> CredentialManagerBuilder:
        """How long a token stays in the in-process cache."""
        cache = self._config.cache_config
        return self.cache_config(CacheConfig(cache.enabled, ttl, cache.max_size, cache.strategy,
                                             cache.refresh_ahead))  # fmt: skip

    def cache_config(self, config: CacheConfig) -> CredentialManagerBuilder:
        """The whole cache configuration."""
        self._config = _replace(self._config, cache_config=config)
        return self

    def encryption_config(self, config: EncryptionConfig) -> CredentialManagerBuilder:
        """Encryption settings."""
        self._config = _replace(self._config, encryption_config=config)
        return self

    def enable_audit_logging(self) -> CredentialManagerBuilder:
        """Record usage in the journal (on by default)."""
        self._config = _replace(self._config, audit_logging=True)
        return self

    def build(self) -> CredentialManager:
        """The configured manager."""
        return CredentialManager(self._config, storage=self._storage)


def open_storage(backend: StorageBackend) -> CredentialStorage:
    """Build the storage a `StorageBackend` describes."""
    if backend.kind is StorageKind.MEMORY:
        from credctl.storage.memory import MemoryStorage

        return MemoryStorage()
    if backend.kind is StorageKind.CUSTOM:
        if isinstance(backend.storage, str):
            from credctl.storage import load_plugin

            return load_plugin(backend.storage)
        if not isinstance(backend.storage, CredentialStorage):
            raise InvalidInput("a custom storage backend must implement CredentialStorage")
        return backend.storage
    from credctl.paths import default_vault_path
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault.store import Vault
    from credctl.vault.unlock import EnvironmentUnlocker, terminal_prompt

    path = backend.path or default_vault_path()
    return VaultStorage(Vault(path), EnvironmentUnlocker(prompt=terminal_prompt()))


def _replace(config: ManagerConfig, **changes: Any) -> ManagerConfig:
    return config._replace(**changes)


def _as_id(ref: Ref) -> int | None:
    if isinstance(ref, bool):
        raise InvalidInput("a credential reference is a name or an id")
    if isinstance(ref, int):
        return ref
    return int(ref) if ref.isdecimal() and ref.isascii() else None


def _fresh_enough(token: Token, min_valid: dt.timedelta | None) -> bool:
    """A cached token may be served unless it is close to expiry (then the record decides)."""
    if token.expires_at is None:
        return True
    from credctl.oauth.expiry import REFRESH_AHEAD

    margin = max(dt.timedelta(seconds=REFRESH_AHEAD), min_valid or dt.timedelta(0))
    return token.expires_at - utc_now() > margin


def find_record(snapshot: StorageSnapshot, ref: Ref) -> Record:
    """The record `ref` names in `snapshot` (a decimal string is an id), or `NotFound`."""
    credential_id = _as_id(ref)
    if credential_id is not None:
        record = snapshot.get_by_id(credential_id)
    else:
        record = snapshot.get_by_name(str(ref))
    if record is None:
        raise NotFound(
            f"no credential {'with id ' if credential_id is not None else ''}{str(ref)!r}",
            hint="see `credctl list`",
        )
    return record


def current_oauth_record(manager: CredentialManager, record: Record) -> Record:
    """An oauth2 record whose access token is about to be handed out: renewed first when
    it expires soon (under the vault lock), and `Expired` (exit 7) if it has expired and
    could not be renewed, exactly as `get_token` decides."""
    record = manager._renewed(record, None, True)
    data = record.get("data")
    if isinstance(data, dict):
        _unexpired_until(record, data)
    return record


def _unexpired_until(record: Record, data: dict[str, Any]) -> dt.datetime | None:
    """The access token's expiry, or `Expired` if that moment has passed."""
    if not data.get("token_expiry"):
        return None
    expires_at = from_rfc3339(str(data["token_expiry"]))
    if expires_at <= utc_now():
        raise Expired(
            f"the access token of {record['name']!r} expired at {to_rfc3339(expires_at)}",
            hint=_expired_hint(record),
        )
    return expires_at


def _expired_hint(record: Record) -> str:
    if record.get("type") != "oauth2":
        return "store a new access token with `credctl update NAME --data-file -`"
    from credctl.oauth import expiry
    from credctl.oauth.refresh import login_command

    if expiry.grant(record) is not None:
        return f"renew it with `credctl refresh {record['name']}`"
    return f"log in again: {login_command(str(record['name']), record)}"


def _from_unix(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, dt.UTC) if value is not None else None


def _is_text(value: object) -> bool:
    """A str that can be stored as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_description(value: str) -> str:
    if not _is_text(value) or len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"the description must be Unicode text of at most {MAX_DESCRIPTION} characters"
        )
    return value


def _check_tags(values: Sequence[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    for tag in values:
        if (
            not _is_text(tag)
            or not tag
            or len(tag) > MAX_TAG_LENGTH
            or any(ch.isspace() or ch == "," for ch in tag)
        ):
            shown = tag[:40] if _is_text(tag) else type(tag).__name__
            raise InvalidInput(
                f"invalid tag {shown!r}: tags are 1–{MAX_TAG_LENGTH} characters "
                "without spaces or commas"
            )
    tags = list(dict.fromkeys(values))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags are allowed")
    return tags


def _check_metadata(value: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput("metadata must be a JSON object")
    try:
        encoded = json.dumps(dict(value), allow_nan=False, ensure_ascii=False)
        encoded.encode()
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(
            "metadata must be JSON (strings, numbers, booleans, arrays, objects)"
        ) from None
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput("metadata is larger than 64 KiB")
    return dict(json.loads(encoded))


def load_record(record: Record) -> tuple[Any, dict[str, Any]]:
    """A stored record's type and its data, re-checked by the type's own rules.

    Records were authenticated when the vault was decrypted, so a failure here means
    a body forged with the key or written by a buggy credctl: damage (exit 6), never
    an internal error and never a half-valid token on stdout.
    """
    types = _types()
    record_type, data = record.get("type"), record.get("data")
    try:
        if not isinstance(record_type, str) or not isinstance(data, dict):
            raise InvalidInput("record has no type or no data object")
        kind = types.get_type(record_type)
        return kind, kind.validate(data)
    except CredentialError as exc:
        raise errors.VaultCorruptError(
            f"credential record {record.get('id')!r} is malformed ({exc})",
            hint="`credctl doctor` lists damaged records; backups are in VAULT.d/backups",
        ) from None


def _to_credential(record: Record) -> Credential:
    try:
        data = record.get("data")
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        expiry = data.get("token_expiry") if record["type"] == "oauth2" else None
        return Credential(
            id=int(record["id"]),
            name=str(record["name"]),
            credential_type=str(record["type"]),
            description=str(record.get("description", "")),
            tags=tuple(record.get("tags", ())),
            metadata=dict(record.get("metadata", {})),
            owner=str(record.get("owner", "local")),
            created_at=from_rfc3339(record["created_at"]),
            updated_at=from_rfc3339(record["updated_at"]),
            token_expiry=from_rfc3339(expiry) if expiry else None,
            version=int(record.get("version", 1)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.VaultCorruptError(
            f"credential record {record.get('id')!r} is malformed"
        ) from exc
