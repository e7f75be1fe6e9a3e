"""Text from outside credctl, made safe to print on a terminal (SPEC §14).

Provider responses, stored descriptions, labels and names from imported files
may hold characters a terminal acts on instead of showing: ESC, which starts CSI
and OSC sequences (colours, cursor moves, OSC 8 links, window titles); the other
C0 controls and DEL; the C1 controls (U+0080–U+009F, where U+009B is a CSI on its
own); and the bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069) that make
text read in another order than it is stored.  Everything Python does not call
printable (also line separators, zero-width and private-use characters) is
written as a visible escape such as ``\\x1b`` or ``\\u202e``.

This module owns that decision; every printer of outside text goes through it.
It imports nothing, so the fast path may use it.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every character a terminal could act on written as an escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def one_line(text: object, limit: int = 160) -> str:
    """Outside text for a one-line message: escaped, trimmed, cut at `limit` characters.

    Anything that is not a string (a provider may send a number or a list where
    text belongs) gives ``""``.
    """
    if not isinstance(text, str):
        return ""
    cleaned = printable(text.strip())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def quoted(text: str, limit: int = 40) -> str:
    """Outside text quoted for a message (``'name'``), escaped, cut after `limit` characters."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _escape(char: str) -> str:
    code = ord(char)
    if char in "\t\n\r":
        return repr(char)[1:-1]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
