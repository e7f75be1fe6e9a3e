"""Finding ``{{$credential.NAME.FIELD}}`` references in a template's text.

The syntax is the one of the Credentials REST API (seed ``004``): two braces,
``$credential``, a credential name and a field name separated by dots, two
braces.  Blanks (spaces, tabs) are allowed just inside the braces.  NAME follows
the credential-name rules of SPEC §2 (so it never contains a dot and is never
all digits); FIELD is 1–128 of ``A-Za-z0-9_-``.

Anything else that starts like a reference (``{{`` then ``$credential`` in any
letter case) is a mistake the user should hear about, not text to copy through
silently: it is reported with its line and column.  Other ``{{$…}}`` variables
(a workflow engine's ``{{$fetch_data.body}}``) are not ours and pass through.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

from credctl.errors import InvalidInput
from credctl.types.names import shown

# Where something that looks like a reference starts; checked against _REFERENCE.
_OPENING: Final = re.compile(r"\{\{[ \t]*\$credential", re.IGNORECASE)
_REFERENCE: Final = re.compile(
    r"\{\{[ \t]*\$credential\.([A-Za-z0-9][A-Za-z0-9_-]{0,127})\.([A-Za-z0-9_-]{1,128})[ \t]*\}\}"
)
_EXCERPT_END: Final = re.compile(r"\}\}|[\r\n]")
MAX_LISTED: Final = 20


@dataclass(frozen=True)
class Reference:
    """One well-formed reference: what it names and where it stands (offsets in the text)."""

    name: str
    field: str
    start: int
    end: int
    line: int
    column: int

    @property
    def key(self) -> tuple[str, str]:
        """``(name, field)``: what to look up."""
        return (self.name, self.field)

    @property
    def location(self) -> str:
        """``line:column``, both counted from 1 (columns in characters)."""
        return f"{self.line}:{self.column}"

    def describe(self) -> str:
        """``3:17 {{$credential.NAME.FIELD}}`` for messages (names only, never values)."""
        return f"{self.location} {{{{$credential.{self.name}.{self.field}}}}}"


@dataclass(frozen=True)
class Template:
    """A template's text and every reference in it, in order."""

    text: str
    references: tuple[Reference, ...]
    source: str = "template"


class _Lines:
    def __init__(self, text: str) -> None:
        self._starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1


def parse_template(text: str, source: str = "template") -> Template:
    """Find every reference in `text`; `InvalidInput` (exit 9) lists all malformed ones.

    `source` names the template in messages (a file name, or ``stdin``).
    """
    lines = _Lines(text)
    found: list[Reference] = []
    problems: list[str] = []
    position = 0
    while (opening := _OPENING.search(text, position)) is not None:
        start = opening.start()
        match = _REFERENCE.match(text, start)
        problem = _problem(text, start, match)
        line, column = lines.position(start)
        if match is None or problem is not None:
            problems.append(f"{line}:{column} {_excerpt(text, start)}: {problem}")
            position = opening.end()
            continue
        found.append(Reference(match[1], match[2], start, match.end(), line, column))
        position = match.end()
    if problems:
        raise InvalidInput(
            f"{source} has {count(len(problems), 'malformed credential reference')}:\n"
            + listing(problems),
            hint="write {{$credential.NAME.FIELD}}: a credential name and a field name "
            "(letters, digits, '_' and '-'), separated by dots",
        )
    return Template(text, tuple(found), source)


def _problem(text: str, start: int, match: re.Match[str] | None) -> str | None:
    if match is not None:
        if match[1].isdigit():
            return "credentials are referred to by name, and names are never all digits"
        return None
    head = _OPENING.match(text, start)
    assert head is not None
    if not head[0].endswith("$credential"):
        return "write $credential in lower case"
    return "expected {{$credential.NAME.FIELD}}"


def _excerpt(text: str, start: int) -> str:
    end = _EXCERPT_END.search(text, start + 2)
    stop = end.end() if end is not None and end[0] == "}}" else (end.start() if end else len(text))
    return shown(text[start:stop], 60)


def listing(lines: list[str]) -> str:
    """Message lines, indented, at most `MAX_LISTED` of them."""
    shown_lines = lines[:MAX_LISTED]
    more = len(lines) - len(shown_lines)
    text = "\n".join(f"  {line}" for line in shown_lines)
    return text + (f"\n  … and {more} more" if more else "")


def count(number: int, noun: str) -> str:
    """``1 reference``, ``2 references``."""
    return f"{number} {noun}" + ("" if number == 1 else "s")
