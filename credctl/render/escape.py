"""Escaping one value for the place its reference stands (a `Context`).

Each escaper returns text that the format's parser reads back as exactly the
value, or raises `UnsafeValueError` (with a reason that never quotes the value)
when the place cannot hold it: a line break in a YAML single-quoted scalar, a
NUL byte in a dotenv file, a trailing backslash right before python-dotenv's
closing quote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Final

from credctl.render.contexts import Context, Slot


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


# -- dotenv (python-dotenv 1.x) -------------------------------------------------------

_DOTENV_DOUBLE: Final = re.compile('[\\\\"\n\r\t\x07\x08\x0b\x0c]')
_DOTENV_NAMED: Final = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\x07": "\\a",
    "\x08": "\\b",
    "\x0b": "\\v",
    "\x0c": "\\f",
}
_INTERPOLATION: Final = "${"


def _refuse_nul(value: str) -> None:
    if "\x00" in value:
        raise UnsafeValueError("the value has a NUL character, which dotenv files cannot hold")


def _refuse_trailing_backslash(value: str, slot: Slot, closing: str) -> None:
    if value.endswith("\\") and slot.following == closing:
        # python-dotenv's quoted-value pattern reads \\" as an escaped quote and runs on.
        raise UnsafeValueError(
            "the value ends with a backslash right before the closing quote, which "
            "python-dotenv misreads; put a character between them in the template"
        )


def _dotenv_double(value: str) -> str:
    return _DOTENV_DOUBLE.sub(lambda match: _DOTENV_NAMED[match[0]], value)


def dotenv_double_quoted(value: str, slot: Slot) -> str:
    """The inside of a double-quoted dotenv value, with python-dotenv's escapes."""
    _refuse_nul(value)
    _refuse_trailing_backslash(value, slot, '"')
    return _dotenv_double(value)


def dotenv_single_quoted(value: str, slot: Slot) -> str:
    """The inside of a single-quoted dotenv value (``\\\\`` and ``\\'`` escaped)."""
    _refuse_nul(value)
    if "\r" in value:
        # No escape for it, and readers that open the file in text mode turn it into \n.
        raise UnsafeValueError(
            "the value has a carriage return, which a single-quoted dotenv value cannot "
            "hold; use double quotes around it"
        )
    _refuse_trailing_backslash(value, slot, "'")
    return value.replace("\\", "\\\\").replace("'", "\\'")


def dotenv_value(value: str, slot: Slot) -> str:
    """A whole dotenv value: double-quoted, or unquoted when it ends with a backslash
    (python-dotenv misreads a quoted value that ends with one)."""
    del slot
    _refuse_nul(value)
    if not value.endswith("\\"):
        return '"' + _dotenv_double(value) + '"'
    unquoted_safe = (
        value == value.strip() and value[0] not in "'\"" and not re.search(r"[\r\n]|\s#", value)
    )
    if not unquoted_safe:
        raise UnsafeValueError(
            "the value ends with a backslash, which python-dotenv misreads in quotes, "
            "and it cannot be written unquoted (spaces at either end, a line break, "
            "' #' or a leading quote)"
        )
    return value


def interpolation_warning(value: str, context: Context) -> str | None:
    """Why python-dotenv may read this value differently, if it may (never the value)."""
    if context.name.startswith("DOTENV") and _INTERPOLATION in value:
        return (
            "the value contains '${', which python-dotenv expands unless read with "
            "interpolate=False (`credctl import` never expands)"
        )
    return None


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
