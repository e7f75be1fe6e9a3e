"""Renewing oauth2 tokens: the protocol side.  Storing them is the record layer's job.

`check_refreshable` says which grant renews a credential (or why none can);
`request_tokens` asks the provider (refresh token or client credentials) and
returns a `TokenSet`; `renewed_data` merges it into the credential's fields and
OAuth state.  Nothing here opens storage or knows the manager: the record layer
(`credctl.records.renewal`) holds the vault lock around these calls, re-reads
the credential first, and stores what comes back, so parallel processes never
spend a rotated refresh token twice (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import hmac
import shlex
from collections.abc import Mapping
from typing import Any

from credctl.errors import (
    CredentialError,
    NoRefreshToken,
    RefreshFailed,
    RefreshNotSupported,
    ServiceUnavailable,
)
from credctl.oauth import expiry
from credctl.oauth.records import TokenSet

Data = Mapping[str, Any]


def check_refreshable(
    name: str, credential_type: str, data: Data, state: Data, vault: str | None = None
) -> str:
    """The grant that renews this credential, or the error that says why none can."""
    if credential_type != "oauth2":
        raise RefreshNotSupported(
            f"{credential_type} credentials cannot be refreshed ({name!r})",
            hint="only oauth2 credentials have tokens a provider renews",
        )
    grant = expiry.grant(data, state)
    if grant is None and data.get("refresh_token"):
        raise RefreshFailed(
            f"{name!r} has a refresh token but no token_url to use it at",
            hint=f"log in again: {login_command(name, state, vault)}",
        )
    if grant is None:
        raise NoRefreshToken(
            f"{name!r} has no refresh token and is not a machine client",
            hint=f"log in again: {login_command(name, state, vault)}",
        )
    return grant


def login_command(name: str, state: Data | None = None, vault: str | None = None) -> str:
    """The exact command that logs in again (the hint after ``invalid_grant``)."""
    words = ["credctl"]
    if vault:
        words += ["--vault", shlex.quote(vault)]
    grant = (state or {}).get("grant")
    if grant == "client_credentials":
        words += ["oauth", "client-credentials", name, "--client-secret", "@FILE"]
    else:
        words += ["oauth", "login", name]
        if grant == "device_code":
            words.append("--device")
    return " ".join(words)


def renewed_elsewhere(seen: Data | None, data: Data, state: Data, min_valid: float) -> bool:
    """True when the credential, re-read under the lock, needs no provider call.

    `seen` is the data read before the lock was taken.  If another process renewed
    the token meanwhile, its token is used even if ``--min-valid`` asks for more
    than the provider gives: calling again would only renew the same short-lived
    token once per waiting process.
    """
    if seen is not None:
        before = str(seen.get("access_token") or "")
        now = str(data.get("access_token") or "")
        if now and not hmac.compare_digest(before.encode(), now.encode()):
            return expiry.valid_for(data)
    return not expiry.needs_refresh(data, state, min_valid=min_valid)


def renewed_data(
    data: Data, state: Data, grant: str, tokens: TokenSet
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The credential's fields and OAuth state after a refresh that issued `tokens`."""
    new_data = dict(data)
    new_data.update(tokens.fields)
    if grant == "client_credentials":
        new_data.pop("refresh_token", None)
    new_state = dict(state)
    new_state.setdefault(
        "grant", "client_credentials" if grant == "client_credentials" else "authorization_code"
    )
    if tokens.lifetime is None:
        new_state.pop("lifetime", None)
        new_data.pop("token_expiry", None)
    else:
        new_state["lifetime"] = tokens.lifetime
    return new_data, new_state


def request_tokens(
    name: str, data: Data, state: Data, grant: str, vault: str | None = None
) -> TokenSet:
    """Ask the provider for a new access token with `grant`; the tokens it issued."""
    from credctl.oauth._client import described, oauth_client, provider_call, token_data
    from credctl.oauth.providers import check_url, preset

    token_url = data.get("token_url") or preset(str(data["provider"])).endpoints.token_endpoint
    check_url(str(token_url), "token URL")
    secret = data.get("client_secret")
    auth_method = state.get("auth_method") or ("client_secret_basic" if secret else "none")
    options: dict[str, Any] = {
        "client_id": data.get("client_id"),
        "client_secret": secret,
        "token_endpoint_auth_method": auth_method,
    }

    def refused(error: str, description: str) -> CredentialError:
        if error in ("temporarily_unavailable", "server_error", "slow_down"):
            return ServiceUnavailable(
                f"the provider could not renew the token of {name!r} now "
                f"({described(error, description)})",
                hint="retry later",
            )
        if grant == "client_credentials":
            return RefreshFailed(
                f"the provider refused to issue a token to the client {name!r} "
                f"({described(error, description)})",
                hint=f"check the client id and secret: {login_command(name, state, vault)}",
            )
        return RefreshFailed(
            f"the provider refused the refresh token of {name!r} "
            f"({described(error, description)}): it was revoked, expired or already used",
            hint=f"log in again: {login_command(name, state, vault)}",
        )

    what = f"the token endpoint of {name!r}"
    if grant == "client_credentials":
        from credctl.oauth.client_credentials import fetch

        token = fetch(str(token_url), str(data.get("client_id")), str(secret),
                      data.get("scopes") or [], auth_method=auth_method, refused=refused,
                      what=what)  # fmt: skip
        return TokenSet(*token_data(token))
    with oauth_client(**options) as client, provider_call(what, str(token_url), refused):
        # No `scope`: re-sending the requested scopes fails when the provider granted
        # fewer (RFC 6749 §6: omitted means "as originally granted").
        token = client.refresh_token(str(token_url), refresh_token=data["refresh_token"])
    return TokenSet(*token_data(token))
