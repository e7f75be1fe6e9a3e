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

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from credctl.errors import CredentialError, FlowExpired, InvalidInput, NotFound
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
)
from credctl.records.activity import Activity, Actor, os_user
from credctl.records.secrets import TOKEN, SecretRecord, SecretWant
from credctl.records.store import RecordStore, as_id
from credctl.secret import SecretValue
from credctl.storage.base import CredentialStorage

if TYPE_CHECKING:
    from pathlib import Path

    from credctl.records.oauth import RefreshReport
    from credctl.records.rotation import RotationOutcome
    from credctl.records.rotation_due import DueResult
    from credctl.records.stored import StoredCredential
    from credctl.records.versions import CredentialVersion
    from credctl.rotation.due import RotationStatus
    from credctl.rotation.policy import GenerateSpec, RotationPolicy, RotationStrategy
    from credctl.token_cache import TokenCache

Ref = int | str
#: Activity actions that count as a use of the credential (metrics).
USE_ACTIONS = frozenset({"get_token", "read_field"})


class CredentialManager:
    """Create, read, update and delete credentials, and hand out their tokens.

    ``CredentialManager()`` opens the default vault exactly as the CLI does
    (``CREDCTL_VAULT`` and the unlock sources of SPEC §5); nothing is read
    until the first call.  `origin` names the front end in the activity log
    (``library``, ``cli``, ``api``).
    """

    def __init__(
        self,
        config: ManagerConfig | None = None,
        *,
        storage: CredentialStorage | None = None,
        origin: str = "library",
    ) -> None:
        self._config = config or ManagerConfig()
        self._storage = storage
        self._store: RecordStore | None = None
        self._origin = origin
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
        self._config = self._config._replace(storage_backend=backend)
        self._storage = None
        self._store = None
        self.clear_cache()

    def set_encryption_config(self, config: EncryptionConfig) -> None:
        """Set encryption settings; only AES-256-GCM and Argon2id exist, so this sets
        the data-key rotation interval that `health_check` enforces."""
        if config.key_rotation_interval <= dt.timedelta(0):
            raise InvalidInput("key_rotation_interval must be positive")
        self._config = self._config._replace(encryption_config=config)

    def set_cache_config(self, config: CacheConfig) -> None:
        """Configure the in-process token cache."""
        if config.max_size < 0 or config.ttl < dt.timedelta(0):
            raise InvalidInput("cache max_size and ttl must not be negative")
        self._config = self._config._replace(cache_config=config)
        self._cache.resize(config.max_size)
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
        ip = context.ip if isinstance(context, UserContext) else None
        actor = Actor(user or os_user(), origin=self._origin, owner=user or "local", ip=ip)
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
                    )  # fmt: skip
                except CredentialError as exc:
                    txn.failed(item.name, exc)
                    results.append(exc)
                else:
                    results.append(created.id)
        return results

    # -- read ----------------------------------------------------------------------

    def get_credential(self, ref: Ref) -> Credential:
        """A credential's details, without its secret data."""
        return _public(self.records.view().find(ref))

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
        context: CredentialContext | None,
        *,
        min_valid: dt.timedelta | None = None,
        refresh: bool = True,
        version: int | None = None,
    ) -> Token:
        """`get_token`, checking that `context.user_id` owns the credential; the
        context's execution and workflow ids go into the activity log."""
        actor = self._actor(context)
        require_owner = context.user_id if context is not None else None
        cache = self._config.cache_config
        if version is not None:  # older versions are never cached
            cache = cache._replace(enabled=False)
        stamp = self.records.state_stamp() if cache.enabled else None
        if cache.enabled:
            hit = self._cached(ref, stamp, min_valid, require_owner)
            if hit is not None:
                self.records.log(Activity("get_token", hit.credential_id, None, actor=actor))
                return hit
        seconds = min_valid.total_seconds() if min_valid is not None else 0.0
        (secret,) = self.records.read_secrets(
            [SecretWant(ref, TOKEN, version=version)], actor, action="get_token",
            min_valid=seconds, refresh=refresh, require_owner=require_owner,
        )  # fmt: skip
        assert secret is not None
        token = _token(secret)
        current = not _is_version(secret)  # NAME@previous and old ids are never cached
        if current and cache.enabled and cache.max_size > 0 and stamp is not None:
            from credctl.token_cache import CacheEntry

            deadline = time.monotonic() + cache.ttl.total_seconds()
            entry = CacheEntry(token, secret.credential.owner, deadline, stamp)
            self._cache.store(secret.credential.name, entry, cache.max_size)
        return token

    def _cached(
        self, ref: Ref, stamp: Any, min_valid: dt.timedelta | None, require_owner: str | None
    ) -> Token | None:
        credential_id = as_id(ref)
        entry = self._cache.lookup(
            credential_id, None if credential_id is not None else str(ref), stamp
        )
        if entry is None or not _fresh_enough(entry.token, min_valid):
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
        return self.records.read_secrets(wants, self._actor(context), missing=missing)

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
        renewed = refresh_locked(self.records, credential.id, actor, force=True)
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

        report = refresh_expired(self.records, self._actor())
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
        ``name``, ``client_secret``, ``scopes``, ``description``, and ``flow``:
        ``"browser"`` (the default; needs ``redirect_uri``) or ``"device"``.  The pending
        flow is kept in the vault until it expires (`FlowExpired`).
        """
        from credctl.oauth.flows import prepare
        from credctl.records.flows import save_flow

        actor = self._actor(context)
        settings, pending = prepare(credential_type, input, actor.owner)
        if settings.name is not None:
            existing = self.records.view().by_name(settings.name)
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

        existing = self.records.view().by_name(name)
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
            extra = None
            if updates.data is not None:  # the old data is kept as a version (history)
                from credctl.records.rotation_due import versioned_update

                extra = versioned_update(txn, credential, actor)
            txn.update(
                credential, name=updates.name, description=updates.description,
                tags=updates.tags, metadata=updates.metadata,
                metadata_changes=updates.metadata_changes, data=updates.data, extra=extra,
            )  # fmt: skip
        self._cache.forget(credential.id)

    def delete_credential(self, ref: Ref) -> None:
        """Remove a credential and every kept version of it (its id is never reused)."""
        from credctl.records.rotation_due import remove_retired_ids

        with self.records.transaction("delete", self._actor()) as txn:
            credential = txn.find(ref)
            txn.delete(credential)
            remove_retired_ids(txn, txn.touched)
        self._cache.forget(credential.id)

    def batch_delete(self, refs: Sequence[Ref]) -> list[CredentialError | None]:
        """Delete many in one write; one result per input (None or the error)."""
        results: list[CredentialError | None] = []
        with self.records.transaction("delete", self._actor()) as txn:
            for ref in refs:
                try:
                    txn.delete(txn.find(ref))
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

    # -- health and metrics ----------------------------------------------------------

    def health_check(self) -> HealthStatus:
        """Healthy, degraded (with issues) or unhealthy (with the error)."""
        try:
            view = self.records.view()
            issues = list(self.storage.health_issues())
        except CredentialError as exc:
            return HealthStatus(HealthState.UNHEALTHY, (str(exc),))
        key_created = view.meta.get("data_key_created", view.meta.get("created"))
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
        for credential in view.all():
            try:
                SecretRecord.load(credential)
            except CredentialError:
                broken += 1
        if broken:
            issues.append(f"{broken} credential(s) fail their type's validation")
        issues += _rotation_issues(view.all())
        if issues:
            return HealthStatus(HealthState.DEGRADED, tuple(issues))
        return HealthStatus(HealthState.HEALTHY)

    def get_metrics(self) -> Metrics:
        """Totals, cache hit rate (this process) and refresh times (activity log)."""
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
        """Every credential's usage (or those in `ids`), from one pass over the log."""
        wanted = set(ids) if ids is not None else {c.id for c in self.records.view().all()}
        counts: dict[int, list[Any]] = {i: [0, None, 0, None] for i in wanted}
        for activity in self.records.activities():
            entry = counts.get(activity.credential_id) if activity.credential_id else None
            if entry is None or not activity.ok:
                continue
            if activity.action in USE_ACTIONS:
                entry[0] += 1
                entry[1] = activity.at
            elif activity.action == "refresh":
                entry[2] += 1
                entry[3] = activity.at
        from credctl._time import from_unix

        def moment(value: float | None) -> dt.datetime | None:
            return from_unix(value) if value is not None else None

        return {
            i: CredentialMetrics(i, c[0], moment(c[1]), c[2], moment(c[3]))
            for i, c in counts.items()
        }


class CredentialManagerBuilder:
    """``CredentialManager.builder().storage_backend(...).cache_ttl(...).build()``."""

    def __init__(self) -> None:
        self._config = ManagerConfig()
        self._storage: CredentialStorage | None = None

    def storage_backend(self, backend: StorageBackend) -> Self:
        """Where records live."""
        self._config = self._config._replace(storage_backend=backend)
        return self

    def vault_path(self, path: Path | str) -> Self:
        """Shorthand for ``storage_backend(StorageBackend.file(path))``."""
        return self.storage_backend(StorageBackend.file(path))

    def storage(self, storage: CredentialStorage) -> Self:
        """Use an already-built storage object."""
        self._storage = storage
        return self

    def cache_ttl(self, ttl: dt.timedelta) -> Self:
        """How long a token stays in the in-process cache."""
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

    def enable_audit_logging(self) -> Self:
        """Record activity in the log (on by default)."""
        self._config = self._config._replace(audit_logging=True)
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


def _fresh_enough(token: Token, min_valid: dt.timedelta | None) -> bool:
    """A cached token may be served unless it is close to expiry (then the record decides)."""
    if token.expires_at is None:
        return True
    from credctl._time import utc_now
    from credctl.oauth.expiry import REFRESH_AHEAD

    margin = max(dt.timedelta(seconds=REFRESH_AHEAD), min_valid or dt.timedelta(0))
    return token.expires_at - utc_now() > margin


def _is_version(secret: SecretRecord) -> bool:
    from credctl.records.versions import is_version

    return is_version(secret.credential)


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


def _public(credential: StoredCredential) -> Credential:
    """The public details of a stored credential (never its data)."""
    from credctl._time import parse_rfc3339
    from credctl.errors import VaultCorruptError

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
        )
    except (TypeError, ValueError) as exc:
        raise VaultCorruptError(f"credential record {credential.id!r} is malformed") from exc
