"""Rotating oauth2 credentials: without new data, `rotate` renews by the refresh grant
(here a machine client's client_credentials grant) and moves the credential to a new id."""

from __future__ import annotations

import json
from pathlib import Path

from .oauth_peers import MACHINE_CLIENT, MACHINE_SECRET, OAuthCli, Provider


def test_oauth2_rotates_by_its_grant_and_keeps_the_old_token_under_blue_green(
    oauth_cli: OAuthCli, provider: Provider, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(MACHINE_SECRET + "\n")
    stored = oauth_cli.run("oauth", "client-credentials", "bot", "--issuer", provider.issuer,
                           "--client-id", MACHINE_CLIENT,
                           "--client-secret", f"@{secret_file}")  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    old_id = int(stored.stdout)
    first = oauth_cli.token("bot")
    grants = len(provider.grants("client_credentials"))
    done = oauth_cli.run("rotate", "bot", "--strategy", "blue-green")
    assert done.returncode == 0, done.stderr
    new_id = int(done.stdout)
    assert new_id != old_id
    assert len(provider.grants("client_credentials")) == grants + 1
    second = oauth_cli.token("bot")
    assert second != first
    assert oauth_cli.token(str(old_id)) == first  # the old token, in its grace period
    record = oauth_cli.record("bot")
    assert record["oauth"]["grant"] == "client_credentials"  # the OAuth state moved along
    history = json.loads(oauth_cli.run("history", "bot", "--json").stdout)
    assert [(v["reason"], v["state"]) for v in history] == [("create", "previous"),
                                                            ("rotate", "current")]  # fmt: skip
    status = json.loads(oauth_cli.run("rotate", "--due", "--json").stdout)
    assert status[0]["can_rotate"] is True  # the grant is a way to get a new secret
    oauth_cli.assert_never_shown([MACHINE_SECRET, first, second])
