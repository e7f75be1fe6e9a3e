"""The credential model and the seed's supporting types, as plain typed data.

Nothing here does I/O.  `Credential` never holds secret data (the seed's
`get_credential` returns "details without sensitive data"); secrets travel only
inside `Token` as `SecretValue`s.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from credctl import _time, health_status, manager_config
from credctl.errors import InvalidInput
from credctl.tokens import Token as Token  # re-exported: the model's public name

# Defined in their own modules, part of the model all the same.
AuditConfig = manager_config.AuditConfig
CacheConfig = manager_config.CacheConfig
CacheStrategy = manager_config.CacheStrategy
EncryptionAlgorithm = manager_config.EncryptionAlgorithm
EncryptionConfig = manager_config.EncryptionConfig
KeyDerivation = manager_config.KeyDerivation
PerformanceConfig = manager_config.PerformanceConfig
RotationConfig = manager_config.RotationConfig
SecurityConfig = manager_config.SecurityConfig
HealthState = health_status.HealthState
HealthStatus = health_status.HealthStatus

CredentialId = int


# One formatter and one strict parser for the whole package (credctl._time); the
# names below are the public spellings the library has always offered.
utc_now = _time.utc_now
to_rfc3339 = _time.format_rfc3339
from_rfc3339 = _time.parse_rfc3339


class UserContext(NamedTuple):
    """Who acts, for ownership and the audit trail: ``UserContext(user_id, ip)``."""

    user_id: str
    ip: str | None = None

    @classmethod
    def new(cls, user_id: str, ip: str | None = None) -> UserContext:
        """The seed's ``UserContext::new(user_id, ip)``."""
        return cls(user_id, ip)

    @classmethod
    def system(cls) -> UserContext:
        """The local user acting on their own vault."""
        return cls("local")


class CredentialContext(NamedTuple):
    """Why a token is read: the user, the execution and workflow asking for it, and the
    address the request came from (all kept in the audit trail and the metrics)."""

    user_id: str | None = None
    execution_id: str | None = None
    workflow_id: str | None = None
    ip: str | None = None

    @classmethod
    def builder(cls) -> CredentialContextBuilder:
        """Start building a context, as in the seed."""
        return CredentialContextBuilder()


class CredentialContextBuilder:
    """Fluent builder for `CredentialContext`."""

    def __init__(self) -> None:
        self._fields: dict[str, str] = {}

    def user_id(self, value: str) -> CredentialContextBuilder:
        """Set the acting user."""
        self._fields["user_id"] = value
        return self

    def execution_id(self, value: str) -> CredentialContextBuilder:
        """Set the execution id."""
        self._fields["execution_id"] = value
        return self

    def workflow_id(self, value: str) -> CredentialContextBuilder:
        """Set the workflow id."""
        self._fields["workflow_id"] = value
        return self

    def ip(self, value: str) -> CredentialContextBuilder:
        """Set the address the request came from."""
        self._fields["ip"] = value
        return self

    def build(self) -> CredentialContext:
        """The finished context."""
        return CredentialContext(**self._fields)


class Credential(NamedTuple):
    """A credential's details; never its secret data."""

    id: CredentialId
    name: str
    credential_type: str
    description: str
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    owner: str
    created_at: dt.datetime
    updated_at: dt.datetime
    token_expiry: dt.datetime | None = None
    version: int = 1
    #: oauth2: the scopes the provider granted (never secret).
    scopes: tuple[str, ...] = ()
    #: The names of the fields the data holds (never their values).
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The `show --json` object of SPEC §12."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "credential_type": self.credential_type,
            "description": self.description,
            "tags": list(self.tags),
            "metadata": dict(self.metadata),
            "owner": self.owner,
            "created_at": to_rfc3339(self.created_at),
            "updated_at": to_rfc3339(self.updated_at),
            "version": self.version,
            "fields": list(self.fields),
        }
        if self.credential_type == "oauth2":
            out["token_expiry"] = to_rfc3339(self.token_expiry) if self.token_expiry else None
        return out


_UNSET: Any = object()


class CredentialUpdate(NamedTuple):
    """Changes to apply to a credential; unset fields stay as they are."""

    name: str | None = None
    description: str | None = None
    tags: tuple[str, ...] | None = None
    metadata: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    #: Single metadata entries to set (a None value removes one), applied under the lock
    #: to what is stored then, after `metadata` (if given) replaced it.
    metadata_changes: Mapping[str, Any] | None = None
    #: Single data fields to set (a None value removes one), merged under the lock like
    #: `metadata_changes`; the merged data is validated by the type.
    data_changes: Mapping[str, Any] | None = None

    def __repr__(self) -> str:  # never the data: it holds secrets
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in ("name", "description", "tags", "metadata", "metadata_changes")
            if getattr(self, name) is not None
        )
        hidden = "".join(
            f", {name}=***" for name in ("data", "data_changes") if getattr(self, name) is not None
        )
        return f"CredentialUpdate({shown}{hidden})"

    @classmethod
    def builder(cls) -> CredentialUpdateBuilder:
        """Start building an update, as in the seed."""
        return CredentialUpdateBuilder()

    def is_empty(self) -> bool:
        """True when the update changes nothing."""
        return all(
            v is None
            for v in (self.name, self.description, self.tags, self.metadata, self.data,
                      self.metadata_changes, self.data_changes)
        )  # fmt: skip


class UpsertResult(NamedTuple):
    """One item of `CredentialManager.batch_upsert`: its id and what happened to it."""

    id: CredentialId
    #: "created", "updated" or "unchanged".
    outcome: str


class CredentialUpdateBuilder:
    """Fluent builder for `CredentialUpdate`."""

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}

    def __repr__(self) -> str:  # the data may be secret
        return f"CredentialUpdateBuilder(fields={sorted(self._fields)})"

    def name(self, value: str) -> CredentialUpdateBuilder:
        """Rename the credential."""
        self._fields["name"] = value
        return self

    def description(self, value: str) -> CredentialUpdateBuilder:
        """Replace the description."""
        self._fields["description"] = value
        return self

    def tags(self, values: Sequence[str]) -> CredentialUpdateBuilder:
        """Replace the tags."""
        self._fields["tags"] = tuple(values)
        return self

    def metadata(self, value: Mapping[str, Any]) -> CredentialUpdateBuilder:
        """Replace the metadata (a JSON object)."""
        self._fields["metadata"] = dict(value)
        return self

    def set_metadata(self, key: str, value: Any) -> CredentialUpdateBuilder:
        """Set one metadata entry, keeping the others (None removes it)."""
        self._fields.setdefault("metadata_changes", {})[key] = value
        return self

    def data(self, value: Mapping[str, Any]) -> CredentialUpdateBuilder:
        """Replace the secret data (validated against the type)."""
        self._fields["data"] = dict(value)
        return self

    def build(self) -> CredentialUpdate:
        """The finished update."""
        return CredentialUpdate(**self._fields)


class CredentialInput(NamedTuple):
    """One item of `batch_create`."""

    credential_type: str
    data: Mapping[str, Any]
    name: str | None = None
    description: str = ""
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] | None = None
    #: Variable names to remember by field (``{"token": "STRIPE_KEY"}``): `credctl env`
    #: exports the field under this name by default (what a dotenv import read).
    env_names: Mapping[str, str] | None = None

    @classmethod
    def api_key(
        cls, key: str, param_name: str = "X-API-Key", *, name: str | None = None
    ) -> CredentialInput:
        """An `api_key` input, as the seed's ``CredentialInput::api_key(key, param_name)``."""
        return cls("api_key", {"key": key, "param_name": param_name}, name=name)

    def __repr__(self) -> str:  # never the data: it holds secrets
        return (
            f"CredentialInput(credential_type={self.credential_type!r}, data=***, "
            f"name={self.name!r}, description={self.description!r}, tags={self.tags!r}, "
            f"metadata={self.metadata!r})"
        )


class StorageKind(enum.Enum):
    """Where a `StorageBackend` keeps records."""

    MEMORY = "memory"
    FILE = "file"
    CUSTOM = "custom"
    #: A shared engine reached by URL (SPEC §13): ``sqlite:///PATH``, ``postgresql://…``,
    #: ``vault://HOST/MOUNT``, ``awssm://REGION/PREFIX``, ``azurekv://NAME``.
    DATABASE = "database"
    VAULT = "vault"
    AWS_SECRETS_MANAGER = "aws-secrets-manager"
    AZURE_KEY_VAULT = "azure-key-vault"


#: URL schemes of the record backends beyond the vault file, by kind.
BACKEND_SCHEMES: Mapping[str, StorageKind] = {
    "sqlite": StorageKind.DATABASE,
    "postgresql": StorageKind.DATABASE,
    "postgres": StorageKind.DATABASE,
    "vault": StorageKind.VAULT,
    "awssm": StorageKind.AWS_SECRETS_MANAGER,
    "azurekv": StorageKind.AZURE_KEY_VAULT,
}


class _StorageBackendFields(NamedTuple):
    kind: StorageKind
    path: Path | None = None
    storage: Any = None
    url: str | None = None
    token: str | None = None

    def __repr__(self) -> str:  # the Vault token is a secret
        parts = [f"kind={self.kind.name}"]
        if self.path is not None:
            parts.append(f"path={str(self.path)!r}")
        if self.url is not None:
            parts.append(f"url={self.url!r}")
        if self.storage is not None:
            parts.append(f"storage={self.storage!r}")
        if self.token is not None:
            parts.append("token=***")
        return f"StorageBackend({', '.join(parts)})"


class StorageBackend(_StorageBackendFields):
    """The seed's `StorageBackend` enum: ``Memory``, ``File(path)`` or ``Custom(storage)``.

    Build one with `memory()`, `file(path)`, `custom(storage)`, or the seed's spellings
    (SPEC §13): ``StorageBackend.Memory`` (the value itself, as the seed's unit
    variant), ``StorageBackend.File(path=…)`` and ``StorageBackend.Custom(storage)``.
    """

    __slots__ = ()

    @classmethod
    def memory(cls) -> StorageBackend:
        """Records kept in this process only (tests, throw-away use)."""
        return cls(StorageKind.MEMORY)

    @classmethod
    def file(cls, path: Path | str | None = None) -> StorageBackend:
        """An encrypted vault file (default: the CLI's default vault)."""
        return cls(StorageKind.FILE, Path(path) if path is not None else None)

    @classmethod
    def custom(cls, storage: Any) -> StorageBackend:
        """Any object that implements `credctl.storage.CredentialStorage`."""
        return cls(StorageKind.CUSTOM, storage=storage)

    @classmethod
    def database(cls, url: str) -> StorageBackend:
        """PostgreSQL (``postgresql://user@host/db``) or SQLite (``sqlite:///PATH``)."""
        return cls.from_url(url, expect=StorageKind.DATABASE)

    @classmethod
    def vault(cls, url: str, token: str | None = None, *, mount: str = "secret") -> StorageBackend:
        """HashiCorp Vault's KV v2 engine: ``https://vault.example.com`` (mount `mount`)
        or ``vault://HOST/MOUNT``; `token` defaults to ``VAULT_TOKEN``."""
        if url.startswith(("http://", "https://")):
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            tls = "" if parts.scheme == "https" else "?tls=false"
            url = f"vault://{parts.netloc}/{mount}{tls}"
        return cls.from_url(url, expect=StorageKind.VAULT)._replace(token=token)

    @classmethod
    def aws_secrets_manager(cls, region: str, prefix: str = "credctl") -> StorageBackend:
        """AWS Secrets Manager in `region`; secret names start with `prefix`."""
        return cls.from_url(f"awssm://{region}/{prefix}", expect=StorageKind.AWS_SECRETS_MANAGER)

    @classmethod
    def azure_key_vault(cls, url: str) -> StorageBackend:
        """Azure Key Vault: ``https://NAME.vault.azure.net`` or ``azurekv://NAME``."""
        if url.startswith("https://"):
            from urllib.parse import urlsplit

            host = urlsplit(url).hostname or ""
            url = f"azurekv://{host.split('.', 1)[0]}"
        return cls.from_url(url, expect=StorageKind.AZURE_KEY_VAULT)

    @classmethod
    def from_url(cls, url: str, *, expect: StorageKind | None = None) -> StorageBackend:
        """The backend a ``--backend`` URL names; a plain path or ``file:PATH`` is a
        vault file.  An unknown scheme is `InvalidInput` (exit 9)."""
        from credctl.errors import InvalidInput

        scheme, sep, rest = url.partition(":")
        if not sep or (scheme not in BACKEND_SCHEMES and scheme != "file"):
            if expect is None and "://" not in url:
                return cls.file(url)
            raise InvalidInput(
                f"unknown storage backend {url.split(':', 1)[0]!r}",
                hint="use sqlite:///PATH, postgresql://…, vault://HOST/MOUNT, "
                "awssm://REGION/PREFIX, azurekv://NAME, or a vault file path",
            )
        if scheme == "file":
            path = rest[2:] if rest.startswith("//") else rest
            return cls.file(path)
        kind = BACKEND_SCHEMES[scheme]
        if expect is not None and kind is not expect:
            raise InvalidInput(f"{scheme}:// is not a {expect.value} URL")
        return cls(kind, url=url)

    # The seed's spellings: constructors are aliases of the methods above; `Memory`,
    # a variant without data, is a value (assigned below the class).
    Memory: ClassVar[StorageBackend]
    File = file
    Custom = custom
    Database = database
    Vault = vault
    AwsSecretsManager = aws_secrets_manager
    AzureKeyVault = azure_key_vault


StorageBackend.Memory = StorageBackend.memory()


class ManagerConfig(NamedTuple):
    """Everything `CredentialManager.with_config` takes; checked when the manager is built.

    The seed's six parts (`storage_backend`, `cache_config`, `security_config`,
    `rotation_config`, `audit_config`, `performance_config`) and `encryption_config`
    (the seed's `set_encryption_config`).  What each field does: docs/seed-000.md.
    """

    storage_backend: StorageBackend = StorageBackend(StorageKind.FILE)
    cache_config: CacheConfig = CacheConfig()
    security_config: SecurityConfig = SecurityConfig()
    rotation_config: RotationConfig = RotationConfig()
    audit_config: AuditConfig = AuditConfig()
    performance_config: PerformanceConfig = PerformanceConfig()
    encryption_config: EncryptionConfig = EncryptionConfig()

    @property
    def audit_logging(self) -> bool:
        """Whether activity is recorded: always (`AuditConfig`)."""
        return self.audit_config.enabled


class Metrics(NamedTuple):
    """System-wide numbers (`get_metrics`)."""

    total_credentials: int
    credentials_by_type: Mapping[str, int]
    tokens_served: int
    cache_hits: int
    cache_misses: int
    refresh_count: int
    avg_refresh_time: dt.timedelta | None

    @property
    def cache_hit_rate(self) -> float:
        """Hits over lookups in this process; 0.0 before any lookup."""
        lookups = self.cache_hits + self.cache_misses
        return self.cache_hits / lookups if lookups else 0.0


class CredentialMetrics(NamedTuple):
    """One credential's usage (`get_credential_metrics`), persisted across processes.

    The ``last_*`` fields say who made the last use, as the context of that call gave
    them (`UserContext` user and ip, `CredentialContext` execution and workflow ids);
    None where the call did not say or the log does not keep it.
    """

    credential_id: CredentialId
    usage_count: int
    last_used: dt.datetime | None
    refresh_count: int
    last_refreshed: dt.datetime | None = None
    last_user: str | None = None
    last_ip: str | None = None
    last_execution_id: str | None = None
    last_workflow_id: str | None = None


# -- interactive flows (seed: start_interactive_flow / complete_interactive_flow) --------

FlowId = str


class InteractionType:
    """What a person must do to finish an `InteractiveFlow`: `BrowserAuth` or `DeviceCode`.

    As the seed matches it: ``case InteractionType.BrowserAuth(auth_url=url): …``
    (``case BrowserAuth(auth_url=url)`` is the same).
    """

    __slots__ = ()
    BrowserAuth: ClassVar[type[BrowserAuth]]
    DeviceCode: ClassVar[type[DeviceCode]]


class _BrowserAuthFields(NamedTuple):
    auth_url: str
    redirect_uri: str


class BrowserAuth(_BrowserAuthFields, InteractionType):
    """The person opens `auth_url` in a browser; the provider redirects to `redirect_uri`."""

    __slots__ = ()


class _DeviceCodeFields(NamedTuple):
    verification_uri: str
    user_code: str
    verification_uri_complete: str | None = None
    interval: int = 5


class DeviceCode(_DeviceCodeFields, InteractionType):
    """The person opens `verification_uri` on any device and types `user_code` (RFC 8628)."""

    __slots__ = ()


InteractionType.BrowserAuth = BrowserAuth
InteractionType.DeviceCode = DeviceCode


class InteractiveFlow(NamedTuple):
    """A pending login, as `start_interactive_flow` returns it.

    `interaction_type` says what the person must do (``match flow.interaction_type:
    case BrowserAuth(auth_url=url): …``).  `state` is the value the provider must send
    back with the callback (it is already part of `auth_url`, so it is no secret from
    the person logging in); the flow is kept in the vault until `expires_at`.
    """

    id: FlowId
    credential_type: str
    interaction_type: BrowserAuth | DeviceCode
    expires_at: dt.datetime
    credential_name: str | None = None
    state: str | None = None

    def __repr__(self) -> str:  # `state` stays out of logs
        return (
            f"InteractiveFlow(id={self.id!r}, credential_type={self.credential_type!r}, "
            f"interaction_type={self.interaction_type!r}, expires_at={self.expires_at!r}, "
            f"credential_name={self.credential_name!r})"
        )


class CallbackData(NamedTuple):
    """What the provider sent back to the redirect URI (or nothing, for a device flow).

    `code` is secret and never shown by `repr`.  `from_url` parses a redirect URL.
    """

    code: str | None = None
    state: str | None = None
    iss: str | None = None
    error: str | None = None
    error_description: str | None = None

    def __repr__(self) -> str:  # the code and state are secret
        return (
            f"CallbackData(code={'***' if self.code else None}, "
            f"state={'***' if self.state else None}, iss={self.iss!r}, error={self.error!r})"
        )

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> CallbackData:
        """Build from the query parameters of a redirect."""
        return cls(
            code=params.get("code"),
            state=params.get("state"),
            iss=params.get("iss"),
            error=params.get("error"),
            error_description=params.get("error_description"),
        )

    @classmethod
    def from_url(cls, url: str) -> CallbackData:
        """Build from the full redirect URL (``http://127.0.0.1:PORT/callback?code=…``)."""
        from urllib.parse import parse_qsl, urlsplit

        from credctl.errors import InvalidCallback

        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            # RFC 6749 §3.1: parameters MUST NOT be repeated; a second `state` or `code` is
            # how a forged callback would try to slip past the check.
            raise InvalidCallback("the callback repeats a parameter")
        return cls.from_query(dict(pairs))


def checked_manager_config(config: ManagerConfig) -> ManagerConfig:
    """Every part of `config` checked and normalised, or `InvalidInput` naming the part."""
    config = manager_config.typed(config, ManagerConfig, "the manager configuration")
    backend: object = config.storage_backend
    if not isinstance(backend, StorageBackend):
        function = getattr(backend, "__func__", None)
        if getattr(backend, "__self__", None) is StorageBackend and function is not None:
            # Name it as the caller wrote it: the seed's `Vault` rather than `vault`.
            names = [name for name, value in vars(StorageBackend).items()
                     if isinstance(value, classmethod) and value.__func__ is function]  # fmt: skip
            name = max(names, key=lambda n: n[:1].isupper(), default=function.__name__)
            raise InvalidInput(
                f"StorageBackend.{name} is a constructor, not a backend",
                hint=f"call it with its settings: StorageBackend.{name}(…)",
            )
        raise InvalidInput(
            f"storage_backend must be a StorageBackend, not {type(backend).__name__}"
        )
    return config._replace(
        cache_config=manager_config.checked_cache(config.cache_config),
        security_config=manager_config.checked_security(config.security_config),
        rotation_config=manager_config.checked_rotation(config.rotation_config),
        audit_config=manager_config.checked_audit(config.audit_config),
        performance_config=manager_config.checked_performance(
            config.performance_config, backend.kind.value
        ),
        encryption_config=manager_config.checked_encryption(config.encryption_config),
    )
