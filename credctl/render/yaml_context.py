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

A reference is a whole value only when the text around it says so: a blank or
``[{,`` before it (``-{{…}}``, ``?{{…}}``, ``:{{…}}`` and ``a:{{…}}`` glue it to
other text), and after it the end of the line, a comment, or (in a flow
collection) ``,``, ``]`` or ``}`` — and no following line that would continue
the value (a deeper line in block style, anything but ``,]}`` in flow style).

Refused: a reference inside a plain scalar with other text (``url: https://{{…}}``),
as a mapping key (``{{…}}: v``, ``? {{…}}``, ``{ {{…}} }``), in a comment, in a
block scalar, in a tag or anchor.  When the scanner cannot be sure, it refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from credctl.render.contexts import IN_A_COMMENT, Context, Placement, Placements
from credctl.render.template import Reference
from credctl.render.yaml_lines import (
    BLANK,
    QUOTE_IT,
    continuation,
    document_marker,
    indent_of,
    line_spans,
)

_FLOW_INDICATORS: Final = frozenset(",[]{}")
_OTHER_TEXT: Final = f"it stands in an unquoted value with other text; {QUOTE_IT}"
_A_KEY: Final = "it is used as a mapping key; only values are filled in"
# What `_next` reports for a reference: text glued to the character before it.
_GLUED: Final = "x"

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


@dataclass
class _Flow:
    """One open ``[`` or ``{``: whether the next node in it is a mapping key."""

    mapping: bool
    key_next: bool
    in_key: bool  # the whole collection is (part of) a mapping key


class _YamlScanner:
    def __init__(self, text: str, references: Sequence[Reference]) -> None:
        self.text = text
        self.found = Placements(text, references)
        self.lines = line_spans(text)
        self.line_number = 0  # index into self.lines
        self.mode = _NODE
        self.flows: list[_Flow] = []
        self.mode_before_comment = _NODE
        self.line_start = 0
        # Column of the innermost block node on this line that owns what follows
        # (a key's column, a "-"'s column); -1 when none is on this line.
        self.line_parent = -1
        # The owner of a node that starts on a later line (the line ended after
        # "key:" or "-"); -1 at the top of a document, None when unknown.
        self.pending_parent: int | None = -1
        self.property_column: int | None = None  # where this node's anchor or tag began
        self.key_column: int | None = None  # the "?" of the block key being read
        self.node_column = 0  # where the current scalar started, properties included
        self.plain_owner = -1  # line_parent when the current plain scalar started
        self.header_owner = -1
        self.block_parent: int | None = None  # inside a block scalar: lines deeper than this
        self.plain_parent: int | None = None  # a plain scalar may continue on deeper lines

    @property
    def flow(self) -> int:
        return len(self.flows)

    def run(self) -> list[Placement]:
        for number, (start, end) in enumerate(self.lines):
            self.line_number = number
            self.line(start, end)
        return self.found.result("the YAML scanner could not place it")

    # -- lines -----------------------------------------------------------------------

    def line(self, start: int, end: int) -> None:
        text = self.text
        self.line_start = start
        if self.mode in (_DOUBLE, _SINGLE):  # a quoted scalar goes on
            self.scan(start, end)
            return
        indent = indent_of(text, start, end)
        content = start + indent
        blank = text[start:end].strip(" \t") == ""
        marker = document_marker(text, start, end)
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
        self.mode, self.line_parent, self.property_column = _NODE, -1, None
        if blank:
            return
        if text[content] == "#" or (indent == 0 and text[start] == "%"):
            self.found.refuse_between(start, end, IN_A_COMMENT)
            return
        if self.key_column is not None and indent <= self.key_column:
            self.key_column = None
        if marker is not None:
            self.plain_parent, self.pending_parent, self.key_column = None, -1, None
            if marker == "...":
                self.found.refuse_between(start, end, "it follows a document end marker")
                return
            content = start + 3
        elif self.plain_parent is not None and indent > self.plain_parent:
            # A deeper line continues the plain scalar of the line before.
            self.mode, self.plain_owner, self.node_column = _PLAIN, self.plain_parent, indent
        self.plain_parent = None
        self.scan(content, end)
        self.line_ends()

    def line_ends(self) -> None:
        mode = self.mode_before_comment if self.mode == _COMMENT else self.mode
        if mode == _PLAIN:
            self.plain_parent = self.plain_owner
        elif mode == _HEADER:
            self.block_parent, self.mode = self.header_owner, _NODE
        if self.flow:
            return
        if mode == _NODE:  # the node is on a later line: remember who owns it
            if self.line_parent >= 0:
                self.pending_parent = self.line_parent
        elif mode != _HEADER:
            self.pending_parent = None

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
        char, following = self.text[index], self._next(index, end)
        column = index - self.line_start
        separated = (
            following in BLANK
            or following == ""
            or bool(self.flow and following in _FLOW_INDICATORS)
        )
        if char in BLANK:
            return index + 1
        if char == "#":
            return self._comment(index)
        if char in "-?:" and separated:
            return self._indicator(char, column, index)
        if char in "[{":
            inside_key = self._key_here()
            self.flows.append(_Flow(mapping=char == "{", key_next=char == "{", in_key=inside_key))
            self.property_column = None
            return index + 1
        if self.flow and char in "]}":
            return self._close(index)
        if self.flow and char == ",":
            self._entry_ends()
            return index + 1
        if not self.flow and char in "|>":
            self.mode, self.header_owner = _HEADER, self.line_parent
            return index + 1
        if char in "!&":  # a tag or an anchor, then the node itself
            return self._properties(index, end, column)
        self._scalar_starts(_DOUBLE if char == '"' else _SINGLE if char == "'" else _PLAIN, column)
        return index + 1

    def after(self, index: int, end: int) -> int:
        char, following = self.text[index], self._next(index, end)
        if char in BLANK:
            return index + 1
        if char == "#" and self.text[index - 1] in BLANK:
            return self._comment(index)
        if char == ":" and (following in BLANK or following == "" or self.flow):
            self._key_ends()
            return index + 1
        if self.flow and char == ",":
            self._entry_ends()
            return index + 1
        if self.flow and char in "]}":
            return self._close(index)
        self.mode = _PLAIN  # not YAML this scanner knows: whatever follows is refused
        return index + 1

    def plain(self, index: int, end: int) -> int:
        char, following = self.text[index], self._next(index, end)
        if char == ":" and (
            following in BLANK
            or following == ""
            or (self.flow > 0 and following in _FLOW_INDICATORS)
        ):
            self._key_ends()
            return index + 1
        if char == "#" and (index == self.line_start or self.text[index - 1] in BLANK):
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
            before = self.text[reference.start - 1 : reference.start]
            glued = mode == _PLAIN and before in ("-", "?", ":")
            found.refuse(
                reference,
                f"it is glued to the {before!r} before it, so YAML reads both as one "
                f"unquoted value; {QUOTE_IT}"
                if glued
                else _OTHER_TEXT,
            )
            self.mode = _PLAIN
        return reference.end

    def _whole_value(self, reference: Reference, end: int) -> None:
        """Place a reference that starts a node, judged by the text after it."""
        column = reference.start - self.line_start
        self._scalar_starts(_AFTER, column)
        text, stop = self.text, reference.end
        while stop < end and text[stop] in BLANK:
            stop += 1
        following = text[stop] if stop < end else ""
        reason: str | None = None
        if following == ":" or self._key_here():
            reason = _A_KEY
        elif following == "":
            reason = self._continued()
        elif not (
            (following == "#" and stop > reference.end) or (self.flow and following in ",]}")
        ):
            reason = _OTHER_TEXT
        if reason is None:
            self.found.place(reference, Context.YAML_VALUE)
            return
        self.found.refuse(reference, reason)
        self.mode, self.plain_owner = _PLAIN, self.line_parent

    def _continued(self) -> str | None:
        """Why a value that ends its line would go on to the next one, if it would."""
        owner = self.line_parent if self.line_parent >= 0 else self.pending_parent
        return continuation(self.text, self.lines[self.line_number + 1 :], bool(self.flows), owner)

    # -- helpers ---------------------------------------------------------------------

    def _next(self, index: int, end: int) -> str:
        if index + 1 >= end:
            return ""
        return _GLUED if index + 1 in self.found.by_start else self.text[index + 1]

    def _comment(self, index: int) -> int:
        self.mode_before_comment, self.mode = self.mode, _COMMENT
        return index + 1

    def _indicator(self, char: str, column: int, index: int) -> int:
        if self.flow:
            if char == "?":
                self.flows[-1].key_next = True
            elif char == ":":
                self.flows[-1].key_next = False
            else:  # a block sequence entry inside a flow collection is not YAML
                self.mode = _PLAIN
            return index + 1
        self.line_parent, self.property_column = column, None
        if char == "?" and self.key_column is None:
            self.key_column = column
        return index + 1

    def _properties(self, index: int, end: int, column: int) -> int:
        text = self.text
        if self.property_column is None:
            self.property_column = column
        stop = index
        while stop < end and text[stop] not in BLANK:
            inside = self.found.by_start.get(stop)  # before "{" ends the tag in flow style
            if inside is not None:
                self.found.refuse(inside, "it stands in a tag or an anchor")
                stop = inside.end
                continue
            if self.flow and text[stop] in _FLOW_INDICATORS:
                break
            stop += 1
        return stop

    def _scalar_starts(self, mode: str, column: int) -> None:
        start = self.property_column if self.property_column is not None else column
        self.mode, self.plain_owner, self.node_column = mode, self.line_parent, start
        self.property_column = None

    def _key_here(self) -> bool:
        """Whether a node starting here is (part of) a mapping key."""
        if self.key_column is not None:
            return True
        if not self.flows:
            return False
        innermost = self.flows[-1]
        return innermost.in_key or innermost.key_next

    def _key_ends(self) -> None:
        if self.flow:
            self.flows[-1].key_next = False
        else:
            self.line_parent = self.node_column
        self.mode = _NODE

    def _entry_ends(self) -> None:
        innermost = self.flows[-1]
        innermost.key_next = innermost.mapping
        self.mode = _NODE

    def _close(self, index: int) -> int:
        self.flows.pop()
        self.mode = _AFTER
        return index + 1
