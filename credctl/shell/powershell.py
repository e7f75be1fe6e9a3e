"""``--shell powershell``: ``$env:NAME = …`` lines, in ASCII, one line per variable.

Use: ``credctl env --shell powershell NAME | Out-String | Invoke-Expression``
(``Out-String`` hands the lines over as one script; without it each line is
evaluated on its own, which is still right because no value spans lines).

Printable ASCII goes in single-quoted strings.  about_Quoting_Rules: "A string
enclosed in single quotation marks is a verbatim string … To include a single
quotation mark in a single-quoted string, use a second consecutive single
quote."  PowerShell's tokenizer treats four more characters as single quotes
(U+2018, U+2019, U+201A, U+201B: ``CharExtensions.IsSingleQuote`` in
``engine/parser/CharTraits.cs``), so a value holding ``’`` would end a naive
literal early; here no such character is ever put inside a literal.

Every other character — control characters, DEL and everything outside ASCII —
is written as ``[char]0xHHHH`` (a UTF-16 code unit; astral characters as their
surrogate pair) and joined with ``+``.  The expression always starts with a
string literal, so ``+`` concatenates strings (about_Arithmetic_Operators:
with a string on the left, ``+`` joins and converts the right operand to a
string).  The reasons:

- PowerShell reads a native command's output line by line and decodes it with
  ``[Console]::OutputEncoding``, which on Windows is the OEM code page, not
  UTF-8.  ASCII-only text survives any code page, and a value's CR or LF can
  no longer be split, re-joined as CRLF, or dropped by that line reading.
- ``[char]`` casts are the one escape Windows PowerShell 5.1 and PowerShell 7
  both understand (`` `u{…} `` exists only from 6.0 on).

An empty value is written as ``''``: PowerShell 7.5 and later set the variable
to the empty string; earlier versions (and Windows PowerShell) remove the
variable instead, as ``about_Environment_Variables`` says for each version.
"""

from __future__ import annotations

from collections.abc import Sequence

from credctl.errors import InvalidInput
from credctl.shell._checks import Assignment, checked


def _literal(run: str) -> str:
    return "'" + run.replace("'", "''") + "'"


def _code_units(char: str) -> list[int]:
    point = ord(char)
    if point < 0x10000:
        return [point]
    point -= 0x10000
    return [0xD800 + (point >> 10), 0xDC00 + (point & 0x3FF)]


def expression(value: str) -> str:
    """`value` as a PowerShell string expression made of ASCII only."""
    parts: list[str] = []
    run: list[str] = []
    for char in value:
        if " " <= char <= "~":
            run.append(char)
            continue
        if run or not parts:
            parts.append(_literal("".join(run)))
            run = []
        parts.extend(f"[char]0x{unit:04X}" for unit in _code_units(char))
    if run or not parts:
        parts.append(_literal("".join(run)))
    return " + ".join(parts)


def render(assignments: Sequence[Assignment]) -> str:
    """``$env:NAME = 'value'`` lines."""
    pairs = list(checked(assignments))
    seen: dict[str, str] = {}
    for name, _value in pairs:
        # Windows environment names ignore case: FOO and foo are one variable there.
        other = seen.setdefault(name.upper(), name)
        if other != name:
            raise InvalidInput(
                f"variables {other} and {name} differ only in case; "
                "PowerShell on Windows would set one variable",
                hint="choose names that differ in more than case",
            )
    return "".join(f"$env:{name} = {expression(value)}\n" for name, value in pairs)
