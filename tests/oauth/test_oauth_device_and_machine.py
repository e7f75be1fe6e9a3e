"""The device flow approved in the browser, machine clients, and an unreachable provider."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from credctl.model import from_rfc3339

from .oauth_peers import (
    AT_TTL,
    HERE,
    MACHINE_CLIENT,
    MACHINE_SECRET,
    SHORT_DEVICE_CLIENT,
    OAuthCli,
    Provider,
    read_stderr_until,
)


def _device_prompt(stderr: str) -> tuple[str, str]:
    uri = re.search(r"open (http://\S+/device) on any device", stderr)
    code = re.search(r"^credctl:\s+([A-Z]{4}-[A-Z]{4})$", stderr, re.MULTILINE)
    assert uri and code, stderr
    return uri.group(1), code.group(1)


def test_device_flow_approved_in_the_browser(oauth_cli: OAuthCli, provider: Provider) -> None:
    """`oauth login --device`: URI and code on stderr, approval in Chromium, tokens stored."""
    process = oauth_cli.start("oauth", "login", "box", "--device", "--issuer", provider.issuer,
                              "--client-id", "credctl-native")  # fmt: skip
    shown = read_stderr_until(process, "waiting for the approval")
    uri, user_code = _device_prompt(shown)
    approve = subprocess.run(
        [str(HERE / "browser.mjs"), "--foreground", "--mode", "device", "--user-code", user_code,
         uri], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert approve.returncode == 0, approve.stderr
    stdout, stderr = oauth_cli.finish(process, timeout=60)
    assert process.returncode == 0, stderr
    assert stdout.strip() == "1"  # stdout: the id only; the code went to stderr
    record = oauth_cli.record("box")
    assert record["oauth"]["grant"] == "device_code"
    assert record["data"]["refresh_token"]
    assert oauth_cli.token("box") == record["data"]["access_token"]
    assert oauth_cli.meta().get("oauth_flows") == {}
    oauth_cli.assert_never_shown(oauth_cli.secrets_of("box"))


def test_device_flow_gives_up_when_the_code_expires(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    """Nobody approves: credctl stops at the code's expiry (6 s for this client), exit 7."""
    started = time.monotonic()
    done = oauth_cli.run("oauth", "login", "late", "--device", "--issuer", provider.issuer,
                         "--client-id", SHORT_DEVICE_CLIENT, timeout=60)  # fmt: skip
    assert done.returncode == 7, done.stderr
    assert "expired before the login was approved" in done.stderr
    assert time.monotonic() - started < 30
    assert done.stdout == ""
    assert oauth_cli.run("list", "--json").stdout.strip() == "[]"


def test_client_credentials_token_is_fetched_again_after_it_expires(
    oauth_cli: OAuthCli, provider: Provider, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(MACHINE_SECRET + "\n")
    stored = oauth_cli.run("oauth", "client-credentials", "bot", "--issuer", provider.issuer,
                           "--client-id", MACHINE_CLIENT,
                           "--client-secret", f"@{secret_file}")  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.strip() == "1"
    record = oauth_cli.record("bot")
    assert record["oauth"]["grant"] == "client_credentials"
    assert "refresh_token" not in record["data"]
    first = oauth_cli.token("bot")
    assert first == record["data"]["access_token"]
    since = time.time()
    expiry = from_rfc3339(record["data"]["token_expiry"]).timestamp()
    time.sleep(max(0.0, expiry - time.time()) + 0.3)
    second = oauth_cli.token("bot")
    assert second != first
    assert len(provider.grants("client_credentials", since=since)) == 1
    assert oauth_cli.token("bot") == second  # fresh now: no new fetch
    assert len(provider.grants("client_credentials", since=since)) == 1
    oauth_cli.assert_never_shown([MACHINE_SECRET, first, second])


def test_client_secret_as_a_literal_is_refused(oauth_cli: OAuthCli, provider: Provider) -> None:
    done = oauth_cli.run("oauth", "client-credentials", "bot", "--issuer", provider.issuer,
                         "--client-id", MACHINE_CLIENT,
                         "--client-secret", MACHINE_SECRET)  # fmt: skip
    assert done.returncode == 9
    assert MACHINE_SECRET not in done.stderr
    assert "--client-secret @FILE" in done.stderr


def test_wrong_client_secret_exits_7_and_stores_nothing(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    done = oauth_cli.run("oauth", "client-credentials", "bot", "--issuer", provider.issuer,
                         "--client-id", MACHINE_CLIENT, "--client-secret", "env:WRONG",
                         env={"WRONG": "FAKE-wrong-secret"})  # fmt: skip
    assert done.returncode == 7, done.stderr
    assert "invalid_client" in done.stderr
    assert "FAKE-wrong-secret" not in done.stderr
    assert oauth_cli.run("list", "--json").stdout.strip() == "[]"


def test_stopped_provider_is_exit_10_without_traceback(
    node: str, tmp_path: Path, oauth_cli: OAuthCli
) -> None:
    """A provider of its own, stopped after the login: refresh and get-token exit 10."""
    own = Provider(node, tmp_path, at_ttl=AT_TTL)
    try:
        oauth_cli.issuer = own.issuer
        assert oauth_cli.login("gone").returncode == 0
        token = oauth_cli.record("gone")["data"]["access_token"]
    finally:
        own.stop()
    # Still valid but inside the window: the token in hand is used although renewal failed.
    expiry = from_rfc3339(oauth_cli.record("gone")["data"]["token_expiry"]).timestamp()
    time.sleep(max(0.0, expiry - time.time() - 2.5))
    still = oauth_cli.run("get-token", "gone", token_on_stdout=True)
    assert still.returncode == 0, still.stderr
    assert still.stdout.strip() == token

    refresh = oauth_cli.run("refresh", "gone")
    assert refresh.returncode == 10, refresh.stderr
    assert "could not reach the token endpoint of 'gone'" in refresh.stderr
    assert "the connection was refused" in refresh.stderr
    time.sleep(max(0.0, expiry - time.time()) + 0.3)
    expired = oauth_cli.run("get-token", "gone")
    assert expired.returncode == 10, expired.stderr
    assert expired.stdout == ""
    every = oauth_cli.run("refresh", "--all-expired")
    assert every.returncode == 10, every.stderr
    assert "could not refresh 1 of 1: 'gone'" in every.stderr
    for done in (refresh, expired, every):
        assert "Traceback" not in done.stderr
        assert "internal error" not in done.stderr
    oauth_cli.assert_never_shown(oauth_cli.secrets_of("gone"))
