"""Interactive logins, the protocol side: prepare, check the callback, finish.

`prepare` resolves the provider's endpoints and prepares the authorization request
(PKCE S256, a 256-bit `state`) or asks for a device code; the record layer keeps
the pending flow in the vault's settings (the PKCE verifier and the device code
are secrets, and the vault is encrypted) until `take` removes it again for a
callback, which is checked before anything is exchanged:

- an unknown flow id, or a `state` that is not the flow's (compared in constant time),
  is `InvalidCallback` and leaves the flow pending: a forged request must not cancel
  the real login;
- an ``iss`` that is not the issuer's (RFC 9207), or none when the issuer promised
  one, is `InvalidCallback` too, and ends the flow (the real response was attacked);
- an error response (``access_denied`` when consent is refused) ends the flow with
  `AccessDenied`; nothing is stored;
- a flow past its expiry is `FlowExpired`, and removed.

`finish` then exchanges the code with authlib (``fetch_token`` with the verifier), or
polls for the device code, and returns the `Login` the record layer stores.  Nothing
here opens storage.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from credctl._time import from_unix
from credctl.errors import (
    AccessDenied,
    CredentialError,
    FlowExpired,
    InvalidCallback,
    InvalidInput,
    ServiceUnavailable,
    UnsupportedType,
)
from credctl.model import (
    BrowserAuth,
    CallbackData,
    DeviceCode,
    InteractiveFlow,
)
from credctl.oauth._client import described, provider_text
from credctl.oauth.providers import Endpoints, check_url, resolve
from credctl.oauth.settings import SETTING_KEYS, LoginSettings, choose_scopes, client_options

if TYPE_CHECKING:
    from credctl.oauth.records import Login

#: Expired flows are kept this long, so completing one says `FlowExpired`, then dropped.
EXPIRED_GRACE: Final = 86400
MAX_PENDING: Final = 32


class PendingFlow(NamedTuple):
    """A prepared login: what to keep until the callback (`stored`), and what to tell."""

    id: str
    stored: dict[str, Any]
    flow: InteractiveFlow

    def __repr__(self) -> str:  # `stored` holds the PKCE verifier and the device code
        return f"PendingFlow(id={self.id!r}, flow={self.flow!r})"


def purge(flows: dict[str, Any], now: float) -> None:
    """Drop flows long past their expiry, and the oldest beyond `MAX_PENDING`."""
    for flow_id, flow in list(flows.items()):
        expires = flow.get("expires_at") if isinstance(flow, dict) else None
        if not isinstance(expires, int | float) or expires + EXPIRED_GRACE < now:
            del flows[flow_id]
    while len(flows) >= MAX_PENDING:
        oldest = min(flows, key=lambda key: flows[key].get("expires_at", 0))
        del flows[oldest]


def prepare(
    credential_type: str, given: Mapping[str, Any], owner: str
) -> tuple[LoginSettings, PendingFlow]:
    """Check the input, resolve the provider, and prepare the authorization request
    (PKCE S256, a 256-bit `state`) or ask for a device code.  Nothing is stored."""
    if credential_type != "oauth2":
        raise UnsupportedType(
            f"interactive flows exist for oauth2 credentials only, not {credential_type!r}"
        )
    settings = LoginSettings.parse(given)
    if settings.name is not None:
        from credctl.types import validate_name

        validate_name(settings.name)
    endpoints = resolve(
        provider=settings.provider,
        issuer=settings.issuer,
        auth_url=settings.auth_url,
        token_url=settings.token_url,
        device_url=settings.device_url,
    )
    scopes = choose_scopes(settings.scopes, endpoints)
    options = client_options(settings)
    flow_id = secrets.token_urlsafe(16)
    now = time.time()
    stored: dict[str, Any] = {
        "kind": settings.flow,
        "owner": owner,
        "name": settings.name,
        "description": settings.description,
        "settings": {
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "token_url": endpoints.token_endpoint,
            "auth_url": endpoints.authorization_endpoint,
            "provider": settings.provider.lower() if settings.provider else None,
            "issuer": endpoints.issuer if settings.issuer else None,
            "scopes": scopes,
        },
        "auth_method": settings.auth_method,
    }
    interaction: BrowserAuth | DeviceCode
    state: str | None = None
    if settings.flow == "device":
        from credctl.oauth.device import request_code

        if not endpoints.device_authorization_endpoint:
            raise InvalidInput(
                "this provider has no device authorization endpoint",
                hint="log in with the browser flow, or give --device-url",
            )
        answer = request_code(endpoints.device_authorization_endpoint, options, scopes)
        expires_at = now + answer.expires_in
        stored.update(device_code=answer.device_code, interval=answer.interval)
        interaction = DeviceCode(
            answer.verification_uri, answer.user_code, answer.verification_uri_complete,
            answer.interval,
        )  # fmt: skip
    else:
        if not endpoints.authorization_endpoint:
            raise InvalidInput(
                "this provider has no authorization endpoint",
                hint="give --auth-url, or use --device",
            )
        assert settings.redirect_uri is not None
        state = secrets.token_urlsafe(32)  # 256 bits
        auth_url, verifier = _authorization_url(
            endpoints, settings.redirect_uri, state, scopes, options
        )
        expires_at = now + settings.expires_in
        stored.update(
            state=state,
            code_verifier=verifier,
            redirect_uri=settings.redirect_uri,
            expected_iss=endpoints.issuer,
            iss_required=endpoints.iss_parameter_supported,
        )
        interaction = BrowserAuth(auth_url, settings.redirect_uri)
    stored["expires_at"] = expires_at
    flow = InteractiveFlow(
        id=flow_id,
        credential_type="oauth2",
        interaction_type=interaction,
        expires_at=from_unix(int(expires_at)),
        credential_name=settings.name,
        state=state,
    )
    return settings, PendingFlow(flow_id, stored, flow)


def _authorization_url(
    endpoints: Endpoints,
    redirect_uri: str,
    state: str,
    scopes: list[str],
    client_options: dict[str, Any],
) -> tuple[str, str]:
    """The authorization request URL (PKCE S256, by authlib) and the code verifier."""
    from authlib.common.security import generate_token

    from credctl.oauth._client import oauth_client

    assert endpoints.authorization_endpoint is not None
    check_url(redirect_uri, "redirect URI")
    verifier = generate_token(64)  # RFC 7636 §4.1: 43–128 unreserved characters
    extra = dict(endpoints.extra_auth_params)
    if "offline_access" in scopes:
        # OpenID Connect Core §11: offline_access is ignored unless consent is prompted.
        extra.setdefault("prompt", "consent")
    with oauth_client(
        **client_options, redirect_uri=redirect_uri, code_challenge_method="S256"
    ) as client:
        url, _ = client.create_authorization_url(
            endpoints.authorization_endpoint,
            state=state,
            code_verifier=verifier,
            scope=" ".join(scopes) if scopes else None,
            **extra,
        )
    return str(url), verifier


def finish(flow: Mapping[str, Any], callback: CallbackData) -> Login:
    """Exchange the code (PKCE) or poll the device code: the login to store."""
    settings = dict(flow["settings"])
    options: dict[str, Any] = {
        "client_id": settings["client_id"],
        "client_secret": settings.get("client_secret"),
        "token_endpoint_auth_method": flow.get("auth_method") or "none",
    }
    if flow["kind"] == "device":
        from credctl.oauth.device import poll

        token = poll(
            settings["token_url"],
            options,
            str(flow["device_code"]),
            interval=int(flow.get("interval") or 5),
            deadline=float(flow["expires_at"]),
        )
        grant = "device_code"
    else:
        token = _exchange(flow, callback, options)
        grant = "authorization_code"
    from credctl.oauth._client import token_data
    from credctl.oauth.records import Login, TokenSet, oauth_state

    fields, lifetime = token_data(token)
    fields.setdefault("scopes", settings.get("scopes") or [])
    return Login(
        name=flow.get("name"),
        settings={key: settings.get(key) for key in SETTING_KEYS},
        tokens=TokenSet(fields, lifetime),
        state=oauth_state(grant, lifetime, options["token_endpoint_auth_method"]),
        description=str(flow.get("description") or ""),
    )


def take(flows: dict[str, Any], flow_id: str, callback: CallbackData) -> dict[str, Any]:
    """Remove the pending flow `callback` belongs to from `flows` and return it.

    A forged callback (unknown flow id, wrong `state`) raises `InvalidCallback` and
    leaves `flows` as it was: it must not cancel the real login.  A flow past its
    expiry, or a callback that carries an error or another issuer, is removed and
    the error is returned (second item) for the caller to raise once it has stored
    the removal.
    """
    flow = flows.get(flow_id) if isinstance(flow_id, str) else None
    if not isinstance(flow, dict):
        raise InvalidCallback(
            "no pending login has this flow id: it was completed, cancelled or never started"
        )
    if flow.get("kind") == "browser":
        _check_state(flow, callback)  # raises before anything changes
    del flows[flow_id]
    return flow


def ended(flow: Mapping[str, Any], callback: CallbackData) -> CredentialError | None:
    """Why a taken flow cannot be finished (expired, refused, forged issuer), or None."""
    if float(flow.get("expires_at", 0)) <= time.time():
        return FlowExpired(
            "the login expired before it was completed", hint="start the login again"
        )
    if flow.get("kind") == "browser":
        return _callback_problem(flow, callback)
    return None


def previous_settings(data: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The client settings of an oauth2 credential, to log in again with them."""
    keys = (*SETTING_KEYS, "scopes")
    found = {key: data[key] for key in keys if data.get(key) not in (None, "", [])}
    if state.get("grant"):
        found["grant"] = state["grant"]
    return found


def _check_state(flow: Mapping[str, Any], callback: CallbackData) -> None:
    expected = str(flow.get("state") or "")
    given = callback.state or ""
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        raise InvalidCallback(
            "the callback's state does not match the pending login: refused",
            hint="someone else's or an old sign-in response reached credctl; nothing was stored",
        )


def _callback_problem(flow: Mapping[str, Any], callback: CallbackData) -> CredentialError | None:
    """Why a callback with the right state still cannot be used (None if it can)."""
    expected_iss = flow.get("expected_iss")
    if callback.iss is not None and expected_iss and callback.iss != expected_iss:
        return InvalidCallback(
            "the sign-in response names another issuer (RFC 9207): refused",
            hint="another provider answered in place of the one you logged in to",
        )
    if callback.iss is None and flow.get("iss_required"):
        return InvalidCallback(
            "the sign-in response has no issuer, though the provider always sends one: refused"
        )
    if callback.error is not None:
        error = provider_text(callback.error) or "error"
        text = described(error, provider_text(callback.error_description))
        if error in ("access_denied", "consent_required", "login_required",
                     "interaction_required"):  # fmt: skip
            return AccessDenied(f"the login was denied at the provider ({text}); nothing stored")
        if error in ("temporarily_unavailable", "server_error"):
            return ServiceUnavailable(f"the provider failed the login ({text})")
        return InvalidInput(
            f"the provider refused the login request ({text})",
            hint="check the client id, the scopes and the client's registered redirect URI",
        )
    if not callback.code:
        return InvalidCallback("the sign-in response has neither a code nor an error")
    return None


def _exchange(
    flow: Mapping[str, Any], callback: CallbackData, client_options: dict[str, Any]
) -> dict[str, Any]:
    from credctl.oauth._client import oauth_client, provider_call

    token_url = str(flow["settings"]["token_url"])

    def refused(error: str, description: str) -> CredentialError:
        text = described(error, description)
        if error == "invalid_grant":
            return InvalidCallback(
                f"the provider did not accept the authorization code ({text})",
                hint="log in again",
            )
        if error in ("temporarily_unavailable", "server_error"):
            return ServiceUnavailable(f"the provider failed the code exchange ({text})")
        return InvalidInput(
            f"the provider refused the code exchange ({text})",
            hint="check the client id and secret",
        )

    with (
        oauth_client(
            **client_options, redirect_uri=flow["redirect_uri"], code_challenge_method="S256"
        ) as client,
        provider_call("the token endpoint", token_url, refused),
    ):
        token: dict[str, Any] = client.fetch_token(
            token_url,
            grant_type="authorization_code",
            code=callback.code,
            code_verifier=flow["code_verifier"],
        )
    return token
