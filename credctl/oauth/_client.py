"""authlib's httpx client, built one way, and its failures turned into credctl errors.

Everything that talks to a provider goes through `oauth_client` and `provider_call`, so:

- authlib and httpx are imported here, lazily, only when a login or refresh happens;
- every request has one overall deadline shorter than the vault lock's timeout,
  because a refresh holds the lock while it waits for the provider
  (`credctl.oauth._deadline`);
- an unreachable provider is `ServiceUnavailable` (exit 10), an OAuth error response is
  mapped by the caller, and no message ever carries a token, a code or a secret: only
  endpoint URLs (without their query) and the provider's error code and description,
  with control characters escaped (`credctl.text`).

authlib 1.9 prefers the ``httpx2`` package and warns once per import when it falls
back to ``httpx``; that warning is for library authors, so it is silenced here and
only here (no global filter, no insecure-transport switch: authlib already accepts
plain http on loopback addresses, and `credctl.oauth.providers` refuses it elsewhere).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from credctl._time import format_unix
from credctl.errors import CredentialError, ServiceUnavailable
from credctl.text import one_line, printable

#: Seconds for one socket operation; the whole request has `_deadline.request_budget`.
REQUEST_TIMEOUT: Final = 8.0
CONNECT_TIMEOUT: Final = 5.0
_USER_AGENT: Final = "credctl"

OAuthErrorMapper = Callable[[str, str], CredentialError]

#: Test-only: an `httpx` transport (``httpx.MockTransport``) every client uses when set,
#: so unit tests exercise the real flow code without a network.
testonly_transport: Any = None


def _httpx_client_module() -> Any:
    import authlib.deprecate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
        from authlib.integrations import httpx_client
    return httpx_client


@functools.cache
def _deadline_client(base: type[Any]) -> type[Any]:
    """`base` (an httpx client class) whose every request has one overall deadline."""
    from credctl.oauth._deadline import guarded, request_budget

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        with guarded(request, request_budget()):
            return base.send(self, request, **kwargs)

    return type(f"Deadline{base.__name__}", (base,), {"send": send})


def _common(settings: dict[str, Any]) -> None:
    import httpx

    settings.setdefault("timeout", httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT))
    # No idle connections: each request opens its own, which the deadline's
    # watchdog sees (and can shut down).
    settings.setdefault("limits", httpx.Limits(max_keepalive_connections=0))
    if testonly_transport is not None:
        settings.setdefault("transport", testonly_transport)


def oauth_client(**settings: Any) -> Any:
    """An `authlib.integrations.httpx_client.OAuth2Client` with credctl's time limits.

    `settings` are OAuth2Client's (client_id, client_secret, token_endpoint_auth_method,
    redirect_uri, code_challenge_method, scope …); ``transport`` may be given by tests.
    """
    module = _httpx_client_module()
    _common(settings)
    settings.setdefault("headers", {"User-Agent": _USER_AGENT})
    settings.setdefault("follow_redirects", False)
    return _deadline_client(module.OAuth2Client)(**settings)


def http_client(**settings: Any) -> Any:
    """A plain `httpx.Client` (discovery documents) with the same time limits."""
    import httpx

    _common(settings)
    settings.setdefault("headers", {"User-Agent": _USER_AGENT, "Accept": "application/json"})
    return _deadline_client(httpx.Client)(**settings)


def shown_url(url: str) -> str:
    """An endpoint URL without query, fragment or user info (never a secret), escaped."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    return printable(f"{parts.scheme}://{host}{port}{parts.path}")


def provider_text(text: object, limit: int = 160) -> str:
    """Text the provider chose (an error code or description), safe to print on one line."""
    return one_line(text, limit)


def _reason(exc: BaseException) -> str:
    import httpx

    from credctl.oauth._deadline import DeadlineExceeded

    if isinstance(exc, DeadlineExceeded):
        return (
            f"it did not finish answering within {exc.budget:g} s "
            "(CREDCTL_PROVIDER_TIMEOUT; at most CREDCTL_LOCK_TIMEOUT less 2 s)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return "it did not answer in time"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "refused" in text:
            return "the connection was refused"
        if "name" in text or "resolution" in text or "nodename" in text:
            return "the host name could not be resolved"
        return "the connection failed"
    return "the connection broke"


@contextlib.contextmanager
def provider_call(what: str, url: str, on_oauth_error: OAuthErrorMapper) -> Iterator[None]:
    """Run one exchange with the provider; translate what can go wrong.

    `what` names the endpoint for messages ("the token endpoint of 'github'").
    `on_oauth_error(error, description)` builds the error for an OAuth error response.
    """
    import httpx
    from authlib.common.errors import AuthlibBaseError

    try:
        yield
    except CredentialError:
        raise
    except httpx.HTTPStatusError as exc:
        raise ServiceUnavailable(
            f"{what} ({shown_url(url)}) answered HTTP {exc.response.status_code}",
            hint="the provider may be down; retry later",
        ) from None
    except (httpx.TransportError, httpx.TimeoutException) as exc:
        raise ServiceUnavailable(
            f"could not reach {what} ({shown_url(url)}): {_reason(exc)}",
            hint="check the network and the provider's status, then retry",
        ) from None
    except AuthlibBaseError as exc:
        error = provider_text(getattr(exc, "error", None)) or "error"
        raise on_oauth_error(error, provider_text(getattr(exc, "description", None))) from None
    except ValueError:
        # authlib: the token endpoint answered something that is not a JSON object.
        raise ServiceUnavailable(
            f"{what} ({shown_url(url)}) answered something that is not an OAuth response",
        ) from None


def described(error: str, description: str) -> str:
    """``error`` or ``error: description`` for messages."""
    return f"{error}: {description}" if description else error


def token_data(
    token: Mapping[str, Any], *, now: float | None = None
) -> tuple[dict[str, Any], int | None]:
    """The oauth2 fields a token response sets, and the token's lifetime in seconds.

    ``access_token`` is required.  ``refresh_token`` is kept only when the provider sent
    one (the caller decides whether an old one survives).  ``scope``, when sent, is what
    was granted, which may be less than what was asked for.
    """
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise ServiceUnavailable("the provider's token response has no access_token")
    data: dict[str, Any] = {"access_token": access}
    refresh = token.get("refresh_token")
    if isinstance(refresh, str) and refresh:
        data["refresh_token"] = refresh
    lifetime: int | None = None
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float | str) and not isinstance(expires_in, bool):
        with contextlib.suppress(ValueError, OverflowError):
            seconds = float(expires_in)
            if math.isfinite(seconds) and 0 < seconds < 10 * 365 * 86400:
                lifetime = int(seconds)
    if lifetime is not None:
        issued = time.time() if now is None else now
        data["token_expiry"] = format_unix(issued + lifetime)
    scope = token.get("scope")
    if isinstance(scope, str) and scope.strip():
        data["scopes"] = scope.split()
    return data, lifetime
