"""What `start_interactive_flow` takes, checked, and the scopes a login asks for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from credctl.errors import AccessDenied, InvalidInput
from credctl.oauth.providers import Endpoints

#: How long a browser login may stay pending (the CLI's listener gives up after 5 min).
DEFAULT_FLOW_TTL: Final = 600
#: Where a browser login started without a ``redirect_uri`` sends the person back: a
#: fixed loopback address (RFC 8252 §7.3), so it can be registered with a provider that
#: wants an exact match.  Nothing listens there unless the caller does; the person can
#: also copy the address the browser ends on into `CallbackData.from_url`.  (`credctl
#: oauth login` listens on a port of its own and passes its own ``redirect_uri``.)
DEFAULT_REDIRECT_URI: Final = "http://127.0.0.1:8749/callback"
#: The client settings a login stores in the credential.
SETTING_KEYS: Final = ("client_id", "client_secret", "token_url", "auth_url", "provider",
                        "issuer")  # fmt: skip
_INPUT_KEYS: Final = frozenset({
    *SETTING_KEYS, "name", "scopes", "redirect_uri", "flow", "device_url", "expires_in",
    "description", "token_endpoint_auth_method",
})  # fmt: skip


@dataclass(frozen=True)
class LoginSettings:
    """What `start_interactive_flow` was given, checked."""

    name: str | None
    client_id: str
    client_secret: str | None
    scopes: list[str] | None
    flow: str
    redirect_uri: str | None
    provider: str | None
    issuer: str | None
    auth_url: str | None
    token_url: str | None
    device_url: str | None
    expires_in: int
    description: str
    auth_method: str

    @classmethod
    def parse(cls, given: Mapping[str, Any]) -> LoginSettings:
        """Check the input mapping of `start_interactive_flow`."""
        if not isinstance(given, Mapping):
            raise InvalidInput("the flow input must be a mapping (a JSON object)")
        unknown = sorted(str(key) for key in given if key not in _INPUT_KEYS)
        if unknown:
            raise InvalidInput(
                f"unknown flow input {unknown[0]!r}",
                hint=f"known keys: {', '.join(sorted(_INPUT_KEYS))}",
            )

        def text(key: str) -> str | None:
            value = given.get(key)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                raise InvalidInput(f"flow input {key!r} must be a string")
            return value

        client_id = text("client_id")
        if client_id is None:
            raise InvalidInput(
                "a client id is needed to log in", hint="register credctl with the provider "
                "as a native (public) application and pass its id with --client-id",
            )  # fmt: skip
        flow = text("flow") or "browser"
        if flow not in ("browser", "device"):
            raise InvalidInput("flow input 'flow' must be 'browser' or 'device'")
        raw_scopes = given.get("scopes")
        scopes: list[str] | None
        if raw_scopes is None:
            scopes = None
        elif isinstance(raw_scopes, str):
            scopes = raw_scopes.split()
        elif isinstance(raw_scopes, list | tuple) and all(isinstance(s, str) for s in raw_scopes):
            scopes = [part for scope in raw_scopes for part in scope.split()]
        else:
            raise InvalidInput("flow input 'scopes' must be a list of strings or one string")
        expires_in = given.get("expires_in", DEFAULT_FLOW_TTL)
        if not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in <= 0:
            raise InvalidInput("flow input 'expires_in' must be a positive number of seconds")
        secret = text("client_secret")
        method = text("token_endpoint_auth_method") or (
            "client_secret_basic" if secret else "none"
        )
        if method not in ("none", "client_secret_basic", "client_secret_post"):
            raise InvalidInput(
                "token_endpoint_auth_method must be none, client_secret_basic or "
                "client_secret_post"
            )
        redirect_uri = text("redirect_uri")
        if flow == "browser" and redirect_uri is None:
            redirect_uri = DEFAULT_REDIRECT_URI
        return cls(
            name=text("name"),
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
            flow=flow,
            redirect_uri=redirect_uri,
            provider=text("provider"),
            issuer=text("issuer"),
            auth_url=text("auth_url"),
            token_url=text("token_url"),
            device_url=text("device_url"),
            expires_in=expires_in,
            description=text("description") or "",
            auth_method=method,
        )


def choose_scopes(asked: list[str] | None, endpoints: Endpoints) -> list[str]:
    """The scopes to ask for: as given, else the preset's or ``openid``, plus
    ``offline_access`` when the provider lists it (a credential manager wants the
    refresh token that scope brings)."""
    scopes = list(asked) if asked is not None else list(endpoints.default_scopes)
    if asked is None and not scopes and "openid" in endpoints.scopes_supported:
        scopes = ["openid"]
    if "offline_access" in endpoints.scopes_supported and "offline_access" not in scopes:
        scopes.append("offline_access")
    return list(dict.fromkeys(scopes))


def client_options(settings: LoginSettings) -> dict[str, Any]:
    """authlib client settings for this login's client."""
    options: dict[str, Any] = {
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "token_endpoint_auth_method": settings.auth_method,
    }
    return options


def refuse_plain_http(urls: Iterable[object], what: str) -> None:
    """`AccessDenied` if one of `urls` is plain http (`SecurityConfig.allow_plain_http`)."""
    for url in urls:
        if isinstance(url, str) and urlsplit(url.strip()).scheme.lower() == "http":
            raise AccessDenied(
                f"{what} uses a plain-http provider address, which this manager's "
                "security settings refuse",
                hint="use the provider's https address, or SecurityConfig(allow_plain_http=True)",
            )
