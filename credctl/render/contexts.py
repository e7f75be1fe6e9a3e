"""Where each reference stands in its template, which decides how its value is escaped.

A scanner reads the template the way the format's parser will read the output
and records, for every reference, a `Context` (or a `Refusal` saying why the
place cannot be filled safely).  References are opaque to the scanners: their
braces are not YAML flow indicators and their text is never re-read.  This
module holds the shared types and the JSON scanner; YAML and dotenv have their
own modules.
"""

from __future__ import annotations

import bisect
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from credctl.render.template import Reference


class Context(enum.Enum):
    """How a value is written where a reference stands."""

    RAW = "verbatim"
    JSON_STRING = "inside a JSON string"
    YAML_DOUBLE_QUOTED = "inside a YAML double-quoted scalar"
    YAML_SINGLE_QUOTED = "inside a YAML single-quoted scalar"
    YAML_VALUE = "as a whole YAML value (written as a double-quoted scalar)"
    DOTENV_DOUBLE_QUOTED = "inside a double-quoted dotenv value"
    DOTENV_SINGLE_QUOTED = "inside a single-quoted dotenv value"
    DOTENV_VALUE = "as a whole dotenv value (written in quotes)"


@dataclass(frozen=True)
class Slot:
    """A reference that can be filled: its context and the template text right after it."""

    reference: Reference
    context: Context
    following: str = ""  # the next character of the template ("" at the end)


@dataclass(frozen=True)
class Refusal:
    """A reference in a place whose escaping credctl cannot guarantee."""

    reference: Reference
    reason: str


Placement = Slot | Refusal


class Placements:
    """Collects one placement per reference while a scanner runs."""

    def __init__(self, text: str, references: Sequence[Reference]) -> None:
        self.text = text
        self.references = references
        self.by_start = {reference.start: reference for reference in references}
        self._starts = [reference.start for reference in references]  # in text order
        self._found: dict[int, Placement] = {}

    def place(self, reference: Reference, context: Context) -> None:
        """`reference` can be filled in `context`."""
        following = self.text[reference.end : reference.end + 1]
        self._found.setdefault(reference.start, Slot(reference, context, following))

    def refuse(self, reference: Reference, reason: str) -> None:
        """`reference` stands where its value cannot be escaped (this wins over a slot)."""
        if not isinstance(self._found.get(reference.start), Refusal):
            self._found[reference.start] = Refusal(reference, reason)

    def between(self, start: int, end: int) -> Sequence[Reference]:
        """The references that start in ``[start, end)``."""
        low = bisect.bisect_left(self._starts, start)
        return self.references[low : bisect.bisect_left(self._starts, end, low)]

    def refuse_between(self, start: int, end: int, reason: str) -> None:
        """Refuse every reference that starts in ``[start, end)``."""
        for reference in self.between(start, end):
            self.refuse(reference, reason)

    def result(self, unplaced: str) -> list[Placement]:
        """One placement per reference, in order; any the scanner missed are refused."""
        return [
            self._found.get(reference.start) or Refusal(reference, unplaced)
            for reference in self.references
        ]


IN_A_COMMENT = "it stands in a comment"
AFTER_BACKSLASH = "it follows a backslash, which would change the meaning of the value"


def scan_raw(text: str, references: Sequence[Reference]) -> list[Placement]:
    """Every reference is replaced by its value as is."""
    del text
    return [Slot(reference, Context.RAW) for reference in references]


def scan_json(text: str, references: Sequence[Reference]) -> list[Placement]:
    """References must stand inside JSON string literals (RFC 8259).

    Comments (``//`` and ``/* */``, as in JSONC) are skipped so that a quote in
    them does not confuse the scan; references in them are refused.
    """
    found = Placements(text, references)
    index, size = 0, len(text)
    mode = "value"  # value | string | line-comment | block-comment
    while index < size:
        reference = found.by_start.get(index)
        if reference is not None:
            if mode == "string":
                found.place(reference, Context.JSON_STRING)
            elif mode == "value":
                found.refuse(
                    reference,
                    'it stands outside a JSON string; put it inside quotes: "{{$credential…}}"',
                )
            else:
                found.refuse(reference, IN_A_COMMENT)
            index = reference.end
            continue
        char = text[index]
        if mode == "string":
            if char == "\\":
                escaped = found.by_start.get(index + 1)
                if escaped is not None:
                    found.refuse(escaped, AFTER_BACKSLASH)
                    index = escaped.end
                    continue
                index += 2
                continue
            if char == '"':
                mode = "value"
        elif mode == "value":
            if char == '"':
                mode = "string"
            elif text.startswith("//", index):
                mode = "line-comment"
            elif text.startswith("/*", index):
                mode, index = "block-comment", index + 1
        elif mode == "line-comment":
            if char in "\r\n":
                mode = "value"
        elif text.startswith("*/", index):
            mode, index = "value", index + 1
        index += 1
    return found.result("the JSON scanner could not place it")


def describe_refusals(refusals: Iterable[Refusal]) -> list[str]:
    """``line:column {{…}}: reason`` for each refusal."""
    return [f"{refusal.reference.describe()}: {refusal.reason}" for refusal in refusals]
