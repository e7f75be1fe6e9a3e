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

Masking (`mask_commands`).  Values written to ``$GITHUB_ENV`` are not secrets to
the runner: a later step that prints one shows it in the log.  The runner hides a
value once a step prints the workflow command ``::add-mask::VALUE`` on its stdout
*or stderr* (``OutputManager`` handles both streams; ``AddMaskCommandExtension``
never echoes the value).  stdout is the ``$GITHUB_ENV`` file here, so ``credctl env
--shell github`` prints the commands on stderr, before the variables, when it runs
in GitHub Actions (``GITHUB_ACTIONS=true``); elsewhere nobody would read them and
they would only put the secret on a terminal.  The runner's masker looks at one
output line at a time (lines end at CR, LF or CRLF), so a multi-line value is
registered line by line, as ``@actions/core``'s documentation asks; the data is
escaped as ``ActionCommand.UnescapeData`` decodes it (``%`` → ``%25``, decoded since
runner 2.165, actions/runner#200; CR and LF need no escape after the line split).
Blank lines are not registered (the runner refuses them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final

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


_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")


def mask_commands(values: Iterable[str]) -> str:
    """``::add-mask::`` lines that make a GitHub runner hide every line of each value."""
    lines: dict[str, None] = {}  # in order, once each
    for value in values:
        for part in _LINE_BREAK.split(value):
            if not part.strip():
                continue
            lines["::add-mask::" + part.replace("%", "%25") + "\n"] = None
    return "".join(lines)
