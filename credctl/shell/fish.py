"""``--shell fish``: ``set -gx NAME 'value';`` lines for ``credctl env --shell fish … | source``.

fish's documentation, "The fish language" → "Quotes": "Single quotes (') …
The only backslash escape sequences accepted within single quotes are \\', which
escapes a single quote and \\\\, which escapes the backslash symbol."  Unlike
POSIX, a backslash inside fish's single quotes is special, so both ``\\`` and
``'`` are escaped, and ``'\\''`` (POSIX's trick) would be wrong here.  Nothing
else is: no ``$`` expansion, no command substitution, and a newline is kept
as it is inside the quotes.

``set -gx`` (``set``: "-g … global scope", "-x … export to child processes")
makes a one-element list holding the value exactly; an empty value stays one
empty element.  fish stores strings as wide characters and maps bytes that are
not valid UTF-8, and code points it reserves for itself (``str2wcs`` and
``fish_reserved_codepoint`` in ``src/common.cpp``), to private "encoded byte"
characters that it turns back into the same bytes on output and in the
environment, so every value but NUL round-trips (the property tests check this
in fish itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from credctl.shell._checks import Assignment, checked


def fish_quote(value: str) -> str:
    """`value` as one fish single-quoted word: ``\\`` → ``\\\\``, ``'`` → ``\\'``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(assignments: Sequence[Assignment]) -> str:
    """``set -gx NAME 'value';`` lines."""
    return "".join(
        f"set -gx {name} {fish_quote(value)};\n" for name, value in checked(assignments)
    )
