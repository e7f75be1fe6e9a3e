"""``--shell json``: one JSON object ``{"NAME": "value", …}`` (SPEC §12).

RFC 8259 strings carry any Unicode text; the output is ASCII (non-ASCII and
control characters as ``\\uXXXX`` escapes), so no reader's character-set
guess can alter a value.  Names keep the order they were asked for in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from credctl.shell._checks import Assignment, checked


def render(assignments: Sequence[Assignment]) -> str:
    """One JSON object on one line."""
    return json.dumps(dict(checked(assignments))) + "\n"
