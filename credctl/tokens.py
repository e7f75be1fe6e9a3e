"""`Token`: what `get_token` hands out.  Its own module: ``get-token`` imports it, and
nothing else of the public model (`credctl.model` re-exports it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from credctl.secret import SecretValue

if TYPE_CHECKING:
    import datetime as dt


class Token(NamedTuple):
    """A token handed out by `get_token`; its value and header are `SecretValue`s."""

    value: SecretValue
    credential_id: int
    token_type: str
    header: SecretValue | None = None
    expires_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The `get-token --format json` object (exposes the secret on purpose)."""
        from credctl._time import format_rfc3339

        return {
            "value": self.value.expose(),
            "type": self.token_type,
            "header": self.header.expose() if self.header else None,
            "expires_at": format_rfc3339(self.expires_at) if self.expires_at else None,
        }
