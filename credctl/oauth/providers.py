"""Where a provider's endpoints come from: a preset, discovery from an issuer, or explicit URLs.

Discovery reads the OpenID Connect document (``/.well-known/openid-configuration``)
and falls back to RFC 8414's ``/.well-known/oauth-authorization-server``; the
document must name the issuer it was fetched for (RFC 8414 §3.3), or a mix-up is
possible.  Every endpoint must be https, or plain http on a loopback address
(SPEC §12): a token sent over plain http anywhere else could be read on the way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import urlsplit

from credctl.errors import InvalidInput, ServiceUnavailable

MAX_URL_LENGTH: Final = 2048
_URL_TEXT: Final = re.compile(f"[!-~]{{1,{MAX_URL_LENGTH}}}")
_BAD_TEXT: Final = (
    f"has spaces, control or non-ASCII characters, or more than {MAX_URL_LENGTH} characters"
)
_NOT_HTTPS: Final = "must be an https:// URL without user info"
_PLAIN_HTTP: Final = "uses plain http on a host that is not a loopback address"
_URL_HINTS: Final = {
    _BAD_TEXT: "write it in ASCII, percent-encoding anything else",
    _NOT_HTTPS: "for example https://auth.example.com",
    _PLAIN_HTTP: "use https; plain http is accepted on loopback addresses only",
}


@dataclass(frozen=True)
class Endpoints:
    """What a flow needs to know about a provider."""

    token_endpoint: str
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    issuer: str | None = None
    #: The provider adds ``iss`` to authorization responses (RFC 9207), so one without it
    #: is refused.
    iss_parameter_supported: bool = False
    scopes_supported: tuple[str, ...] = ()
    #: Extra authorization request parameters (Google needs ``access_type=offline``).
    extra_auth_params: Mapping[str, str] = field(default_factory=dict)
    default_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    """A well-known provider's endpoints, so that ``--provider github`` is enough."""

    endpoints: Endpoints
    docs: str


PRESETS: Final[Mapping[str, Preset]] = {
    "google": Preset(
        Endpoints(
            authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
            token_endpoint="https://oauth2.googleapis.com/token",  # noqa: S106 - a URL
            device_authorization_endpoint="https://oauth2.googleapis.com/device/code",
            issuer="https://accounts.google.com",
            # Google issues a refresh token only with access_type=offline, and again
            # only when consent is asked for.
            extra_auth_params={"access_type": "offline", "prompt": "consent"},
            default_scopes=("openid", "email", "profile"),
        ),
        "https://developers.google.com/identity/protocols/oauth2/native-app",
    ),
    "github": Preset(
        Endpoints(
            authorization_endpoint="https://github.com/login/oauth/authorize",
            token_endpoint="https://github.com/login/oauth/access_token",  # noqa: S106 - a URL
            device_authorization_endpoint="https://github.com/login/device/code",
            default_scopes=("read:user",),
        ),
        "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps",
    ),
    "microsoft": Preset(
        Endpoints(
            authorization_endpoint="https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token_endpoint="https://login.microsoftonline.com/common/oauth2/v2.0/token",  # noqa: S106 - a URL
            device_authorization_endpoint=(
                "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
            ),
            default_scopes=("openid", "profile", "offline_access"),
        ),
        "https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow",
    ),
    "gitlab": Preset(
        Endpoints(
            authorization_endpoint="https://gitlab.com/oauth/authorize",
            token_endpoint="https://gitlab.com/oauth/token",  # noqa: S106 - a URL
            device_authorization_endpoint="https://gitlab.com/oauth/authorize_device",
            issuer="https://gitlab.com",
            default_scopes=("read_user",),
        ),
        "https://docs.gitlab.com/api/oauth2/",
    ),
}


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """`url` if it is https, or http on a loopback address; `InvalidInput` (exit 9) if not.

    It must be printable ASCII without spaces (IDN hosts in their ``xn--`` form,
    anything else percent-encoded): a URL credctl may print or open must not carry
    a control character, which ``urlsplit`` would silently drop or a terminal act on.
    """
    problem = url_problem(url)
    if problem is None:
        return url
    if problem == _PLAIN_HTTP:
        raise InvalidInput(
            f"the {what} uses plain http on {urlsplit(url).hostname!r}: tokens would cross "
            "the network unencrypted",
            hint="use https; plain http is accepted on loopback addresses (127.0.0.1, ::1) only",
        )
    raise InvalidInput(f"the {what} {problem}", hint=_URL_HINTS.get(problem))


def url_problem(url: str) -> str | None:
    """Why `url` is no URL credctl may use, in words that quote none of it; None if it is."""
    if not _URL_TEXT.fullmatch(url):
        return _BAD_TEXT
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "is not a valid URL"
    if not host or parts.scheme not in ("https", "http") or parts.username or parts.password:
        return _NOT_HTTPS
    if parts.scheme == "http" and not is_loopback(host):
        return _PLAIN_HTTP
    return None


def sent_url(url: object, what: str, sender: str) -> str:
    """A URL the provider sent, checked as `check_url` checks; else `ServiceUnavailable`.

    A bad URL from the provider is the provider's error (exit 10), not the user's;
    the message names `what` and `sender` and shows nothing of the URL, which may be
    built to mislead (``javascript:``, an escape sequence, a look-alike host).
    """
    problem = url_problem(url) if isinstance(url, str) else "is not text"
    if problem is None:
        assert isinstance(url, str)
        return url
    raise ServiceUnavailable(
        f"{sender} sent an unusable {what}: it {problem} (credctl does not show it)",
        hint="the provider is misconfigured, or it is not the one you meant: check the "
        "issuer or endpoint URLs you gave",
    )


def preset(name: str) -> Preset:
    """The preset called `name`; `InvalidInput` naming the known ones."""
    found = PRESETS.get(name.lower())
    if found is None:
        raise InvalidInput(
            f"unknown provider preset {name!r}",
            hint=f"known presets: {', '.join(PRESETS)}; or give --issuer URL, or "
            "--auth-url and --token-url",
        )
    return found


def _well_known_urls(issuer: str) -> list[str]:
    from authlib.oauth2.rfc8414 import get_well_known_url

    base = issuer.rstrip("/")
    return [
        f"{base}/.well-known/openid-configuration",
        get_well_known_url(issuer, external=True),
    ]


def discover(issuer: str) -> Endpoints:
    """Fetch and check the issuer's metadata (OIDC discovery, then RFC 8414)."""
    from credctl.oauth._client import http_client, provider_call, shown_url

    check_url(issuer, "issuer")
    document: dict[str, Any] | None = None
    with http_client() as client:
        for url in _well_known_urls(issuer):

            def refused(error: str, description: str, url: str = url) -> ServiceUnavailable:
                return ServiceUnavailable(f"discovery at {shown_url(url)} failed ({error})")

            with provider_call("the issuer's discovery document", url, refused):
                response = client.get(url)
                if response.status_code == 404:
                    continue
                response.raise_for_status()
                try:
                    body = response.json()
                except ValueError:
                    body = None
            if isinstance(body, dict):
                document = body
                break
            raise ServiceUnavailable(
                f"the discovery document at {shown_url(url)} is not a JSON object"
            )
    if document is None:
        raise ServiceUnavailable(
            f"{shown_url(issuer)} publishes no OpenID Connect or OAuth metadata",
            hint="give --auth-url and --token-url instead of --issuer",
        )
    return endpoints_from_metadata(issuer, document)


def endpoints_from_metadata(issuer: str, document: Mapping[str, Any]) -> Endpoints:
    """Endpoints from a discovery document fetched for `issuer`, checked."""
    named = document.get("issuer")
    if not isinstance(named, str) or named.rstrip("/") != issuer.rstrip("/"):
        raise InvalidInput(
            f"the discovery document of {issuer!r} names another issuer",
            hint="check the --issuer URL; RFC 8414 §3.3 forbids using such metadata",
        )

    def url(key: str, required: bool = False) -> str | None:
        value = document.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise ServiceUnavailable(f"the discovery document of {issuer!r} has no valid {key}")
        return sent_url(value, key.replace("_", " "), f"the discovery document of {issuer!r}")

    token = url("token_endpoint", required=True)
    assert token is not None
    scopes = document.get("scopes_supported")
    return Endpoints(
        token_endpoint=token,
        authorization_endpoint=url("authorization_endpoint"),
        device_authorization_endpoint=url("device_authorization_endpoint"),
        issuer=named,
        iss_parameter_supported=document.get("authorization_response_iss_parameter_supported")
        is True,
        scopes_supported=tuple(s for s in scopes if isinstance(s, str))
        if isinstance(scopes, list)
        else (),
    )


def resolve(
    *,
    provider: str | None = None,
    issuer: str | None = None,
    auth_url: str | None = None,
    token_url: str | None = None,
    device_url: str | None = None,
) -> Endpoints:
    """Endpoints from explicit URLs, else a preset, else discovery; explicit URLs win."""
    if provider and issuer:
        raise InvalidInput("give a provider preset or an issuer, not both")
    if provider:
        endpoints = preset(provider).endpoints
    elif issuer:
        endpoints = discover(issuer)
    elif token_url:
        endpoints = Endpoints(token_endpoint=check_url(token_url, "token URL"))
    else:
        raise InvalidInput(
            "no provider to log in to",
            hint="give --provider google|github|microsoft|gitlab, --issuer URL, or "
            "--auth-url and --token-url",
        )
    changes: dict[str, Any] = {}
    if auth_url:
        changes["authorization_endpoint"] = check_url(auth_url, "authorization URL")
    if token_url:
        changes["token_endpoint"] = check_url(token_url, "token URL")
    if device_url:
        changes["device_authorization_endpoint"] = check_url(device_url, "device URL")
    return replace(endpoints, **changes) if changes else endpoints
