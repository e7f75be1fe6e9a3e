"""``--shell dotenv``: ``NAME='value'`` lines that python-dotenv *and* a shell read back exactly.

A ``.env`` file has two kinds of readers, and both must get the value, byte for
byte, with nothing run: python-dotenv 1.x (``dotenv_values``, ``load_dotenv``; SPEC
§12), and POSIX shells (dash, bash), which read the same file with the common
``set -a; . ./.env`` (Docker Compose's reader follows the shell's quoting).  A
value written only for python-dotenv, such as ``"p$(touch /tmp/x)w"``, runs a
command in the shell.  This module holds the one quoting rule for both readers,
used here and by ``credctl render`` for ``.env`` templates
(`credctl.render.escape`):

- **Single quotes**, whenever they work: a shell keeps every character inside
  single quotes (POSIX.1-2017 XCU 2.2.2) and python-dotenv reads ``'…'`` with
  ``'((?:\\\\'|[^'])*)'`` and then decodes only ``\\\\`` and ``\\'``
  (``dotenv/parser.py``).  So they carry any value without ``'``, without two
  backslashes in a row, and without a backslash right before the closing quote.
- **Double quotes** otherwise: ``\\`` is written ``\\\\`` and ``"`` as ``\\"``,
  which both readers decode the same way; a line break is written as it is (both
  keep it).  A shell expands ``$`` and a backquote inside double quotes and
  python-dotenv does not, so a value with either cannot be written this way.

Refused (`DotenvUnsafeError`, exit 9 in ``env``, nothing printed), because no
quoting gives both readers the same value:

- a carriage return: python-dotenv opens files in text mode, which turns CR into
  a line break, and has no escape a shell would also decode;
- ``${NAME}`` or ``${NAME:-default}`` (python-dotenv's ``_posix_variable``):
  python-dotenv expands it by default, in any quotes;
- a backslash at the very end: python-dotenv reads it with the closing quote as
  an escaped quote, in single and double quotes alike;
- a value with a ``'`` or ``\\\\`` (no single quotes) *and* a ``$`` or backquote
  (no double quotes);
- NUL (no environment can hold it).

Standard library only: ``credctl env`` is on the start-up-bound fast path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from credctl.shell._checks import Assignment, cannot_hold, checked

# python-dotenv's dotenv/variables.py `_posix_variable`, verbatim.
_EXPANDED: Final = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")
_READERS: Final = "python-dotenv and a POSIX shell (`set -a; . ./.env`)"
_HINT: Final = "use --shell json, or sh for a shell script"


class DotenvUnsafeError(ValueError):
    """No quoting gives python-dotenv and a shell the same value; says what and why."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"the value contains {what}; {why}")
        self.what = what
        self.why = why


def _check_common(value: str, following: str, escapes: str) -> None:
    """What neither kind of quotes can carry.

    `following` is the text after the value; `escapes` the characters that
    python-dotenv reads as escaped after a backslash in these quotes.
    """
    if "\x00" in value:
        raise DotenvUnsafeError("a NUL character", "no environment variable can hold one")
    if "\r" in value:
        raise DotenvUnsafeError(
            "a carriage return",
            "python-dotenv reads files in text mode, which turns it into a line break, "
            "and there is no escape for it that a shell reads the same way",
        )
    if _EXPANDED.search(value) or (value.endswith("$") and following.startswith("{")):
        raise DotenvUnsafeError(
            "'${…}'", "python-dotenv expands it when loading, in quotes or not"
        )
    if value.endswith("\\") and following[:1] and following[:1] in escapes:
        raise DotenvUnsafeError(
            "a backslash at its end",
            "python-dotenv reads it and the character after it (a quote) as an escape",
        )


def single_quoted(value: str, following: str = "'") -> str:
    """`value` as the inside of ``'…'`` for both readers (unchanged), or `DotenvUnsafeError`.

    `following` is what comes right after it in the file: the closing quote when
    the value fills the quotes, more text in a ``credctl render`` template.
    """
    _check_common(value, following, "'\\")
    if "'" in value:
        raise DotenvUnsafeError("a single quote", "a shell cannot read one inside single quotes")
    if "\\\\" in value:
        raise DotenvUnsafeError(
            "two backslashes in a row",
            "python-dotenv reads them as one inside single quotes, a shell as two",
        )
    if "${" in value and following != "'":
        # The template text after it may close the brace: python-dotenv would expand.
        raise DotenvUnsafeError("'${'", "python-dotenv may expand it with the text after it")
    return value


def double_quoted(value: str, following: str = '"') -> str:
    """`value` as the inside of ``"…"`` for both readers, or `DotenvUnsafeError`."""
    _check_common(value, following, '"')
    for character, name in (("$", "'$'"), ("`", "a backquote")):
        if character in value:
            raise DotenvUnsafeError(
                name, "a shell expands it inside double quotes and python-dotenv does not"
            )
    return value.replace("\\", "\\\\").replace('"', '\\"')


def quoted(value: str) -> str:
    """`value` as a whole dotenv value, in quotes: single where they work, else double."""
    try:
        return "'" + single_quoted(value) + "'"
    except DotenvUnsafeError as single:
        try:
            return '"' + double_quoted(value) + '"'
        except DotenvUnsafeError as double:
            if double.what == single.what:  # a reason of its own, not of the quotes
                raise
            raise DotenvUnsafeError(
                f"{single.what} and {double.what}",
                f"single quotes cannot carry the first and double quotes the second so "
                f"that {_READERS} read the same value",
            ) from None


def encode(name: str, value: str) -> str:
    """The right-hand side of ``NAME=…`` for `value`, or `InvalidInput` naming `name`."""
    try:
        return quoted(value)
    except DotenvUnsafeError as exc:
        raise cannot_hold(name, exc.what, exc.why, _HINT) from None


def render(assignments: Sequence[Assignment]) -> str:
    """``NAME='value'`` lines (``NAME="value"`` where single quotes cannot carry it)."""
    return "".join(f"{name}={encode(name, value)}\n" for name, value in checked(assignments))
