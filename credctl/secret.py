"""`SecretValue`: a string that will not print itself.

Tokens travel through code that logs, formats exceptions and builds reprs of
whole objects.  Wrapping them means a stray ``print(token)``, ``f"{token}"``,
``log.debug("%r", token)`` or a traceback's locals show ``***`` instead of the
secret (SPEC §4, STYLE §5); the one way to get the text is to say so with
`SecretValue.expose`.  Equality is constant-time so comparing a presented
token with a stored one is no timing oracle.
"""

from __future__ import annotations

from _operator import _compare_digest
from typing import Final, NoReturn, final

MASK: Final = "***"


@final
class SecretValue:
    """A secret string: ``str()``, ``repr()`` and ``format()`` show ``***``.

    ``expose()`` returns the string.  Two `SecretValue` objects are equal when
    their strings are (compared in constant time); a `SecretValue` never equals
    a plain ``str``, so an accidental ``token == "..."`` fails loudly in tests
    instead of silently comparing.  It is immutable, and refuses to be pickled.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"SecretValue wraps a str, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    def expose(self) -> str:
        """The secret itself.  Call it at the last moment, where the value is used."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return MASK

    def __format__(self, format_spec: str) -> str:
        # Width and alignment apply to the mask, so tables still line up.
        return format(MASK, format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        # surrogatepass: a lone surrogate (possible from JSON) must not make == raise.
        mine = self._value.encode("utf-8", "surrogatepass")
        return _compare_digest(mine, other._value.encode("utf-8", "surrogatepass"))

    def __hash__(self) -> int:
        return hash((SecretValue, self._value))

    def __copy__(self) -> SecretValue:
        return self  # immutable, so copies (and dataclasses.replace, deepcopy) can share it

    def __deepcopy__(self, memo: dict[int, object]) -> SecretValue:
        return self

    def __reduce__(self) -> NoReturn:
        # Pickles end up in caches and queues; writing the secret there must be explicit.
        raise TypeError("SecretValue cannot be pickled; pickle .expose() if you mean to")

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("SecretValue is immutable")
