"""Credential names (SPEC §2) and the environment-variable names derived from them.

The rules exist for the places a name is later parsed: no dots, so
``{{$credential.NAME.FIELD}}`` splits only one way; never all digits, because
wherever ``NAME|ID`` is accepted a decimal string is an id (SPEC §12); ASCII
letters, digits, ``_`` and ``-`` only, so a name is safe in a shell word, a file
name and (upper-cased, ``-`` → ``_``) an environment-variable prefix.
"""

from __future__ import annotations

import re
from typing import Final

from credctl.errors import InvalidInput

MAX_NAME_LENGTH: Final = 128
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\Z")
_ALLOWED: Final = re.compile(r"[A-Za-z0-9_-]")
_HINT: Final = (
    "use 1–128 ASCII letters, digits, '_' or '-', starting with a letter or digit, "
    "for example 'github-ci' or 'aws_prod'"
)


def shown(text: str, limit: int = 40) -> str:
    """User-given text (a name, never a secret value) quoted for a message, cut short."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def validate_name(name: str) -> str:
    """`name` unchanged if it is a valid credential name, else `InvalidInput` saying why."""
    candidate: object = name
    if not isinstance(candidate, str):
        raise InvalidInput(f"a credential name must be a string, not {type(candidate).__name__}")
    if _NAME.match(candidate):
        if candidate.isdigit():
            raise InvalidInput(
                f"credential name {shown(candidate)} is all digits, which would be read as an id",
                hint=f"add a letter, for example 'c{candidate[:20]}'",
            )
        return candidate
    if not candidate:
        raise InvalidInput("credential name is empty", hint=_HINT)
    if len(candidate) > MAX_NAME_LENGTH:
        raise InvalidInput(
            f"credential name is {len(candidate)} characters long; at most "
            f"{MAX_NAME_LENGTH} are allowed",
            hint=_HINT,
        )
    bad = next((ch for ch in candidate if not _ALLOWED.match(ch)), None)
    if bad == ".":
        raise InvalidInput(
            f"credential name {shown(candidate)} contains a dot",
            hint="dots separate name and field in {{$credential.NAME.FIELD}}; use '_' or '-'",
        )
    if bad is not None:
        raise InvalidInput(
            f"credential name {shown(candidate)} contains {bad!r}, which is not allowed",
            hint=_HINT,
        )
    raise InvalidInput(
        f"credential name {shown(candidate)} must start with a letter or digit", hint=_HINT
    )


def env_prefix(name: str) -> str:
    """The default variable prefix for a credential: upper-cased, ``-`` → ``_`` (SPEC §2).

    The result is not checked: a name that starts with a digit gives a prefix that
    POSIX shells do not accept as a variable name, which the caller reports.
    """
    return name.upper().replace("-", "_")


def env_name(credential_name: str, field: str) -> str:
    """The default variable for one field: ``NAME_FIELD``, both parts as `env_prefix`."""
    return f"{env_prefix(credential_name)}_{env_prefix(field)}"
