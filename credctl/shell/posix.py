"""``--shell sh``: POSIX shell syntax, for dash, ash, ksh and any ``sh``.

Every value is written in single quotes.  POSIX.1-2017, Shell Command Language
§2.2.2 "Single-Quotes": "Enclosing characters in single-quotes shall preserve
the literal value of each character within the single-quotes.  A single-quote
cannot occur within single-quotes."  So nothing inside is special — not ``$``,
a backquote, ``\\``, ``!``, ``%`` or a newline — and a ``'`` in the value is written
as ``'\\''``: close the quotes, a backslash-quoted quote (§2.2.1 "Escape
Character"), reopen.  Single quotes carry every byte but NUL, whatever the
locale, because no expansion or character decoding happens inside them.

Each line is ``export NAME='value'`` (§2.14 "export": ``export name[=word]``).
The value may span lines; ``eval "$(credctl env …)"`` keeps them, since
command substitution strips only the newlines at the very end of the output,
after the closing quote (§2.6.3).
"""

from __future__ import annotations

from collections.abc import Sequence

from credctl.shell._checks import Assignment, checked


def single_quote(value: str) -> str:
    """`value` as one POSIX single-quoted word: ``it's`` → ``'it'\\''s'``."""
    return "'" + value.replace("'", "'\\''") + "'"


def render(assignments: Sequence[Assignment]) -> str:
    """``export NAME='value'`` lines."""
    return "".join(
        f"export {name}={single_quote(value)}\n" for name, value in checked(assignments)
    )
