"""The library API of SPEC §4 and §12, through ``from credctl import …`` only.

Every public method of `CredentialManager` is exercised on the memory backend
and on a real vault file (cheap Argon2id, unlocked through CREDCTL_PASSPHRASE
as the CLI would be).  A fake secret is stored everywhere and checked to be
absent from every str/repr/message that is not meant to carry it.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import credctl
import credctl.errors
from credctl import (
    AccessDenied,
    CacheConfig,
    Credential,
    CredentialContext,
    CredentialError,
    CredentialInput,
    CredentialManager,
    CredentialManagerBuilder,
    CredentialMetrics,
    CredentialStorage,
    CredentialUpdate,
    DuplicateCredential,
    EncryptionConfig,
    ExitCode,
    Expired,
    HealthState,
    HealthStatus,
    InvalidInput,
    ManagerConfig,
    Metrics,
    NotFound,
    NoToken,
    SecretValue,
    StorageBackend,
    StorageError,
    Token,
    UnsupportedType,
    UserContext,
)
from credctl.errors import VaultLockedError, VaultNotFoundError, WrongPassphraseError
from credctl.storage.memory import MemoryStorage
from credctl.vault import KdfParams, Vault
from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli

FAKE = "sk_fake_5ecret_do_not_leak"  # an obviously fake secret, looked for in every output
OTHER_FAKE = "sk_fake_0ther_5ecret"
CHEAP = KdfParams(19 * 1024, 2, 1)  # OWASP's floor: tests never pay 256 MiB of Argon2id
ALICE = UserContext("alice", "192.0.2.10")
BOB = UserContext("bob", "192.0.2.20")


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdin is not a terminal, as in CI: nothing may prompt."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def make_vault(path: Path) -> Path:
    """A new vault with the cheap KDF and the test passphrase."""
    Vault(path).create(PASSPHRASE.encode(), CHEAP)
    return path


@pytest.fixture
def vault_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real vault file, unlocked through CREDCTL_PASSPHRASE like the CLI."""
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    return make_vault(tmp_path / "vaults" / "library.credctl")


@pytest.fixture(params=["memory", "vault"])
def backend(request: pytest.FixtureRequest) -> StorageBackend:
    """Each test runs on the memory backend and on a real vault file."""
    if request.param == "memory":
        return StorageBackend.memory()
    return StorageBackend.file(request.getfixturevalue("vault_file"))


@pytest.fixture
def manager(backend: StorageBackend) -> CredentialManager:
    """A manager on `backend`, built through the seed's builder."""
    return CredentialManager.builder().storage_backend(backend).build()


def generation(path: Path) -> int:
    """The vault's write counter (one per committed write)."""
    return Vault(path).read_parsed().header.generation


def exit_code(exc: BaseException) -> int:
    """The SPEC §3 exit code a CredentialError carries."""
    assert isinstance(exc, CredentialError), exc
    return int(exc.exit_code)


def assert_no_secret(*texts: object) -> None:
    """None of `texts`, formatted every way, contains a fake secret."""
    for text in texts:
        for shown in (str(text), repr(text), f"{text}", f"{text!r}"):
            assert FAKE not in shown, shown
            assert OTHER_FAKE not in shown, shown


# -- construction: new, with_config, builder ------------------------------------------


def test_new_is_the_default_configuration() -> None:
    manager = CredentialManager.new()
    assert isinstance(manager, CredentialManager)
    assert manager.config == ManagerConfig()
    assert manager.config.storage_backend == StorageBackend.file()
    assert manager.config.audit_logging is True


def test_with_config_keeps_the_config() -> None:
    config = ManagerConfig(
        storage_backend=StorageBackend.memory(),
        cache_config=CacheConfig(ttl=dt.timedelta(seconds=5), max_size=3),
        encryption_config=EncryptionConfig(key_rotation_interval=dt.timedelta(days=30)),
    )
    manager = CredentialManager.with_config(config)
    assert manager.config == config
    credential_id = manager.create_credential("token", {"token": FAKE})
    assert manager.get_token(credential_id).value.expose() == FAKE


def test_builder_as_in_the_seed(vault_file: Path) -> None:
    builder = CredentialManager.builder()
    assert isinstance(builder, CredentialManagerBuilder)
    manager = (
        builder.storage_backend(StorageBackend.file(vault_file))
        .cache_ttl(dt.timedelta(seconds=300))
        .enable_audit_logging()
        .build()
    )
    assert manager.config.storage_backend == StorageBackend.file(vault_file)
    assert manager.config.cache_config.ttl == dt.timedelta(seconds=300)
    assert manager.config.audit_logging is True
    credential_id = manager.create_credential("token", {"token": FAKE}, name="built")
    assert Vault(vault_file).exists()
    reopened = CredentialManager.builder().vault_path(vault_file).build()
    assert reopened.get_credential("built").id == credential_id


def test_builder_other_settings() -> None:
    storage = MemoryStorage()
    cache = CacheConfig(enabled=False, ttl=dt.timedelta(seconds=1), max_size=7)
    encryption = EncryptionConfig(key_rotation_interval=dt.timedelta(days=7))
    manager = (
        CredentialManager.builder()
        .storage(storage)
        .cache_config(cache)
        .cache_ttl(dt.timedelta(seconds=9))
        .encryption_config(encryption)
        .build()
    )
    assert manager.storage is storage
    assert manager.config.cache_config == cache._replace(ttl=dt.timedelta(seconds=9))
    assert manager.config.encryption_config == encryption


# -- CredentialManager() with no arguments: CREDCTL_VAULT and the unlock sources -----


def test_no_arguments_opens_credctl_vault_with_the_passphrase_and_the_cli_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    path = make_vault(tmp_path / "env" / "vault.credctl")
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = CredentialManager()
    manager.create_credential("token", {"token": FAKE}, name="shared")
    assert str(path) in manager.storage.describe()
    result = run_cli("get-token", "shared", vault=path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == FAKE + "\n"


def test_no_arguments_unlocks_with_a_ci_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    path = make_vault(tmp_path / "ci" / "vault.credctl")
    added = run_cli("key", "add-ci", "--label", "library test", vault=path,
                    env={"CREDCTL_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert added.returncode == 0, added.stderr
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_KEY", added.stdout.strip())
    credential_id = CredentialManager().create_credential("token", {"token": FAKE})
    assert CredentialManager().get_token(credential_id).value.expose() == FAKE


def test_no_arguments_unlocks_with_a_passphrase_file_and_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    path = make_vault(tmp_path / "sources" / "vault.credctl")
    passphrase_file = tmp_path / "passphrase.txt"
    passphrase_file.write_text(PASSPHRASE + "\n")
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_PASSPHRASE_FILE", str(passphrase_file))
    credential_id = CredentialManager().create_credential("token", {"token": FAKE})
    unlocked = run_cli("unlock", "--ttl", "5m", vault=path,
                       env={"CREDCTL_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert unlocked.returncode == 0, unlocked.stderr
    prefix = "export CREDCTL_SESSION='"
    assert unlocked.stdout.startswith(prefix), unlocked.stdout
    monkeypatch.delenv("CREDCTL_PASSPHRASE_FILE")
    monkeypatch.setenv("CREDCTL_SESSION", unlocked.stdout.strip()[len(prefix) : -1])
    assert CredentialManager().get_token(credential_id).value.expose() == FAKE


def test_no_arguments_uses_the_default_vault_path(
    run_cli: RunCli, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "CREDCTL_VAULT" not in os.environ
    created = run_cli("init", *CHEAP_KDF, vault=None, env={"CREDCTL_PASSPHRASE": PASSPHRASE})
    assert created.returncode == 0, created.stderr
    expected = isolated_env / ".local/share" / "credctl" / "vault.credctl"
    assert expected.exists()
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    manager = CredentialManager()
    assert manager.storage.describe() == f"vault {expected}"
    credential_id = manager.create_credential("token", {"token": FAKE})
    assert manager.get_token(credential_id).value.expose() == FAKE


def test_no_unlock_source_and_no_terminal_is_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_vault(tmp_path / "locked" / "vault.credctl")
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    manager = CredentialManager()  # nothing is read yet
    with pytest.raises(VaultLockedError) as caught:
        manager.get_credential(1)
    assert exit_code(caught.value) == 4
    assert "CREDCTL_PASSPHRASE" in (caught.value.hint or "")
    assert "CREDCTL_KEY" in (caught.value.hint or "")


def test_wrong_passphrase_is_exit_5(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_vault(tmp_path / "wrong" / "vault.credctl")
    monkeypatch.setenv("CREDCTL_VAULT", str(path))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", "not the passphrase")
    with pytest.raises(WrongPassphraseError) as caught:
        CredentialManager().get_credential(1)
    assert isinstance(caught.value, AccessDenied)
    assert exit_code(caught.value) == 5
    assert_no_secret(caught.value)
    assert "not the passphrase" not in str(caught.value)


def test_missing_vault_is_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDCTL_VAULT", str(tmp_path / "absent.credctl"))
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    with pytest.raises(VaultNotFoundError) as caught:
        CredentialManager().get_credential(1)
    assert exit_code(caught.value) == 3


# -- create_credential ----------------------------------------------------------------


def test_create_without_a_name_is_named_type_and_id(manager: CredentialManager) -> None:
    first = manager.create_credential("api_key", {"api_key": FAKE}, ALICE)
    second = manager.create_credential("token", {"token": OTHER_FAKE})
    assert isinstance(first, int)
    assert second > first
    credential = manager.get_credential(first)
    assert credential.name == f"api_key_{first}"
    assert credential.credential_type == "api_key"
    assert credential.owner == "alice"
    assert manager.get_credential(second).name == f"token_{second}"
    assert manager.get_credential(second).owner == UserContext.system().user_id


def test_create_with_name_description_tags_metadata(manager: CredentialManager) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    credential_id = manager.create_credential(
        "api_key",
        {"key": FAKE, "param_name": "X-Custom-Key"},
        ALICE,
        name="stripe-live",
        description="Stripe, production ✓",
        tags=["prod", "payments", "prod"],
        metadata={"owner": "api-team", "rotated": False, "limits": [1, 2]},
    )
    credential = manager.get_credential("stripe-live")
    assert credential.id == credential_id
    assert credential.description == "Stripe, production ✓"
    assert credential.tags == ("prod", "payments")
    assert credential.metadata == {"owner": "api-team", "rotated": False, "limits": [1, 2]}
    assert credential.version == 1
    assert credential.created_at == credential.updated_at
    assert credential.created_at.tzinfo is not None
    assert credential.created_at.utcoffset() == dt.timedelta(0)
    assert before <= credential.created_at <= dt.datetime.now(dt.UTC)
    assert_no_secret(credential, credential.to_json())


LONE = "bad\ud800text"  # a lone surrogate: not Unicode text, cannot be stored as UTF-8
BAD_CREATES = [
    pytest.param("token", {}, {}, InvalidInput, id="missing-field"),
    pytest.param("token", {"token": FAKE, "x": 1}, {}, InvalidInput, id="unknown-field"),
    pytest.param("token", {"token": 42}, {}, InvalidInput, id="wrong-type"),
    pytest.param("token", {"token": "a\x00" + FAKE}, {}, InvalidInput, id="nul-in-value"),
    pytest.param("token", {"token": LONE}, {}, InvalidInput, id="surrogate-in-value"),
    pytest.param("token", [FAKE], {}, InvalidInput, id="data-not-an-object"),
    pytest.param("nope", {"token": FAKE}, {}, UnsupportedType, id="unknown-type"),
    pytest.param("token", {"token": FAKE}, {"name": "a.b"}, InvalidInput, id="name-dot"),
    pytest.param("token", {"token": FAKE}, {"name": "123"}, InvalidInput, id="name-digits"),
    pytest.param("token", {"token": FAKE}, {"name": ""}, InvalidInput, id="name-empty"),
    pytest.param("token", {"token": FAKE}, {"name": LONE}, InvalidInput, id="name-surrogate"),
    pytest.param("token", {"token": FAKE}, {"tags": ["a b"]}, InvalidInput, id="tag-space"),
    pytest.param("token", {"token": FAKE}, {"tags": [["x"]]}, InvalidInput, id="tag-list"),
    pytest.param("token", {"token": FAKE}, {"tags": [LONE]}, InvalidInput, id="tag-surrogate"),
    pytest.param("token", {"token": FAKE}, {"description": "x" * 5000}, InvalidInput,
                 id="description-long"),
    pytest.param("token", {"token": FAKE}, {"description": LONE}, InvalidInput,
                 id="description-surrogate"),
    pytest.param("token", {"token": FAKE}, {"metadata": {"x": {1}}}, InvalidInput,
                 id="metadata-not-json"),
    pytest.param("token", {"token": FAKE}, {"metadata": [1]}, InvalidInput,
                 id="metadata-not-object"),
    pytest.param("token", {"token": FAKE}, {"metadata": {"k": LONE}}, InvalidInput,
                 id="metadata-value-surrogate"),
    pytest.param("token", {"token": FAKE}, {"metadata": {LONE: "v"}}, InvalidInput,
                 id="metadata-key-surrogate"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "data", "options", "error"), BAD_CREATES)
def test_create_refuses_bad_input_and_stores_nothing(
    manager: CredentialManager,
    kind: str,
    data: Any,
    options: dict[str, Any],
    error: type[CredentialError],
) -> None:
    """Each bad input is a clear error with exit 9, quotes no secret, and stores nothing."""
    with pytest.raises(error) as caught:
        manager.create_credential(kind, data, **options)
    assert exit_code(caught.value) == 9
    assert_no_secret(caught.value, caught.value.hint)
    assert manager.list_credentials() == []


def test_create_with_a_duplicate_name_is_exit_8(manager: CredentialManager) -> None:
    manager.create_credential("token", {"token": FAKE}, name="github")
    with pytest.raises(DuplicateCredential) as caught:
        manager.create_credential("token", {"token": OTHER_FAKE}, name="github")
    assert exit_code(caught.value) == 8
    assert len(manager.list_credentials()) == 1
    assert manager.get_token("github").value.expose() == FAKE


def test_unnamed_create_never_collides_with_a_chosen_name(manager: CredentialManager) -> None:
    """A user may name a credential ``token_2``; the next unnamed one must still be created."""
    first = manager.create_credential("token", {"token": FAKE}, name="first")
    squatted = f"token_{first + 2}"  # the default name of the id after the next one
    manager.create_credential("token", {"token": FAKE}, name=squatted)
    credential_id = manager.create_credential("token", {"token": OTHER_FAKE})
    credential = manager.get_credential(credential_id)
    assert credential.name == f"token_{credential_id}"
    assert manager.get_credential(squatted).id != credential_id
    assert manager.get_token(credential.name).value.expose() == OTHER_FAKE


# -- create_credential_idempotent -----------------------------------------------------


def test_idempotent_create_same_key_and_body_is_the_same_id(manager: CredentialManager) -> None:
    body = {"api_key": FAKE, "param_name": "X-API-Key"}
    first = manager.create_credential_idempotent("api_key", body, ALICE, "request-123")
    again = manager.create_credential_idempotent("api_key", dict(body), ALICE, "request-123")
    assert again == first
    assert [c.id for c in manager.list_credentials()] == [first]
    other_key = manager.create_credential_idempotent("api_key", body, ALICE, "request-456")
    assert other_key != first
    no_key_1 = manager.create_credential_idempotent("api_key", body, ALICE, None)
    no_key_2 = manager.create_credential_idempotent("api_key", body, ALICE, None)
    assert no_key_1 != no_key_2


def test_idempotent_create_same_key_other_body_is_exit_8(manager: CredentialManager) -> None:
    first = manager.create_credential_idempotent("token", {"token": FAKE}, None, "k1",
                                                 name="idem")  # fmt: skip
    with pytest.raises(DuplicateCredential) as caught:
        manager.create_credential_idempotent("token", {"token": OTHER_FAKE}, None, "k1",
                                             name="idem")  # fmt: skip
    assert exit_code(caught.value) == 8
    assert_no_secret(caught.value, caught.value.hint)
    with pytest.raises(DuplicateCredential):
        manager.create_credential_idempotent("token", {"token": FAKE}, None, "k1",
                                             name="idem", description="changed")  # fmt: skip
    assert manager.get_token(first).value.expose() == FAKE
    assert len(manager.list_credentials()) == 1


def test_idempotency_keys_belong_to_one_user(manager: CredentialManager) -> None:
    """Two users who happen to send the same key and body each get their own credential."""
    body = {"token": FAKE}
    for_alice = manager.create_credential_idempotent("token", body, ALICE, "nightly-import")
    for_bob = manager.create_credential_idempotent("token", body, BOB, "nightly-import")
    assert for_bob != for_alice
    assert manager.get_credential(for_alice).owner == "alice"
    assert manager.get_credential(for_bob).owner == "bob"
    as_bob = CredentialContext(user_id="bob")
    assert manager.get_token_with_context(for_bob, as_bob).value.expose() == FAKE


def test_idempotency_survives_a_new_manager(vault_file: Path) -> None:
    first = CredentialManager.builder().vault_path(vault_file).build()
    credential_id = first.create_credential_idempotent("token", {"token": FAKE}, None, "retry")
    second = CredentialManager.builder().vault_path(vault_file).build()
    again = second.create_credential_idempotent("token", {"token": FAKE}, None, "retry")
    assert again == credential_id


# -- get_credential and list_credentials -----------------------------------------------


def test_get_credential_has_no_secret(manager: CredentialManager) -> None:
    credential_id = manager.create_credential(
        "basic_auth", {"username": "ci-bot", "password": FAKE}, name="registry"
    )
    by_id = manager.get_credential(credential_id)
    by_name = manager.get_credential("registry")
    by_text_id = manager.get_credential(str(credential_id))
    assert by_id == by_name == by_text_id
    assert isinstance(by_id, Credential)
    assert "data" not in Credential._fields
    assert_no_secret(by_id, by_id.to_json(), json.dumps(by_id.to_json()))
    shown = by_id.to_json()
    assert shown["id"] == credential_id
    assert shown["name"] == "registry"
    assert shown["credential_type"] == "basic_auth"
    assert shown["created_at"].endswith("Z")


def test_get_credential_not_found_is_exit_3(manager: CredentialManager) -> None:
    for ref in (404, "404", "no-such-name"):
        with pytest.raises(NotFound) as caught:
            manager.get_credential(ref)
        assert exit_code(caught.value) == 3


def test_list_credentials_filters_by_type_and_tag(manager: CredentialManager) -> None:
    a = manager.create_credential("token", {"token": FAKE}, name="a", tags=["ci"])
    b = manager.create_credential("api_key", {"key": FAKE}, name="b", tags=["ci", "prod"])
    c = manager.create_credential("token", {"token": FAKE}, name="c", tags=["prod"])
    assert [x.id for x in manager.list_credentials()] == [a, b, c]
    assert [x.id for x in manager.list_credentials(credential_type="token")] == [a, c]
    assert [x.id for x in manager.list_credentials(tag="prod")] == [b, c]
    assert [x.id for x in manager.list_credentials(credential_type="token", tag="ci")] == [a]
    assert_no_secret(manager.list_credentials())


# -- get_token and get_field ----------------------------------------------------------

BASIC = base64.b64encode(f"ci-bot:{FAKE}".encode()).decode()
TOKEN_CASES: list[tuple[str, dict[str, Any], str, str | None]] = [
    ("api_key", {"key": FAKE}, FAKE, f"X-API-Key: {FAKE}"),
    ("api_key", {"api_key": FAKE, "param_name": "X-Custom"}, FAKE, f"X-Custom: {FAKE}"),
    ("api_key", {"key": FAKE, "location": "query"}, FAKE, None),
    ("token", {"token": FAKE}, FAKE, f"Authorization: Bearer {FAKE}"),
    ("basic_auth", {"username": "ci-bot", "password": FAKE}, BASIC,
     f"Authorization: Basic {BASIC}"),
    ("oauth2", {"access_token": FAKE, "client_id": "app"}, FAKE, f"Authorization: Bearer {FAKE}"),
    ("smtp", {"host": "smtp.example.com", "username": "mailer", "password": FAKE}, FAKE, None),
    ("custom", {"only": FAKE}, FAKE, None),
    ("custom", {"user": "u", "pass": FAKE, "token_field": "pass"}, FAKE, None),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "data", "value", "header"), TOKEN_CASES)
def test_get_token_value_and_header_per_type(
    manager: CredentialManager, kind: str, data: dict[str, Any], value: str, header: str | None
) -> None:
    credential_id = manager.create_credential(kind, data, name="cred")
    token = manager.get_token(credential_id)
    assert isinstance(token, Token)
    assert isinstance(token.value, SecretValue)
    assert token.value.expose() == value
    assert token.credential_id == credential_id
    assert token.token_type == kind
    assert (token.header.expose() if token.header else None) == header
    assert token.header is None or isinstance(token.header, SecretValue)
    assert manager.get_token("cred") == token
    assert_no_secret(token, token.value, token.header, [token], {"t": token})
    assert str(token.value) == repr(token.value) == "***"
    assert token.to_json()["value"] == value


def test_get_token_of_an_oauth2_credential_carries_its_expiry(
    manager: CredentialManager,
) -> None:
    expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0)
    credential_id = manager.create_credential(
        "oauth2", {"access_token": FAKE, "token_expiry": expiry.isoformat()}
    )
    token = manager.get_token(credential_id)
    assert token.expires_at == expiry
    assert manager.get_credential(credential_id).token_expiry == expiry
    assert token.to_json()["expires_at"] == expiry.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_get_token_of_an_expired_oauth2_token_is_exit_7(manager: CredentialManager) -> None:
    credential_id = manager.create_credential(
        "oauth2", {"access_token": FAKE, "token_expiry": "2001-01-01T00:00:00Z"}
    )
    with pytest.raises(Expired) as caught:
        manager.get_token(credential_id)
    assert exit_code(caught.value) == 7
    assert_no_secret(caught.value, caught.value.hint)


def test_get_token_without_a_single_token_is_exit_3(manager: CredentialManager) -> None:
    credential_id = manager.create_credential("custom", {"user": "u", "pass": FAKE})
    with pytest.raises(NoToken) as caught:
        manager.get_token(credential_id)
    assert exit_code(caught.value) == 3
    with pytest.raises(NotFound):
        manager.get_token(credential_id + 1)


def test_get_field(manager: CredentialManager) -> None:
    credential_id = manager.create_credential(
        "smtp", {"host": "smtp.example.com", "port": 2525, "username": "m", "password": FAKE}
    )
    password = manager.get_field(credential_id, "password")
    assert isinstance(password, SecretValue)
    assert password.expose() == FAKE
    assert manager.get_field(credential_id, "port").expose() == "2525"
    with pytest.raises(NotFound) as caught:
        manager.get_field(credential_id, "no_such_field")
    assert exit_code(caught.value) == 3
    assert manager.get_credential_metrics(credential_id).usage_count == 2


# -- get_token_with_context ------------------------------------------------------------


def test_get_token_with_context_checks_the_owner(manager: CredentialManager) -> None:
    credential_id = manager.create_credential("token", {"token": FAKE}, ALICE)
    as_alice = (
        CredentialContext.builder()
        .user_id("alice")
        .execution_id("exec-1")
        .workflow_id("wf-1")
        .build()
    )
    as_bob = CredentialContext.builder().user_id("bob").build()
    anonymous = CredentialContext(execution_id="exec-2")
    with pytest.raises(AccessDenied) as caught:
        manager.get_token_with_context(credential_id, as_bob)
    assert exit_code(caught.value) == 5
    assert manager.get_token_with_context(credential_id, as_alice).value.expose() == FAKE
    assert manager.get_token_with_context(credential_id, anonymous).value.expose() == FAKE
    assert manager.get_token_with_context(credential_id, None).value.expose() == FAKE


def test_a_cached_token_is_not_handed_to_another_user(manager: CredentialManager) -> None:
    """The owner check applies to cached tokens too."""
    credential_id = manager.create_credential("token", {"token": FAKE}, ALICE)
    as_alice = CredentialContext(user_id="alice")
    as_bob = CredentialContext(user_id="bob")
    assert manager.get_token_with_context(credential_id, as_alice).value.expose() == FAKE
    with pytest.raises(AccessDenied):
        manager.get_token_with_context(credential_id, as_bob)
    manager.get_token(credential_id)  # now cached
    with pytest.raises(AccessDenied):
        manager.get_token_with_context(credential_id, as_bob)


# -- update_credential ----------------------------------------------------------------


def test_update_metadata_only(manager: CredentialManager) -> None:
    credential_id = manager.create_credential("token", {"token": FAKE}, name="svc")
    before = manager.get_credential(credential_id)
    updates = (
        CredentialUpdate.builder()
        .description("Updated API key for production")
        .tags(["production", "api"])
        .metadata({"last_used": "2024-08-24", "owner": "api-team"})
        .build()
    )
    assert not updates.is_empty()
    manager.update_credential(credential_id, updates)
    after = manager.get_credential("svc")
    assert after.description == "Updated API key for production"
    assert after.tags == ("production", "api")
    assert after.metadata == {"last_used": "2024-08-24", "owner": "api-team"}
    assert after.version == before.version == 1
    assert after.created_at == before.created_at
    assert after.updated_at >= before.updated_at
    assert manager.get_token(credential_id).value.expose() == FAKE


def test_update_rename(manager: CredentialManager) -> None:
    credential_id = manager.create_credential("token", {"token": FAKE}, name="old-name")
    manager.get_token("old-name")  # cached under the old name
    manager.update_credential("old-name", CredentialUpdate.builder().name("new-name").build())
    assert manager.get_credential("new-name").id == credential_id
    with pytest.raises(NotFound):
        manager.get_credential("old-name")
    with pytest.raises(NotFound):
        manager.get_token("old-name")
    assert manager.get_token("new-name").value.expose() == FAKE


def test_update_rename_to_an_existing_name_is_exit_8(manager: CredentialManager) -> None:
    manager.create_credential("token", {"token": FAKE}, name="taken")
    credential_id = manager.create_credential("token", {"token": OTHER_FAKE}, name="mine")
    with pytest.raises(DuplicateCredential) as caught:
        manager.update_credential(credential_id, CredentialUpdate(name="taken"))
    assert exit_code(caught.value) == 8
    with pytest.raises(InvalidInput):
        manager.update_credential(credential_id, CredentialUpdate(name="has.dot"))
    assert manager.get_credential(credential_id).name == "mine"


def test_update_data_is_validated_and_bumps_the_version(manager: CredentialManager) -> None:
    credential_id = manager.create_credential("api_key", {"key": FAKE}, name="api")
    assert manager.get_token("api").value.expose() == FAKE  # now cached
    manager.update_credential(
        "api", CredentialUpdate.builder().data({"key": OTHER_FAKE, "param_name": "X-New"}).build()
    )
    credential = manager.get_credential(credential_id)
    assert credential.version == 2
    token = manager.get_token("api")
    assert token.value.expose() == OTHER_FAKE
    assert token.header is not None
    assert token.header.expose() == f"X-New: {OTHER_FAKE}"
    with pytest.raises(InvalidInput) as caught:
        manager.update_credential(credential_id, CredentialUpdate(data={"nope": FAKE}))
    assert exit_code(caught.value) == 9
    assert_no_secret(caught.value, caught.value.hint)
    assert manager.get_credential(credential_id).version == 2
    assert manager.get_token(credential_id).value.expose() == OTHER_FAKE
    assert_no_secret(CredentialUpdate(data={"key": FAKE}))


@pytest.mark.parametrize(
    "update",
    [
        pytest.param(CredentialUpdate(description=LONE), id="description"),
        pytest.param(CredentialUpdate(tags=(LONE,)), id="tags"),
        pytest.param(CredentialUpdate(metadata={"k": LONE}), id="metadata"),
        pytest.param(CredentialUpdate(name=LONE), id="name"),
    ],
)
def test_update_refuses_text_that_is_not_unicode(
    manager: CredentialManager, update: CredentialUpdate
) -> None:
    credential_id = manager.create_credential("token", {"token": FAKE}, name="kept")
    before = manager.get_credential(credential_id)
    with pytest.raises(InvalidInput) as caught:
        manager.update_credential(credential_id, update)
    assert exit_code(caught.value) == 9
    assert manager.get_credential(credential_id) == before


def test_update_of_a_missing_credential_is_exit_3(manager: CredentialManager) -> None:
    with pytest.raises(NotFound) as caught:
        manager.update_credential(7, CredentialUpdate(description="x"))
    assert exit_code(caught.value) == 3


# -- delete_credential and batch_delete -------------------------------------------------


def test_delete_and_ids_are_never_reused(manager: CredentialManager) -> None:
    first = manager.create_credential("token", {"token": FAKE}, name="first")
    last = manager.create_credential("token", {"token": FAKE}, name="last")
    manager.get_token(last)  # cached
    manager.delete_credential("last")
    with pytest.raises(NotFound):
        manager.get_credential(last)
    with pytest.raises(NotFound):
        manager.get_token(last)
    with pytest.raises(NotFound) as caught:
        manager.delete_credential(last)
    assert exit_code(caught.value) == 3
    again = manager.create_credential("token", {"token": FAKE}, name="last")
    assert again > last > first
    assert [c.id for c in manager.list_credentials()] == [first, again]


def test_deleted_ids_are_not_reused_by_a_new_manager(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    ids = [manager.create_credential("token", {"token": FAKE}) for _ in range(3)]
    manager.delete_credential(ids[-1])
    fresh = CredentialManager.builder().vault_path(vault_file).build()
    assert fresh.create_credential("token", {"token": FAKE}) > ids[-1]


def test_a_credential_deleted_elsewhere_is_not_served_from_the_cache(vault_file: Path) -> None:
    """Another process (here: another manager) deletes or renames; the cache must not hide it."""
    server = CredentialManager.builder().vault_path(vault_file).build()
    cli = CredentialManager.builder().vault_path(vault_file).build()
    revoked = server.create_credential("token", {"token": FAKE}, name="revoked")
    server.create_credential("token", {"token": FAKE}, name="moved")
    assert server.get_token("revoked").value.expose() == FAKE  # cached, default TTL 300 s
    assert server.get_token("moved").value.expose() == FAKE
    cli.delete_credential("revoked")
    cli.update_credential("moved", CredentialUpdate(name="elsewhere"))
    cli.create_credential("token", {"token": OTHER_FAKE}, name="moved")
    with pytest.raises(NotFound):
        server.get_token(revoked)
    assert server.get_token("moved").value.expose() == OTHER_FAKE


def test_batch_delete(manager: CredentialManager) -> None:
    a = manager.create_credential("token", {"token": FAKE}, name="a")
    b = manager.create_credential("token", {"token": FAKE}, name="b")
    manager.get_token(b)  # cached
    results = manager.batch_delete([a, "missing", "b", a])
    assert len(results) == 4
    assert results[0] is None
    assert isinstance(results[1], NotFound)
    assert results[2] is None
    assert isinstance(results[3], NotFound)
    assert manager.list_credentials() == []
    with pytest.raises(NotFound):
        manager.get_token(b)


def test_batch_delete_is_one_vault_write(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    ids = [manager.create_credential("token", {"token": FAKE}) for _ in range(3)]
    before = generation(vault_file)
    results = manager.batch_delete([*ids, 99])
    assert results[:3] == [None, None, None]
    assert isinstance(results[3], NotFound)
    assert generation(vault_file) == before + 1


# -- batch_create -----------------------------------------------------------------------


def test_batch_create_returns_one_result_per_input_in_order(manager: CredentialManager) -> None:
    inputs = [
        CredentialInput.api_key("key1", "X-API-Key-1"),
        CredentialInput("token", {"token": FAKE}, name="dup"),
        CredentialInput("token", {}, name="missing-field"),
        CredentialInput("token", {"token": FAKE}, name="dup"),
        CredentialInput("no-such-type", {"token": FAKE}),
        CredentialInput("token", {"token": FAKE}, name="bad.name"),
        CredentialInput.api_key("key3", "X-API-Key-3", name="third"),
    ]
    results = manager.batch_create(inputs, ALICE)
    assert len(results) == len(inputs)
    first, dup, missing, dup_again, unknown, bad_name, third = results
    assert isinstance(first, int)
    assert isinstance(dup, int)
    assert isinstance(missing, InvalidInput)
    assert isinstance(dup_again, DuplicateCredential)
    assert isinstance(unknown, UnsupportedType)
    assert isinstance(bad_name, InvalidInput)
    assert isinstance(third, int)
    assert first < dup < third
    assert manager.get_credential(first).name == f"api_key_{first}"
    assert manager.get_credential(first).owner == "alice"
    token = manager.get_token(first)
    assert token.value.expose() == "key1"
    assert token.header is not None
    assert token.header.expose() == "X-API-Key-1: key1"
    assert manager.get_token("third").value.expose() == "key3"
    assert [c.id for c in manager.list_credentials()] == [first, dup, third]
    for error in (missing, dup_again, unknown, bad_name):
        assert_no_secret(error)


def test_batch_create_is_one_vault_write(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    manager.create_credential("token", {"token": FAKE}, name="existing")
    before = generation(vault_file)
    inputs = [CredentialInput("token", {"token": f"{FAKE}-{i}"}) for i in range(20)]
    inputs.append(CredentialInput("token", {"token": FAKE}, name="existing"))
    results = manager.batch_create(inputs)
    assert generation(vault_file) == before + 1
    assert all(isinstance(r, int) for r in results[:-1])
    assert isinstance(results[-1], DuplicateCredential)
    fresh = CredentialManager.builder().vault_path(vault_file).build()
    assert len(fresh.list_credentials()) == 21


def test_batch_create_input_repr_has_no_secret() -> None:
    assert_no_secret(CredentialInput.api_key(FAKE), CredentialInput("token", {"token": FAKE}))


# -- health_check ---------------------------------------------------------------------


def test_health_check_healthy(manager: CredentialManager) -> None:
    manager.create_credential("token", {"token": FAKE})
    status = manager.health_check()
    assert isinstance(status, HealthStatus)
    assert status == HealthStatus(HealthState.HEALTHY)
    assert status.exit_code == 0


def test_health_check_degraded_when_the_data_key_is_older_than_the_interval(
    vault_file: Path,
) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    assert manager.health_check().state is HealthState.HEALTHY
    manager.set_encryption_config(EncryptionConfig(key_rotation_interval=dt.timedelta(days=90)))
    assert manager.health_check().state is HealthState.HEALTHY
    manager.set_encryption_config(
        EncryptionConfig(key_rotation_interval=dt.timedelta(microseconds=1))
    )
    status = manager.health_check()
    assert status.state is HealthState.DEGRADED
    assert status.exit_code == 1
    assert any("rekey" in issue for issue in status.issues), status.issues


def test_health_check_degraded_when_the_vault_is_readable_by_others(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    vault_file.chmod(0o644)
    status = manager.health_check()
    assert status.state is HealthState.DEGRADED
    assert any("0644" in issue for issue in status.issues), status.issues


def test_health_check_unhealthy_when_the_vault_is_damaged(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    manager.create_credential("token", {"token": FAKE})
    raw = bytearray(vault_file.read_bytes())
    raw[-1] ^= 0x01
    vault_file.write_bytes(bytes(raw))
    status = manager.health_check()
    assert status.state is HealthState.UNHEALTHY
    assert status.exit_code == 2
    assert status.issues
    assert_no_secret(status)
    assert vault_file.read_bytes() == bytes(raw)  # a damaged vault is never written over


def test_health_check_unhealthy_when_the_vault_is_missing(tmp_path: Path) -> None:
    manager = CredentialManager.builder().vault_path(tmp_path / "nowhere.credctl").build()
    assert manager.health_check().state is HealthState.UNHEALTHY


class FailingStorage(MemoryStorage):
    """A storage whose reads fail, as an unreachable database would."""

    def snapshot(self) -> Any:
        raise StorageError("the storage is unreachable")


def test_health_check_unhealthy_when_storage_fails() -> None:
    manager = CredentialManager.builder().storage(FailingStorage()).build()
    status = manager.health_check()
    assert status.state is HealthState.UNHEALTHY
    assert status.issues == ("the storage is unreachable",)


# -- get_metrics and get_credential_metrics --------------------------------------------


def test_get_metrics(manager: CredentialManager) -> None:
    empty = manager.get_metrics()
    assert isinstance(empty, Metrics)
    assert (empty.total_credentials, empty.tokens_served, empty.cache_hit_rate) == (0, 0, 0.0)
    a = manager.create_credential("token", {"token": FAKE})
    manager.create_credential("token", {"token": FAKE})
    manager.create_credential("api_key", {"key": FAKE})
    manager.get_token(a)  # miss
    manager.get_token(a)  # hit
    manager.get_token(a)  # hit
    metrics = manager.get_metrics()
    assert metrics.total_credentials == 3
    assert dict(metrics.credentials_by_type) == {"token": 2, "api_key": 1}
    assert metrics.tokens_served == 3
    assert (metrics.cache_hits, metrics.cache_misses) == (2, 1)
    assert metrics.cache_hit_rate == pytest.approx(2 / 3)
    assert metrics.refresh_count == 0
    assert metrics.avg_refresh_time is None
    assert_no_secret(metrics)


GET_TOKEN_TWICE = """
import sys
from credctl import CredentialManager
manager = CredentialManager()
for _ in range(2):
    manager.get_token(sys.argv[1])
"""


def test_credential_metrics_persist_across_processes_without_rewriting_the_vault(
    vault_file: Path,
) -> None:
    writer = CredentialManager.builder().vault_path(vault_file).build()
    credential_id = writer.create_credential("token", {"token": FAKE}, name="counted")
    unused = writer.create_credential("token", {"token": FAKE}, name="unused")
    content, mtime = vault_file.read_bytes(), vault_file.stat().st_mtime_ns
    started = time.time()

    reader = CredentialManager.builder().vault_path(vault_file).build()
    reader.get_token("counted")
    env = {**os.environ, "CREDCTL_VAULT": str(vault_file), "CREDCTL_PASSPHRASE": PASSPHRASE}
    child = subprocess.run(
        [sys.executable, "-c", GET_TOKEN_TWICE, "counted"],
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    assert FAKE not in child.stdout + child.stderr

    assert vault_file.read_bytes() == content
    assert vault_file.stat().st_mtime_ns == mtime
    metrics = CredentialManager.builder().vault_path(vault_file).build()
    counted = metrics.get_credential_metrics("counted")
    assert isinstance(counted, CredentialMetrics)
    assert counted.credential_id == credential_id
    assert counted.usage_count == 3
    assert counted.last_used is not None
    assert started - 1 <= counted.last_used.timestamp() <= time.time() + 1
    assert counted.refresh_count == 0
    assert metrics.get_metrics().tokens_served == 3
    idle = metrics.get_credential_metrics(unused)
    assert (idle.usage_count, idle.last_used) == (0, None)
    with pytest.raises(NotFound):
        metrics.get_credential_metrics("missing")


# -- the token cache ----------------------------------------------------------------------


def hits_and_misses(manager: CredentialManager) -> tuple[int, int]:
    metrics = manager.get_metrics()
    return metrics.cache_hits, metrics.cache_misses


def test_clear_cache_and_clear_cache_for(manager: CredentialManager) -> None:
    a = manager.create_credential("token", {"token": FAKE}, name="a")
    b = manager.create_credential("token", {"token": FAKE}, name="b")
    for ref in (a, b, a, b):
        manager.get_token(ref)
    assert hits_and_misses(manager) == (2, 2)
    manager.clear_cache_for(a)
    manager.get_token(a)  # miss
    manager.get_token(b)  # hit
    assert hits_and_misses(manager) == (3, 3)
    manager.clear_cache_for("b")  # by name
    manager.get_token("b")  # miss
    manager.clear_cache_for("never-cached")
    manager.clear_cache_for(999)
    assert hits_and_misses(manager) == (3, 4)
    manager.clear_cache()
    manager.get_token(a)
    manager.get_token(b)
    assert hits_and_misses(manager) == (3, 6)


def test_set_cache_config_disabled_never_hits(manager: CredentialManager) -> None:
    a = manager.create_credential("token", {"token": FAKE})
    manager.get_token(a)
    manager.set_cache_config(CacheConfig(enabled=False))
    for _ in range(3):
        assert manager.get_token(a).value.expose() == FAKE
    assert manager.get_metrics().cache_hits == 0
    manager.set_cache_config(CacheConfig(enabled=True))
    manager.get_token(a)
    manager.get_token(a)
    assert manager.get_metrics().cache_hits == 1


def test_set_cache_config_max_size_evicts_least_recently_used(
    manager: CredentialManager,
) -> None:
    a = manager.create_credential("token", {"token": FAKE})
    b = manager.create_credential("token", {"token": FAKE})
    manager.set_cache_config(CacheConfig(max_size=1))
    for ref in (a, b, a, b):
        manager.get_token(ref)
    assert hits_and_misses(manager) == (0, 4)
    manager.set_cache_config(CacheConfig(max_size=2))  # b is still cached
    for ref in (a, b, a, b):
        manager.get_token(ref)
    assert hits_and_misses(manager) == (3, 5)


def test_cache_ttl_expiry(manager: CredentialManager) -> None:
    a = manager.create_credential("token", {"token": FAKE})
    manager.set_cache_config(CacheConfig(ttl=dt.timedelta(0)))
    manager.get_token(a)
    manager.get_token(a)
    assert hits_and_misses(manager) == (0, 2)
    manager.set_cache_config(CacheConfig(ttl=dt.timedelta(hours=1)))
    manager.get_token(a)
    manager.get_token(a)
    assert hits_and_misses(manager) == (1, 3)


def test_set_cache_config_refuses_negative_values(manager: CredentialManager) -> None:
    for config in (CacheConfig(max_size=-1), CacheConfig(ttl=dt.timedelta(seconds=-1))):
        with pytest.raises(InvalidInput) as caught:
            manager.set_cache_config(config)
        assert exit_code(caught.value) == 9
    assert manager.config.cache_config == CacheConfig()


# -- set_storage_backend ---------------------------------------------------------------------


def test_set_storage_backend_memory_and_file(vault_file: Path) -> None:
    manager = CredentialManager.builder().vault_path(vault_file).build()
    in_vault = manager.create_credential("token", {"token": FAKE}, name="in-vault")
    manager.get_token(in_vault)  # cached
    manager.set_storage_backend(StorageBackend.memory())
    assert manager.config.storage_backend == StorageBackend.memory()
    assert manager.storage.describe() == "memory"
    assert manager.list_credentials() == []
    with pytest.raises(NotFound):
        manager.get_token(in_vault)  # the cache was cleared with the switch
    manager.create_credential("token", {"token": OTHER_FAKE}, name="in-memory")
    manager.set_storage_backend(StorageBackend.file(vault_file))
    assert [c.name for c in manager.list_credentials()] == ["in-vault"]
    assert manager.get_token("in-vault").value.expose() == FAKE


def test_set_storage_backend_custom_object() -> None:
    storage = MemoryStorage()
    assert isinstance(storage, CredentialStorage)
    manager = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    manager.set_storage_backend(StorageBackend.custom(storage))
    assert manager.storage is storage
    credential_id = manager.create_credential("token", {"token": FAKE})
    assert storage.snapshot().count() == 1
    assert CredentialManager.builder().storage(storage).build().get_credential(credential_id)


def test_set_storage_backend_custom_that_is_not_a_storage_is_refused() -> None:
    manager = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    manager.set_storage_backend(StorageBackend.custom(object()))
    with pytest.raises(InvalidInput) as caught:
        manager.list_credentials()
    assert exit_code(caught.value) == 9


PLUGIN_MODULE = """
from credctl.storage.memory import MemoryStorage

SHARED = MemoryStorage()


def make():
    return SHARED


def make_bad():
    return object()
"""


@pytest.fixture
def storage_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real installed distribution on sys.path with ``credctl.storage`` entry points."""
    site = tmp_path / "site"
    info = site / "credctl_library_test_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "credctl_library_test_plugin.py").write_text(PLUGIN_MODULE)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: credctl-library-test-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[credctl.storage]\n"
        "library-test-memory = credctl_library_test_plugin:make\n"
        "library-test-bad = credctl_library_test_plugin:make_bad\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield "library-test-memory"
    sys.modules.pop("credctl_library_test_plugin", None)


def test_set_storage_backend_custom_plugin_through_an_entry_point(storage_plugin: str) -> None:
    manager = CredentialManager.builder().storage_backend(StorageBackend.memory()).build()
    manager.set_storage_backend(StorageBackend.custom(storage_plugin))
    credential_id = manager.create_credential("token", {"token": FAKE}, name="plugged")
    plugin = sys.modules["credctl_library_test_plugin"]
    assert manager.storage is plugin.SHARED
    stored = plugin.SHARED.snapshot().get_by_id(credential_id)
    assert stored is not None
    assert stored["name"] == "plugged"
    other = CredentialManager.builder().storage_backend(StorageBackend.custom(storage_plugin))
    assert other.build().get_token("plugged").value.expose() == FAKE


def test_a_plugin_that_is_not_a_storage_or_is_missing_is_refused(storage_plugin: str) -> None:
    for name in ("library-test-bad", "no-such-plugin"):
        manager = CredentialManager.builder().storage_backend(StorageBackend.custom(name)).build()
        with pytest.raises(InvalidInput) as caught:
            manager.list_credentials()
        assert exit_code(caught.value) == 9
        assert name in str(caught.value)


# -- set_encryption_config -------------------------------------------------------------------


def test_set_encryption_config(manager: CredentialManager) -> None:
    config = EncryptionConfig(key_rotation_interval=dt.timedelta(days=30))
    manager.set_encryption_config(config)
    assert manager.config.encryption_config == config
    for interval in (dt.timedelta(days=-1), dt.timedelta(0)):
        with pytest.raises(InvalidInput) as caught:
            manager.set_encryption_config(EncryptionConfig(key_rotation_interval=interval))
        assert exit_code(caught.value) == 9
    assert manager.config.encryption_config == config


# -- errors and exit codes (SPEC §3) ------------------------------------------------------------

# Each error class, with the exit code SPEC §3 gives its meaning (and §12 where it is explicit).
EXPECTED_EXIT_CODES: dict[str, int] = {
    "CredentialError": 1,  # unexpected internal error
    "InvalidInput": 9,  # invalid input
    "DuplicateCredential": 8,  # conflict: duplicate name, same idempotency key (§12)
    "UnsupportedType": 9,  # unknown types: 9 (§12)
    "NotFound": 3,  # not found
    "AccessDenied": 5,  # access denied
    "Expired": 7,  # token expired and could not be refreshed
    "NoToken": 3,  # custom with several fields and no token_field: 3 (§12)
    "InvalidToken": 7,  # token unusable
    "RefreshNotSupported": 7,  # refresh failed
    "RefreshFailed": 7,  # refresh failed
    "NoRefreshToken": 7,  # no refresh token
    "RotationFailed": 1,  # not listed: internal
    "RotationInProgress": 8,  # conflict: rotation in progress
    "CredentialInUse": 8,  # conflict: workflows are linked to it (SPEC §6 409)
    "StorageError": 1,  # not listed: internal
    "EncryptionError": 6,  # corrupted or tampered with
    "InteractionRequired": 4,  # a person must act and there is no terminal
    "FlowExpired": 7,  # the login expired: no token
    "InvalidCallback": 5,  # forged or denied callback: access denied (§12: denied consent 5)
    "ServiceUnavailable": 10,  # network or provider error
    "InternalError": 1,  # unexpected internal error
    "OutputFailed": 1,  # stdout refused the output (a full disk)
    "UsageError": 2,  # usage error
    "VaultLockedError": 4,  # vault locked
    "WrongPassphraseError": 5,  # wrong passphrase
    "VaultCorruptError": 6,  # corrupted, tampered with
    "UnsupportedFormatError": 6,  # unsupported format version
    "KdfDowngradeError": 6,  # tampered with (downgraded parameters)
    "VaultRollbackError": 6,  # tampered with (an older copy)
    "UnsafePathError": 6,  # unsafe files beside the vault (SPEC §14)
    "VaultNotFoundError": 3,  # not found
    "VaultExistsError": 8,  # init over an existing vault: 8 (§12)
    "VaultBusyError": 8,  # vault busy past the lock timeout
    "KdfMemoryError": 1,  # Argon2id could not get its memory
    "KeyringUnavailableError": 4,  # no unlock source available
    "AuditUnavailableError": 1,  # the audit entry cannot be written: a storage failure
    "AuditTamperedError": 6,  # the audit trail was tampered with
}


def error_classes() -> dict[str, type[CredentialError]]:
    return {
        name: value
        for name, value in vars(credctl.errors).items()
        if isinstance(value, type)
        and issubclass(value, CredentialError)
        and not name.startswith("_")  # private bases that carry a payload, never raised
    }


def test_every_error_class_is_in_the_table() -> None:
    assert sorted(error_classes()) == sorted(EXPECTED_EXIT_CODES)


@pytest.mark.parametrize(("name", "code"), sorted(EXPECTED_EXIT_CODES.items()))
def test_error_exit_code(name: str, code: int) -> None:
    kind = error_classes()[name]
    error = kind("a message", hint="a hint")
    assert error.exit_code == code
    assert isinstance(error.exit_code, ExitCode)
    assert str(error) == "a message"
    assert error.hint == "a hint"
    assert kind.__doc__
    assert str(kind()) == kind.__doc__.strip()  # a default message that says what happened


def test_exit_code_enum_follows_spec() -> None:
    assert [int(code) for code in ExitCode][:11] == list(range(11))
    assert int(ExitCode.INTERRUPTED) == 130


def test_seed_error_names_are_exported_and_keep_builtin_bases() -> None:
    seed = ["InvalidInput", "DuplicateCredential", "UnsupportedType", "NotFound", "AccessDenied",
            "Expired", "NoToken", "InvalidToken", "RefreshNotSupported", "RefreshFailed",
            "NoRefreshToken", "RotationFailed", "RotationInProgress", "StorageError",
            "EncryptionError", "InteractionRequired", "FlowExpired", "InvalidCallback",
            "ServiceUnavailable", "InternalError"]  # fmt: skip
    for name in seed:
        assert getattr(credctl, name) is error_classes()[name]
        assert name in credctl.__all__
    assert issubclass(InvalidInput, ValueError)
    assert issubclass(NotFound, LookupError)


def test_public_api_is_importable() -> None:
    for name in credctl.__all__:
        assert getattr(credctl, name) is not None, name
