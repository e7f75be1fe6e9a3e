"""Every setting of the seed's `ManagerConfig` does something or is refused at build time.

Also: the OAuth examples as written (the default loopback redirect; `get_token` on an
oauth2 credential nobody logged in to yet asks for a login, in the library and on the
command line), the context that reaches the metrics, and the seed's `HealthStatus`.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from credctl import (
    AccessDenied,
    AuditConfig,
    BrowserAuth,
    CacheConfig,
    CallbackData,
    CredentialManager,
    CredentialManagerBuilder,
    EncryptionConfig,
    HealthState,
    HealthStatus,
    InteractionRequired,
    InvalidInput,
    PerformanceConfig,
    RotationConfig,
    SecurityConfig,
    StorageBackend,
    UserContext,
)
from credctl.errors import VaultBusyError
from credctl.oauth.settings import DEFAULT_REDIRECT_URI
from credctl.storage.memory import MemoryStorage
from credctl.vault import KdfParams, Vault
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback
from tests.seed_provider import CLIENT_ID, CLIENT_SECRET, SeedProvider

FAKE = "FAKE-SECRET-settings-0001"
CHEAP = KdfParams(19 * 1024, 2, 1)


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def vault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "vaults" / "settings.credctl"
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    return path


@pytest.fixture
def provider() -> Iterator[SeedProvider]:
    started = SeedProvider()
    yield started
    started.close()


def memory() -> CredentialManagerBuilder:
    return CredentialManager.builder().storage_backend(StorageBackend.Memory)


def oauth2_input(provider: SeedProvider) -> dict[str, Any]:
    return {"issuer": provider.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "scopes": ["email", "profile"]}  # fmt: skip


def logged_in(manager: CredentialManager, provider: SeedProvider) -> int:
    """An oauth2 credential after a login through the local provider."""
    flow = manager.start_interactive_flow("oauth2", {**oauth2_input(provider), "name": "corp"})
    assert isinstance(flow.interaction_type, BrowserAuth)
    landed_on = provider.browse(flow.interaction_type.auth_url)
    return manager.complete_interactive_flow(flow.id, CallbackData.from_url(landed_on))


def expire(manager: CredentialManager, id: int, *, seconds_left: float) -> None:
    from credctl.model import to_rfc3339

    with manager.storage.writer() as draft:
        record = dict(draft.get_by_id(id) or {})
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_left)
        record["data"] = {**record["data"], "token_expiry": to_rfc3339(moment)}
        draft.put(record)


# -- durations and validation at build() ------------------------------------------------


@pytest.mark.parametrize("ttl", [300, 300.0, dt.timedelta(seconds=300)])
def test_cache_ttl_takes_seconds_or_a_timedelta(ttl: float | dt.timedelta) -> None:
    """The seed's ``.cache_ttl(Duration::from_secs(300))``: the first get_token used to crash."""
    manager = memory().cache_ttl(ttl).build()
    assert manager.config.cache_config.ttl == dt.timedelta(seconds=300)
    credential_id = manager.create_credential("token", {"token": FAKE})
    assert manager.get_token(credential_id).value.expose() == FAKE
    assert manager.get_token(credential_id).value.expose() == FAKE
    assert (manager.get_metrics().cache_hits, manager.get_metrics().cache_misses) == (1, 1)


Change = Callable[[CredentialManagerBuilder], CredentialManagerBuilder]

#: Settings that make no sense, each refused by build() with a message naming it.
REFUSED: list[tuple[str, Change, str]] = [
    ("ttl as text", lambda b: b.cache_ttl("5m"), "cache ttl"),  # type: ignore[arg-type]
    ("negative ttl", lambda b: b.cache_ttl(-1), "cache ttl"),
    ("ttl not a number", lambda b: b.cache_ttl(float("nan")), "cache ttl"),
    ("ttl a bool", lambda b: b.cache_ttl(True), "cache ttl"),
    ("negative max_size", lambda b: b.cache_config(CacheConfig(max_size=-1)), "max_size"),
    ("fractional max_size", lambda b: b.cache_config(CacheConfig(max_size=1.5)),  # type: ignore[arg-type]
     "max_size"),
    ("strategy as text", lambda b: b.cache_config(CacheConfig(strategy="lru")),  # type: ignore[arg-type]
     "strategy"),
    ("enabled as text", lambda b: b.cache_config(CacheConfig(enabled="yes")),  # type: ignore[arg-type]
     "enabled"),
    ("refresh_ahead None", lambda b: b.cache_config(CacheConfig(refresh_ahead=None)),  # type: ignore[arg-type]
     "refresh_ahead"),
    ("another algorithm",
     lambda b: b.encryption_config(EncryptionConfig(algorithm="chacha20-poly1305")),  # type: ignore[arg-type]
     "encryption algorithm"),
    ("another KDF", lambda b: b.encryption_config(EncryptionConfig(key_derivation="pbkdf2")),  # type: ignore[arg-type]
     "key derivation"),
    ("zero key rotation interval",
     lambda b: b.encryption_config(EncryptionConfig(key_rotation_interval=0)),
     "key_rotation_interval"),
    ("security flag as text",
     lambda b: b.security_config(SecurityConfig(allow_env_passphrase="no")),  # type: ignore[arg-type]
     "allow_env_passphrase"),
    ("automatic rotation", lambda b: b.rotation_config(RotationConfig(auto_rotate=True)),
     "auto_rotate"),
    ("audit off", lambda b: b.audit_config(AuditConfig(enabled=False)), "always on"),
    ("lock timeout on memory",
     lambda b: b.performance_config(PerformanceConfig(lock_timeout=5)), "vault file"),
    ("a name for a backend", lambda b: b.storage_backend("memory"),  # type: ignore[arg-type]
     "StorageBackend"),
    ("a constructor for a backend", lambda b: b.storage_backend(StorageBackend.File),  # type: ignore[arg-type]
     r"StorageBackend.File is a constructor"),
    ("cache config of another type", lambda b: b.cache_config({"ttl": 5}),  # type: ignore[arg-type]
     "cache_config"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "named"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_nonsense_is_refused_when_the_manager_is_built(change: Change, named: str) -> None:
    builder = change(memory())
    with pytest.raises(InvalidInput) as caught:
        builder.build()
    assert named in str(caught.value)
    assert caught.value.exit_code == 9


def test_with_config_and_the_setters_refuse_too() -> None:
    from credctl import ManagerConfig

    with pytest.raises(InvalidInput, match="always on"):
        CredentialManager.with_config(ManagerConfig(audit_config=AuditConfig(enabled=False)))
    manager = memory().build()
    with pytest.raises(InvalidInput, match="encryption algorithm"):
        manager.set_encryption_config(EncryptionConfig(algorithm="AES-128-CBC"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cache ttl"):
        manager.set_cache_config(CacheConfig(ttl="soon"))  # type: ignore[arg-type]
    assert manager.config.encryption_config == EncryptionConfig()
    assert manager.config.cache_config == CacheConfig()
    on_file = CredentialManager.builder().storage_backend(StorageBackend.File(path="/v"))
    with pytest.raises(InvalidInput, match="lock_timeout must be more than zero"):
        on_file.performance_config(PerformanceConfig(lock_timeout=-1)).build()
    timed = on_file.performance_config(PerformanceConfig(lock_timeout=2)).build()
    with pytest.raises(InvalidInput, match="applies to a vault file, not to memory"):
        timed.set_storage_backend(StorageBackend.Memory)
    assert timed.config.storage_backend == StorageBackend.File(path="/v")
    with pytest.raises(InvalidInput, match="not to a storage object"):
        on_file.storage(MemoryStorage()).build()


def test_settings_given_as_seconds_are_kept_as_timedeltas() -> None:
    manager = (
        memory()
        .cache_config(CacheConfig(ttl=60))
        .encryption_config(EncryptionConfig(key_rotation_interval=86400))
        .build()
    )
    assert manager.config.cache_config.ttl == dt.timedelta(minutes=1)
    assert manager.config.encryption_config.key_rotation_interval == dt.timedelta(days=1)


def test_enable_audit_logging_states_the_always_on_trail() -> None:
    manager = memory().enable_audit_logging().build()
    assert manager.config.audit_config == AuditConfig(enabled=True)
    assert manager.config.audit_logging is True
    quiet = memory().build()  # no call: recorded all the same
    credential_id = quiet.create_credential("token", {"token": FAKE})
    quiet.get_token(credential_id)
    assert quiet.get_credential_metrics(credential_id).usage_count == 1


# -- CacheConfig.refresh_ahead, max_size, strategy ----------------------------------------


def test_refresh_ahead_false_does_not_renew_a_token_30_s_from_expiry(
    provider: SeedProvider,
) -> None:
    manager = memory().cache_config(CacheConfig(refresh_ahead=False)).build()
    credential_id = logged_in(manager, provider)
    expire(manager, credential_id, seconds_left=30)
    first = manager.get_token(credential_id).value.expose()
    assert provider.grants == ["authorization_code"]  # not renewed
    assert manager.refresh_all_expired() == []
    expire(manager, credential_id, seconds_left=-5)
    assert manager.get_token(credential_id).value.expose() != first  # expired: renewed
    assert provider.grants == ["authorization_code", "refresh_token"]


def test_refresh_ahead_true_renews_a_token_30_s_from_expiry(provider: SeedProvider) -> None:
    manager = memory().build()
    credential_id = logged_in(manager, provider)
    expire(manager, credential_id, seconds_left=30)
    manager.get_token(credential_id)
    assert provider.grants == ["authorization_code", "refresh_token"]
    expire(manager, credential_id, seconds_left=30)
    assert manager.refresh_all_expired() == [credential_id]


def test_max_size_and_strategy_decide_what_the_cache_keeps() -> None:
    manager = memory().cache_config(CacheConfig(max_size=2)).build()
    a, b, c = (manager.create_credential("token", {"token": FAKE}) for _ in range(3))
    for ref in (a, b, a, c):  # c evicts b, the least recently used
        manager.get_token(ref)
    manager.get_token(a)
    manager.get_token(b)
    metrics = manager.get_metrics()
    assert (metrics.cache_hits, metrics.cache_misses) == (2, 4)


# -- SecurityConfig ------------------------------------------------------------------------


def test_strict_refuses_a_passphrase_in_the_environment(vault_file: Path, tmp_path: Path) -> None:
    manager = (
        CredentialManager.builder()
        .storage_backend(StorageBackend.File(path=vault_file))
        .security_config(SecurityConfig.strict())
        .build()
    )
    with pytest.raises(AccessDenied) as caught:
        manager.create_credential("token", {"token": FAKE})
    assert "CREDCTL_PASSPHRASE" in str(caught.value)
    assert caught.value.hint is not None and "CREDCTL_PASSPHRASE_FILE" in caught.value.hint
    assert PASSPHRASE not in str(caught.value) + str(caught.value.hint)
    assert caught.value.exit_code == 5


def test_strict_accepts_a_passphrase_file(
    vault_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDCTL_PASSPHRASE")
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    monkeypatch.setenv("CREDCTL_PASSPHRASE_FILE", str(secret))
    manager = CredentialManager.builder().security_config(SecurityConfig.strict()).build()
    credential_id = manager.create_credential("token", {"token": FAKE})
    assert manager.get_token(credential_id).value.expose() == FAKE


def test_strict_refuses_plain_http_providers(provider: SeedProvider) -> None:
    manager = memory().security_config(SecurityConfig.strict()).build()
    with pytest.raises(AccessDenied, match="plain-http"):
        manager.start_interactive_flow("oauth2", oauth2_input(provider))
    with pytest.raises(AccessDenied, match="plain-http"):
        manager.login_client_credentials(
            "bot", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, token_url=f"{provider.url}/t"
        )
    never = manager.create_credential("oauth2", oauth2_input(provider))
    with pytest.raises(AccessDenied, match="plain-http"):
        manager.get_token(never)
    assert provider.grants == []


def test_strict_refuses_to_refresh_at_a_plain_http_provider(provider: SeedProvider) -> None:
    storage = MemoryStorage()
    manager = CredentialManager.builder().storage(storage).build()
    credential_id = logged_in(manager, provider)
    strict = CredentialManager.builder().storage(storage).security_config(SecurityConfig.strict())
    strict_manager = strict.build()
    expire(manager, credential_id, seconds_left=-5)
    with pytest.raises(AccessDenied, match="plain-http"):
        strict_manager.get_token(credential_id)
    with pytest.raises(AccessDenied, match="plain-http"):
        strict_manager.refresh_credential(credential_id)
    assert provider.grants == ["authorization_code"]


# -- PerformanceConfig.lock_timeout ------------------------------------------------------


def test_lock_timeout_is_how_long_a_write_waits_for_the_vault(vault_file: Path) -> None:
    manager = (
        CredentialManager.builder()
        .storage_backend(StorageBackend.File(path=vault_file))
        .performance_config(PerformanceConfig(lock_timeout=dt.timedelta(milliseconds=300)))
        .build()
    )
    manager.unlock()
    with Vault(vault_file).file.locked(), pytest.raises(VaultBusyError) as caught:
        manager.create_credential("token", {"token": FAKE})
    assert "for more than 0.3 s" in str(caught.value)
    assert caught.value.retryable
    assert manager.create_credential("token", {"token": FAKE}) == 1


# -- OAuth: the default redirect, and get_token before the first login ------------------


def test_a_browser_flow_without_redirect_uri_uses_the_loopback_default(
    provider: SeedProvider,
) -> None:
    manager = memory().build()
    flow = manager.start_interactive_flow("oauth2", oauth2_input(provider))
    assert isinstance(flow.interaction_type, BrowserAuth)
    assert flow.interaction_type.redirect_uri == DEFAULT_REDIRECT_URI
    landed_on = provider.browse(flow.interaction_type.auth_url)
    assert landed_on.startswith(DEFAULT_REDIRECT_URI + "?code=")
    assert manager.complete_interactive_flow(flow.id, CallbackData.from_url(landed_on)) == 1
    mine = manager.start_interactive_flow(
        "oauth2", {**oauth2_input(provider), "redirect_uri": "http://127.0.0.1:5000/cb"}
    )
    assert isinstance(mine.interaction_type, BrowserAuth)
    assert mine.interaction_type.redirect_uri == "http://127.0.0.1:5000/cb"


def test_get_token_before_the_first_login_starts_one_for_its_owner(
    provider: SeedProvider,
) -> None:
    manager = memory().build()
    alice = UserContext.new("alice", "192.0.2.1")
    credential_id = manager.create_credential("oauth2", oauth2_input(provider), alice, name="gh")
    with pytest.raises(InteractionRequired) as needed:
        manager.get_token_with_context(credential_id, alice)
    error = needed.value
    assert error.exit_code == 4
    assert error.hint == "log in first: credctl oauth login gh"
    assert error.flow is not None and error.flow.id == error.flow_id
    assert error.flow.credential_name == "gh"
    assert CLIENT_SECRET not in f"{error} {error.hint} {error.flow!r}"
    assert isinstance(error.flow.interaction_type, BrowserAuth)
    landed_on = provider.browse(error.flow.interaction_type.auth_url)
    assert manager.complete_interactive_flow(error.flow.id, CallbackData.from_url(landed_on)) == (
        credential_id
    )
    assert manager.get_credential(credential_id).owner == "alice"
    assert manager.get_token_with_context(credential_id, alice).value.expose().startswith("FAKE")


def test_get_token_before_the_first_login_when_no_login_can_start() -> None:
    manager = memory().build()
    credential_id = manager.create_credential(
        "oauth2", {"issuer": "http://127.0.0.1:9", "client_id": CLIENT_ID}, name="corp"
    )
    with pytest.raises(InteractionRequired) as needed:
        manager.get_token(credential_id)
    assert needed.value.flow_id is None and needed.value.flow is None
    assert needed.value.hint == "log in first: credctl oauth login corp"
    assert "no login could be started here" in str(needed.value)


def test_cli_get_token_before_the_first_login_exits_4_with_the_command(
    run_cli: RunCli, vault_path: Path, provider: SeedProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault_path.parent.mkdir(parents=True)
    Vault(vault_path).create(PASSPHRASE.encode(), CHEAP)
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = CredentialManager.builder().storage_backend(StorageBackend.File(path=vault_path))
    manager.build().create_credential("oauth2", oauth2_input(provider), name="corp")
    result = run_cli("get-token", "corp", env={"CREDCTL_PASSPHRASE": PASSPHRASE})
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "credctl: hint: log in first: credctl oauth login corp\n" in result.stderr
    assert CLIENT_SECRET not in result.stderr
    assert_no_traceback(result)


# -- HealthStatus: the seed's variants and the older constructor -----------------------


def test_health_status_values() -> None:
    assert HealthStatus(HealthState.HEALTHY) is HealthStatus.Healthy
    assert HealthStatus(HealthState.DEGRADED, ("x",)) == HealthStatus.Degraded(["x"])
    assert HealthStatus(HealthState.UNHEALTHY, ("boom", "more")).issues == ("boom", "more")
    assert HealthStatus.Unhealthy("boom").error == "boom"
    assert [s.exit_code for s in (HealthStatus.Healthy, HealthStatus.Degraded("x"),
                                  HealthStatus.Unhealthy("y"))] == [0, 1, 2]  # fmt: skip
    assert HealthStatus.Degraded("x") != HealthStatus.Degraded("y")
    assert len({HealthStatus.Degraded("x"), HealthStatus.Degraded(("x",))}) == 1
    assert isinstance(HealthStatus.Degraded("x"), HealthStatus)
    for state, issues in ((HealthState.HEALTHY, ("x",)), (HealthState.DEGRADED, ())):
        with pytest.raises(ValueError, match="does not exist"):
            HealthStatus(state, issues)
