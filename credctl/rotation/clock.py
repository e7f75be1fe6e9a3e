"""The clock rotation decisions use, and the times users type for them.

`now` is the one place that reads ``CREDCTL_TEST_ONLY_NOW``: a variable for
tests only (never for production use), so that a test can move "now" across a
warning, due or grace boundary without waiting.  It holds an RFC 3339 time or a
signed offset from the real clock (``+91d``, ``-2h``).  Every rotation time
(when a version was made, when a grace period ends, when a pending rotation
started, the due report) comes from here; the record layer's own
``updated_at`` does not.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Final

from credctl._time import parse_rfc3339, utc_now
from credctl.errors import InvalidInput

#: Test-only: shifts or sets the time rotation decisions are made at.
TEST_ONLY_NOW_VARIABLE: Final = "CREDCTL_TEST_ONLY_NOW"
_OFFSET: Final = re.compile(r"([+-])(\d{1,9})([smhd])\Z")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def now() -> dt.datetime:
    """The current time for rotation decisions (UTC, to the second)."""
    text = os.environ.get(TEST_ONLY_NOW_VARIABLE)
    real = utc_now()
    if not text:
        return real
    try:
        return parse_moment(text, real, option=TEST_ONLY_NOW_VARIABLE, signed=True)
    except InvalidInput:
        return real  # a test-only knob never breaks a real run


def parse_moment(
    text: str, reference: dt.datetime, *, option: str = "time", signed: bool = False
) -> dt.datetime:
    """RFC 3339, or ``+30d`` (``-2h`` too when `signed`) from `reference`; UTC."""
    text = text.strip()
    match = _OFFSET.match(text)
    if match is not None and (signed or match.group(1) == "+"):
        seconds = int(match.group(2)) * _UNITS[match.group(3)]
        delta = dt.timedelta(seconds=seconds)
        return (reference + delta if match.group(1) == "+" else reference - delta).replace(
            microsecond=0
        )
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is neither an RFC 3339 time nor an offset",
            hint="for example 2026-01-31T03:00:00Z or +30d (units s, m, h, d)",
        ) from None
