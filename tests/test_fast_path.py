"""The startup-bound path: what it imports (its parser: tests/test_command_line.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, RunCli

# SPEC §8 and the credentials issue: none of these on the get-token path.
# `dataclasses` too: importing it (and `inspect` behind it) and building the classes
# cost get-token about 12 ms, a third of its budget against `pass show`.
FORBIDDEN = ("typer", "click", "rich", "pydantic", "httpx", "authlib", "keyring", "argon2",
             "fastapi", "importlib.metadata", "dataclasses")  # fmt: skip


def imported_modules(args: list[str], env: dict[str, str]) -> tuple[set[str], str]:
    """Run `python -X importtime -m credctl ARGS` and collect every module it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "credctl", *args],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip())
    return modules, done.stdout


@pytest.fixture
def vault_with_token(run_cli: RunCli, initialized_vault: Path) -> dict[str, str]:
    """A vault holding one token credential, and a session and a CI key for it."""
    from credctl.manager import CredentialManager
    from credctl.model import StorageBackend

    manager = CredentialManager.builder().storage_backend(StorageBackend.file(initialized_vault))
    os.environ["CREDCTL_PASSPHRASE"] = PASSPHRASE
    try:
        manager.build().create_credential("token", {"token": "FAKE-fast-path-token"}, name="gh")
    finally:
        del os.environ["CREDCTL_PASSPHRASE"]
    env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
    session = run_cli("unlock", env=env).stdout.strip().split("'")[1]
    key = run_cli("key", "add-ci", env=env).stdout.strip()
    return {"session": session, "key": key, "vault": str(initialized_vault)}


@pytest.mark.parametrize("source", ["session", "key"])
@pytest.mark.parametrize(
    "args",
    [
        ["get-token", "gh"],
        ["get-token", "1", "--format", "json"],
        ["get-token", "gh", "-f", "token"],
        ["get-token", "gh", "-ftoken"],  # issue 9: this spelling fell back to Typer
        ["get-token", "--field=token", "gh"],
        ["env", "gh"],
        ["env", "gh", "--shell", "fish", "--prefix", "X_"],
        ["env", "TOKEN=gh.token", "-s", "powershell"],
        ["env", "--shell", "dotenv", "gh.token"],
        ["env", "gh", "--shell=json"],
        ["env", "gh", "--shell", "github"],
        ["exec", "gh", "--", "sh", "-c", "echo $GH_TOKEN"],
        ["exec", "--pristine", "--env", "T=gh.token", "--", "sh", "-c", "echo $T"],
        ["exec", "-eT=gh.token", "--", "sh", "-c", "echo $T"],  # issue 9: this exited 2
        ["exec", "--mask", "--", "sh", "-c", "echo FAKE-fast-path-token"],
    ],
)
def test_get_token_imports_nothing_heavy(
    vault_with_token: dict[str, str], source: str, args: list[str]
) -> None:
    variable = "CREDCTL_SESSION" if source == "session" else "CREDCTL_KEY"
    env = {"CREDCTL_VAULT": vault_with_token["vault"], variable: vault_with_token[source]}
    modules, stdout = imported_modules(args, env)
    assert "FAKE-fast-path-token" in stdout
    heavy = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN)
    assert heavy == [], f"the fast path imported {heavy}"


def test_the_forbidden_list_would_catch_typer(vault_with_token: dict[str, str]) -> None:
    """The detector works: a command outside the fast path does import Typer."""
    env = {"CREDCTL_VAULT": vault_with_token["vault"]}
    modules, _ = imported_modules(["key", "list", "--json"], env)
    assert "typer" in modules


def test_constant_time_compare_is_the_stdlib_one() -> None:
    """The vault compares with `_operator._compare_digest`, hmac's own fallback."""
    import _operator
    import hmac

    from credctl.vault import crypto

    assert crypto.constant_time_compare is _operator._compare_digest
    assert "_compare_digest" in Path(hmac.__file__).read_text()
    assert crypto.checks_equal(b"same", b"same")
    assert not crypto.checks_equal(b"same", b"diff")


@pytest.mark.parametrize("source", ["session", "key"])
def test_create_imports_nothing_heavy(vault_with_token: dict[str, str], source: str) -> None:
    variable = "CREDCTL_SESSION" if source == "session" else "CREDCTL_KEY"
    env = {
        "CREDCTL_VAULT": vault_with_token["vault"],
        variable: vault_with_token[source],
        "FAKE_NEW_TOKEN": "FAKE-created-on-the-fast-path",
    }
    modules, stdout = imported_modules(
        ["create", "token", f"new-{source}", "--field", "token=env:FAKE_NEW_TOKEN"], env
    )
    assert stdout.strip().isdigit()
    heavy = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN)
    assert heavy == [], f"create imported {heavy}"


# -- oauth2: a valid token stays on the fast path; only a refresh loads authlib/httpx ------


def test_get_token_of_a_valid_oauth2_token_imports_nothing_heavy(
    vault_with_token: dict[str, str],
) -> None:
    import datetime as dt

    from credctl.manager import CredentialManager
    from credctl.model import StorageBackend

    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    data = {
        "access_token": "FAKE-oauth-access-token",
        "refresh_token": "FAKE-oauth-refresh-token",
        "token_expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "token_url": "https://login.example.com/token",
        "client_id": "credctl",
    }
    os.environ["CREDCTL_PASSPHRASE"] = PASSPHRASE
    try:
        backend = StorageBackend.file(vault_with_token["vault"])
        manager = CredentialManager.builder().storage_backend(backend).build()
        manager.create_credential("oauth2", data, name="corp")
    finally:
        del os.environ["CREDCTL_PASSPHRASE"]
    session = vault_with_token["session"]
    env = {"CREDCTL_VAULT": vault_with_token["vault"], "CREDCTL_SESSION": session}
    for args in (["get-token", "corp"], ["get-token", "corp", "--format", "header"],
                 ["get-token", "corp", "--min-valid", "5m"]):  # fmt: skip
        modules, stdout = imported_modules(args, env)
        assert "FAKE-oauth-access-token" in stdout
        heavy = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN)
        assert heavy == [], f"get-token of a valid oauth2 token imported {heavy}"
        assert "credctl.oauth.refresh" not in modules
