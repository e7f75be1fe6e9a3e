"""Seed 000 (the CredentialManager API reference) as its Python readers write it.

Each test is one example of ``shared/seeds/000_54b3ecf4686f00aa.txt``, translated line by
line: ``CredentialManager::builder()`` is ``CredentialManager.builder()``, ``&id`` is
``id``, ``json!({...})`` a dict, ``Duration::from_secs(300)`` is ``300`` (or a
`timedelta`), ``Duration::days(30)`` is ``timedelta(days=30)``, ``.await?`` disappears.
Where a test must depart from the seed (a value the seed leaves as ``"..."``, a server
the test cannot reach) a comment says so; docs/seed-000.md lists every method and type.

Examples that need an API another branch adds (rotation, audit, the remote storage
backends) are real tests marked ``xfail(strict=True)``: they fail today and must pass
once that branch is merged, when the mark is removed.  `test_mypy_accepts_the_examples`
runs mypy --strict over this file.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import credctl
from credctl import (
    AccessDenied,
    BrowserAuth,
    CacheConfig,
    CacheStrategy,
    CallbackData,
    CircuitBreaker,
    CredentialContext,
    CredentialError,
    CredentialId,
    CredentialInput,
    CredentialManager,
    CredentialUpdate,
    EncryptionAlgorithm,
    EncryptionConfig,
    HealthStatus,
    InteractionRequired,
    InteractionType,
    InteractiveFlow,
    InvalidCallback,
    KeyDerivation,
    ManagerConfig,
    NotFound,
    SecurityConfig,
    ServiceUnavailable,
    StorageBackend,
    StorageError,
    UserContext,
    retry,
)
from credctl.storage.memory import MemoryStorage
from credctl.vault import KdfParams, Vault
from tests.conftest import PASSPHRASE
from tests.seed_provider import CLIENT_ID, CLIENT_SECRET, SeedProvider

FAKE_KEY = "sk_live_FAKE-SECRET-abc123"  # the seed's "sk_live_abc123", obviously fake
CHEAP = KdfParams(19 * 1024, 2, 1)


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is not a terminal: nothing may prompt."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def vault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default vault of `CredentialManager.new()`: CREDCTL_VAULT, unlocked by a passphrase."""
    path = tmp_path / "vaults" / "seed.credctl"
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    return path


@pytest.fixture(params=["memory", "file"])
def manager(request: pytest.FixtureRequest) -> CredentialManager:
    """The examples' `manager`, on the memory backend and on a vault file."""
    if request.param == "memory":
        backend = StorageBackend.Memory
    else:
        backend = StorageBackend.File(path=request.getfixturevalue("vault_file"))
    return CredentialManager.builder().storage_backend(backend).build()


@pytest.fixture
def provider() -> Iterator[SeedProvider]:
    """A local OAuth provider and API in place of Google and api.example.com."""
    started = SeedProvider()
    yield started
    started.close()


@pytest.fixture
def context() -> UserContext:
    return UserContext.new("user123", "192.168.1.1")


@pytest.fixture
def id(manager: CredentialManager, context: UserContext) -> CredentialId:
    """The api_key credential of the create_credential example."""
    return manager.create_credential(
        "api_key", {"api_key": FAKE_KEY, "param_name": "X-API-Key"}, context
    )


def oauth2_input(provider: SeedProvider) -> dict[str, Any]:
    """The seed's oauth2 input, with the local provider where it says ``"google"``."""
    return {
        "issuer": provider.url,  # the seed: "provider": "google"
        "client_id": CLIENT_ID,  # the seed: "..."
        "client_secret": CLIENT_SECRET,  # the seed: "..."
        "scopes": ["email", "profile"],
    }


def log_in(manager: CredentialManager, provider: SeedProvider, id: CredentialId) -> None:
    """`get_token` asks a person to log in; the person does, in the provider's browser."""
    with pytest.raises(InteractionRequired) as needed:
        manager.get_token(id)
    flow = needed.value.flow
    assert flow is not None
    assert needed.value.flow_id == flow.id
    match flow.interaction_type:
        case InteractionType.BrowserAuth(auth_url=auth_url):
            landed_on = provider.browse(auth_url)
        case _:
            pytest.fail(f"a browser login was expected, not {flow.interaction_type!r}")
    assert manager.complete_interactive_flow(flow.id, CallbackData.from_url(landed_on)) == id


def expire(manager: CredentialManager, id: CredentialId, *, seconds_left: float) -> None:
    """Make the stored access token expire `seconds_left` from now (the clock moves on)."""
    from credctl.model import to_rfc3339

    with manager.storage.writer() as draft:
        record = dict(draft.get_by_id(id) or {})
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_left)
        record["data"] = {**record["data"], "token_expiry": to_rfc3339(moment)}
        draft.put(record)


# -- Constructor ---------------------------------------------------------------------------


def test_new(vault_file: Path) -> None:
    manager = CredentialManager.new()
    created = manager.create_credential("token", {"token": FAKE_KEY}, name="new")
    assert CredentialManager.new().get_credential("new").id == created


def test_with_config() -> None:
    config = ManagerConfig(
        storage_backend=StorageBackend.Memory,  # the seed: StorageBackend::Vault
        cache_config=CacheConfig.default(),
        security_config=SecurityConfig.strict(),
    )

    manager = CredentialManager.with_config(config)
    assert manager.config.security_config == SecurityConfig.strict()
    assert manager.get_token(manager.create_credential("token", {"token": FAKE_KEY})).value


def test_with_config_as_written() -> None:
    """``StorageBackend::Vault`` has settings (url, token): a bare constructor is refused."""
    config = ManagerConfig(
        storage_backend=StorageBackend.Vault,  # type: ignore[arg-type, unused-ignore]
        cache_config=CacheConfig.default(),
        security_config=SecurityConfig.strict(),
    )

    with pytest.raises(credctl.InvalidInput, match=r"StorageBackend\.Vault"):
        CredentialManager.with_config(config)


def test_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "credentials.credctl"
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = (
        CredentialManager.builder()
        .storage_backend(StorageBackend.File(path=path))  # the seed: a PostgreSQL database
        .cache_ttl(300)
        .enable_audit_logging()
        .build()
    )

    assert manager.config.cache_config.ttl == dt.timedelta(seconds=300)
    assert manager.config.audit_config.enabled
    created = manager.create_credential("token", {"token": FAKE_KEY})
    assert manager.get_token(created).value.expose() == FAKE_KEY


def test_builder_as_written() -> None:
    manager = (
        CredentialManager.builder()
        .storage_backend(StorageBackend.Database(url="postgresql://localhost/credentials"))
        .cache_ttl(300)
        .enable_audit_logging()
        .build()
    )

    assert manager.config.storage_backend == StorageBackend.database(
        "postgresql://localhost/credentials"
    )
    assert manager.config.cache_config.ttl == dt.timedelta(seconds=300)


# -- Credential Operations -----------------------------------------------------------------


def test_create_credential(manager: CredentialManager) -> None:
    id = manager.create_credential(
        "api_key",
        {"api_key": FAKE_KEY, "param_name": "X-API-Key"},
        UserContext.new("user123", "192.168.1.1"),
    )

    credential = manager.get_credential(id)
    assert (credential.credential_type, credential.owner) == ("api_key", "user123")


def test_create_credential_idempotent(manager: CredentialManager, context: UserContext) -> None:
    input = {"api_key": FAKE_KEY, "param_name": "X-API-Key"}
    id = manager.create_credential_idempotent("api_key", input, context, "unique-request-123")

    again = manager.create_credential_idempotent("api_key", input, context, "unique-request-123")
    assert again == id


def test_get_credential(
    manager: CredentialManager, id: CredentialId, capsys: pytest.CaptureFixture[str]
) -> None:
    credential = manager.get_credential(id)
    print(f"Type: {credential.credential_type}")
    print(f"Created: {credential.created_at}")

    shown = capsys.readouterr().out
    assert "Type: api_key\n" in shown
    assert f"Created: {credential.created_at}" in shown
    assert FAKE_KEY not in repr(credential)


def test_get_token(manager: CredentialManager, id: CredentialId, provider: SeedProvider) -> None:
    token = manager.get_token(id)

    # Use token in request (the seed's `client.request()`)
    status = provider.get("/data", {"Authorization": token.value.expose()})
    assert status == 401  # an API key is no Bearer token to this API, but it was sent
    assert provider.api_calls == [FAKE_KEY]
    assert str(token.value) == "***"


def test_get_token_with_context(manager: CredentialManager, id: CredentialId) -> None:
    execution_id, workflow_id, user_id = "exec-42", "wf-7", "user123"  # id's owner
    context = (
        CredentialContext.builder()
        .execution_id(execution_id)
        .workflow_id(workflow_id)
        .user_id(user_id)
        .build()
    )

    token = manager.get_token_with_context(id, context)
    assert token.value.expose() == FAKE_KEY
    with pytest.raises(AccessDenied):
        manager.get_token_with_context(id, CredentialContext.builder().user_id("bob").build())


def test_update_credential(manager: CredentialManager, id: CredentialId) -> None:
    updates = (
        CredentialUpdate.builder()
        .description("Updated API key for production")
        .tags(["production", "api"])
        .metadata({"last_used": "2024-08-24", "owner": "api-team"})
        .build()
    )

    manager.update_credential(id, updates)
    credential = manager.get_credential(id)
    assert credential.description == "Updated API key for production"
    assert credential.tags == ("production", "api")
    assert dict(credential.metadata) == {"last_used": "2024-08-24", "owner": "api-team"}


def test_delete_credential(manager: CredentialManager, id: CredentialId) -> None:
    manager.delete_credential(id)

    with pytest.raises(NotFound) as gone:
        manager.get_credential(id)
    assert gone.value.credential_id == id


# -- Lifecycle Management ------------------------------------------------------------------


def test_refresh_credential(manager: CredentialManager, provider: SeedProvider) -> None:
    id = manager.create_credential("oauth2", oauth2_input(provider), UserContext.system())
    log_in(manager, provider, id)
    before = manager.get_token(id)

    new_token = manager.refresh_credential(id)
    assert new_token.value.expose() != before.value.expose()
    assert provider.grants == ["authorization_code", "refresh_token"]


def test_refresh_all_expired(
    manager: CredentialManager, provider: SeedProvider, capsys: pytest.CaptureFixture[str]
) -> None:
    id = manager.create_credential("oauth2", oauth2_input(provider), UserContext.system())
    log_in(manager, provider, id)
    expire(manager, id, seconds_left=-5)

    refreshed = manager.refresh_all_expired()
    print(f"Refreshed {len(refreshed)} credentials")
    assert refreshed == [id]
    assert capsys.readouterr().out == "Refreshed 1 credentials\n"


def test_rotate_credential(manager: CredentialManager, id: CredentialId) -> None:
    old_id = id
    # credctl's difference: an api_key cannot make a new key by itself, so the new
    # value is given (a policy's --generate or --command would do instead).
    new_id = manager.rotate_credential(old_id, {"api_key": "sk_live_FAKE-SECRET-def456"})
    print(f"Rotated {old_id} to {new_id}")
    assert new_id != old_id
    assert manager.get_token(new_id).value.expose() == "sk_live_FAKE-SECRET-def456"


def test_rotate_credential_without_a_new_secret_says_how(
    manager: CredentialManager, id: CredentialId
) -> None:
    with pytest.raises(credctl.InvalidInput, match="no way to get a new secret") as caught:
        manager.rotate_credential(id)
    assert "--generate" in (caught.value.hint or "")
    assert manager.get_token(id).value.expose() == FAKE_KEY


def test_schedule_rotation(manager: CredentialManager, id: CredentialId) -> None:
    manager.schedule_rotation(id, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))


def test_set_rotation_policy(manager: CredentialManager, id: CredentialId) -> None:
    from credctl import RotationPolicy, RotationStrategy

    policy = (
        RotationPolicy.builder()
        .interval(dt.timedelta(days=90))
        .warning_period(dt.timedelta(days=7))
        .strategy(RotationStrategy.BlueGreen)
        .build()
    )

    manager.set_rotation_policy(id, policy)


# -- Interactive Flows ---------------------------------------------------------------------


def test_start_interactive_flow(
    manager: CredentialManager, context: UserContext, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = manager.start_interactive_flow(
        "oauth2",
        {"provider": "google", "client_id": "...", "scopes": ["email", "profile"]},
        context,
    )

    match flow.interaction_type:
        case InteractionType.BrowserAuth(auth_url=auth_url):
            print(f"Open browser to: {auth_url}")
        case _:
            pass
    shown = capsys.readouterr().out
    assert shown.startswith("Open browser to: https://accounts.google.com/o/oauth2/v2/auth?")
    query = parse_qs(urlsplit(shown.split(": ", 1)[1].strip()).query)
    assert query["client_id"] == ["..."]
    assert query["scope"] == ["email profile"]
    assert query["redirect_uri"] == ["http://127.0.0.1:8749/callback"]  # credctl's default
    assert query["code_challenge_method"] == ["S256"]
    assert isinstance(flow, InteractiveFlow)
    assert isinstance(flow.interaction_type, BrowserAuth)
    assert flow.interaction_type.redirect_uri == "http://127.0.0.1:8749/callback"


def test_complete_interactive_flow(
    manager: CredentialManager, provider: SeedProvider, context: UserContext
) -> None:
    flow = manager.start_interactive_flow("oauth2", oauth2_input(provider), context)

    # The seed's literal callback carries a state that is not the flow's: refused.
    callback_data = CallbackData(code="auth_code_123", state="csrf_token")
    with pytest.raises(InvalidCallback):
        manager.complete_interactive_flow(flow.id, callback_data)

    # What the provider really sent back completes the same (still pending) flow.
    assert isinstance(flow.interaction_type, BrowserAuth)
    callback_data = CallbackData.from_url(provider.browse(flow.interaction_type.auth_url))
    credential_id = manager.complete_interactive_flow(flow.id, callback_data)
    assert manager.get_token(credential_id).value.expose().startswith("FAKE-SECRET-at-")


# -- Storage Configuration -----------------------------------------------------------------


def test_set_storage_backend(manager: CredentialManager, tmp_path: Path) -> None:
    manager.set_storage_backend(StorageBackend.Memory)  # the seed: StorageBackend::Vault {…}
    assert manager.config.storage_backend == StorageBackend.memory()
    manager.set_storage_backend(StorageBackend.File(path=tmp_path / "other.credctl"))
    assert manager.config.storage_backend.path == tmp_path / "other.credctl"


def test_set_storage_backend_as_written(manager: CredentialManager) -> None:
    manager.set_storage_backend(
        StorageBackend.Vault(url="https://vault.example.com", token="FAKE-SECRET-vault_token")
    )

    assert manager.config.storage_backend == StorageBackend.vault(
        "https://vault.example.com", "FAKE-SECRET-vault_token"
    )


def test_set_encryption_config(manager: CredentialManager) -> None:
    manager.set_encryption_config(
        EncryptionConfig(
            algorithm=EncryptionAlgorithm.Aes256Gcm,
            key_rotation_interval=dt.timedelta(days=90),
            key_derivation=KeyDerivation.Argon2id,
        )
    )

    assert manager.config.encryption_config == EncryptionConfig()


# -- Cache Management ----------------------------------------------------------------------


def test_set_cache_config(manager: CredentialManager) -> None:
    manager.set_cache_config(
        CacheConfig(
            enabled=True,
            ttl=dt.timedelta(seconds=300),
            max_size=1000,
            strategy=CacheStrategy.Lru,
        )
    )

    assert manager.config.cache_config == CacheConfig.default()


def test_clear_cache(manager: CredentialManager, id: CredentialId) -> None:
    manager.get_token(id)
    manager.get_token(id)
    assert manager.get_metrics().cache_hits == 1

    manager.clear_cache()

    manager.get_token(id)
    assert manager.get_metrics().cache_misses == 2


def test_clear_cache_for(manager: CredentialManager, id: CredentialId) -> None:
    manager.get_token(id)

    manager.clear_cache_for(id)

    manager.get_token(id)
    assert (manager.get_metrics().cache_hits, manager.get_metrics().cache_misses) == (0, 2)


# -- Monitoring & Health -------------------------------------------------------------------


def describe(health: HealthStatus) -> str:
    """The seed's match, printing into a string."""
    match health:
        case HealthStatus.Healthy:
            return "System healthy"
        case HealthStatus.Degraded(issues):
            return f"Issues: {issues}"
        case HealthStatus.Unhealthy(error):
            return f"Error: {error}"
    return "unreachable"


def test_health_check(manager: CredentialManager, id: CredentialId) -> None:
    health = manager.health_check()

    assert describe(health) == "System healthy"
    assert health == HealthStatus.Healthy


def test_health_check_degraded(vault_file: Path) -> None:
    manager = CredentialManager.new()
    vault_file.chmod(0o644)

    health = manager.health_check()

    assert describe(health).startswith("Issues: (")
    assert isinstance(health, HealthStatus.Degraded)
    assert any("0644" in issue for issue in health.issues)


def test_health_check_unhealthy() -> None:
    class Unreachable(MemoryStorage):
        def snapshot(self) -> Any:
            raise StorageError("the storage is unreachable")

    manager = CredentialManager.builder().storage_backend(StorageBackend.Custom(Unreachable()))
    health = manager.build().health_check()

    assert describe(health) == "Error: the storage is unreachable"
    assert health == HealthStatus.Unhealthy("the storage is unreachable")


def test_get_metrics(
    manager: CredentialManager, id: CredentialId, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.get_token(id)
    manager.get_token(id)

    metrics = manager.get_metrics()
    print(f"Total credentials: {metrics.total_credentials}")
    print(f"Cache hit rate: {metrics.cache_hit_rate * 100.0:.2f}%")
    print(f"Average refresh time: {metrics.avg_refresh_time!r}")
    assert capsys.readouterr().out == (
        "Total credentials: 1\nCache hit rate: 50.00%\nAverage refresh time: None\n"
    )


def test_get_credential_metrics(
    manager: CredentialManager, id: CredentialId, capsys: pytest.CaptureFixture[str]
) -> None:
    manager.get_token(id)

    metrics = manager.get_credential_metrics(id)
    print(f"Usage count: {metrics.usage_count}")
    print(f"Last used: {metrics.last_used!r}")
    print(f"Refresh count: {metrics.refresh_count}")
    shown = capsys.readouterr().out
    assert "Usage count: 1\n" in shown
    assert "Refresh count: 0\n" in shown
    assert metrics.last_used is not None


def test_get_credential_metrics_name_who_used_it(context: UserContext) -> None:
    """The context of a read (user, ip, execution and workflow ids) is in the metrics."""
    manager = CredentialManager.builder().storage_backend(StorageBackend.Memory).build()
    id = manager.create_credential("token", {"token": FAKE_KEY}, context)
    token_context = (
        CredentialContext.builder()
        .execution_id("exec-42")
        .workflow_id("wf-7")
        .user_id("user123")
        .ip("192.168.1.1")
        .build()
    )
    manager.get_token_with_context(id, token_context)

    metrics = manager.get_credential_metrics(id)
    assert metrics.usage_count == 1
    assert (metrics.last_user, metrics.last_ip) == ("user123", "192.168.1.1")
    assert (metrics.last_execution_id, metrics.last_workflow_id) == ("exec-42", "wf-7")
    manager.get_token_with_context(id, UserContext.new("user123", "198.51.100.7"))
    metrics = manager.get_credential_metrics(id)
    assert (metrics.last_ip, metrics.last_execution_id) == ("198.51.100.7", None)


def test_get_credential_metrics_name_who_used_it_on_a_vault(
    vault_file: Path, context: UserContext
) -> None:
    manager = CredentialManager.new()
    id = manager.create_credential("token", {"token": FAKE_KEY}, context)
    token_context = (
        CredentialContext.builder().execution_id("exec-42").workflow_id("wf-7").user_id("user123")
    ).build()
    manager.get_token_with_context(id, token_context)

    metrics = CredentialManager.new().get_credential_metrics(id)
    assert (metrics.last_execution_id, metrics.last_workflow_id) == ("exec-42", "wf-7")


# -- Audit & Compliance --------------------------------------------------------------------


def test_get_audit_logs(
    manager: CredentialManager, id: CredentialId, capsys: pytest.CaptureFixture[str]
) -> None:
    from credctl import AuditAction, AuditFilter

    manager.get_token(id)
    filter = (
        AuditFilter.builder()
        .credential_id(id)
        .action_type(AuditAction.GetToken)
        .date_range(dt.datetime.now(dt.UTC) - dt.timedelta(days=7), dt.datetime.now(dt.UTC))
        .build()
    )

    logs = manager.get_audit_logs(filter)
    for log in logs:
        print(f"{log.timestamp}: {log.action} by {log.user_id}")
    assert len(logs) == 1


def test_export_audit_report(manager: CredentialManager, id: CredentialId, tmp_path: Path) -> None:
    from credctl import AuditFilter, ExportFormat

    report = manager.export_audit_report(ExportFormat.Csv, AuditFilter.last_days(30))

    (tmp_path / "audit_report.csv").write_bytes(report)
    assert report.startswith(b"seq,timestamp,action,")


# -- Batch Operations ----------------------------------------------------------------------


def test_batch_create(manager: CredentialManager, context: UserContext) -> None:
    inputs = [
        CredentialInput.api_key("key1", "X-API-Key-1"),
        CredentialInput.api_key("key2", "X-API-Key-2"),
        CredentialInput.api_key("key3", "X-API-Key-3"),
    ]

    results = manager.batch_create(inputs, context)
    headers = [manager.get_token(r).header for r in results if isinstance(r, int)]
    assert [h.expose() for h in headers if h] == [f"X-API-Key-{n}: key{n}" for n in (1, 2, 3)]


def test_batch_delete(manager: CredentialManager) -> None:
    id1, id2, id3 = (manager.create_credential("token", {"token": FAKE_KEY}) for _ in range(3))

    results = manager.batch_delete([id1, id2, id3])
    assert results == [None, None, None]


# -- Error Handling ------------------------------------------------------------------------

# The seed's variants and their payloads: (variant, keyword of the payload, a value).
VARIANTS: list[tuple[str, str | None, object]] = [
    ("InvalidInput", None, None), ("DuplicateCredential", "credential_id", 1),
    ("UnsupportedType", None, None), ("NotFound", "credential_id", 2),
    ("AccessDenied", None, None), ("Expired", "credential_id", 3), ("NoToken", None, None),
    ("InvalidToken", None, None), ("RefreshNotSupported", None, None),
    ("RefreshFailed", None, None), ("NoRefreshToken", None, None),
    ("RotationFailed", None, None), ("RotationInProgress", "credential_id", 4),
    ("StorageError", None, None), ("EncryptionError", None, None),
    ("InteractionRequired", "flow_id", "flow-1"), ("FlowExpired", "flow_id", "flow-2"),
    ("InvalidCallback", None, None), ("ServiceUnavailable", None, None),
    ("InternalError", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("variant", "payload", "value"), VARIANTS)
def test_error_types(variant: str, payload: str | None, value: object) -> None:
    kind = getattr(CredentialError, variant)
    assert kind is getattr(credctl, variant)
    error = kind("what happened", **({payload: value} if payload else {}))
    assert isinstance(error, CredentialError)
    if payload:
        assert getattr(error, payload) == value
    assert error.retryable is (variant == "ServiceUnavailable")
    assert str(error) == "what happened"


def test_errors_raised_carry_their_payloads(
    manager: CredentialManager, provider: SeedProvider
) -> None:
    with pytest.raises(CredentialError.NotFound) as missing:
        manager.get_token(404)
    assert missing.value.credential_id == 404
    first = manager.create_credential("token", {"token": FAKE_KEY}, name="taken")
    with pytest.raises(CredentialError.DuplicateCredential) as duplicate:
        manager.create_credential("token", {"token": FAKE_KEY}, name="taken")
    assert duplicate.value.credential_id == first
    expired = manager.create_credential(
        "oauth2", {"access_token": FAKE_KEY, "token_expiry": "2001-01-01T00:00:00Z"}
    )
    with pytest.raises(CredentialError.Expired) as caught:
        manager.get_token(expired)
    assert caught.value.credential_id == expired
    never = manager.create_credential("oauth2", oauth2_input(provider))
    with pytest.raises(CredentialError.InteractionRequired) as needed:
        manager.get_token(never)
    assert needed.value.flow_id is not None and needed.value.flow is not None


def test_error_recovery(manager: CredentialManager, caplog: pytest.LogCaptureFixture) -> None:
    id = manager.create_credential("token", {"token": FAKE_KEY})
    # An expired token whose provider cannot be reached: ServiceUnavailable, retryable.
    primary_id = manager.create_credential(
        "oauth2",
        {"access_token": "FAKE-SECRET-old", "token_expiry": "2001-01-01T00:00:00Z",
         "refresh_token": "FAKE-SECRET-rt", "token_url": "http://127.0.0.1:9/token"},
    )  # fmt: skip
    fallback_id = id
    log = logging.getLogger("seed")

    # Retry pattern
    token = retry(lambda: manager.get_token(id), attempts=3, delay=0.1)
    assert token.value.expose() == FAKE_KEY

    # Fallback pattern
    try:
        token = manager.get_token(primary_id)
    except CredentialError as e:
        log.warning("Primary failed: %s, trying fallback", e)
        token = manager.get_token(fallback_id)
    assert token.value.expose() == FAKE_KEY
    assert "Primary failed: " in caplog.text
    assert "FAKE-SECRET" not in caplog.text

    # Circuit breaker pattern
    breaker = CircuitBreaker.new()
    token = breaker.call(lambda: manager.get_token(id))
    assert token.value.expose() == FAKE_KEY
    with pytest.raises(ServiceUnavailable) as unreachable:
        retry(lambda: manager.get_token(primary_id), attempts=2, delay=0.01)
    assert unreachable.value.retryable


README = Path(__file__).parent.parent / "README.md"


def test_readme_error_recovery_runs(vault_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The README's three patterns, run as they are printed."""
    section = README.read_text().split("#### Error recovery", 1)[1].split("\n##", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    setup = CredentialManager.new()
    setup.create_credential("token", {"token": FAKE_KEY}, name="github")
    setup.create_credential("token", {"token": "FAKE-SECRET-fallback"}, name="fallback")
    setup.create_credential(
        "oauth2",
        {"access_token": "FAKE-SECRET-old", "token_expiry": "2001-01-01T00:00:00Z",
         "refresh_token": "FAKE-SECRET-rt", "token_url": "http://127.0.0.1:9/token"},
        name="primary",
    )  # fmt: skip
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
    assert namespace["token"].value.expose() == FAKE_KEY
    assert namespace["breaker"].state == "closed"
    assert "primary failed: " in caplog.text
    assert "FAKE-SECRET" not in caplog.text


# -- Configuration Types -------------------------------------------------------------------


def test_manager_config() -> None:
    from credctl import AuditConfig, PerformanceConfig, RotationConfig

    config = ManagerConfig(
        storage_backend=StorageBackend.Memory,
        cache_config=CacheConfig.default(),
        security_config=SecurityConfig.default(),
        rotation_config=RotationConfig.default(),
        audit_config=AuditConfig.default(),
        performance_config=PerformanceConfig.default(),
    )

    assert CredentialManager.with_config(config).config == config


def test_storage_backend() -> None:
    storage = MemoryStorage()
    assert StorageBackend.Memory == StorageBackend.memory()
    assert StorageBackend.File(path=Path("/srv/vault.credctl")) == StorageBackend.file(
        "/srv/vault.credctl"
    )
    assert StorageBackend.Custom(storage) == StorageBackend.custom(storage)
    assert CredentialManager.builder().storage_backend(StorageBackend.Custom(storage)).build()


def test_storage_backend_remote_variants() -> None:
    assert StorageBackend.Database(url="postgresql://db/credentials") == (
        StorageBackend.database("postgresql://db/credentials")
    )
    assert StorageBackend.Vault(url="https://vault.example.com", token="FAKE-SECRET-t") == (
        StorageBackend.vault("https://vault.example.com", "FAKE-SECRET-t")
    )
    assert StorageBackend.AwsSecretsManager(region="eu-west-1") == (
        StorageBackend.aws_secrets_manager("eu-west-1")
    )
    assert StorageBackend.AzureKeyVault(url="https://kv.vault.azure.net") == (
        StorageBackend.azure_key_vault("https://kv.vault.azure.net")
    )


def test_cache_config() -> None:
    config = CacheConfig(
        enabled=True,
        ttl=dt.timedelta(seconds=300),
        max_size=1000,
        strategy=CacheStrategy.Lru,
        refresh_ahead=True,
    )

    assert config == CacheConfig.default()
    assert CacheStrategy.Lru is CacheStrategy.LRU


# -- Complete Example ----------------------------------------------------------------------


def complete_example(
    manager: CredentialManager, provider: SeedProvider, *, rotation_policy: bool
) -> None:
    """The seed's main() after the manager is built, with the local provider and API."""
    # Create credential
    id = manager.create_credential("oauth2", oauth2_input(provider), UserContext.system())

    # Set rotation policy
    if rotation_policy:
        from credctl import RotationPolicy

        manager.set_rotation_policy(id, RotationPolicy.periodic(dt.timedelta(days=30)))

    # Use credential: the first time, a person must log in (credctl's one difference).
    try:
        token = manager.get_token(id)
    except InteractionRequired as needed:
        flow = needed.flow
        if flow is None or not isinstance(flow.interaction_type, BrowserAuth):
            raise
        landed_on = provider.browse(flow.interaction_type.auth_url)
        manager.complete_interactive_flow(flow.id, CallbackData.from_url(landed_on))
        token = manager.get_token(id)

    # Make authenticated request
    status = provider.get("/data", {"Authorization": f"Bearer {token.value.expose()}"})
    assert status == 200
    assert provider.grants == ["authorization_code"]


def test_complete_example(
    provider: SeedProvider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As written, but for the rotation policy (see the xfail test below) and the backend."""
    path = tmp_path / "complete.credctl"
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    # Create manager
    manager = (
        CredentialManager.builder()
        .storage_backend(StorageBackend.File(path=path))  # the seed: StorageBackend::Vault
        .cache_ttl(300)
        .enable_audit_logging()
        .build()
    )
    complete_example(manager, provider, rotation_policy=False)


def test_complete_example_with_rotation_policy(provider: SeedProvider) -> None:
    manager = CredentialManager.builder().storage_backend(StorageBackend.Memory).build()
    complete_example(manager, provider, rotation_policy=True)


def test_complete_example_on_an_unreachable_vault(monkeypatch: pytest.MonkeyPatch) -> None:
    """The seed's backend, at an address nothing listens on: a clear, retryable error."""
    monkeypatch.setenv("VAULT_TOKEN", "FAKE-SECRET-vault-token")
    manager = (
        CredentialManager.builder()
        .storage_backend(
            StorageBackend.Vault(url="https://127.0.0.1:9", token=os.environ["VAULT_TOKEN"])
        )
        .cache_ttl(300)
        .enable_audit_logging()
        .build()
    )
    with pytest.raises(ServiceUnavailable) as caught:
        manager.create_credential("token", {"token": FAKE_KEY}, UserContext.system())
    assert caught.value.retryable
    assert "FAKE-SECRET" not in str(caught.value)


# -- Names and types -----------------------------------------------------------------------

#: Every name SPEC §4 and §13 list, and the seed's own type names.
SPEC_NAMES = [
    "CredentialManager", "UserContext", "CredentialContext", "CredentialUpdate",
    "RotationPolicy", "RotationStrategy", "InteractiveFlow", "CallbackData", "StorageBackend",
    "EncryptionConfig", "CacheConfig", "HealthStatus", "Metrics", "CredentialMetrics",
    "AuditFilter", "AuditEntry", "ExportFormat", "CredentialInput", "AuditAction",
    "CacheStrategy", "ManagerConfig", "SecurityConfig", "RotationConfig", "AuditConfig",
    "PerformanceConfig", "EncryptionAlgorithm", "KeyDerivation", "InteractionType",
    "BrowserAuth", "Token", "Credential", "CredentialId", "FlowId", "CircuitBreaker", "retry",
    *(variant for variant, _, _ in VARIANTS), "CredentialError",
]  # fmt: skip


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_every_spec_name_imports_from_credctl(name: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from credctl import {name}", namespace)  # noqa: S102 - a fixed import line
    assert namespace[name] is getattr(credctl, name)
    assert name in credctl.__all__


#: The seed's spellings of enum members and variants (SPEC §13): the same objects.
SPELLINGS: list[tuple[object, object]] = [
    (CacheStrategy.Lru, CacheStrategy.LRU),
    (EncryptionAlgorithm.Aes256Gcm, EncryptionAlgorithm.AES_256_GCM),
    (KeyDerivation.Argon2id, KeyDerivation.ARGON2ID),
    (HealthStatus.Healthy, HealthStatus.HEALTHY),
    (HealthStatus.Degraded, HealthStatus.DEGRADED),
    (HealthStatus.Unhealthy, HealthStatus.UNHEALTHY),
    (InteractionType.BrowserAuth, BrowserAuth),
    (CredentialError.NotFound, NotFound),
    (credctl.RotationStrategy.BlueGreen, credctl.RotationStrategy.BLUE_GREEN),
    (credctl.RotationStrategy.Immediate, credctl.RotationStrategy.IMMEDIATE),
]


@pytest.mark.parametrize(("seed", "canonical"), SPELLINGS)
def test_seed_spellings_are_the_same_objects(seed: object, canonical: object) -> None:
    assert seed is canonical


def _mypy_errors() -> list[str]:
    from mypy import api

    stdout, stderr, _status = api.run(
        ["--strict", "--no-incremental", "--follow-imports=silent", __file__]
    )
    assert not stderr, stderr
    return [line for line in stdout.splitlines() if ": error:" in line]


def test_mypy_accepts_every_example() -> None:
    """mypy --strict accepts every example as a seed reader writes it."""
    assert _mypy_errors() == []
