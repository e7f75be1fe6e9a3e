"""Where references stand in a YAML template (YAML 1.1/1.2 block and flow styles).

The scanner follows YAML's own rules for the things that decide a value's
context: quoted scalars (which may span lines), plain scalars and their
continuation lines, comments, block scalars (``|`` and ``>``) with their
indentation, flow collections, tags and anchors.  Supported places:

- inside a double-quoted scalar: ``key: "Bearer {{$credential.gh.token}}"``;
- inside a single-quoted scalar: ``key: 'x-{{$credential.gh.token}}'`` (values
  with line breaks or non-printable characters are refused there, because
  single quotes have no escapes);
- as a whole value: ``key: {{$credential.gh.token}}``, ``- {{…}}``,
  ``[{{…}}, …]``, optionally after a tag or anchor and before a comment; the
  value is written as a double-quoted scalar.

Refused: a reference inside a plain scalar with other text (``url: https://{{…}}``),
as a mapping key, in a comment, in a block scalar, in a tag or anchor.  When
the scanner cannot be sure, it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from credctl.render.contexts import IN_A_COMMENT, Context, Placement, Placements
from credctl.render.template import Reference

_LINE_BREAK: Final = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
_BLANK: Final = frozenset(" \t")
_FLOW_INDICATORS: Final = frozenset(",[]{}")
_QUOTE_IT: Final = 'put the whole value in double quotes: key: "text {{$credential…}}"'

# Scanner modes.
_NODE = "node"  # where a node (a scalar or collection) may start
_AFTER = "after"  # after a complete scalar or collection
_PLAIN = "plain"  # inside a plain (unquoted) scalar
_DOUBLE = "double"  # inside a double-quoted scalar
_SINGLE = "single"  # inside a single-quoted scalar
_COMMENT = "comment"
_HEADER = "header"  # the rest of a block scalar's header line


def scan_yaml(text: str, references: Sequence[Reference]) -> list[Placement]:
    """One placement per reference for a YAML template."""
    return _YamlScanner(text, references).run()


class _YamlScanner:
    def __init__(self, text: str, references: Sequence[Reference]) -> None:
        self.text = text
        self.found = Placements(text, references)
        self.mode = _NODE
        self.flow = 0  # depth of [ ] and { } nesting
        self.mode_before_comment = _NODE
        self.line_start = 0
        # Column of the innermost block node on this line that owns what follows
        # (a key's column, a "-"'s column); -1 when none is on this line.
        self.line_parent = -1
        self.node_column = 0  # where the current scalar started
        self.plain_owner = -1  # line_parent when the current plain scalar started
        self.header_owner = -1
        self.block_parent: int | None = None  # inside a block scalar: lines deeper than this
        self.plain_parent: int | None = None  # a plain scalar may continue on deeper lines

    def run(self) -> list[Placement]:
        start = 0
        for line_break in _LINE_BREAK.finditer(self.text):
            self.line(start, line_break.start())
            start = line_break.end()
        self.line(start, len(self.text))
        return self.found.result("the YAML scanner could not place it")

    # -- lines -----------------------------------------------------------------------

    def line(self, start: int, end: int) -> None:
        text = self.text
        self.line_start = start
        if self.mode in (_DOUBLE, _SINGLE):  # a quoted scalar goes on
            self.scan(start, end)
            return
        content = start
        while content < end and text[content] == " ":
            content += 1
        indent = content - start
        blank = text[start:end].strip(" \t") == ""
        marker = _document_marker(text, start, end)
        if self.block_parent is not None:
            if marker is None and (blank or indent > self.block_parent):
                self.found.refuse_between(
                    start, end, "it stands in a block scalar (| or >), which has no escapes"
                )
                return
            self.block_parent = None
        if self.flow:
            if self.mode == _COMMENT:
                self.mode = self.mode_before_comment
            self.scan(start, end)
            return
        self.mode = _NODE
        self.line_parent = -1
        if blank:
            return
        if text[content] == "#" or (indent == 0 and text[start] == "%"):
            self.found.refuse_between(start, end, IN_A_COMMENT)
            return
        if marker is not None:
            self.plain_parent = None
            if marker == "...":
                self.found.refuse_between(start, end, "it follows a document end marker")
                return
            content = start + 3
        elif self.plain_parent is not None and indent > self.plain_parent:
            # A deeper line continues the plain scalar of the line before.
            self.mode, self.plain_owner, self.node_column = _PLAIN, self.plain_parent, indent
        self.plain_parent = None
        self.scan(content, end)
        if self.mode == _PLAIN:
            self.plain_parent = self.plain_owner
        elif self.mode == _HEADER:
            self.block_parent, self.mode = self.header_owner, _NODE

    # -- characters ------------------------------------------------------------------

    def scan(self, index: int, end: int) -> None:
        while index < end:
            reference = self.found.by_start.get(index)
            if reference is not None:
                index = self.reference(reference, end)
            elif self.mode == _DOUBLE:
                index = self.double(index)
            elif self.mode == _SINGLE:
                index = self.single(index, end)
            elif self.mode in (_COMMENT, _HEADER):
                index += 1
            elif self.mode == _NODE:
                index = self.node(index, end)
            elif self.mode == _AFTER:
                index = self.after(index, end)
            else:
                index = self.plain(index, end)

    def double(self, index: int) -> int:
        char = self.text[index]
        if char == "\\":
            escaped = self.found.by_start.get(index + 1)
            if escaped is not None:
                self.found.refuse(escaped, "it follows a backslash in a double-quoted scalar")
                return escaped.end
            return index + 2
        if char == '"':
            self.mode = _AFTER
        return index + 1

    def single(self, index: int, end: int) -> int:
        if self.text[index] == "'":
            if self._next(index, end) == "'":
                return index + 2
            self.mode = _AFTER
        return index + 1

    def node(self, index: int, end: int) -> int:
        text, char, following = self.text, self.text[index], self._next(index, end)
        column = index - self.line_start
        separated = (
            following in _BLANK
            or following == ""
            or (self.flow > 0 and following in _FLOW_INDICATORS)
        )
        if char in _BLANK:
            return index + 1
        if char == "#":
            return self._comment(index)
        if char in "\"'":
            self.mode, self.node_column = (_DOUBLE if char == '"' else _SINGLE), column
            return index + 1
        if char in "-?:" and separated:
            if char in "-?" and not self.flow:
                self.line_parent = column
            return index + 1
        if char in "[{":
            self.flow += 1
            return index + 1
        if self.flow and char in "]}":
            self.flow -= 1
            self.mode = _AFTER
            return index + 1
        if self.flow and char == ",":
            return index + 1
        if not self.flow and char in "|>":
            self.mode, self.header_owner = _HEADER, self.line_parent
            return index + 1
        if char in "!&":  # a tag or an anchor, then the node itself
            stop = index
            while stop < end and text[stop] not in _BLANK:
                if self.flow and text[stop] in _FLOW_INDICATORS:
                    break
                inside = self.found.by_start.get(stop)
                if inside is not None:
                    self.found.refuse(inside, "it stands in a tag or an anchor")
                    stop = inside.end
                    continue
                stop += 1
            return stop
        self.mode, self.plain_owner, self.node_column = _PLAIN, self.line_parent, column
        return index + 1

    def after(self, index: int, end: int) -> int:
        char, following = self.text[index], self._next(index, end)
        if char in _BLANK:
            return index + 1
        if char == "#" and self.text[index - 1] in _BLANK:
            return self._comment(index)
        if char == ":" and (following in _BLANK or following == "" or self.flow):
            self._key_ends()
            return index + 1
        if self.flow and char == ",":
            self.mode = _NODE
            return index + 1
        if self.flow and char in "]}":
            self.flow -= 1
            return index + 1
        self.mode = _PLAIN  # not YAML this scanner knows: whatever follows is refused
        return index + 1

    def plain(self, index: int, end: int) -> int:
        char, following = self.text[index], self._next(index, end)
        if char == ":" and (
            following in _BLANK
            or following == ""
            or (self.flow > 0 and following in _FLOW_INDICATORS)
        ):
            self._key_ends()
            return index + 1
        if char == "#" and (index == self.line_start or self.text[index - 1] in _BLANK):
            return self._comment(index)
        if self.flow and char in _FLOW_INDICATORS:
            self.mode = _AFTER
            return index
        return index + 1

    def reference(self, reference: Reference, end: int) -> int:
        mode, found = self.mode, self.found
        if mode == _DOUBLE:
            found.place(reference, Context.YAML_DOUBLE_QUOTED)
        elif mode == _SINGLE:
            found.place(reference, Context.YAML_SINGLE_QUOTED)
        elif mode == _COMMENT:
            found.refuse(reference, IN_A_COMMENT)
        elif mode == _HEADER:
            found.refuse(reference, "it stands in a block scalar header")
        elif mode == _NODE:
            self._whole_value(reference, end)
        else:
            found.refuse(reference, f"it stands in an unquoted value with other text; {_QUOTE_IT}")
            self.mode = _PLAIN
        return reference.end

    def _whole_value(self, reference: Reference, end: int) -> None:
        text, stop = self.text, reference.end
        while stop < end and text[stop] in _BLANK:
            stop += 1
        following = text[stop] if stop < end else ""
        if (
            following == ""
            or (following == "#" and stop > reference.end)
            or (self.flow > 0 and following in ",]}")
        ):
            self.found.place(reference, Context.YAML_VALUE)
            self.mode = _AFTER
            return
        if following == ":":
            self.found.refuse(reference, "it is used as a mapping key; only values are filled in")
        else:
            self.found.refuse(
                reference, f"it stands in an unquoted value with other text; {_QUOTE_IT}"
            )
        self.mode, self.plain_owner = _PLAIN, self.line_parent

    # -- helpers ---------------------------------------------------------------------

    def _next(self, index: int, end: int) -> str:
        return self.text[index + 1] if index + 1 < end else ""

    def _comment(self, index: int) -> int:
        self.mode_before_comment, self.mode = self.mode, _COMMENT
        return index + 1

    def _key_ends(self) -> None:
        if not self.flow:
            self.line_parent = self.node_column
        self.mode = _NODE


def _document_marker(text: str, start: int, end: int) -> str | None:
    head = text[start : start + 3]
    if head in ("---", "...") and (start + 3 == end or text[start + 3] in _BLANK):
        return head
    return None
