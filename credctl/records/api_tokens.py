"""Bearer tokens of the REST API (``credctl serve token create|list|revoke``).

A token is ``credctl_<id>_<secret>``: the id names its entry (for ``list`` and
``revoke``) and the secret is 256 random bits, shown once.  The prefix lets
secret scanners and log filters recognise a leaked token.

Only a SHA-256 digest of the whole token is kept, in the vault's encrypted
settings (``meta["api_tokens"]``), with its user, creation, expiry and last use.
A plain hash is enough: a token carries 256 bits of entropy, so no guessing or
precomputation can find one from its digest (slow password hashes and secret
peppers exist for low-entropy passwords), and the digest itself sits inside the
encrypted vault, readable only by someone who already holds every credential.
Digests are compared in constant time.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, Final

from credctl.errors import NotFound, VaultCorruptError

#: The settings key that holds the tokens, and the one that numbers them.
TOKENS: Final = "api_tokens"
LAST_ID: Final = "api_token_last_id"
PREFIX: Final = "credctl_"
_SHAPE: Final = re.compile(r"credctl_([1-9][0-9]{0,8})_([A-Za-z0-9_-]{43})\Z")
#: Last use is written back at most this often (seconds): never a vault write per request.
TOUCH_INTERVAL: Final = 3600


class ApiToken:
    """What is known about an issued token (never the token itself)."""

    __slots__ = ("created", "expires", "id", "last_used", "user")

    def __init__(
        self, token_id: int, user: str, created: int, expires: int | None, last_used: int | None
    ) -> None:
        self.id = token_id
        self.user = user
        self.created = created
        self.expires = expires
        self.last_used = last_used

    def __repr__(self) -> str:
        return f"ApiToken(id={self.id!r}, user={self.user!r})"

    def expired(self, now: float | None = None) -> bool:
        """True when the token is past its expiry."""
        return self.expires is not None and (time.time() if now is None else now) >= self.expires

    def to_json(self) -> dict[str, Any]:
        """``token list --json``: id, user, created_at, expires_at, last_used_at, expired."""
        from credctl._time import format_rfc3339, from_unix

        def moment(value: int | None) -> str | None:
            return format_rfc3339(from_unix(value)) if value is not None else None

        return {
            "id": self.id,
            "user": self.user,
            "created_at": moment(self.created),
            "expires_at": moment(self.expires),
            "last_used_at": moment(self.last_used),
            "expired": self.expired(),
        }


def digest(token: str) -> str:
    """The stored form of a token."""
    import hashlib  # lazily: `credctl get-token` imports this module's `ApiToken` type

    return hashlib.sha256(token.encode()).hexdigest()


def _entries(meta: Mapping[str, Any]) -> dict[str, Any]:
    table = meta.get(TOKENS, {})
    if not isinstance(table, dict):
        raise VaultCorruptError("the vault's API token settings are malformed")
    return table


def _token(key: str, entry: Any) -> ApiToken:
    try:
        expires, last_used = entry.get("expires"), entry.get("last_used")
        token = ApiToken(int(key), str(entry["user"]), int(entry["created"]),
                         int(expires) if expires is not None else None,
                         int(last_used) if last_used is not None else None)  # fmt: skip
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise VaultCorruptError("the vault's API token settings are malformed") from exc
    return token


def listing(meta: Mapping[str, Any]) -> list[ApiToken]:
    """Every issued token, by id."""
    return sorted((_token(k, v) for k, v in _entries(meta).items()), key=lambda t: t.id)


def issue(meta: dict[str, Any], user: str, expires_in: int | None) -> tuple[ApiToken, str]:
    """Add a token for `user` to `meta` (settings being changed); (its entry, the token)."""
    import secrets

    from credctl.records.validation import check_owner

    check_owner(user)
    last = meta.get(LAST_ID, 0)
    if not isinstance(last, int) or isinstance(last, bool) or last < 0:
        raise VaultCorruptError("the vault's API token settings are malformed")
    token_id = last + 1
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    now = int(time.time())
    expires = now + expires_in if expires_in is not None else None
    table = _entries(meta)
    table[str(token_id)] = {"user": user, "sha256": digest(token), "created": now,
                            "expires": expires, "last_used": None}  # fmt: skip
    meta[TOKENS] = table
    meta[LAST_ID] = token_id
    return _token(str(token_id), table[str(token_id)]), token


def revoke(meta: dict[str, Any], token_id: int) -> ApiToken:
    """Remove a token from `meta`; `NotFound` if there is none with this id."""
    table = _entries(meta)
    entry = table.pop(str(token_id), None)
    if entry is None:
        raise NotFound(f"no API token {token_id}", hint="see `credctl serve token list`")
    return _token(str(token_id), entry)


def verify(meta: Mapping[str, Any], presented: str) -> ApiToken | None:
    """The token `presented` names if it is issued, matches and has not expired, else None."""
    import hmac

    match = _SHAPE.match(presented)
    entry = _entries(meta).get(match.group(1)) if match else None
    stored = entry.get("sha256") if isinstance(entry, dict) else None
    # Compare even when there is nothing to compare with, so a miss costs what a hit does.
    expected = stored if isinstance(stored, str) else "0" * 64
    if not hmac.compare_digest(digest(presented), expected) or match is None:
        return None
    token = _token(match.group(1), entry)
    return None if token.expired() else token


def touch(meta: dict[str, Any], token_id: int, now: int) -> bool:
    """Record a use of the token; False when it is gone (revoked meanwhile)."""
    entry = _entries(meta).get(str(token_id))
    if not isinstance(entry, dict):
        return False
    entry["last_used"] = now
    return True
