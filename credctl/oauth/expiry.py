"""When an oauth2 token must be renewed, and whether it can be.  Standard library only.

`get-token` asks this on every call, before it knows whether a refresh is needed, so
this module must stay cheap to import: no authlib, no httpx (SPEC §8).

The refresh-ahead window is 60 s, but never more than half the token's lifetime
(SPEC §12): a provider that issues 10-second tokens gets them renewed in their last
5 seconds, not on every call.  The lifetime (``expires_in`` of the last token
response) is kept beside the secret data in the record's non-secret OAuth state,
together with the grant that obtained the tokens::

    {"grant": "authorization_code" | "device_code" | "client_credentials",
     "lifetime": 3600, "auth_method": "none" | "client_secret_basic" | …}

Every function takes the credential's `data` (its fields) and `state` (that dict).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from credctl._time import parse_rfc3339

#: Seconds before expiry at which a token is renewed (capped at half its lifetime).
REFRESH_AHEAD: Final = 60.0

Data = Mapping[str, Any]


def lifetime(state: Data) -> float | None:
    """How long the provider said the current access token lives, in seconds."""
    value = state.get("lifetime")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def window(state: Data) -> float:
    """The refresh-ahead window in seconds: 60, or half the lifetime when that is less."""
    life = lifetime(state)
    return min(REFRESH_AHEAD, life / 2) if life is not None else REFRESH_AHEAD


def expires_at(data: Data) -> float | None:
    """When the access token expires (unix seconds), or None when it does not say."""
    expiry = data.get("token_expiry")
    if not isinstance(expiry, str) or not expiry:
        return None
    try:
        return parse_rfc3339(expiry).timestamp()
    except ValueError:
        return None


def grant(data: Data, state: Data) -> str | None:
    """How a new access token can be had: ``refresh_token``, ``client_credentials`` or None.

    A record with a refresh token and a token endpoint (``token_url``, or a ``provider``
    preset) is refreshed with it.  A machine client (stored by ``credctl oauth
    client-credentials``, or made by hand with ``client_id``, ``client_secret`` and
    ``token_url`` and no refresh token) fetches a new token.
    """
    if data.get("refresh_token"):
        return "refresh_token" if data.get("token_url") or data.get("provider") else None
    kind = state.get("grant")
    machine = all(data.get(field) for field in ("client_id", "client_secret", "token_url"))
    if machine and kind in (None, "client_credentials"):
        return "client_credentials"
    return None


def needs_refresh(
    data: Data, state: Data, *, min_valid: float = 0.0, now: float | None = None
) -> bool:
    """True when the token is missing, or expires within the window (or `min_valid`)."""
    if not data.get("access_token"):
        return True
    expiry = expires_at(data)
    if expiry is None:
        return False
    now = time.time() if now is None else now
    return expiry - now <= max(window(state), min_valid)


def valid_for(data: Data, seconds: float = 0.0, *, now: float | None = None) -> bool:
    """True when there is an access token that stays valid for `seconds` more."""
    if not data.get("access_token"):
        return False
    expiry = expires_at(data)
    now = time.time() if now is None else now
    return expiry is None or expiry - now > seconds
