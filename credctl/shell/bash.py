"""``--shell bash``: the POSIX single-quote form, checked against bash's own rules.

The Bash Reference Manual, §3.1.2.2 "Single Quotes": "Enclosing characters in
single quotes (') preserves the literal value of each character within the
quotes.  A single quote may not occur between single quotes, even when preceded
by a backslash."  That is POSIX's rule, so the output is ``credctl.shell.posix``'s
``export NAME='…'`` with ``'`` written as ``'\\''``.

Two bash features were weighed and do not apply:

- History expansion of ``!`` (§9.3) happens only in interactive shells, on lines
  read from the terminal, never inside ``eval`` of a command substitution; and
  §9.3.1 says single quotes protect ``!`` anyway.
- ANSI-C quoting ``$'…'`` (§3.1.2.4) would put newlines on one line, but bash
  converts its ``\\uHHHH`` escapes to the locale's character set
  (``lib/sh/unicode.c``): in a C locale bash 5.2 leaves ``$'\\u00e9'`` as the six
  characters ``\\u00E9``.  Plain single quotes hold the UTF-8 bytes as they
  are, in every locale.
"""

from __future__ import annotations

from collections.abc import Sequence

from credctl.shell._checks import Assignment
from credctl.shell.posix import render as posix_render


def render(assignments: Sequence[Assignment]) -> str:
    """``export NAME='value'`` lines that bash reads back byte for byte."""
    return posix_render(assignments)
