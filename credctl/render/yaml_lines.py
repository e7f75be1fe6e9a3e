"""YAML line structure for the template scanner: lines, indentation, and what ends a value.

A plain scalar in YAML does not end with its line: in block style it goes on
while the following lines are indented deeper than its parent collection, in
flow style until a ``,``, ``]``, ``}`` or a comment.  `continuation` says
whether a whole value that ends its line would take in the next one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

# YAML 1.1 (PyYAML) also breaks lines at NEL, LS and PS; treating them as breaks
# makes the scanner refuse more, never less.
LINE_BREAK: Final = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
BLANK: Final = frozenset(" \t")
QUOTE_IT: Final = 'put the whole value in double quotes: key: "text {{$credential…}}"'


def line_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of every line, without its line break."""
    spans, start = [], 0
    for line_break in LINE_BREAK.finditer(text):
        spans.append((start, line_break.start()))
        start = line_break.end()
    spans.append((start, len(text)))
    return spans


def line_of(text: str, offset: int) -> int:
    """The line number of `offset`, counted as `Reference.line` counts (``\\n`` only)."""
    return text.count("\n", 0, offset) + 1


def indent_of(text: str, start: int, end: int) -> int:
    """How many spaces the line starts with (tabs are not indentation in YAML)."""
    content = start
    while content < end and text[content] == " ":
        content += 1
    return content - start


def document_marker(text: str, start: int, end: int) -> str | None:
    """``---`` or ``...`` when the line starts with one."""
    head = text[start : start + 3]
    if head in ("---", "...") and (start + 3 == end or text[start + 3] in BLANK):
        return head
    return None


def continuation(
    text: str, following: Sequence[tuple[int, int]], flow: bool, owner: int | None
) -> str | None:
    """Why a value that ends its line would take in a later line, or None if it would not.

    `following` are the lines after the value's; `owner` is the column of the key
    or ``-`` the value belongs to (-1 at the top of a document, None when unknown,
    which lets no deeper line through).
    """
    for start, end in following:
        content = text[start:end].lstrip(" \t")
        if not content:
            continue  # blank lines fold into the value; what follows them decides
        if content[0] == "#":
            return None  # a comment ends a plain scalar
        if flow:
            if content[0] in ",]}":
                return None
            return (
                f"the next line ({line_of(text, start)}) would continue the value: in a flow "
                "collection a value ends only at ',', ']' or '}'; put one right after it on "
                f"the same line, or {QUOTE_IT}"
            )
        indent = indent_of(text, start, end)
        tabbed = text[start + indent] == "\t"  # a tab here: parsers disagree, so refuse
        if document_marker(text, start, end) is not None or (
            not tabbed and owner is not None and indent <= owner
        ):
            return None
        return (
            f"the next line ({line_of(text, start)}) is indented deeper than the value's key "
            f"or '-', so YAML would read it as more of the value; indent that line less, or "
            f"{QUOTE_IT}"
        )
    return None
