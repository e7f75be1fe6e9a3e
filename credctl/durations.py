"""Durations as users type them: ``30s``, ``15m``, ``8h``, ``7d``, and ``1h30m``, ``1d12h``."""

from __future__ import annotations

import re

from credctl.errors import InvalidInput

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Each unit at most once, largest first (as Go's time.Duration and systemd print them):
# "1h30m" is clear, "30m1h" and "1m1m" are more likely typos than intent.
_PATTERN = re.compile(r"(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?\Z")


def parse_duration(text: str, *, option: str = "duration") -> int:
    """Seconds in `text`, or `InvalidInput` naming the accepted forms."""
    stripped = text.strip()
    match = _PATTERN.match(stripped)
    if not stripped or not match:
        raise InvalidInput(
            f"{option} {text!r} is not a duration",
            hint="use numbers with units, largest first: 30s, 15m, 8h, 7d or 1h30m",
        )
    seconds = sum(
        int(amount) * size
        for amount, size in zip(match.groups(), _UNITS.values(), strict=True)
        if amount is not None
    )
    if seconds <= 0:
        raise InvalidInput(f"{option} must be longer than zero")
    return seconds


def format_duration(seconds: int) -> str:
    """The largest whole unit that fits, for messages."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
