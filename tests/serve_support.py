"""A real `credctl serve` process for tests: started on a free 127.0.0.1 port.

The server is started through the console script with ``--port 0`` and announces
the port it bound on stderr; `ServerProcess` waits for that line (with a
deadline), keeps every later line of its log for leak checks, and stops it with
SIGTERM.  `Api` is an httpx client that remembers every response it received.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command

ANNOUNCED = re.compile(r"serving the REST API on (\S+)")


def cli_env(vault: Path, **extra: str) -> dict[str, str]:
    """The environment of a credctl process on `vault` (passphrase as the unlock source)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}
    env.update({"CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": PASSPHRASE, **extra})
    return env


def cli(vault: Path, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """Run the console script on `vault`."""
    return subprocess.run([*credctl_command(), *args], input=input, capture_output=True,
                          text=True, env=cli_env(vault), timeout=120, check=False)  # fmt: skip


def init_vault(vault: Path) -> Path:
    """`credctl init` with the cheap KDF."""
    result = cli(vault, "init", *CHEAP_KDF)
    assert result.returncode == 0, result.stderr
    return vault


def issue_token(vault: Path, user: str, *extra: str) -> str:
    """`credctl serve token create --user USER`: the token alone on stdout."""
    result = cli(vault, "serve", "token", "create", "--user", user, *extra)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    return token


class ServerProcess:
    """`credctl serve` in a subprocess; `url` once it listens, `log` its stderr lines."""

    def __init__(self, vault: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.vault = vault
        self.log: list[str] = []
        self._announced = threading.Event()
        self.url = ""
        self.proc = subprocess.Popen(
            [*credctl_command(), "serve", "--port", "0", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env or cli_env(vault),
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            match = ANNOUNCED.search(line)
            if match:
                self.url = match.group(1)
                self._announced.set()
        self._announced.set()  # it exited: wake the waiter

    def wait_ready(self, timeout: float = 90) -> ServerProcess:
        """Wait for the announcement, or fail with the log."""
        self._announced.wait(timeout)
        assert self.url, f"the server did not start: {''.join(self.log)}"
        return self

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, then the exit code (the log is complete afterwards)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def wait_exit(self, timeout: float = 90) -> int:
        """The exit code of a server that stops by itself (a refused start)."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    @property
    def text(self) -> str:
        """The whole log so far."""
        return "".join(self.log)


class Api:
    """An httpx client for one user's token that remembers every response."""

    seen: list[httpx.Response]

    def __init__(self, url: str, token: str | None, seen: list[httpx.Response]) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.client = httpx.Client(base_url=url, headers=headers, timeout=60)
        self.seen = seen

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; the response is kept for the leak scan."""
        response = self.client.request(method, path, **kwargs)
        self.seen.append(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)


def envelope(response: httpx.Response, status: int) -> Any:
    """The `data` of a response with `status` in the envelope; errors have data null."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"success", "message", "data"}, body
    assert body["success"] is (status < 400)
    assert isinstance(body["message"], str) and body["message"]
    if status >= 400:
        assert body["data"] is None
    else:
        assert body["message"] == "Success"
    return body["data"]


def poll(check: Any, *, timeout: float = 30, interval: float = 0.05) -> Any:
    """Call `check` until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, "condition not met before the deadline"
        time.sleep(interval)


def lines(text: str) -> Iterator[str]:
    """Non-empty lines."""
    return (line for line in text.splitlines() if line.strip())
