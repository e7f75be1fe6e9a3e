"""Shared fixtures: an isolated home, a throw-away vault, and the CLI as users run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.peer_backends import backend_lane_fixture  # noqa: F401 - the lane's fixture

pytest.register_assert_rewrite("credctl.testing")

# The cheapest Argon2id settings init accepts (OWASP's floor): tests never pay 256 MiB.
CHEAP_KDF = ["--kdf-memory", "19", "--kdf-time", "2", "--kdf-parallelism", "1"]
PASSPHRASE = "correct horse battery staple (fake)"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def credctl_command() -> list[str]:
    """The installed console script, as users run it."""
    found = shutil.which("credctl")
    return [found] if found else [sys.executable, "-m", "credctl"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In the PostgreSQL lane, a test about the vault file itself has nothing to test."""
    from tests.peer_backends import LANE

    if LANE and item.get_closest_marker("vault_file") is not None:
        pytest.skip(f"about the vault file itself (CREDCTL_TEST_BACKEND={LANE})")


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private HOME and no credctl variables from the developer's shell."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("CREDCTL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    """Where a test's vault lives (not created)."""
    return tmp_path / "vaults" / "test.credctl"


@pytest.fixture
def run_cli(vault_path: Path, request: pytest.FixtureRequest) -> RunCli:
    """Run the credctl console script in a subprocess with no terminal on stdin.

    In the PostgreSQL lane (``CREDCTL_TEST_BACKEND=postgresql``) the test's vault is
    a space in a PostgreSQL database instead of the file at `vault_path`.
    """
    from tests.peer_backends import LANE, lane_url

    server = request.getfixturevalue("backend_lane") if LANE else None

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        vault: Path | None = vault_path,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        if vault is not None:
            full_env["CREDCTL_VAULT"] = str(vault)
            backend = lane_url(server, vault)
            if backend is not None:
                full_env["CREDCTL_BACKEND"] = backend
        full_env.update(env or {})
        return subprocess.run(
            [*credctl_command(), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def initialized_vault(run_cli: RunCli, vault_path: Path) -> Path:
    """A vault created through `credctl init` with the cheap KDF and PASSPHRASE."""
    result = run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE": PASSPHRASE})
    assert result.returncode == 0, result.stderr
    return vault_path


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    """Users never see a Python traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
