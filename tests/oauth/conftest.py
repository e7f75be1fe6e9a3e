"""Real peers for the OAuth tests: an oidc-provider server and headless Debian Chromium.

The fixtures install what they need on first use (``npm ci`` into
``tests/oauth/node_modules``) and start the provider on a free port of 127.0.0.1
once per session; ``scripts/test`` installs Debian's ``chromium`` beforehand.  When
node, npm, the npm packages or ``/usr/bin/chromium`` cannot be had, every test here
is skipped with a loud banner naming the reason, never silently (`tests.peers`
decides; under ``CREDCTL_REQUIRE_PEERS=1`` they fail instead).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command
from tests.peer_backends import vault_env
from tests.peers import peer_missing

from .oauth_peers import CHROMIUM, HERE, OAuthCli, Provider, installed


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, with oidc-provider and playwright-core installed next to the tests."""
    found, npm = shutil.which("node"), shutil.which("npm")
    if not found or not npm:
        peer_missing("node", "node and npm are not installed (Debian: apt-get install nodejs npm)")
    assert found is not None and npm is not None
    if not CHROMIUM.is_file():
        peer_missing("chromium", f"{CHROMIUM} is missing (Debian: apt-get install chromium)")
    if not installed():
        command = [npm, "ci" if (HERE / "package-lock.json").is_file() else "install",
                   "--no-audit", "--no-fund"]  # fmt: skip
        done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=600,
                              check=False)  # fmt: skip
        if done.returncode != 0 or not installed():
            peer_missing("oidc-provider", f"`npm {' '.join(command[1:])}` in {HERE} failed: "
                         f"{done.stderr[-500:]}")  # fmt: skip
    return found


@pytest.fixture(scope="session")
def provider(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """The session's oidc-provider (access tokens live `AT_TTL` seconds)."""
    started = Provider(node, tmp_path_factory.mktemp("provider"))
    yield started
    started.stop()


@pytest.fixture
def oauth_cli(provider: Provider, tmp_path: Path) -> OAuthCli:
    """A fresh vault, unlocked by a session, and credctl with the test browser."""
    vault = tmp_path / "vault" / "oauth.credctl"
    init = subprocess.run([*credctl_command(), "init", *CHEAP_KDF], capture_output=True,
                          text=True, check=False,
                          env={**os.environ, **vault_env(vault),
                               "CREDCTL_PASSPHRASE": PASSPHRASE})  # fmt: skip
    assert init.returncode == 0, init.stderr
    return OAuthCli(vault, tmp_path, provider.issuer)
