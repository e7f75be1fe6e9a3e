"""Every provider request has one overall deadline below the vault lock timeout (issue 8, #10).

A token endpoint that drips one byte a second never trips a per-read timeout; the
refresh behind `get-token` holds the vault's writer lock meanwhile, so it must give
up within the deadline, release the lock, and leave other writers their turn.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl.oauth._deadline import request_budget
from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback, credctl_command
from tests.local_provider import LocalProvider

ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
# Process start, unlocking (cheap KDF) and the error path, on a busy test machine.
SLACK = 6.0


@pytest.fixture
def provider() -> Iterator[LocalProvider]:
    started = LocalProvider()
    yield started
    started.close()


def store_expired(run_cli: RunCli, provider: LocalProvider, name: str = "slow") -> None:
    created = run_cli(
        "create", "oauth2", name, "--field", "client_id=cli",
        "--field", f"token_url={provider.url}/token", "--field", "refresh_token=env:RT",
        "--field", "access_token=env:AT", "--field", "token_expiry=2000-01-01T00:00:00Z",
        env={**ENV, "RT": "FAKE-refresh-token", "AT": "FAKE-old-access-token"},
    )  # fmt: skip
    assert created.returncode == 0, created.stderr


def start_cli(vault: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*credctl_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CREDCTL_VAULT": str(vault), **env},
    )


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"still running after {timeout:g} s: the provider kept it waiting")


def test_get_token_gives_up_on_a_dripping_token_endpoint_and_frees_the_lock(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    """Default settings: the refresh stops at 8 s, inside the writer's 10 s lock wait."""
    store_expired(run_cli, provider)
    provider.drip_body("/token")
    started = time.monotonic()

    getter = start_cli(initialized_vault, "get-token", "slow", env=ENV)
    provider.wait_for_request("/token")
    # Another writer queues behind the refresh's lock with the default 10 s timeout.
    writer = start_cli(initialized_vault, "create", "token", "other", "--field",
                       "token=env:T", env={**ENV, "T": "FAKE-other-token"})  # fmt: skip
    stdout, stderr = finish(getter, request_budget({}) + SLACK)
    elapsed = time.monotonic() - started
    written, writer_stderr = finish(writer, 20)

    assert getter.returncode == 10, stderr
    assert stdout == ""
    assert "did not finish answering within 8 s" in stderr
    assert "Traceback" not in stderr and "FAKE-" not in stderr
    assert 8 <= elapsed < 8 + SLACK
    assert writer.returncode == 0, writer_stderr
    assert written.strip().isdigit()


def test_a_dripped_status_line_is_bounded_too(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    store_expired(run_cli, provider)
    provider.drip_head("/token")
    started = time.monotonic()

    result = run_cli("get-token", "slow", env={**ENV, "CREDCTL_PROVIDER_TIMEOUT": "2"})

    assert result.returncode == 10, result.stderr
    assert time.monotonic() - started < 2 + SLACK
    assert "did not finish answering within 2 s" in result.stderr
    assert_no_traceback(result)
    # The lock is free: a writer that does not wait at all gets in.
    after = run_cli("create", "token", "next", "--field", "token=env:T",
                    env={**ENV, "T": "FAKE-t", "CREDCTL_LOCK_TIMEOUT": "0"})  # fmt: skip
    assert after.returncode == 0, after.stderr


def test_the_lock_timeout_caps_the_deadline(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider
) -> None:
    """CREDCTL_LOCK_TIMEOUT=3 and a larger provider timeout: the request stops at 1.5 s."""
    store_expired(run_cli, provider)
    provider.drip_body("/token")
    started = time.monotonic()

    result = run_cli("get-token", "slow", env={**ENV, "CREDCTL_LOCK_TIMEOUT": "3",
                                               "CREDCTL_PROVIDER_TIMEOUT": "30"})  # fmt: skip

    assert result.returncode == 10, result.stderr
    assert "within 1.5 s" in result.stderr
    assert time.monotonic() - started < 1.5 + SLACK


@pytest.mark.parametrize("flow", ["discovery", "device code", "client credentials"])
def test_every_kind_of_provider_request_has_the_deadline(
    run_cli: RunCli, initialized_vault: Path, provider: LocalProvider, flow: str
) -> None:
    secret = initialized_vault.parent / "secret"
    secret.write_text("FAKE-client-secret\n", encoding="utf-8")
    if flow == "discovery":
        path = "/.well-known/openid-configuration"
        args = ["oauth", "login", "x", "--issuer", provider.url, "--client-id", "c",
                "--no-browser"]  # fmt: skip
    elif flow == "device code":
        path = "/device"
        args = ["oauth", "login", "x", "--device", "--token-url", f"{provider.url}/token",
                "--device-url", f"{provider.url}/device", "--client-id", "c"]  # fmt: skip
    else:
        path = "/token"
        args = ["oauth", "client-credentials", "x", "--token-url", f"{provider.url}/token",
                "--client-id", "c", "--client-secret", f"@{secret}"]  # fmt: skip
    provider.drip_body(path)
    started = time.monotonic()

    result = run_cli(*args, env={**ENV, "CREDCTL_PROVIDER_TIMEOUT": "1"})

    assert result.returncode == 10, result.stderr
    assert "did not finish answering within 1 s" in result.stderr
    assert time.monotonic() - started < 1 + SLACK
    assert "FAKE-client-secret" not in result.stderr


@pytest.mark.parametrize(
    ("environ", "budget"),
    [
        ({}, 8.0),
        ({"CREDCTL_PROVIDER_TIMEOUT": "3"}, 3.0),
        ({"CREDCTL_PROVIDER_TIMEOUT": "30"}, 8.0),  # the 10 s lock timeout less 2 s
        ({"CREDCTL_PROVIDER_TIMEOUT": "30", "CREDCTL_LOCK_TIMEOUT": "60"}, 30.0),
        ({"CREDCTL_LOCK_TIMEOUT": "5"}, 3.0),
        ({"CREDCTL_LOCK_TIMEOUT": "3"}, 1.5),  # half, when 2 s would leave too little
        ({"CREDCTL_LOCK_TIMEOUT": "0"}, 0.5),
        ({"CREDCTL_PROVIDER_TIMEOUT": "nan"}, 8.0),
        ({"CREDCTL_PROVIDER_TIMEOUT": "soon"}, 8.0),
        ({"CREDCTL_LOCK_TIMEOUT": "-4"}, 0.5),  # read as 0, as the vault reads it
    ],
)
def test_request_budget(environ: dict[str, str], budget: float) -> None:
    assert request_budget(environ) == budget
