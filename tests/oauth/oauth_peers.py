"""Helpers for the OAuth tests: the oidc-provider process and credctl with the test browser.

The fixtures that use them are in ``conftest.py`` beside this file.  `OAuthCli` runs
the real ``credctl`` console script against a fresh vault, with
``BROWSER`` pointing at ``browser.mjs`` (which drives Chromium through the provider's
own login and consent pages), and keeps every output it saw so that a test can check
that no code or token ever appeared in one.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.conftest import PASSPHRASE, credctl_command
from tests.peer_backends import lane_storage_backend, vault_env
from tests.peers import peer_failed

HERE = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
#: Access-token lifetime of the test provider; the refresh-ahead window is half of it.
AT_TTL = 6
NATIVE_CLIENT = "credctl-native"
SHORT_DEVICE_CLIENT = "credctl-device-short"
MACHINE_CLIENT = "credctl-machine"
MACHINE_SECRET = "FAKE-machine-client-secret-0123456789"


def installed() -> bool:
    """True when the npm packages are in tests/oauth/node_modules."""
    return all((HERE / "node_modules" / pkg / "package.json").is_file()
               for pkg in ("oidc-provider", "playwright-core"))  # fmt: skip


class Provider:
    """A running oidc-provider and its event log."""

    def __init__(self, node: str, workdir: Path, *, at_ttl: int = AT_TTL) -> None:
        self.log_path = workdir / "provider.out"
        self.err_path = workdir / "provider.err"
        self.at_ttl = at_ttl
        with self.log_path.open("w") as out, self.err_path.open("w") as err:
            self.process = subprocess.Popen(
                [node, str(HERE / "provider.mjs"), "--port", "0", "--at-ttl", str(at_ttl)],
                cwd=HERE, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        ready: dict[str, Any] | None = None
        while ready is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                peer_failed("oidc-provider", f"did not start: {self.err_path.read_text()[-800:]}")
            lines = self.log_path.read_text().splitlines()
            if lines:
                ready = json.loads(lines[0])
            else:
                time.sleep(0.05)
        self.issuer: str = ready["issuer"]
        self.port: int = ready["port"]
        discovery = f"{self.issuer}/.well-known/openid-configuration"
        with urllib.request.urlopen(discovery, timeout=10) as reply:  # noqa: S310 - http only
            self.metadata = json.load(reply)

    def events(self) -> list[dict[str, Any]]:
        """Every event the provider logged (grants, errors, revocations), in order."""
        lines = self.log_path.read_text().splitlines()[1:]
        return [json.loads(line) for line in lines if line.startswith("{")]

    def grants(self, grant_type: str, *, since: float = 0.0) -> list[dict[str, Any]]:
        """Successful token requests of one grant type after `since`."""
        return [e for e in self.events() if e["event"] == "grant.success"
                and e.get("grant_type") == grant_type and e["t"] >= since]  # fmt: skip

    def revocations(self, *, since: float = 0.0) -> list[dict[str, Any]]:
        """Grants the provider revoked (a replayed refresh token revokes its grant)."""
        return [e for e in self.events() if e["event"] == "grant.revoked" and e["t"] >= since]

    def stop(self) -> None:
        """Stop the server (and wait for it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class OAuthCli:
    """The credctl console script on a fresh vault, with the test browser as $BROWSER."""

    def __init__(self, vault: Path, workdir: Path, issuer: str) -> None:
        self.vault = vault
        self.issuer = issuer
        self.browser_log = workdir / "browser.log"
        self.outputs: list[str] = []
        self.env = {
            **os.environ,
            **vault_env(vault),
            "BROWSER": str(HERE / "browser.mjs"),
            "CREDCTL_TEST_BROWSER_LOG": str(self.browser_log),
        }
        unlock = self.run("unlock", "--ttl", "30m", env={"CREDCTL_PASSPHRASE": PASSPHRASE})
        assert unlock.returncode == 0, unlock.stderr
        self.env["CREDCTL_SESSION"] = unlock.stdout.split("'")[1]
        self.outputs.clear()  # the session is no OAuth secret, but it is a secret

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 90,
            input: str = "", token_on_stdout: bool = False,
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """Run credctl, wait, and remember its output (not stdout that is a token by design)."""
        done = subprocess.run([*credctl_command(), *args], capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout, input=input,
                              check=False)  # fmt: skip
        self.outputs += [done.stderr] if token_on_stdout else [done.stdout, done.stderr]
        return done

    def token(self, name: str, *args: str) -> str:
        """`credctl get-token NAME`: the token, after checking it worked cleanly."""
        done = self.run("get-token", name, *args, token_on_stdout=True)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", done.stderr
        return done.stdout.strip()

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """Start credctl without waiting (stderr is read line by line by the test)."""
        return subprocess.Popen([*credctl_command(), *args], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**self.env, **(env or {})})  # fmt: skip

    def finish(self, process: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
        """Wait for a started credctl; its stdout and the rest of its stderr."""
        stdout, stderr = process.communicate(timeout=timeout)
        self.outputs += [stdout, stderr]
        return stdout, stderr

    def login(self, name: str, *args: str, client_id: str = NATIVE_CLIENT,
              mode: str = "approve") -> subprocess.CompletedProcess[str]:  # fmt: skip
        """`credctl oauth login NAME --issuer … --client-id …` through the test browser."""
        return self.run("oauth", "login", name, "--issuer", self.issuer, "--client-id",
                        client_id, "--timeout", "60s", *args,
                        env={"CREDCTL_TEST_BROWSER_MODE": mode})  # fmt: skip

    def browser_result(self, timeout: float = 20) -> dict[str, Any]:
        """The browser's last ``done`` line (it finishes a moment after credctl does)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.browser_log.exists():
                done = [json.loads(line) for line in self.browser_log.read_text().splitlines()
                        if '"done"' in line]  # fmt: skip
                if done:
                    return done[-1]
            time.sleep(0.1)
        raise AssertionError("the test browser never finished")

    def record(self, name: str) -> dict[str, Any]:
        """The stored record (read through the library, as a test oracle)."""
        from credctl.manager import CredentialManager

        os.environ["CREDCTL_PASSPHRASE"] = PASSPHRASE
        try:
            manager = (
                CredentialManager.builder()
                .storage_backend(lane_storage_backend(self.vault))
                .build()
            )
            found = manager.storage.snapshot().get_by_name(name)
            meta = dict(manager.storage.snapshot().meta)
        finally:
            del os.environ["CREDCTL_PASSPHRASE"]
        assert found is not None, f"no credential {name!r}"
        return {**found, "_meta": meta}

    def meta(self) -> dict[str, Any]:
        """The vault's settings (pending flows live there)."""
        from credctl.manager import CredentialManager

        os.environ["CREDCTL_PASSPHRASE"] = PASSPHRASE
        try:
            manager = (
                CredentialManager.builder()
                .storage_backend(lane_storage_backend(self.vault))
                .build()
            )
            return dict(manager.storage.snapshot().meta)
        finally:
            del os.environ["CREDCTL_PASSPHRASE"]

    def secrets_of(self, name: str) -> list[str]:
        """The token values stored for `name` (to look for in outputs)."""
        data = self.record(name)["data"]
        return [data[k] for k in ("access_token", "refresh_token", "client_secret") if data.get(k)]

    def assert_never_shown(self, values: list[str]) -> None:
        """None of `values` in any output seen (but get-token's stdout), nor in the files
        beside the vault (the audit trail and backups are encrypted)."""
        for text in self.outputs:
            for value in values:
                if value and value in text:
                    raise AssertionError(f"a secret value appeared in credctl output: {text!r}")
        sidecar = self.vault.parent / (self.vault.name + ".d")
        for path in [*sidecar.rglob("*"), self.vault.parent / (self.vault.name + ".lock")]:
            if path.is_file():
                blob = path.read_bytes()
                for value in values:
                    assert value.encode() not in blob, f"a secret value is in {path}"


def read_stderr_until(process: subprocess.Popen[str], marker: str, timeout: float = 30) -> str:
    """Lines of a running credctl's stderr up to the first that contains `marker`."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never appeared on stderr: {''.join(seen)}")
