"""Where references stand in a dotenv template, by python-dotenv 1.x's grammar.

The template is parsed with python-dotenv's own regular expressions
(``dotenv/parser.py``, the grammar `credctl.dotenv_file` also follows), with
each reference replaced by neutral letters of the same length, so the scan
sees the bindings exactly as python-dotenv will see the output.  Supported:

- inside a double-quoted value: ``TOKEN="{{$credential.gh.token}}"``;
- inside a single-quoted value: ``TOKEN='{{$credential.gh.token}}'``;
- as a whole unquoted value, optionally before `` # comment``:
  ``TOKEN={{$credential.gh.token}}`` (the value is written in quotes).

Refused: a reference in a key, in a comment, in an unquoted value with other
text, right after a backslash, right after a ``$`` or inside a ``${…}`` of the
template (the value would become part of an expansion: ``$`` + ``(cmd)`` for a
shell, ``${`` + ``NAME}`` for python-dotenv), or on a line python-dotenv cannot
parse.  Values themselves are checked by `credctl.shell.dotenv`'s rule, which
python-dotenv and POSIX shells (``set -a; . ./.env``) both read exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from credctl import dotenv_grammar as grammar
from credctl.render.contexts import AFTER_BACKSLASH, IN_A_COMMENT, Context, Placement, Placements
from credctl.render.template import Reference

# python-dotenv 1.x, dotenv/parser.py
_VALUE_COMMENT: Final = re.compile(r"\s+#.*")
# The escapes python-dotenv decodes in each kind of quotes.
_DOUBLE_ESCAPES: Final = frozenset("\\'\"abfnrtv")
_SINGLE_ESCAPES: Final = frozenset("\\'")


class _MismatchError(Exception):
    """The text does not fit the grammar here (python-dotenv skips the line)."""


def scan_dotenv(text: str, references: Sequence[Reference]) -> list[Placement]:
    """One placement per reference for a dotenv template."""
    found = Placements(text, references)
    neutral = _neutralise(text, references)
    position = 0
    while position < len(neutral):
        start = position
        try:
            position = _binding(neutral, position, found)
        except _MismatchError as mismatch:
            (stop,) = mismatch.args
            position = grammar.REST_OF_LINE.match(neutral, stop).end()  # type: ignore[union-attr]
            found.refuse_between(start, position, "it stands on a line python-dotenv cannot parse")
    return found.result("the dotenv scanner could not place it")


def _neutralise(text: str, references: Sequence[Reference]) -> str:
    parts, last = [], 0
    for reference in references:
        parts += [text[last : reference.start], "x" * (reference.end - reference.start)]
        last = reference.end
    parts.append(text[last:])
    return "".join(parts)


def _read(regex: re.Pattern[str], text: str, position: int) -> re.Match[str]:
    match = regex.match(text, position)
    if match is None:
        raise _MismatchError(position)
    return match


def _binding(text: str, position: int, found: Placements) -> int:
    position = _read(grammar.MULTILINE_WHITESPACE, text, position).end()
    if position >= len(text):
        return position
    position = _read(grammar.EXPORT, text, position).end()
    first = text[position : position + 1]
    if first != "#":
        key = _read(
            grammar.SINGLE_QUOTED_KEY if first == "'" else grammar.UNQUOTED_KEY, text, position
        )
        found.refuse_between(position, key.end(), "it stands in a variable name")
        position = _read(grammar.WHITESPACE, text, key.end()).end()
        if text[position : position + 1] == "=":
            position = _value(text, _read(grammar.EQUAL_SIGN, text, position).end(), found)
    comment = _read(grammar.COMMENT, text, position)
    found.refuse_between(comment.start(), comment.end(), IN_A_COMMENT)
    return _read(grammar.END_OF_LINE, text, comment.end()).end()


def _value(text: str, position: int, found: Placements) -> int:
    first = text[position : position + 1]
    if first in ("'", '"'):
        single = first == "'"
        match = _read(
            grammar.SINGLE_QUOTED_VALUE if single else grammar.DOUBLE_QUOTED_VALUE, text, position
        )
        _quoted(found, match.start(1), match.end(1), single=single)
        return match.end()
    if first in ("", "\n", "\r"):
        return position
    part = _read(grammar.UNQUOTED_VALUE, text, position)
    value = _VALUE_COMMENT.sub("", part[1], count=1).rstrip()
    value_end = position + len(value)
    for reference in found.between(position, part.end()):
        if reference.start >= value_end:
            found.refuse(reference, IN_A_COMMENT)
        elif reference.start == position and reference.end == value_end:
            found.place(reference, Context.DOTENV_VALUE)
        else:
            found.refuse(
                reference,
                "it stands in an unquoted value with other text; put the whole value in "
                'double quotes: KEY="text {{$credential…}}"',
            )
    return part.end()


def _quoted(found: Placements, start: int, end: int, *, single: bool) -> None:
    """Place the references in quoted content, refusing any after an unpaired backslash."""
    escapes = _SINGLE_ESCAPES if single else _DOUBLE_ESCAPES
    context = Context.DOTENV_SINGLE_QUOTED if single else Context.DOTENV_DOUBLE_QUOTED
    text, index = found.text, start
    while index < end:
        reference = found.by_start.get(index)
        if reference is not None:
            if _in_expansion(text[start:index]):
                found.refuse(reference, _IN_EXPANSION)
            found.place(reference, context)
            index = reference.end
        elif text[index] == "\\":
            escaped = found.by_start.get(index + 1)
            if escaped is not None:
                found.refuse(escaped, AFTER_BACKSLASH)
                index = escaped.end
            else:
                index += 2 if text[index + 1 : index + 2] in escapes else 1
        else:
            index += 1


_IN_EXPANSION: Final = (
    "it stands right after '$' or inside '${…}', where its value would become part of "
    "an expansion (a shell's $(…), python-dotenv's ${…}); put text between them"
)


def _in_expansion(before: str) -> bool:
    """Whether a value placed after `before` (the quoted text so far) continues a ``$``."""
    opened = before.rfind("${")
    return before.endswith("$") or (opened >= 0 and "}" not in before[opened:])
