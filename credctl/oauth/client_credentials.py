"""Machine clients: the client credentials grant (RFC 6749 §4.4).

``credctl oauth client-credentials NAME`` stores a confidential client (id, secret,
token endpoint, scopes) and fetches its first access token at once, which proves the
settings work.  Later the token is fetched again on demand: `credctl.oauth.expiry`
knows such a record by its ``client_credentials`` grant, and `credctl.oauth.refresh`
re-fetches under the vault lock, like a refresh.  Storing is the record layer's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from credctl.errors import CredentialError, InvalidInput, RefreshFailed, ServiceUnavailable
from credctl.oauth._client import OAuthErrorMapper

if TYPE_CHECKING:
    from credctl.oauth.records import Login


def fetch(
    token_url: str,
    client_id: str,
    client_secret: str,
    scopes: Sequence[str],
    *,
    auth_method: str = "client_secret_basic",
    refused: OAuthErrorMapper | None = None,
    what: str = "the token endpoint",
) -> dict[str, Any]:
    """One client-credentials token response (authlib's ``fetch_token``).

    `refused` maps an OAuth error response to the error to raise (default: `RefreshFailed`,
    or `ServiceUnavailable` for the provider's own trouble); `what` names the endpoint.
    """
    from credctl.oauth._client import described, oauth_client, provider_call

    def default_refused(error: str, description: str) -> CredentialError:
        text = described(error, description)
        if error in ("temporarily_unavailable", "server_error"):
            return ServiceUnavailable(f"the provider could not issue a token now ({text})")
        return RefreshFailed(
            f"the provider refused to issue a token to this client ({text})",
            hint="check the client id, its secret, and the scopes",
        )

    options: dict[str, Any] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "token_endpoint_auth_method": auth_method,
    }
    with (
        oauth_client(**options) as client,
        provider_call(what, token_url, refused or default_refused),
    ):
        extra = {"scope": " ".join(scopes)} if scopes else {}
        token: dict[str, Any] = client.fetch_token(
            token_url, grant_type="client_credentials", **extra
        )
    return token


def first_login(
    name: str,
    *,
    client_id: str,
    client_secret: str,
    token_url: str | None = None,
    issuer: str | None = None,
    provider: str | None = None,
    scopes: Sequence[str] = (),
    auth_method: str = "client_secret_basic",
    description: str = "",
) -> Login:
    """Fetch a first token with these client settings: the login to store."""
    from credctl.oauth._client import token_data
    from credctl.oauth.providers import resolve
    from credctl.oauth.records import Login, TokenSet, oauth_state
    from credctl.types import validate_name

    validate_name(name)
    if not client_id or not client_secret:
        raise InvalidInput("a machine client needs a client id and a client secret")
    if auth_method not in ("client_secret_basic", "client_secret_post"):
        raise InvalidInput("the auth method must be client_secret_basic or client_secret_post")
    endpoints = resolve(provider=provider, issuer=issuer, token_url=token_url)
    token = fetch(
        endpoints.token_endpoint, client_id, client_secret, list(scopes), auth_method=auth_method
    )
    fields, lifetime = token_data(token)
    fields.pop("refresh_token", None)  # RFC 6749 §4.4.3: none SHOULD be issued; none is used
    fields.setdefault("scopes", list(scopes))
    return Login(
        name=name,
        settings={
            "client_id": client_id,
            "client_secret": client_secret,
            "token_url": endpoints.token_endpoint,
            "issuer": issuer,
            "provider": provider,
        },
        tokens=TokenSet(fields, lifetime),
        state=oauth_state("client_credentials", lifetime, auth_method),
        description=description,
    )
