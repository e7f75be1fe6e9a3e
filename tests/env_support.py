"""A vault with an open session for the `credctl env` tests, filled through the library.

Creating credentials one `credctl create` at a time would cost a process each; the
library writes any number of them in one vault write.  Every `credctl` child then
unlocks through `CREDCTL_SESSION`, as a CI job does after `credctl unlock`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from credctl.manager import CredentialManager
from credctl.model import CredentialInput
from credctl.storage.base import CredentialStorage
from credctl.storage.vault_storage import VaultStorage
from credctl.vault import EnvironmentUnlocker, Vault
from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command


class SessionVault:
    """A vault, a library manager on it, and the environment that unlocks it by session."""

    def __init__(self, folder: Path) -> None:
        home = folder / "home"
        home.mkdir(parents=True)
        self.path = folder / "vault" / "env.credctl"
        self.env: dict[str, str] = {
            key: value for key, value in os.environ.items() if not key.startswith("CREDCTL_")
        }
        self.env.update(
            HOME=str(home),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local/state"),
            XDG_RUNTIME_DIR=str(home / "run"),
            NO_COLOR="1",
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
            CREDCTL_VAULT=str(self.path),
        )
        from tests.peer_backends import lane_server, lane_url

        backend = lane_url(lane_server(), self.path)  # the PostgreSQL lane
        if backend is not None:
            self.env["CREDCTL_BACKEND"] = backend
        self.run("init", *CHEAP_KDF, extra={"CREDCTL_PASSPHRASE": PASSPHRASE})
        unlocked = self.run("unlock", "--ttl", "8h", extra={"CREDCTL_PASSPHRASE": PASSPHRASE})
        self.env["CREDCTL_SESSION"] = unlocked.stdout.strip().split("'")[1]
        unlocker = EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})
        if backend is not None:
            from credctl.storage.backends import open_backend_storage

            storage: CredentialStorage = open_backend_storage(backend, unlocker=unlocker)
        else:
            storage = VaultStorage(Vault(self.path), unlocker)
        self.manager = CredentialManager(storage=storage)

    def run(
        self, *args: str, extra: Mapping[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the credctl console script with this vault's environment.

        Output is decoded as UTF-8 without newline translation (``text=True`` would
        turn a value's CR LF into LF and hide what credctl really printed).
        """
        raw = subprocess.run(
            [*credctl_command(), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env={**self.env, **(extra or {})},
            timeout=60,
            check=False,
        )
        done = subprocess.CompletedProcess(
            raw.args, raw.returncode, raw.stdout.decode("utf-8"), raw.stderr.decode("utf-8")
        )
        if check:
            assert done.returncode == 0, f"credctl {' '.join(args)}: {done.stderr}"
        return done

    def create(self, items: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        """Create ``(type, name, data)`` credentials in one vault write."""
        results = self.manager.batch_create(
            [CredentialInput(kind, data, name=name) for kind, name, data in items]
        )
        failed = [r for r in results if not isinstance(r, int)]
        assert failed == [], failed

    def delete(self, names: Sequence[str]) -> None:
        """Delete credentials in one vault write."""
        self.manager.batch_delete(list(names))
