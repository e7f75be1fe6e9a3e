"""Read dotenv files with python-dotenv's grammar, without depending on python-dotenv.

The grammar is python-dotenv 1.x's (``dotenv/parser.py``), rule for rule, so a
file means here what it means to the tools that write and read ``.env`` files:

- blank lines and ``# comment`` lines are skipped;
- ``export`` followed by blanks before a key is ignored;
- a key is unquoted (no ``=``, ``#`` or white space) or single-quoted;
- ``'single'`` values keep everything but the escapes ``\\\\`` and ``\\'``;
  ``"double"`` values decode ``\\\\ \\' \\" \\a \\b \\f \\n \\r \\t \\v``; both may
  span lines;
- an unquoted value runs to the end of the line, minus a `` #comment`` (a ``#``
  after white space) and trailing white space;
- ``KEY`` without ``=`` has no value (None); ``KEY=`` has the empty value.

Two deliberate differences, because these values are secrets: ``${VAR}`` is
never expanded (python-dotenv expands it from the environment by default), and
a line that does not parse is an error naming its line number (python-dotenv
warns and skips it), so an import never stores half of a file silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from credctl import dotenv_grammar as grammar
from credctl.errors import InvalidInput

_NEWLINE: Final = re.compile(r"(\r\n|\n|\r)")
_DOUBLE_QUOTE_ESCAPES: Final = re.compile(r"\\[\\'\"abfnrtv]")
_SINGLE_QUOTE_ESCAPES: Final = re.compile(r"\\[\\']")
_ESCAPED: Final = {
    "\\\\": "\\",
    "\\'": "'",
    '\\"': '"',
    "\\a": "\a",
    "\\b": "\b",
    "\\f": "\f",
    "\\n": "\n",
    "\\r": "\r",
    "\\t": "\t",
    "\\v": "\v",
}


@dataclass(frozen=True)
class Binding:
    """One ``KEY=VALUE`` of the file, with the line it starts on."""

    key: str
    value: str | None = field(repr=False)
    line: int


class _MismatchError(Exception):
    """The text at the current position does not fit the grammar."""


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1

    def has_next(self) -> bool:
        return self.position < len(self.text)

    def peek(self) -> str:
        return self.text[self.position : self.position + 1]

    def read(self, pattern: re.Pattern[str]) -> tuple[str, ...]:
        match = pattern.match(self.text, self.position)
        if match is None:
            raise _MismatchError
        self.line += len(_NEWLINE.findall(self.text, self.position, match.end()))
        self.position = match.end()
        return match.groups()


def _unescape(pattern: re.Pattern[str], text: str) -> str:
    return pattern.sub(lambda match: _ESCAPED[match.group(0)], text)


def _value(reader: _Reader) -> str:
    char = reader.peek()
    if char == "'":
        (value,) = reader.read(grammar.SINGLE_QUOTED_VALUE)
        return _unescape(_SINGLE_QUOTE_ESCAPES, value)
    if char == '"':
        (value,) = reader.read(grammar.DOUBLE_QUOTED_VALUE)
        return _unescape(_DOUBLE_QUOTE_ESCAPES, value)
    if char in ("", "\n", "\r"):
        return ""
    (part,) = reader.read(grammar.UNQUOTED_VALUE)
    return re.sub(r"\s+#.*", "", part).rstrip()


def parse_dotenv(text: str) -> list[Binding]:
    """Every binding of a dotenv file, in order; `InvalidInput` lists the bad lines.

    Error messages give line numbers only: the file holds secrets.
    """
    reader = _Reader(text)
    bindings: list[Binding] = []
    bad_lines: list[int] = []
    while reader.has_next():
        reader.read(grammar.MULTILINE_WHITESPACE)
        if not reader.has_next():
            break
        start = reader.line
        try:
            reader.read(grammar.EXPORT)
            if reader.peek() == "#":
                key = None
            elif reader.peek() == "'":
                (key,) = reader.read(grammar.SINGLE_QUOTED_KEY)
            else:
                (key,) = reader.read(grammar.UNQUOTED_KEY)
            reader.read(grammar.WHITESPACE)
            value = None
            if reader.peek() == "=":
                reader.read(grammar.EQUAL_SIGN)
                value = _value(reader)
            reader.read(grammar.COMMENT)
            reader.read(grammar.END_OF_LINE)
        except _MismatchError:
            reader.read(grammar.REST_OF_LINE)
            bad_lines.append(start)
            continue
        if key is not None:
            bindings.append(Binding(key, value, start))
    if bad_lines:
        shown = ", ".join(str(n) for n in bad_lines[:10]) + (" …" if len(bad_lines) > 10 else "")
        raise InvalidInput(
            f"the dotenv file does not parse at line{'s' if len(bad_lines) > 1 else ''} {shown}; "
            "nothing was imported",
            hint="each line is KEY=VALUE, KEY='VALUE' or KEY=\"VALUE\" (python-dotenv syntax); "
            "check for an unclosed quote",
        )
    return bindings
