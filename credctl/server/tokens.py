"""Checking the bearer token of each request (tokens are issued by ``serve token create``).

The token is looked up and compared in constant time by the manager
(`credctl.records.api_tokens`), against the vault as it is now: a token revoked
with ``credctl serve token revoke`` is refused by the very next request.  Its
last use is written back at most hourly per token, in the background, so a
request never waits for a vault write it did not ask for.

No FastAPI here: the pieces are plain functions the dependencies call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Final

from credctl.records.api_tokens import TOUCH_INTERVAL, digest

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.records.api_tokens import ApiToken

#: Longest Authorization header value looked at; a token is about 55 characters.
MAX_HEADER: Final = 256


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, or None."""
    if header is None or len(header) > MAX_HEADER:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class TokenGate:
    """Verifies tokens and decides when a token's last use is worth a vault write.

    A verification is remembered with the vault's change stamp: while the vault is
    unchanged the same token needs no new lookup (only its expiry is checked
    again), and any write, a revocation by another process included, makes the
    next request look it up afresh.
    """

    CACHE_SIZE: Final = 1024

    def __init__(self, manager: CredentialManager) -> None:
        self.manager = manager
        # token id -> time.monotonic() of the last write-back this process asked for
        self._touched: dict[int, float] = {}
        # digest of a presented token -> (stamp, the verified token or None)
        self._verified: OrderedDict[str, tuple[object, ApiToken | None]] = OrderedDict()

    def verify(self, header: str | None, stamp: object) -> ApiToken | None:
        """The token the header carries, if it is valid now; `stamp`: the vault's state stamp,
        taken just before (`CredentialManager.state_stamp`)."""
        presented = bearer(header)
        if presented is None:
            return None
        key = digest(presented)
        known = self._verified.get(key)
        if stamp is not None and known is not None and known[0] == stamp:
            token = known[1]
        else:
            token = self.manager.verify_api_token(presented)
            if stamp is not None:
                self._verified[key] = (stamp, token)
                while len(self._verified) > self.CACHE_SIZE:
                    self._verified.popitem(last=False)
        return None if token is None or token.expired() else token

    def due_for_touch(self, token: ApiToken) -> bool:
        """True (once per interval) when the token's stored last use is stale."""
        if token.last_used is not None and time.time() - token.last_used < TOUCH_INTERVAL:
            return False
        now = time.monotonic()
        asked = self._touched.get(token.id)
        if asked is not None and now - asked < TOUCH_INTERVAL:
            return False
        self._touched[token.id] = now
        return True
