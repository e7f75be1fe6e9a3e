"""The device authorization grant (RFC 8628): log in from an SSH session or a container.

credctl asks the provider for a device code, shows the person the verification URI
and the user code (on stderr, SPEC §12), and polls the token endpoint until the
person approved or denied on another device, or the code expired:

- it waits `interval` seconds between polls (5 when the provider does not say,
  RFC 8628 §3.2), and 5 seconds more after each ``slow_down`` (§3.5);
- ``authorization_pending`` means "keep waiting", ``access_denied`` is `AccessDenied`
  (exit 5), ``expired_token`` or the code's own expiry is `FlowExpired` (exit 7).

The requests themselves are authlib's: the device authorization request is an
authenticated POST by the client, and each poll is ``fetch_token`` with the
device-code grant type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from credctl.errors import (
    AccessDenied,
    CredentialError,
    FlowExpired,
    InvalidInput,
    ServiceUnavailable,
)
from credctl.oauth._client import described, oauth_client, provider_call, shown_url

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL: Final = 5
SLOW_DOWN_STEP: Final = 5
MAX_INTERVAL: Final = 60
MAX_USER_CODE: Final = 64


@dataclass(frozen=True)
class DeviceAuthorization:
    """The provider's answer to the device authorization request (RFC 8628 §3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: int = DEFAULT_INTERVAL
    verification_uri_complete: str | None = None


def _refused(what: str) -> Callable[[str, str], CredentialError]:
    def refused(error: str, description: str) -> CredentialError:
        text = described(error, description)
        if error == "access_denied":
            return AccessDenied(f"the login was denied ({text}); nothing was stored")
        if error == "expired_token":
            return FlowExpired(
                f"the device code expired before the login was approved ({text})",
                hint="run the command again and approve within the time shown",
            )
        if error in ("temporarily_unavailable", "server_error"):
            return ServiceUnavailable(f"{what} failed ({text})", hint="retry later")
        return InvalidInput(
            f"{what} was refused ({text})",
            hint="check the client id, its secret, the scopes, and that the client may use "
            "the device flow",
        )

    return refused


def _positive_int(value: object, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str) and value.isdecimal() and int(value) > 0:
        return int(value)
    return default


def request_code(
    endpoint: str, client_options: dict[str, Any], scopes: list[str]
) -> DeviceAuthorization:
    """Ask the device authorization endpoint for a device code and a user code."""
    what = "the device authorization endpoint"
    with oauth_client(**client_options) as client, provider_call(what, endpoint, _refused(what)):
        # The client authenticates as at the token endpoint (RFC 8628 §3.1); for a public
        # client that is its client_id in the body.
        body = {"scope": " ".join(scopes)} if scopes else {}
        auth = client.client_auth(client.token_endpoint_auth_method)
        response = client.post(endpoint, data=body, auth=auth)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "error" in answer:
            from authlib.integrations.base_client.errors import OAuthError

            raise OAuthError(answer.get("error"), answer.get("error_description"))
        response.raise_for_status()
    if not isinstance(answer, dict):
        raise ServiceUnavailable(f"{what} ({shown_url(endpoint)}) answered no JSON object")
    fields = {key: answer.get(key) for key in ("device_code", "user_code", "verification_uri")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise ServiceUnavailable(f"{what} ({shown_url(endpoint)}) left out required fields")
    from credctl.oauth.providers import sent_url

    complete = answer.get("verification_uri_complete")
    return DeviceAuthorization(
        device_code=str(fields["device_code"]),
        user_code=_user_code(str(fields["user_code"]), what),
        verification_uri=sent_url(fields["verification_uri"], "verification URI", what),
        expires_in=_positive_int(answer.get("expires_in"), 600),
        interval=min(_positive_int(answer.get("interval"), DEFAULT_INTERVAL), MAX_INTERVAL),
        verification_uri_complete=None
        if complete is None
        else sent_url(complete, "verification URI (complete)", what),
    )


def _user_code(code: str, what: str) -> str:
    """The code the person types: short, printable, no escape sequences (RFC 8628 §6.1)."""
    if not (0 < len(code) <= MAX_USER_CODE and code.isprintable() and code.strip() == code):
        raise ServiceUnavailable(
            f"{what} sent an unusable user code: it has control characters, blanks at "
            f"either end, or more than {MAX_USER_CODE} characters (credctl does not show it)",
            hint="the provider is misconfigured, or it is not the one you meant: check the "
            "issuer or endpoint URLs you gave",
        )
    return code


def poll(
    token_url: str,
    client_options: dict[str, Any],
    device_code: str,
    *,
    interval: int,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Poll the token endpoint until the login is approved; the token response.

    `deadline` is unix time (the code's expiry).  `sleep` and `clock` are parameters so
    that tests can run the loop without waiting.
    """
    what = "the token endpoint"
    refused = _refused(what)

    def classify(error: str, description: str) -> CredentialError:
        if error in ("authorization_pending", "slow_down"):
            return _PendingError(error)
        return refused(error, description)

    with oauth_client(**client_options) as client:
        while True:
            sleep(max(0.0, min(float(interval), deadline - clock())))
            if clock() >= deadline:
                raise FlowExpired(
                    "the device code expired before the login was approved",
                    hint="run the command again and approve within the time shown",
                )
            try:
                with provider_call(what, token_url, classify):
                    token: dict[str, Any] = client.fetch_token(
                        token_url, grant_type=DEVICE_GRANT, device_code=device_code
                    )
                    return token
            except _PendingError as pending:
                if pending.message == "slow_down":
                    interval = min(interval + SLOW_DOWN_STEP, MAX_INTERVAL)


class _PendingError(CredentialError):
    """The person has not answered yet (internal: the poll loop goes on).

    Its message is the error code: ``authorization_pending`` or ``slow_down``.
    """
