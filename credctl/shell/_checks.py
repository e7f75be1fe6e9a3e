"""Rules every output format applies before it writes a line.

A variable name must be one that every target can set: a POSIX name
(``[A-Za-z_][A-Za-z0-9_]*``, the "Name" definition of POSIX.1-2017 XBD 3),
which fish, PowerShell's ``$env:NAME``, dotenv keys and GitHub's
``$GITHUB_ENV`` also accept without quoting.  A value must not contain NUL: a
C environment string ends at the first NUL byte, so no shell, process or
``$GITHUB_ENV`` file can hold one, and printing it would cut the value silently.
Errors name the variable and never show the value (it is a secret).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from credctl.errors import InvalidInput

#: One exported variable: its name and its value.
Assignment = tuple[str, str]

_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_HINT: Final = (
    "variable names are ASCII letters, digits and '_', and do not start with a digit"
)


def is_valid_name(name: str) -> bool:
    """True if `name` is a portable environment-variable name."""
    return _NAME.match(name) is not None


def check_name(name: str) -> str:
    """`name` unchanged, or `InvalidInput` saying why no shell would accept it."""
    if not is_valid_name(name):
        shown = name if len(name) <= 60 else name[:60] + "…"
        raise InvalidInput(f"{shown!r} is not a valid environment variable name", hint=NAME_HINT)
    return name


def checked(assignments: Sequence[Assignment]) -> Iterator[Assignment]:
    """Each assignment after the checks every format shares (name, NUL, duplicates)."""
    seen: set[str] = set()
    for name, value in assignments:
        check_name(name)
        if name in seen:
            raise InvalidInput(f"variable {name} is given twice")
        seen.add(name)
        if "\x00" in value:
            raise cannot_hold(
                name,
                "a NUL character",
                "no environment variable can hold one: C strings end there",
            )
        yield name, value


def cannot_hold(name: str, what: str, why: str, hint: str | None = None) -> InvalidInput:
    """The error for a value a format cannot carry exactly; it names the variable only."""
    return InvalidInput(f"the value of {name} contains {what}; {why}", hint=hint)
