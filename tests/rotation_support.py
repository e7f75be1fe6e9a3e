"""Helpers shared by the rotation tests: a CLI bound to one vault, and a look inside it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from credctl.records.activity import Activity
from tests.conftest import PASSPHRASE, RunCli

UNLOCK = {"CREDCTL_PASSPHRASE": PASSPHRASE}


class Cli:
    """`credctl` on one initialised vault, unlocked by the passphrase variable."""

    def __init__(self, run_cli: RunCli, vault: Path) -> None:
        self._run = run_cli
        self.vault = vault

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = self._run(*args, env={**UNLOCK, **(env or {})}, input=input)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def ok(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
        """stdout of a command that must succeed."""
        done = self(*args, env=env, input=input)
        assert done.returncode == 0, (args, done.stderr)
        return done.stdout

    def token(self, ref: str, *args: str, env: dict[str, str] | None = None) -> str:
        return self.ok("get-token", ref, *args, env=env).rstrip("\n")

    def create_token(self, name: str, value: str, tmp: Path) -> int:
        secret = tmp / f"{name}.secret"
        secret.write_text(value)
        return int(self.ok("create", "token", name, "--field", f"token=@{secret}"))

    def body(self) -> dict[str, Any]:
        """The decrypted vault: settings and records, as stored now (in either lane)."""
        from tests.backend_support import stored

        return stored(self.vault, UNLOCK)

    def generation(self) -> int:
        """How many commits the vault has seen (in either lane)."""
        from tests.backend_support import commits

        return commits(self.vault, UNLOCK)

    def plaintext(self) -> str:
        """Everything the current vault generation holds, as one JSON text."""
        return json.dumps(self.body())

    def activities(self) -> list[Activity]:
        """Every activity logged so far, oldest first (through the record layer)."""
        from credctl.manager import CredentialManager
        from tests.backend_support import opened_storage

        with opened_storage(self.vault, UNLOCK) as storage:
            return list(CredentialManager(storage=storage).records.activities())
