"""Durations as users type them: ``30s``, ``15m``, ``8h``, ``7d``."""

from __future__ import annotations

import re

from credctl.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"(\d{1,9})([smhd])\Z")


def parse_duration(text: str, *, option: str = "duration") -> int:
    """Seconds in `text`, or `InvalidInput` naming the accepted forms."""
    match = _PATTERN.match(text.strip())
    if not match:
        raise InvalidInput(
            f"{option} {text!r} is not a duration",
            hint="use a number and a unit, for example 30s, 15m, 8h or 7d",
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InvalidInput(f"{option} must be longer than zero")
    return seconds


def format_duration(seconds: int) -> str:
    """The largest whole unit that fits, for messages."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
