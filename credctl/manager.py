"""`CredentialManager`: the seed's library API, a thin facade over the record layer.

The CLI, the library and the REST service all go through this class, and this
class goes through `credctl.records.RecordStore` alone: it turns public types
(`UserContext`, `CredentialUpdate`, `CredentialInput`) into record-layer calls,
and stored credentials back into `Credential` and `Token`.  Validation, locking,
renewal of expiring tokens and the activity log all happen in the record layer,
so no front end can skip them.  The token cache (library and server only) lives
here.

Heavy modules are imported lazily: ``credctl get-token`` goes through here and
must stay fast (SPEC §8).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from credctl.errors import AccessDenied, CredentialError, FlowExpired, InvalidInput, NotFound
from credctl.records.activity import Activity, Actor, os_user
from credctl.records.refs import as_id
from credctl.records.secrets import TOKEN, SecretRecord, SecretWant
from credctl.records.store import RecordStore
from credctl.secret import SecretValue
from credctl.storage.base import CredentialStorage

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from credctl.audit.model import AuditEntry, AuditFilter, ExportFormat
    from credctl.audit.service import AuditVerification
    from credctl.manager_config import (
        AuditConfig,
        CacheConfig,
        Duration,
        EncryptionConfig,
        PerformanceConfig,
        RotationConfig,
        SecurityConfig,
    )
    from credctl.model import (
        CallbackData,
        Credential,
        CredentialContext,
        CredentialId,
        CredentialInput,
        CredentialMetrics,
        CredentialUpdate,
        FlowId,
        HealthStatus,
        InteractiveFlow,
        ManagerConfig,
        Metrics,
        StorageBackend,
        Token,
        UpsertResult,
        UserContext,
    )
    from credctl.records.api_tokens import ApiToken
    from credctl.records.oauth import RefreshReport
    from credctl.records.rotation import RotationOutcome
    from credctl.records.rotation_due import DueResult
    from credctl.records.store import RecordTransaction
    from credctl.records.stored import StoredCredential
    from credctl.records.versions import CredentialVersion
    from credctl.rotation.due import RotationStatus
    from credctl.rotation.policy import GenerateSpec, RotationPolicy, RotationStrategy
    from credctl.scoped import ScopedManager
    from credctl.token_cache import TokenCache

Ref = int | str
#: Activity actions that count as a use of the credential (metrics).
USE_ACTIONS = frozenset({"get_token", "read_field"})


class CredentialManager:
    """Create, read, update and delete credentials, and hand out their tokens.

    ``CredentialManager()`` opens the default vault exactly as the CLI does
    (``CREDCTL_VAULT`` and the unlock sources of SPEC §5); nothing is read
    until the first call.  The configuration is checked here, so a setting
    that credctl cannot honour is `InvalidInput` now, not a failure later
    (`credctl.manager_config`).  `origin` names the front end in the activity
    log (``library``, ``cli``, ``api``).
    """

    def __init__(
        self,
        config: ManagerConfig | None = None,
        *,
        storage: CredentialStorage | None = None,
        origin: str = "library",
        cache_tokens: bool = True,
    ) -> None:
        # Without a configuration the defaults are built on first use: the command
        # line (`cache_tokens=False`, one process per command) never needs them, and
        # importing the public model costs `get-token` milliseconds.
        self._given_config: ManagerConfig | None = None
        self._cache_tokens = cache_tokens
        if config is not None:
            from credctl.model import checked_manager_config

            self._given_config = checked_manager_config(config)
        if (
            storage is not None
            and config is not None
            and (self._config.performance_config.lock_timeout is not None)
        ):
            raise InvalidInput(
                "PerformanceConfig.lock_timeout applies to a vault credctl opens, not to a "
                "storage object passed in",
                hint="give the backend as storage_backend, or leave lock_timeout as None",
            )
        self._storage = storage
        self._store: RecordStore | None = None
        self._origin = origin
        self._token_cache: TokenCache | None = None
        #: Names of cached tokens' credentials, for the audit entries of cache hits.
        self._cached_names: dict[int, str] = {}

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
    def _config(self) -> ManagerConfig:
        if self._given_config is None:
            from credctl.model import ManagerConfig

            self._given_config = ManagerConfig()
        return self._given_config

    @_config.setter
    def _config(self, config: ManagerConfig) -> None:
        self._given_config = config

    def _reading(self) -> tuple[bool, bool]:
        """(refresh_ahead, allow_plain_http) for a secret read, without building defaults."""
        if self._given_config is None:
            return True, True
        return (
            self._given_config.cache_config.refresh_ahead,
            self._given_config.security_config.allow_plain_http,
        )

    @property
    def _cache(self) -> TokenCache:
        # Created on first use: the command line never caches, and `threading` costs
        # the startup-bound path half a millisecond.
        if self._token_cache is None:
            from credctl.token_cache import TokenCache

            self._token_cache = TokenCache(self._config.cache_config)
        return self._token_cache

    @property
    def storage(self) -> CredentialStorage:
        """The backend in use (opened on first use)."""
        if self._storage is None:
            from credctl import manager_config
            from credctl.model import StorageKind

            backend = self._config.storage_backend
            if backend.kind is not StorageKind.MEMORY:
                _check_unlock_policy(self._config.security_config)
            timeout = self._config.performance_config.lock_timeout
            self._storage = open_storage(
                backend, lock_timeout=manager_config.as_timedelta(timeout, "lock_timeout")
                if timeout is not None else None,
            )  # fmt: skip
        return self._storage

    @property
    def records(self) -> RecordStore:
        """The record layer over `storage`: the one owner of credential records."""
        if self._store is None:
            self._store = RecordStore(self.storage)
        return self._store

    @property
    def config(self) -> ManagerConfig:
        """The settings in force."""
        return self._config

    def unlock(self) -> None:
        """Open the backend now (unlocking the vault), so a locked vault fails first."""
        self.records.view()

    # -- configuration -------------------------------------------------------------

    def set_storage_backend(self, backend: StorageBackend) -> None:
        """Switch to another backend; the cache is cleared."""
        from credctl.model import checked_manager_config

        self._config = checked_manager_config(self._config._replace(storage_backend=backend))
        self._storage = None
        self._store = None
        self.clear_cache()

    def set_encryption_config(self, config: EncryptionConfig) -> None:
        """Set encryption settings: AES-256-GCM and Argon2id are checked (they are the
        only ones), and the data-key rotation interval is what `health_check` enforces."""
        from credctl import manager_config

        self._config = self._config._replace(
            encryption_config=manager_config.checked_encryption(config)
        )

    def set_cache_config(self, config: CacheConfig) -> None:
        """Configure the in-process token cache (`CacheConfig`: every field is used)."""
        from credctl import manager_config

        config = manager_config.checked_cache(config)
        self._cache.configure(config)
        self._config = self._config._replace(cache_config=config)
        if not config.enabled:
            self._cache.clear()

    def clear_cache(self) -> None:
        """Forget every cached token."""
        self._cache.clear()

    def clear_cache_for(self, ref: Ref) -> None:
        """Forget the cached token of one credential."""
        credential_id = as_id(ref)
        self._cache.forget(credential_id, None if credential_id is not None else str(ref))

    # -- who acts ------------------------------------------------------------------

    def _actor(self, context: UserContext | CredentialContext | None = None) -> Actor:
        """The `Actor` of a call: the context's user, else the user this process runs as."""
        user = context.user_id if context is not None else None
        ip = context.ip if context is not None else None
        actor = Actor(user or os_user(), origin=self._origin, owner=user or "local", ip=ip)
        if context is not None:
            from credctl.model import CredentialContext

            if isinstance(context, CredentialContext):
                actor = actor.with_ids(context.execution_id, context.workflow_id)
        return actor

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
        with self.records.transaction("create", self._actor(context)) as txn:
            credential = txn.create(
                credential_type, input, name=name, description=description, tags=tags,
                metadata=metadata, idempotency_key=idempotency_key,
            )  # fmt: skip
        return credential.id

    def batch_create(
        self,
        credentials: Sequence[CredentialInput],
        context: UserContext | None = None,
        *,
        action: str = "create",
    ) -> list[CredentialId | CredentialError]:
        """Create many in one write; one result per input, in order (errors returned)."""
        results: list[CredentialId | CredentialError] = []
        with self.records.transaction(action, self._actor(context)) as txn:
            for item in credentials:
                try:
                    created = txn.create(
                        item.credential_type, item.data, name=item.name,
                        description=item.description, tags=item.tags, metadata=item.metadata,
                        env_names=item.env_names,
                    )  # fmt: skip
                except CredentialError as exc:
                    txn.failed(item.name, exc)
                    results.append(exc)
                else:
                    results.append(created.id)
        return results

    def batch_upsert(
        self,
        credentials: Sequence[CredentialInput],
        context: UserContext | None = None,
        *,
        action: str = "import",
    ) -> list[UpsertResult | CredentialError]:
        """Create, or update by name, many credentials in one write (``import --update``).

        An input whose name exists (with the same type) replaces that credential's
        data and remembered variable names, and its description, tags and
        metadata when the input gives them; one that would change nothing is
        ``unchanged`` and not written.  Another type under the name is
        `DuplicateCredential` (exit 8).  One result per input, in order; errors
        are returned, not raised, as in `batch_create`.
        """
        from credctl.errors import DuplicateCredential
        from credctl.model import UpsertResult

        results: list[UpsertResult | CredentialError] = []
        with self.records.transaction(action, self._actor(context)) as txn:
            for item in credentials:
                try:
                    current = txn.by_name(item.name) if item.name is not None else None
                    if current is None:
                        created = txn.create(
                            item.credential_type, item.data, name=item.name,
                            description=item.description, tags=item.tags,
                            metadata=item.metadata, env_names=item.env_names,
                        )  # fmt: skip
                        results.append(UpsertResult(created.id, "created"))
                        continue
                    if current.type != item.credential_type:
                        raise DuplicateCredential(
                            f"a {current.type} credential named {current.name!r} exists; "
                            f"it cannot become {item.credential_type}",
                            hint="import it under another name, or delete the old one first",
                            credential_id=current.id,
                        )
                    results.append(UpsertResult(current.id, _upsert(txn, current, item)))
                except CredentialError as exc:
                    txn.failed(item.name, exc)
                    results.append(exc)
        for result in results:
            if isinstance(result, UpsertResult) and result.outcome == "updated":
                self._cache.forget(result.id)
        return results

    # -- read ----------------------------------------------------------------------

    def get_credential(self, ref: Ref) -> Credential:
        """A credential's details, without its secret data."""
        return _public(self.records.view().find(ref))

    def name_in_use(self, name: str) -> bool:
        """Whether the acting owner has a credential named `name` (one index lookup)."""
        return self.records.view().by_name(name) is not None

    def list_credentials(
        self, *, credential_type: str | None = None, tag: str | None = None
    ) -> list[Credential]:
        """Every credential's details, filtered by type and tag."""
        view = self.records.view()
        return [_public(c) for c in view.all(credential_type=credential_type, tag=tag)]

    def get_token(
        self,
        ref: Ref,
        *,
        min_valid: dt.timedelta | None = None,
        refresh: bool = True,
        version: int | None = None,
    ) -> Token:
        """The credential's token (a `SecretValue`), from the cache when fresh.

        An oauth2 token that expires within the refresh-ahead window (60 s, at most half
        its lifetime) or within `min_valid` is renewed first, under the vault lock, unless
        `refresh` is False; an expired one that cannot be renewed raises `Expired`.
        `version` reads a kept older version (never renewed; see `get_versions`).
        """
        return self.get_token_with_context(
            ref, None, min_valid=min_valid, refresh=refresh, version=version
        )

    def get_token_with_context(
        self,
        ref: Ref,
        context: CredentialContext | UserContext | None,
        *,
        min_valid: dt.timedelta | None = None,
        refresh: bool = True,
        version: int | None = None,
    ) -> Token:
        """`get_token`, checking that `context.user_id` owns the credential; the
        context's ip, execution and workflow ids go into the activity log (and so into
        the audit trail and `get_credential_metrics`)."""
        actor = self._actor(context)
        require_owner = context.user_id if context is not None else None
        refresh_ahead, plain_http = self._reading()
        # Older versions are never cached; nor is anything on the command line.
        caching = self._cache_tokens and version is None
        cache = self._config.cache_config if caching else None
        if cache is not None and not cache.enabled:
            cache = None
        stamp = self.records.state_stamp() if cache is not None else None
        if cache is not None:
            hit = self._cached(ref, stamp, min_valid, require_owner, actor.owner)
            if hit is not None:
                name = self._cached_names.get(hit.credential_id)
                self.records.log(Activity("get_token", hit.credential_id, name, actor=actor))
                return hit
        seconds = min_valid.total_seconds() if min_valid is not None else 0.0
        (secret,) = self.records.read_secrets(
            [SecretWant(ref, TOKEN, version=version)], actor, action="get_token",
            min_valid=seconds, refresh=refresh, require_owner=require_owner,
            refresh_ahead=refresh_ahead, allow_plain_http=plain_http,
        )  # fmt: skip
        assert secret is not None
        token = _token(secret)
        current = not _is_version(secret)  # NAME@previous and old ids are never cached
        if current and cache is not None and cache.max_size > 0 and stamp is not None:
            from credctl import manager_config
            from credctl.token_cache import CacheEntry

            ttl = manager_config.as_timedelta(cache.ttl, "cache ttl")
            deadline = time.monotonic() + ttl.total_seconds()
            entry = CacheEntry(token, secret.credential.owner, deadline, stamp)
            key = _cache_name(secret.credential.owner, secret.credential.name)
            self._cache.store(key, entry)
            self._cached_names[secret.credential.id] = secret.credential.name
        return token

    def _cached(
        self,
        ref: Ref,
        stamp: Any,
        min_valid: dt.timedelta | None,
        require_owner: str | None,
        owner: str,
    ) -> Token | None:
        credential_id = as_id(ref)
        name = None if credential_id is not None else _cache_name(owner, str(ref))
        entry = self._cache.lookup(credential_id, name, stamp)
        ahead = self._config.cache_config.refresh_ahead
        if entry is None or not _fresh_enough(entry.token, min_valid, ahead=ahead):
            return None
        if require_owner is not None and entry.owner != require_owner:
            return None  # the record layer decides, and logs the refusal
        return entry.token

    def get_field(self, ref: Ref, field: str, *, version: int | None = None) -> SecretValue:
        """One field of a credential's data as text (``get-token --field``).

        An oauth2 ``access_token`` is renewed first when it is about to expire, and
        refused when it has expired, exactly as `get_token` decides.  `version` reads
        a kept older version.
        """
        (secret,) = self.read_secrets([SecretWant(ref, (field,), version=version)])
        assert secret is not None
        return SecretValue(secret.field(field))

    def read_secrets(
        self,
        wants: Sequence[SecretWant],
        context: CredentialContext | None = None,
        *,
        missing: list[tuple[SecretWant, NotFound]] | None = None,
    ) -> list[SecretRecord | None]:
        """Credentials ready for secret use, from one snapshot (`env`, `exec`, `render`).

        Each is logged as ``read_field``; see `RecordStore.read_secrets`.
        """
        refresh_ahead, plain_http = self._reading()
        return self.records.read_secrets(
            wants, self._actor(context), missing=missing, refresh_ahead=refresh_ahead,
            allow_plain_http=plain_http,
        )  # fmt: skip

    # -- lifecycle: refresh (seed: refresh_credential / refresh_all_expired) ---------

    def refresh_credential(self, ref: Ref) -> Token:
        """Renew an oauth2 credential's access token now; the new token.

        The refresh holds the vault lock from before the provider is called until the
        rotated tokens are stored, so parallel processes never spend one refresh token
        twice.  `RefreshNotSupported` for other types, `NoRefreshToken` when nothing can
        renew it, `RefreshFailed` when the provider refuses (exit 7), `ServiceUnavailable`
        when it cannot be reached (exit 10).
        """
        from credctl.records.oauth import refresh_locked

        actor = self._actor()
        credential = self.records.view(actor).find(ref)
        renewed = refresh_locked(
            self.records, credential.id, actor, force=True,
            plain_http=self._config.security_config.allow_plain_http,
        )  # fmt: skip
        self._cache.forget(renewed.id)
        return _token(SecretRecord.load(renewed))

    def refresh_all_expired(self) -> list[CredentialId]:
        """Renew every oauth2 credential that is expired or about to be; their ids.

        Every credential is tried.  If any failed, one error naming each failure is
        raised after the others were renewed (`ServiceUnavailable` when every failure
        was an unreachable provider, else the failures' common kind or `RefreshFailed`).
        """
        report = self.refresh_expired()
        if report.failed:
            raise report.error()
        return report.refreshed

    def refresh_expired(self) -> RefreshReport:
        """`refresh_all_expired` without raising: what was renewed and what failed."""
        from credctl.records.oauth import refresh_expired

        report = refresh_expired(
            self.records, self._actor(), ahead=self._config.cache_config.refresh_ahead,
            plain_http=self._config.security_config.allow_plain_http,
        )  # fmt: skip
        for credential_id in report.refreshed:
            self._cache.forget(credential_id)
        return report

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
        ``name``, ``client_secret``, ``scopes``, ``description``, ``redirect_uri``
        (default: credctl's loopback redirect, ``http://127.0.0.1:8749/callback``), and
        ``flow``: ``"browser"`` (the default) or ``"device"``.  The pending flow is kept
        in the vault until it expires (`FlowExpired`).
        """
        from credctl.oauth.flows import prepare
        from credctl.records.flows import save_flow

        actor = self._actor(context)
        if not self._config.security_config.allow_plain_http:
            self._refuse_plain_http(input, "the login")
        settings, pending = prepare(credential_type, input, actor.owner)
        if not self._config.security_config.allow_plain_http:
            self._refuse_plain_http(pending.stored.get("settings", {}), "the login")
        if settings.name is not None:
            existing = self.records.view(actor).by_name(settings.name)
            if existing is not None and existing.type != "oauth2":
                from credctl.errors import DuplicateCredential

                raise DuplicateCredential(
                    f"a {existing.type} credential named {settings.name!r} already exists",
                    hint="choose another name for the OAuth login",
                )
        save_flow(self.records, pending, actor)
        return pending.flow

    def complete_interactive_flow(
        self, flow_id: FlowId, callback_data: CallbackData
    ) -> CredentialId:
        """Finish a login with what the provider sent back; the credential's id.

        A browser flow checks `callback_data` (`state`, ``iss``) and exchanges the code
        (PKCE); a device flow polls until the person approved (pass ``CallbackData()``).
        `InvalidCallback` for a forged or mismatched callback (the flow stays pending),
        `AccessDenied` when consent was refused, `FlowExpired` after the flow's expiry.
        """
        from credctl.oauth.flows import finish
        from credctl.records.flows import take_flow
        from credctl.records.oauth import store_login

        try:
            flow = take_flow(self.records, flow_id, callback_data, self._actor())
            login = finish(flow, callback_data)
        except FlowExpired as exc:
            exc.flow_id = exc.flow_id or flow_id
            raise
        owner = str(flow.get("owner", "local"))
        actor = Actor(owner if owner != "local" else os_user(), origin=self._origin, owner=owner)
        credential = store_login(self.records, login, actor)
        self._cache.forget(credential.id)
        return credential.id

    def cancel_interactive_flow(self, flow_id: FlowId) -> bool:
        """Forget a pending login (the person gave up); False if there was none."""
        from credctl.records.flows import cancel_flow

        return cancel_flow(self.records, flow_id, self._actor())

    def login_client_credentials(
        self,
        name: str,
        *,
        client_id: str,
        client_secret: str,
        token_url: str | None = None,
        issuer: str | None = None,
        provider: str | None = None,
        scopes: Sequence[str] = (),
        auth_method: str = "client_secret_basic",
        description: str = "",
        context: UserContext | None = None,
    ) -> CredentialId:
        """Store a machine client (RFC 6749 §4.4) after fetching its first token."""
        from credctl.oauth.client_credentials import first_login
        from credctl.records.oauth import store_login

        if not self._config.security_config.allow_plain_http:
            self._refuse_plain_http({"token_url": token_url, "issuer": issuer}, "the client")
        existing = self.records.view(self._actor(context)).by_name(name)
        if existing is not None and existing.type != "oauth2":
            from credctl.errors import DuplicateCredential

            raise DuplicateCredential(
                f"a {existing.type} credential named {name!r} already exists"
            )
        login = first_login(
            name, client_id=client_id, client_secret=client_secret, token_url=token_url,
            issuer=issuer, provider=provider, scopes=scopes, auth_method=auth_method,
            description=description,
        )  # fmt: skip
        credential = store_login(self.records, login, self._actor(context))
        self._cache.forget(credential.id)
        return credential.id

    @staticmethod
    def _refuse_plain_http(given: Mapping[str, Any], what: str) -> None:
        from credctl.oauth.settings import refuse_plain_http

        keys = ("token_url", "auth_url", "issuer", "device_url")
        refuse_plain_http((given.get(key) for key in keys), what)

    def login_settings(self, name: str) -> dict[str, Any]:
        """The client settings of the oauth2 credential `name`, to log in again with them.

        Empty when there is none; `DuplicateCredential` when the name belongs to
        another type.
        """
        from credctl.oauth.flows import previous_settings

        credential = self.records.view().by_name(name)
        if credential is None:
            return {}
        if credential.type != "oauth2":
            from credctl.errors import DuplicateCredential

            raise DuplicateCredential(
                f"a {credential.type} credential named {name!r} already exists",
                hint="choose another name for the OAuth login",
            )
        return previous_settings(credential.data, credential.oauth_state)

    # -- update and delete -----------------------------------------------------------

    def update_credential(self, ref: Ref, updates: CredentialUpdate) -> None:
        """Apply an update in one transaction; the type's rules check new data first.

        ``updates.metadata`` replaces the metadata; ``updates.metadata_changes`` sets
        single entries on what is stored at that moment (under the lock).
        """
        actor = self._actor()
        with self.records.transaction("update", actor) as txn:
            credential = txn.find(ref)
            txn.update(
                credential, name=updates.name, description=updates.description,
                tags=updates.tags, metadata=updates.metadata,
                metadata_changes=updates.metadata_changes, data=updates.data,
                data_changes=updates.data_changes, keep_version=True,
            )  # fmt: skip
        self._cache.forget(credential.id)

    def delete_credential(self, ref: Ref, *, force: bool = False) -> None:
        """Remove a credential and every kept version of it (its id is never reused).

        A credential linked to workflows is refused (`CredentialInUse`, exit 8)
        unless `force`.
        """
        from credctl.records.links import require_unlinked
        from credctl.records.rotation_due import remove_retired_ids

        with self.records.transaction("delete", self._actor()) as txn:
            credential = txn.find(ref)
            require_unlinked(credential, force=force)
            txn.delete(credential)
            remove_retired_ids(txn, txn.touched)
        self._cache.forget(credential.id)

    def batch_delete(
        self, refs: Sequence[Ref], *, force: bool = False
    ) -> list[CredentialError | None]:
        """Delete many in one write; one result per input (None or the error).

        A credential linked to workflows fails with `CredentialInUse` unless `force`.
        """
        from credctl.records.links import require_unlinked

        results: list[CredentialError | None] = []
        with self.records.transaction("delete", self._actor()) as txn:
            for ref in refs:
                try:
                    credential = txn.find(ref)
                    require_unlinked(credential, force=force)
                    txn.delete(credential)
                    results.append(None)
                except CredentialError as exc:
                    txn.failed(str(ref), exc)
                    results.append(exc)
            deleted = list(txn.touched)
            from credctl.records.rotation_due import remove_retired_ids

            remove_retired_ids(txn, txn.touched)
        for credential_id in deleted:
            self._cache.forget(credential_id)
        return results

    # -- rotation (seed: rotate_credential / schedule_rotation / set_rotation_policy) -----

    def rotate_credential(
        self,
        ref: Ref,
        data: Mapping[str, Any] | None = None,
        *,
        generate: GenerateSpec | bool | None = None,
        command: str | None = None,
        test_command: str | None = None,
        strategy: RotationStrategy | str | None = None,
        grace: dt.timedelta | None = None,
        context: UserContext | None = None,
    ) -> CredentialId:
        """Rotate now ("create new, migrate, delete old"); returns the NEW id.

        The new secret is `data` (merged over the current data), random values
        (`generate`), the JSON a shell `command` prints, else what the credential's
        policy says, else (oauth2) a refresh grant.  `test_command` checks it before
        the switch.  The name, tags, policy and history move to the new id; the old
        id is retired at once (`immediate`) or stays readable for `grace`
        (`blue-green`).  `RotationInProgress` (exit 8) while another rotation runs,
        `RotationFailed` when a hook fails (the old secret is kept).
        """
        return self.rotate(ref, data, generate=generate, command=command,
                           test_command=test_command, strategy=strategy, grace=grace,
                           context=context).credential_id  # fmt: skip

    def rotate(
        self,
        ref: Ref,
        data: Mapping[str, Any] | None = None,
        *,
        generate: GenerateSpec | bool | None = None,
        command: str | None = None,
        test_command: str | None = None,
        strategy: RotationStrategy | str | None = None,
        grace: dt.timedelta | None = None,
        context: UserContext | None = None,
    ) -> RotationOutcome:
        """`rotate_credential`, telling what happened (old and new id, grace end, notes)."""
        from credctl.records.rotation import RotationRequest, rotate
        from credctl.rotation.policy import GenerateSpec, RotationStrategy

        spec = GenerateSpec() if generate is True else (generate or None)
        request = RotationRequest(
            data=data, generate=spec, command=command, test_command=test_command,
            strategy=RotationStrategy.parse(strategy) if strategy is not None else None,
            grace=grace,
        )  # fmt: skip
        outcome = rotate(self.records, ref, request, self._actor(context))
        self._cache.forget(outcome.old_id)
        return outcome

    def resume_rotation(self, ref: Ref) -> RotationOutcome:
        """Finish or roll back a pending rotation that was interrupted or is stuck."""
        from credctl.records.rotation import resume

        outcome = resume(self.records, ref, self._actor())
        self._cache.forget(outcome.old_id)
        return outcome

    def schedule_rotation(self, ref: Ref, at: dt.datetime | None) -> None:
        """Rotate `ref` at `at` (aware datetime; None clears the schedule)."""
        from credctl.records.rotation_due import schedule

        if at is not None and (at.tzinfo is None or at.utcoffset() is None):
            raise InvalidInput("schedule_rotation needs a time with a time zone")
        schedule(self.records, ref, at, self._actor())

    def set_rotation_policy(self, ref: Ref, policy: RotationPolicy) -> None:
        """Give `ref` a rotation policy (replacing any)."""
        from credctl.records.rotation_due import set_policy

        set_policy(self.records, ref, policy, self._actor())

    def clear_rotation_policy(self, ref: Ref) -> bool:
        """Remove `ref`'s rotation policy; False when it had none."""
        from credctl.records.rotation_due import clear_policy

        return clear_policy(self.records, ref, self._actor())

    def get_rotation_policy(self, ref: Ref) -> RotationPolicy | None:
        """`ref`'s rotation policy, or None."""
        from credctl.records.rotation_state import policy

        return policy(self.records.view().find(ref))

    def rotation_status(self, ref: Ref) -> RotationStatus:
        """How `ref` stands: ok, warning, overdue, stuck or no-policy, and when it is due."""
        from credctl.records.rotation_due import status_of
        from credctl.rotation.clock import now

        return status_of(self.records.view().find(ref), now())

    def rotation_report(self) -> list[RotationStatus]:
        """Every credential's rotation status, from one snapshot (``rotate --due --dry-run``)."""
        from credctl.records.rotation_due import report

        return report(self.records, self._actor())

    def rotate_due(self, *, dry_run: bool = False) -> list[DueResult]:
        """Rotate every overdue credential that credctl can rotate by itself; settle
        interrupted rotations and ended grace periods.  One result per credential."""
        from credctl.records.rotation_due import rotate_due

        return rotate_due(self.records, self._actor(), dry_run=dry_run)

    def get_versions(self, ref: Ref) -> list[CredentialVersion]:
        """The kept versions of `ref`, oldest first, the current one last (never data)."""
        from credctl.records.rotation_due import history

        return history(self.records, ref, self._actor())

    def rollback(self, ref: Ref, to: int) -> int:
        """Make version `to`'s data current again as a new version; its number."""
        from credctl.records.rotation_due import rollback

        credential = rollback(self.records, ref, to, self._actor())
        self._cache.forget(credential.id)
        return credential.version

    # -- the REST API: users, their tokens, refused requests ---------------------------

    def acting_as(
        self,
        user: str,
        *,
        ip: str | None = None,
        execution_id: str | None = None,
        workflow_id: str | None = None,
        host: str | None = None,
    ) -> ScopedManager:
        """The credentials of `user` alone, every call logged as theirs (`ScopedManager`).

        Another owner's credential answers `NotFound`, like one that does not exist.
        `host` is this machine's name when the caller knows it (else it is asked for).
        """
        from credctl.scoped import ScopedManager

        actor = Actor(user, origin=self._origin, owner=user, scope=user, ip=ip,
                      execution_id=execution_id, workflow_id=workflow_id,
                      host=host)  # fmt: skip
        return ScopedManager(self.records, actor)

    def issue_api_token(
        self, user: str, *, expires_in: dt.timedelta | None = None
    ) -> tuple[ApiToken, SecretValue]:
        """A new bearer token for `user` (shown once; only its digest is stored)."""
        from credctl.records import api_tokens

        seconds = int(expires_in.total_seconds()) if expires_in is not None else None
        actor = self._actor()
        with self.records.transaction("serve_token", actor) as txn:
            entry, token = api_tokens.issue(txn.settings, user, seconds)
            txn.mark_settings_changed()
        self.records.log(Activity("serve_token", actor=actor))
        return entry, SecretValue(token)

    def api_tokens(self) -> list[ApiToken]:
        """Every issued bearer token (never the tokens themselves)."""
        from credctl.records import api_tokens

        return api_tokens.listing(self.records.view().meta)

    def revoke_api_token(self, token_id: int) -> ApiToken:
        """Revoke a bearer token at once; `NotFound` if there is none with this id."""
        from credctl.records import api_tokens

        actor = self._actor()
        with self.records.transaction("serve_token", actor) as txn:
            entry = api_tokens.revoke(txn.settings, token_id)
            txn.mark_settings_changed()
        self.records.log(Activity("serve_token", actor=actor))
        return entry

    def verify_api_token(self, presented: str) -> ApiToken | None:
        """The issued, unexpired token `presented` is, or None (constant-time compare)."""
        from credctl.records import api_tokens

        return api_tokens.verify(self.records.view().meta, presented)

    def touch_api_token(self, token_id: int) -> None:
        """Record that a token was used now (callers do it at most hourly per token)."""
        from credctl.records import api_tokens

        with self.records.transaction("serve_token", self._actor()) as txn:
            if api_tokens.touch(txn.settings, token_id, int(time.time())):
                txn.mark_settings_changed()

    def state_stamp(self) -> Any:
        """A value that changes with every write to the backend, by any process (None if
        the backend cannot tell): what a cache of this process keys its entries by."""
        return self.records.state_stamp()

    def log_refused_request(self, action: str, *, ip: str | None, error: str) -> None:
        """Log a request refused before it reached a credential (no valid token)."""
        self.records.log(self.refused_request(action, ip=ip, error=error))

    def refused_request(self, action: str, *, ip: str | None, error: str) -> Activity:
        """The entry of a request refused before it reached a credential (unlogged)."""
        actor = Actor("anonymous", origin=self._origin, owner="anonymous", ip=ip)
        return Activity(action, actor=actor, outcome="error", error=error)

    # -- health and metrics ----------------------------------------------------------

    def health_check(self) -> HealthStatus:
        """Healthy, degraded (with issues) or unhealthy (with the error)."""
        from credctl import manager_config
        from credctl.model import HealthStatus

        try:
            view = self.records.view()
            issues = list(self.storage.health_issues())
        except CredentialError as exc:
            return HealthStatus.Unhealthy(str(exc))
        key_created = view.meta.get("data_key_created", view.meta.get("created"))
        interval = manager_config.as_timedelta(
            self._config.encryption_config.key_rotation_interval, "key_rotation_interval"
        )
        if isinstance(key_created, int | float):
            import datetime as dt

            age = dt.timedelta(seconds=time.time() - key_created)
            if age > interval:
                from credctl.durations import format_duration

                issues.append(
                    f"the data key is {format_duration(int(age.total_seconds()))} old, older "
                    f"than the rotation interval of "
                    f"{format_duration(int(interval.total_seconds()))} (run `credctl rekey`)"
                )
        broken = 0
        for credential in view.all():
            try:
                SecretRecord.load(credential)
            except CredentialError:
                broken += 1
        if broken:
            issues.append(f"{broken} credential(s) fail their type's validation")
        issues += _rotation_issues(view.all())
        verification = self._verify_quietly()
        if verification is not None and verification.verified is False:
            return HealthStatus.Unhealthy(f"audit: {verification.describe()}", *issues)
        if verification is not None and verification.torn_bytes:
            issues.append(
                f"audit: the last entry of the trail is torn ({verification.torn_bytes} bytes "
                "cut off by a writer that died); the next operation repairs it"
            )
        if issues:
            return HealthStatus.Degraded(issues)
        return HealthStatus.Healthy

    def _verify_quietly(self) -> AuditVerification | None:
        """The trail's verification for `health_check` (not itself an audited read)."""
        from credctl.audit import service

        if not service.verifiable(self.records):
            return None
        return service.load(self.records, verify=True, decrypt=False)[1]

    # -- audit (SPEC §7, §13) ----------------------------------------------------------

    def get_audit_logs(self, filter: AuditFilter | None = None) -> list[AuditEntry]:
        """The trail's entries that `filter` lets through, oldest first (logged ``audit_list``)."""
        from credctl.audit import service

        chosen, _ = service.load(self.records, verify=False, chosen=filter)
        described = filter.describe() if filter is not None else "all entries"
        service.log(self.records, "audit_list", self._actor(),
                    f"{len(chosen)} entries; {described}")  # fmt: skip
        return chosen

    def export_audit_report(
        self, format: ExportFormat | str, filter: AuditFilter | None = None
    ) -> bytes:
        """The entries `filter` lets through as a JSON, CSV or PDF report (``audit_export``).

        Every report states the filter, the counts, the trail's head and whether the
        trail verified.  PDF needs reportlab (``pip install 'credctl[pdf]'``).
        """
        from credctl.audit import service

        return service.export(self.records, self._actor(), format, filter)

    def verify_audit_trail(self, checkpoint: str | bytes | None = None) -> AuditVerification:
        """Check every entry's seal and place in the chain, the head the vault recorded,
        and, given the text of a checkpoint, that the trail still extends it.

        Returns the result (``verified`` False names the first bad seq) and logs
        ``audit_verify``; a checkpoint that is not one, or not this vault's, raises.
        """
        from credctl.audit import service
        from credctl.errors import AuditTamperedError

        _, result = service.load(self.records, verify=True, checkpoint=checkpoint, decrypt=False)
        failed = result.verified is False
        service.log(self.records, "audit_verify", self._actor(), result.describe(), ok=not failed,
                    error=AuditTamperedError.__name__ if failed else None)  # fmt: skip
        return result

    def audit_checkpoint(self) -> str:
        """A MACed checkpoint of the verified trail's head, to keep elsewhere.

        Its own ``audit_checkpoint`` entry is part of it.
        """
        from credctl.audit import service

        return service.checkpoint(self.records, self._actor())

    def prune_audit_trail(self, before: dt.datetime) -> int:
        """Remove the entries older than `before` (the rest stays verifiable); how many."""
        from credctl.audit import service

        if before.tzinfo is None:
            raise InvalidInput("prune_audit_trail needs an aware datetime (with a time zone)")
        return service.prune(self.records, self._actor(), before)

    def get_metrics(self) -> Metrics:
        """Totals, cache hit rate (this process) and refresh times (activity log)."""
        from credctl.model import Metrics

        view = self.records.view()
        by_type: dict[str, int] = {}
        for credential in view.all():
            by_type[credential.type] = by_type.get(credential.type, 0) + 1
        served = refreshes = 0
        refresh_ms: list[float] = []
        for activity in self.records.activities():
            if not activity.ok:
                continue
            if activity.action == "get_token":
                served += 1
            elif activity.action == "refresh":
                refreshes += 1
                if activity.duration_ms is not None:
                    refresh_ms.append(activity.duration_ms)
        import datetime as dt

        average = (
            dt.timedelta(milliseconds=sum(refresh_ms) / len(refresh_ms)) if refresh_ms else None
        )
        return Metrics(
            total_credentials=view.count(),
            credentials_by_type=by_type,
            tokens_served=served,
            cache_hits=self._cache.hits,
            cache_misses=self._cache.misses,
            refresh_count=refreshes,
            avg_refresh_time=average,
        )

    def get_credential_metrics(self, ref: Ref) -> CredentialMetrics:
        """Usage count, last use and refreshes of one credential, across processes."""
        credential = self.records.view().find(ref)
        return self.usage_report([credential.id])[credential.id]

    def usage_report(self, ids: Sequence[int] | None = None) -> dict[int, CredentialMetrics]:
        """Every credential's usage (or those in `ids`), from one pass over the log.

        Who made the last use (user, ip, execution and workflow ids) comes from the
        activity's actor, where the log keeps it.
        """
        from credctl.model import CredentialMetrics

        wanted = set(ids) if ids is not None else {c.id for c in self.records.view().all()}
        counts: dict[int, list[Any]] = {i: [0, None, 0, None, None] for i in wanted}
        for activity in self.records.activities():
            entry = counts.get(activity.credential_id) if activity.credential_id else None
            if entry is None or not activity.ok:
                continue
            if activity.action in USE_ACTIONS:
                entry[0] += 1
                entry[1] = activity.at
                entry[4] = activity.actor
            elif activity.action == "refresh":
                entry[2] += 1
                entry[3] = activity.at
        from credctl._time import from_unix

        def moment(value: float | None) -> dt.datetime | None:
            return from_unix(value) if value is not None else None

        def metrics(i: int, c: list[Any]) -> CredentialMetrics:
            actor: Actor | None = c[4]
            return CredentialMetrics(
                i, c[0], moment(c[1]), c[2], moment(c[3]),
                last_user=actor.user if actor else None,
                last_ip=actor.ip if actor else None,
                last_execution_id=actor.execution_id if actor else None,
                last_workflow_id=actor.workflow_id if actor else None,
            )  # fmt: skip

        return {i: metrics(i, c) for i, c in counts.items()}


class CredentialManagerBuilder:
    """``CredentialManager.builder().storage_backend(...).cache_ttl(...).build()``."""

    def __init__(self) -> None:
        from credctl.model import ManagerConfig

        self._config = ManagerConfig()
        self._storage: CredentialStorage | None = None

    def storage_backend(self, backend: StorageBackend) -> Self:
        """Where records live."""
        self._config = self._config._replace(storage_backend=backend)
        return self

    def vault_path(self, path: Path | str) -> Self:
        """Shorthand for ``storage_backend(StorageBackend.file(path))``."""
        from credctl.model import StorageBackend

        return self.storage_backend(StorageBackend.file(path))

    def storage(self, storage: CredentialStorage) -> Self:
        """Use an already-built storage object."""
        self._storage = storage
        return self

    def cache_ttl(self, ttl: Duration) -> Self:
        """How long a token stays in the in-process cache: a timedelta or seconds
        (the seed's ``Duration::from_secs(300)`` is ``300``); checked by `build`."""
        cache = self._config.cache_config
        return self.cache_config(cache._replace(ttl=ttl))

    def cache_config(self, config: CacheConfig) -> Self:
        """The whole cache configuration."""
        self._config = self._config._replace(cache_config=config)
        return self

    def encryption_config(self, config: EncryptionConfig) -> Self:
        """Encryption settings."""
        self._config = self._config._replace(encryption_config=config)
        return self

    def security_config(self, config: SecurityConfig) -> Self:
        """What the manager refuses (`SecurityConfig.strict()`)."""
        self._config = self._config._replace(security_config=config)
        return self

    def rotation_config(self, config: RotationConfig) -> Self:
        """Rotation settings."""
        self._config = self._config._replace(rotation_config=config)
        return self

    def audit_config(self, config: AuditConfig) -> Self:
        """Audit settings (the trail is always on)."""
        self._config = self._config._replace(audit_config=config)
        return self

    def performance_config(self, config: PerformanceConfig) -> Self:
        """Performance settings (the vault lock timeout)."""
        self._config = self._config._replace(performance_config=config)
        return self

    def enable_audit_logging(self) -> Self:
        """As the seed: record every operation.  credctl's audit trail is always on
        (SPEC §7), so this states the default; it cannot be turned off."""
        from credctl.manager_config import AuditConfig

        self._config = self._config._replace(audit_config=AuditConfig(enabled=True))
        return self

    def build(self) -> CredentialManager:
        """The configured manager; every setting is checked here (`InvalidInput`)."""
        return CredentialManager(self._config, storage=self._storage)


def open_storage(
    backend: StorageBackend, *, lock_timeout: dt.timedelta | None = None
) -> CredentialStorage:
    """Build the storage a `StorageBackend` describes (`lock_timeout`: the vault's)."""
    from credctl.model import StorageKind

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
    if backend.kind is not StorageKind.FILE:
        from credctl.storage.backends import open_backend_storage

        assert backend.url is not None
        return open_backend_storage(backend.url, token=backend.token)
    from credctl.paths import default_vault_path
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault.store import Vault
    from credctl.vault.unlock import EnvironmentUnlocker, terminal_prompt

    path = backend.path or default_vault_path()
    timeout = lock_timeout.total_seconds() if lock_timeout is not None else None
    return VaultStorage(
        Vault(path, lock_timeout=timeout), EnvironmentUnlocker(prompt=terminal_prompt())
    )


def _cache_name(owner: str, name: str) -> str:
    """The token cache's alias for a name: names are unique per owner."""
    return name if owner == "local" else f"{owner}/{name}"


def _check_unlock_policy(security: SecurityConfig) -> None:
    """Refuse what `security` forbids before a vault is unlocked."""
    import os

    if not security.allow_env_passphrase and os.environ.get("CREDCTL_PASSPHRASE"):
        raise AccessDenied(
            "CREDCTL_PASSPHRASE is set, and this manager's security settings refuse a "
            "passphrase in the environment (every process started from here inherits it)",
            hint="unset it and use CREDCTL_PASSPHRASE_FILE, a session "
            '(eval "$(credctl unlock)") or a CI key (CREDCTL_KEY)',
        )


def _fresh_enough(token: Token, min_valid: dt.timedelta | None, *, ahead: bool = True) -> bool:
    """A cached token may be served unless it is close to expiry (then the record decides):
    within the refresh-ahead window when `ahead`, else only once it has expired."""
    if token.expires_at is None:
        return True
    import datetime as dt

    from credctl._time import utc_now
    from credctl.oauth.expiry import REFRESH_AHEAD

    window = dt.timedelta(seconds=REFRESH_AHEAD if ahead else 0)
    margin = max(window, min_valid or dt.timedelta(0))
    return token.expires_at - utc_now() > margin


def _is_version(secret: SecretRecord) -> bool:
    return secret.credential.is_old_version


def _rotation_issues(credentials: Sequence[StoredCredential]) -> list[str]:
    """`doctor`: overdue and stuck rotations, expired oauth2 tokens nothing can renew."""
    from credctl.oauth import expiry
    from credctl.records.rotation_due import status_of
    from credctl.rotation.clock import now
    from credctl.rotation.due import OVERDUE, STUCK

    moment = now()
    overdue: list[str] = []
    expired: list[str] = []
    issues: list[str] = []
    for credential in credentials:
        try:
            status = status_of(credential, moment)
        except CredentialError as exc:
            issues.append(f"{credential.name}: {exc}")
            continue
        if status.status == OVERDUE:
            overdue.append(credential.name)
        elif status.status == STUCK:
            issues.append(f"rotation of {credential.name} is stuck: {status.detail}")
        if credential.type == "oauth2":
            data, state = credential.data, credential.oauth_state
            if (expiry.expires_at(data) is not None and not expiry.valid_for(data)
                    and expiry.grant(data, state) is None):  # fmt: skip
                expired.append(credential.name)
    if overdue:
        issues.append(f"{len(overdue)} credential(s) overdue for rotation: {', '.join(overdue)} "
                      "(run `credctl rotate --due`)")  # fmt: skip
    if expired:
        issues.append(f"{len(expired)} credential(s) expired with nothing to renew them: "
                      f"{', '.join(expired)} (log in again)")  # fmt: skip
    return issues


def _token(secret: SecretRecord) -> Token:
    from credctl.tokens import Token

    header = secret.header()
    expiry = secret.data.get("token_expiry") if secret.credential.type == "oauth2" else None
    if expiry:
        from credctl._time import parse_rfc3339

        expires_at: dt.datetime | None = parse_rfc3339(str(expiry))
    else:
        expires_at = None
    return Token(
        value=SecretValue(secret.token()),
        credential_id=secret.credential.id,
        token_type=secret.kind.name,
        header=SecretValue(header) if header is not None else None,
        expires_at=expires_at,
    )


def _upsert(txn: RecordTransaction, current: StoredCredential, item: CredentialInput) -> str:
    """Update `current` from `item` unless nothing would change: the outcome's word."""
    from credctl import types

    kind = types.get_type(current.type)
    data = kind.validate(item.data)
    changes: dict[str, Any] = {}
    if data != current.data:
        changes["data"] = data
    if item.description and item.description != current.description:
        changes["description"] = item.description
    if item.tags and tuple(item.tags) != current.tags:
        changes["tags"] = item.tags
    if item.metadata and dict(item.metadata) != current.metadata:
        changes["metadata"] = item.metadata
    names = dict(item.env_names or {})
    if names and {**current.env_names, **names} != current.env_names:
        changes["env_names"] = names
    if not changes:
        return "unchanged"
    txn.update(current, keep_version=True, **changes)
    return "updated"


def _public(credential: StoredCredential) -> Credential:
    """The public details of a stored credential (never its data)."""
    from credctl._time import parse_rfc3339
    from credctl.errors import VaultCorruptError
    from credctl.model import Credential

    try:
        expiry = credential.data.get("token_expiry") if credential.type == "oauth2" else None
        scopes = credential.data.get("scopes") if credential.type == "oauth2" else None
        return Credential(
            id=credential.id,
            name=credential.name,
            credential_type=credential.type,
            description=credential.description,
            tags=credential.tags,
            metadata=dict(credential.metadata),
            owner=credential.owner,
            created_at=parse_rfc3339(credential.created_at),
            updated_at=parse_rfc3339(credential.updated_at),
            token_expiry=parse_rfc3339(expiry) if expiry else None,
            version=credential.version,
            scopes=tuple(scopes) if isinstance(scopes, list) else (),
            fields=tuple(str(key) for key in credential.data),
        )
    except (TypeError, ValueError) as exc:
        raise VaultCorruptError(f"credential record {credential.id!r} is malformed") from exc
