"""Escaping one value for the place its reference stands (a `Context`).

Each escaper returns text that the format's parser reads back as exactly the
value, or raises `UnsafeValueError` (with a reason that never quotes the value)
when the place cannot hold it: a line break in a YAML single-quoted scalar, a
NUL byte in a dotenv file, a trailing backslash right before python-dotenv's
closing quote.

A ``.env`` file is read by python-dotenv and by shells (``set -a; . ./.env``), so
dotenv values follow the one rule of `credctl.shell.dotenv` (shared with ``credctl
env --shell dotenv``): both readers get the value exactly, nothing is expanded or
run, and a value for which that is impossible (``${…}``, a CR, ``$`` in double
quotes …) is refused, so nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final

from credctl.render.contexts import Context, Slot
from credctl.shell import dotenv as dotenv_rule
from credctl.shell.dotenv import DotenvUnsafeError


class UnsafeValueError(ValueError):
    """This value cannot be written in this place without changing its meaning."""


# -- JSON (RFC 8259) ------------------------------------------------------------------


def json_string(value: str) -> str:
    """The inside of a JSON string literal: ``"`` and ``\\`` escaped, control
    characters as ``\\n``-style or ``\\u00XX`` escapes, other characters as they are.

    U+2028 and U+2029 are valid in JSON but end a line in JavaScript before
    ES2019, so they are escaped too.
    """
    inner = json.dumps(value, ensure_ascii=False)[1:-1]
    return inner.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# -- YAML -------------------------------------------------------------------------------

# Characters a YAML double-quoted scalar must not hold as they are: quote and
# backslash, line breaks (they would fold into spaces), and everything YAML's
# reader calls non-printable (C0 and C1 controls, DEL, surrogates, U+FFFE,
# U+FFFF), plus tab and the byte-order mark, escaped for safety.
_YAML_UNSAFE: Final = re.compile(
    '[\x00-\x1f"\\\\\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]'
)
_YAML_NAMED: Final = {
    "\x00": "\\0",
    "\x07": "\\a",
    "\x08": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
# What a single-quoted scalar cannot hold: it has no escapes, and line breaks fold.
_YAML_SINGLE_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]"
)


def _yaml_escape(match: re.Match[str]) -> str:
    char = match[0]
    named = _YAML_NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02X}" if code <= 0xFF else f"\\u{code:04X}"


def yaml_double_quoted(value: str) -> str:
    """The inside of a YAML double-quoted scalar: one line, every unsafe character escaped."""
    return _YAML_UNSAFE.sub(_yaml_escape, value)


def yaml_single_quoted(value: str) -> str:
    """The inside of a YAML single-quoted scalar (``'`` doubled)."""
    if _YAML_SINGLE_UNSAFE.search(value):
        raise UnsafeValueError(
            "the value has a line break or a control character, which a single-quoted "
            "YAML scalar cannot hold; use double quotes around it"
        )
    return value.replace("'", "''")


# -- dotenv: python-dotenv and POSIX shells (one rule, `credctl.shell.dotenv`) ------------


def _dotenv(write: Callable[[str, str], str], value: str, following: str) -> str:
    try:
        return write(value, following)
    except DotenvUnsafeError as exc:
        raise UnsafeValueError(str(exc)) from None


def dotenv_double_quoted(value: str, slot: Slot) -> str:
    """The inside of a double-quoted dotenv value, read alike by python-dotenv and a shell."""
    return _dotenv(dotenv_rule.double_quoted, value, slot.following)


def dotenv_single_quoted(value: str, slot: Slot) -> str:
    """The inside of a single-quoted dotenv value (the value as it is, where that is safe)."""
    return _dotenv(dotenv_rule.single_quoted, value, slot.following)


def dotenv_value(value: str, slot: Slot) -> str:
    """A whole dotenv value, in single quotes where they work, else double quotes."""
    del slot
    return _dotenv(lambda text, _following: dotenv_rule.quoted(text), value, "")


# -- dispatch ---------------------------------------------------------------------------

_ESCAPERS: Final[dict[Context, Callable[[str, Slot], str]]] = {
    Context.RAW: lambda value, _slot: value,
    Context.JSON_STRING: lambda value, _slot: json_string(value),
    Context.YAML_DOUBLE_QUOTED: lambda value, _slot: yaml_double_quoted(value),
    Context.YAML_SINGLE_QUOTED: lambda value, _slot: yaml_single_quoted(value),
    Context.YAML_VALUE: lambda value, _slot: '"' + yaml_double_quoted(value) + '"',
    Context.DOTENV_DOUBLE_QUOTED: dotenv_double_quoted,
    Context.DOTENV_SINGLE_QUOTED: dotenv_single_quoted,
    Context.DOTENV_VALUE: dotenv_value,
}


def escape(value: str, slot: Slot) -> str:
    """`value` as it must be written where `slot` stands, or `UnsafeValueError`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafeValueError("the value is not valid Unicode text") from None
    return _ESCAPERS[slot.context](value, slot)
