"""Browser login, refresh and rotation against a real oidc-provider and headless Chromium."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from credctl.model import from_rfc3339
from tests.conftest import credctl_command

from .oauth_peers import AT_TTL, OAuthCli, Provider, read_stderr_until


def _expiry(cli: OAuthCli, name: str) -> float:
    return from_rfc3339(cli.record(name)["data"]["token_expiry"]).timestamp()


def test_login_then_refresh_after_the_lifetime_rotates_the_refresh_token(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    """login → get-token → past the lifetime → get-token: a new token, a rotated refresh token."""
    started = time.time()
    login = oauth_cli.login("corp", "--scope", "openid api:read")
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "1"  # the new id, alone on stdout
    assert "opened a browser" in login.stderr
    browser = oauth_cli.browser_result()
    assert browser["ok"], browser
    assert "Logged in" in browser["page"]
    code = browser["callback"]["code"]
    assert browser["callback"]["iss"] == provider.issuer  # RFC 9207, checked by credctl

    first = oauth_cli.record("corp")
    assert first["data"]["scopes"] == ["openid", "api:read", "offline_access"]
    assert first["oauth"] == {"grant": "authorization_code", "lifetime": AT_TTL,
                              "auth_method": "none"}  # fmt: skip
    token1 = oauth_cli.token("corp")
    assert token1 == first["data"]["access_token"]
    assert provider.grants("refresh_token", since=started) == []  # still fresh: no refresh

    time.sleep(max(0.0, _expiry(oauth_cli, "corp") - time.time()) + 0.5)
    token2 = oauth_cli.token("corp")
    second = oauth_cli.record("corp")
    assert token2 != token1
    assert token2 == second["data"]["access_token"]
    assert second["data"]["refresh_token"] != first["data"]["refresh_token"]  # rotated
    assert len(provider.grants("refresh_token", since=started)) == 1

    nothing = oauth_cli.run("refresh", "--all-expired")
    assert nothing.returncode == 0, nothing.stderr
    assert "nothing to refresh" in nothing.stderr

    metrics = oauth_cli.run("metrics", "corp", "--json")
    assert metrics.returncode == 0, metrics.stderr
    assert '"refresh_count": 1' in metrics.stdout

    oauth_cli.assert_never_shown(
        [code, first["data"]["refresh_token"], second["data"]["refresh_token"], token1, token2]
    )


def test_eight_processes_at_expiry_refresh_once_and_keep_the_grant(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    """Eight get-token processes at the moment of expiry: one refresh reaches the provider."""
    assert oauth_cli.login("team").returncode == 0
    old = oauth_cli.record("team")["data"]
    # The moment the stored expiry passes (the refresh-ahead window began AT_TTL/2 earlier).
    time.sleep(max(0.0, _expiry(oauth_cli, "team") - time.time()))
    since = time.time()
    processes = [
        subprocess.Popen(
            [*credctl_command(), "get-token", "team"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=oauth_cli.env,
        )
        for _ in range(8)
    ]
    results = [(p.wait(60), *p.communicate()) for p in processes]
    assert [code for code, _, _ in results] == [0] * 8, [err for _, _, err in results]
    assert all(err == "" for _, _, err in results)
    tokens = {out.strip() for _, out, _ in results}
    new = oauth_cli.record("team")["data"]
    assert tokens == {new["access_token"]}
    assert new["access_token"] != old["access_token"]
    assert len(provider.grants("refresh_token", since=since)) == 1
    assert provider.revocations(since=since) == []

    # The grant is alive: the rotated refresh token still works.
    again = oauth_cli.run("refresh", "team")
    assert again.returncode == 0, again.stderr
    assert len(provider.grants("refresh_token", since=since)) == 2
    assert provider.revocations(since=since) == []
    oauth_cli.outputs += [err for _, _, err in results]
    oauth_cli.assert_never_shown([old["refresh_token"], new["refresh_token"]])


def test_consent_denied_exits_5_and_stores_nothing(oauth_cli: OAuthCli) -> None:
    denied = oauth_cli.login("nope", mode="deny")
    assert denied.returncode == 5, denied.stderr
    assert denied.stdout == ""
    assert "denied" in denied.stderr
    assert "access_denied" in denied.stderr
    assert "Traceback" not in denied.stderr
    browser = oauth_cli.browser_result()
    assert browser["callback"]["error"] == "access_denied"
    assert "Login failed" in browser["page"]
    listing = oauth_cli.run("list", "--json")
    assert listing.stdout.strip() == "[]"
    assert oauth_cli.meta().get("oauth_flows", {}) == {}


def test_forged_state_is_refused_and_the_real_login_still_works(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    process = oauth_cli.start("oauth", "login", "real", "--issuer", provider.issuer,
                              "--client-id", "credctl-native", "--no-browser",
                              "--timeout", "60s")  # fmt: skip
    shown = read_stderr_until(process, "/auth?")
    url = next(line.strip() for line in shown.splitlines() if "/auth?" in line)
    query = parse_qs(urlsplit(url).query)
    assert len(query["state"][0]) >= 43  # 256 bits, base64url
    assert query["code_challenge_method"] == ["S256"]
    redirect = query["redirect_uri"][0]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/callback")

    forged = f"{redirect}?code=FAKE-forged-code&state=forged-state-0123456789"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)  # noqa: S310 - our own http URL
    assert refused.value.code == 400
    assert b"does not belong" in refused.value.read()

    browser = subprocess.run([str(oauth_cli.env["BROWSER"]), "--foreground", url],
                             capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert browser.returncode == 0, browser.stderr
    stdout, stderr = oauth_cli.finish(process)
    assert process.returncode == 0, stderr
    assert stdout.strip() == "1"
    assert "refused a request to the login listener" in stderr
    assert oauth_cli.record("real")["data"]["access_token"]
    assert "FAKE-forged-code" not in stderr


def test_after_invalid_grant_the_hint_is_the_command_that_logs_in_again(
    oauth_cli: OAuthCli, provider: Provider
) -> None:
    """A replayed refresh token revokes the grant; get-token says exactly how to log in again."""
    assert oauth_cli.login("ops").returncode == 0
    stolen = oauth_cli.record("ops")["data"]["refresh_token"]
    assert oauth_cli.run("refresh", "ops").returncode == 0  # rotates: `stolen` is spent
    # Someone replays the spent refresh token: the provider revokes the whole grant.
    body = f"grant_type=refresh_token&client_id=credctl-native&refresh_token={stolen}"
    replay = urllib.request.Request(  # noqa: S310 - the test provider's http URL
        f"{provider.issuer}/token", data=body.encode(), method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(replay, timeout=10)  # noqa: S310
    assert refused.value.code == 400

    failed = oauth_cli.run("refresh", "ops")
    assert failed.returncode == 7, failed.stderr
    assert "invalid_grant" in failed.stderr
    hint = next(line for line in failed.stderr.splitlines() if "hint:" in line)
    command = hint.split("log in again: ", 1)[1]
    assert command == "credctl oauth login ops"

    # get-token renews first when asked for more than the token has left, and fails the same.
    expired = oauth_cli.run("get-token", "ops", "--min-valid", "1h")
    assert expired.returncode == 7
    assert expired.stdout == ""
    assert "log in again: credctl oauth login ops" in expired.stderr
    assert "Traceback" not in expired.stderr

    again = oauth_cli.run(*command.split()[1:], env={"CREDCTL_TEST_BROWSER_MODE": "approve"})
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "1"  # the same credential, renewed
    assert oauth_cli.token("ops")
    oauth_cli.assert_never_shown([stolen])
