"""``--shell github``: the ``$GITHUB_ENV`` file format of GitHub Actions.

Use: ``credctl env --shell github NAME >> "$GITHUB_ENV"``.  GitHub's workflow-
command documentation ("Setting an environment variable", "Multiline strings")
defines ``{name}<<{delimiter}`` / ``{value}`` / ``{delimiter}`` and warns that
the delimiter must not occur on a line of its own in the value.  Every value is
written in this form, single-line ones too, with a fresh random delimiter
``ghadelimiter_<32 hex digits>`` (the form ``@actions/core`` uses) that occurs
nowhere in the value.

The rules the runner applies when it reads the file (``actions/runner``,
``FileCommandManager.cs``), and so the rules this output is tested against:

1. The header line is split at the first ``<<``: the name before it, the
   delimiter after it.
2. The value is every line after the header up to the first line equal to the
   delimiter; the line break just before the delimiter line is not part of the
   value, the ones between value lines are.  An empty value has no lines.
3. Lines end at LF; on Windows runners a CR right before that LF belongs to the
   line break, not to the line.

Rule 3 means a value ending in CR would lose it on Windows runners, so such a
value is refused (exit 9) rather than cut.  A CR anywhere else is kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from credctl.shell._checks import Assignment, cannot_hold, checked


def delimiter_for(value: str, draw: Callable[[int], bytes] = os.urandom) -> str:
    """A random ``ghadelimiter_…`` that occurs nowhere in `value` (drawn again if it does)."""
    while True:
        delimiter = "ghadelimiter_" + draw(16).hex()
        if delimiter not in value:
            return delimiter


def render(assignments: Sequence[Assignment]) -> str:
    """``NAME<<DELIMITER`` blocks, one per variable."""
    blocks = []
    for name, value in checked(assignments):
        if value.endswith("\r"):
            raise cannot_hold(
                name,
                "a carriage return at its end",
                "GitHub's Windows runners read it as part of the line break",
                "use --shell json, or strip the trailing CR from the stored value",
            )
        delimiter = delimiter_for(value)
        body = value + "\n" if value else ""
        blocks.append(f"{name}<<{delimiter}\n{body}{delimiter}\n")
    return "".join(blocks)
