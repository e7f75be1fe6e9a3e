"""Checks and rendering for single field values, shared by every credential type.

Each check raises `InvalidInput` that names the field and the *kind* of value it
got, never the value itself: the value may be a secret, and messages end up on
terminals, in CI logs and in the audit trail.  The limits (64 KiB, no NUL, valid
Unicode) are what the vault, environment variables and command lines can carry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import InvalidInput
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.types.base import FieldSpec

MAX_VALUE_BYTES: Final = 64 * 1024
_INT_TEXT: Final = re.compile(r"[0-9]{1,10}\Z")
_JSON_KINDS: Final = {
    bool: "true/false",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    tuple: "an array",
    dict: "an object",
    type(None): "null",
}


def json_kind(value: object) -> str:
    """What a value is, in JSON words, for messages that must not show the value."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def wrong_type(field: str, expected: str, value: object) -> InvalidInput:
    """The error for a value of the wrong kind; it names the kind, never the value."""
    return InvalidInput(f"field {shown(field)} must be {expected}, not {json_kind(value)}")


def check_text(field: str, value: object) -> str:
    """`value` if it is a string that can be stored, exported and sent, else `InvalidInput`."""
    if not isinstance(value, str):
        raise wrong_type(field, "a string", value)
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise InvalidInput(f"field {shown(field)} is not valid Unicode text") from None
    if size > MAX_VALUE_BYTES:
        raise InvalidInput(f"field {shown(field)} is {size} bytes; values are limited to 64 KiB")
    if "\x00" in value:
        raise InvalidInput(
            f"field {shown(field)} contains a NUL character",
            hint="environment variables and command lines cannot carry one",
        )
    return value


def check_number(field: str, value: int | float) -> int | float:
    """Numbers JSON and every consumer can carry: 64-bit integers and finite floats."""
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"field {shown(field)} must be a finite number")
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise InvalidInput(f"field {shown(field)} is outside the 64-bit integer range")
    return value


def no_line_breaks(data: Mapping[str, Any], *fields: str) -> None:
    """Refuse CR/LF in values that are sent as HTTP header values."""
    for field in fields:
        value = data.get(field)
        if isinstance(value, str) and ("\r" in value or "\n" in value):
            raise InvalidInput(
                f"field {shown(field)} contains a line break",
                hint="it is sent in an HTTP header; remove the trailing newline of the source",
            )


def render(value: object) -> str:
    """A stored value as text: ``true``/``false``, decimal integers, space-joined lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value)
    return str(value)


def convert(spec: FieldSpec, value: object) -> Any:
    field = spec.name
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise wrong_type(field, "true or false", value)
    if spec.kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_TEXT.match(value):
            return int(value)
        raise wrong_type(field, "a whole number", value)
    if spec.kind == "list":
        items = check_text(field, value).split() if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise wrong_type(field, "a list of strings or a space-separated string", value)
        texts = [check_text(field, item) for item in items]
        if any(not text or any(ch.isspace() for ch in text) for text in texts):
            raise InvalidInput(f"field {shown(field)} has an empty item or one with spaces")
        check_text(field, " ".join(texts))
        return texts
    return check_text(field, value)
