"""``--shell zsh``: the POSIX single-quote form, checked against zsh's own rules.

zshmisc(1), "QUOTING": "All characters enclosed between a pair of single quotes
('') that is not preceded by a '$' are quoted.  A single quote cannot appear
within single quotes unless the option RC_QUOTES is set, in which case a pair of
single quotes are turned into a single quote."  So ``credctl.shell.posix``'s
``export NAME='…'`` with ``'`` written as ``'\\''`` applies, and it stays right
under RC_QUOTES: a closing quote the output writes is always followed by ``\\``
or by the end of the word, never by a second ``'``, so no ``''`` pair occurs
inside a quoted run for RC_QUOTES to merge.

``$'…'`` is not used: zsh converts its ``\\u`` escapes to the locale's
character set, and in a C locale zsh 5.9 stops with "character not in range".
Single quotes carry the UTF-8 bytes unchanged, including bytes zsh uses
internally (0x83 "Meta" and up), which its lexer escapes on input.
"""

from __future__ import annotations

from collections.abc import Sequence

from credctl.shell._checks import Assignment
from credctl.shell.posix import render as posix_render


def render(assignments: Sequence[Assignment]) -> str:
    """``export NAME='value'`` lines that zsh reads back byte for byte."""
    return posix_render(assignments)
