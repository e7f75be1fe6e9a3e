"""The checks every credential passes before the record layer stores it.

Type data is checked by its type (`credctl.types`); names by SPEC §2's rules;
descriptions, tags and metadata here.  Each failure is `InvalidInput` (exit 9)
naming what is wrong, never quoting a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from credctl.errors import InvalidInput

MAX_DESCRIPTION: Final = 4096
MAX_TAGS: Final = 64
MAX_TAG_LENGTH: Final = 64
MAX_METADATA_BYTES: Final = 64 * 1024


def is_text(value: object) -> bool:
    """A str that can be stored as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_description(value: str) -> str:
    """`value` if it is a storable description."""
    if not is_text(value) or len(value) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"the description must be Unicode text of at most {MAX_DESCRIPTION} characters"
        )
    return value


def check_tags(values: Sequence[str]) -> tuple[str, ...]:
    """The tags, without repeats, if each is 1–64 characters without spaces or commas."""
    if isinstance(values, str):
        values = [values]
    for tag in values:
        if (
            not is_text(tag)
            or not tag
            or len(tag) > MAX_TAG_LENGTH
            or any(ch.isspace() or ch == "," for ch in tag)
        ):
            shown = tag[:40] if is_text(tag) else type(tag).__name__
            raise InvalidInput(
                f"invalid tag {shown!r}: tags are 1–{MAX_TAG_LENGTH} characters "
                "without spaces or commas"
            )
    tags = tuple(dict.fromkeys(values))
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags are allowed")
    return tags


def check_metadata(value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON copy of `value` if it is a JSON object of at most 64 KiB."""
    if not isinstance(value, Mapping):
        raise InvalidInput("metadata must be a JSON object")
    try:
        encoded = json.dumps(dict(value), allow_nan=False, ensure_ascii=False)
        size = len(encoded.encode())
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput(
            "metadata must be JSON (strings, numbers, booleans, arrays, objects)"
        ) from None
    if size > MAX_METADATA_BYTES:
        raise InvalidInput("metadata is larger than 64 KiB")
    loaded: dict[str, Any] = json.loads(encoded)
    return loaded


#: Owner (user) ids: 1–128 ASCII letters, digits, ``_ . @ -``, starting with a letter or
#: digit.  No ``/``: the vault indexes another owner's record as ``owner/name``
#: (`credctl.vault.body.RECORD_KEY`, which repeats this pattern).
OWNER_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}"
_OWNER: Final = re.compile(OWNER_PATTERN + r"\Z")


def check_owner(value: str) -> str:
    """`value` if it is a valid owner (user) id."""
    if not isinstance(value, str) or not _OWNER.match(value):
        raise InvalidInput(
            "a user id is 1–128 ASCII letters, digits, '_', '.', '@' or '-', starting with "
            "a letter or digit"
        )
    return value


_VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_VARIABLE_LENGTH: Final = 256


def check_env_names(fields: Sequence[str], value: Mapping[str, Any]) -> dict[str, str]:
    """Remembered variable names (field → variable, e.g. what a dotenv import read).

    Each key must be one of `fields` (the type's field names; any name when the
    type declares none, as `custom`) and each value an
    environment variable name.  Whether a name is safe to export by default is
    decided when it is exported (`credctl.types.names.check_derived_variable`).
    """
    if not isinstance(value, Mapping):
        raise InvalidInput("env names must map field names to variable names")
    checked: dict[str, str] = {}
    for field, variable in value.items():
        if not isinstance(field, str) or (fields and field not in fields):
            raise InvalidInput(f"env names: {str(field)[:40]!r} is not a field of the type")
        if (
            not isinstance(variable, str)
            or len(variable) > MAX_VARIABLE_LENGTH
            or not _VARIABLE.match(variable)
        ):
            raise InvalidInput(
                f"env names: the variable for {field!r} is not a valid variable name",
                hint="variable names are letters, digits and '_', not starting with a digit",
            )
        checked[field] = variable
    return checked
