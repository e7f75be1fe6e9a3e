"""Export syntax for ``credctl env``: one module per ``--shell`` format.

Every format takes the same input — ``(VARIABLE, value)`` pairs in order — and
returns the whole text to print.  Each module quotes by the rules of its own
target, cited in its docstring, rather than through one generic escaper:

=============  ==========================================================
``sh``         `credctl.shell.posix`: ``export NAME='…'``, ``'`` → ``'\\''``
``bash``       `credctl.shell.bash`: the same, checked against bash's manual
``zsh``        `credctl.shell.zsh`: the same, checked against zsh's (RC_QUOTES)
``fish``       `credctl.shell.fish`: ``set -gx NAME '…';``, ``\\`` and ``'`` escaped
``powershell`` `credctl.shell.powershell`: ``$env:NAME = '…' + [char]0x…``, ASCII only
``dotenv``     `credctl.shell.dotenv`: ``NAME="…"`` in python-dotenv's grammar
``json``       `credctl.shell.json_format`: one ``{"NAME": "…"}`` object
``github``     `credctl.shell.github`: ``NAME<<DELIM`` blocks for ``$GITHUB_ENV``
=============  ==========================================================

Shared rules (`credctl.shell._checks`): names must be portable POSIX names,
no name twice, and no value may hold NUL.  A value a format cannot carry
exactly is refused with `InvalidInput` (exit 9) naming the variable, never
printed cut or altered.  These modules import only the standard library and
`credctl.errors`: ``credctl env`` is on the start-up-bound fast path (SPEC §8).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Final

from credctl.errors import InvalidInput
from credctl.shell._checks import Assignment, check_name, is_valid_name

__all__ = ["FORMATS", "Assignment", "check_name", "is_valid_name", "render", "renderer"]

Renderer = Callable[[Sequence[Assignment]], str]

#: ``--shell`` name → the module that writes it (imported only when chosen).
FORMATS: Final = {
    "sh": "posix",
    "bash": "bash",
    "zsh": "zsh",
    "fish": "fish",
    "powershell": "powershell",
    "dotenv": "dotenv",
    "json": "json_format",
    "github": "github",
}


def renderer(shell: str) -> Renderer:
    """The ``render`` function of the format called `shell`."""
    module_name = FORMATS.get(shell)
    if module_name is None:
        raise InvalidInput(f"unknown --shell {shell!r}", hint="use one of " + ", ".join(FORMATS))
    function: Renderer = importlib.import_module(f"credctl.shell.{module_name}").render
    return function


def render(shell: str, assignments: Sequence[Assignment]) -> str:
    """`assignments` written in the syntax of `shell`."""
    return renderer(shell)(assignments)
