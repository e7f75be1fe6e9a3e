"""How a credential is named on a command line or in a call: a name, or an id."""

from __future__ import annotations

from credctl.errors import InvalidInput

#: A credential reference: an id, or a name (a decimal string is an id, SPEC §12).
Ref = int | str


def as_id(ref: Ref) -> int | None:
    """The id a reference names, or None when it is a name (SPEC §12: decimal = id)."""
    if isinstance(ref, bool):
        raise InvalidInput("a credential reference is a name or an id")
    if isinstance(ref, int):
        return ref
    return int(ref) if ref.isdecimal() and ref.isascii() else None
