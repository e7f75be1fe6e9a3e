"""``--shell dotenv``: ``NAME="value"`` lines in python-dotenv's grammar (SPEC §12).

python-dotenv 1.x (``dotenv/parser.py``) reads a double-quoted value with the
regular expression ``"((?:\\\\"|[^"])*)"`` and then decodes the escapes
``\\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v`` in it.  So ``\\`` is written ``\\\\``,
``"`` as ``\\"``, and CR and LF as ``\\r`` and ``\\n``; every other character is
written as it is, and each variable takes exactly one line.  Writing CR/LF as
escapes also keeps values intact when the file is opened in text mode, which
turns a bare CR into LF.

Two kinds of value cannot be written so that python-dotenv reads them back, and
are refused (exit 9) rather than corrupted:

- ``${NAME}`` or ``${NAME:-default}`` (python-dotenv's ``_posix_variable``):
  ``dotenv_values()`` and ``load_dotenv()`` expand these by default, in quoted
  and unquoted values alike, and the grammar has no escape for ``$``.
- a value ending in a backslash that cannot be written unquoted.  The regular
  expression above reads the escaped backslash ``\\\\`` right before the closing
  quote as ``\\`` followed by an escaped ``"`` and runs on to the next line's
  quote.  Such a value is written without quotes instead when python-dotenv
  reads that form back unchanged: one line, no leading white space or quote,
  and no `` #`` (which starts a comment).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from credctl.shell._checks import Assignment, cannot_hold, checked

# python-dotenv's dotenv/variables.py `_posix_variable`, verbatim.
_EXPANDED: Final = re.compile(r"\$\{(?P<name>[^\}:]*)(?::-(?P<default>[^\}]*))?\}")
_COMMENT_START: Final = re.compile(r"\s+#")
_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_HINT: Final = "use --shell json, or sh for a shell script"


def _unquoted_ok(value: str) -> bool:
    """Whether python-dotenv reads `value`, written bare, back unchanged."""
    return (
        value[:1] not in ("", "'", '"')
        and not value[0].isspace()
        and not value[-1].isspace()
        and "\n" not in value
        and "\r" not in value
        and _COMMENT_START.search(value) is None
    )


def encode(name: str, value: str) -> str:
    """The right-hand side of ``NAME=…`` for `value`, or `InvalidInput` if there is none."""
    if _EXPANDED.search(value):
        raise cannot_hold(
            name,
            "'${…}'",
            "python-dotenv expands it when loading, and dotenv has no escape for '$'",
            _HINT,
        )
    if value.endswith("\\"):
        if _unquoted_ok(value):
            return value
        raise cannot_hold(
            name,
            "a final backslash together with a line break, leading white space or ' #'",
            "python-dotenv cannot read that back in quotes or without them",
            _HINT,
        )
    return '"' + value.translate(_ESCAPES) + '"'


def render(assignments: Sequence[Assignment]) -> str:
    """``NAME="value"`` lines."""
    return "".join(f"{name}={encode(name, value)}\n" for name, value in checked(assignments))
