"""Time in credctl: one formatter, one strict parser, one clock.

Everything credctl stores or prints as a moment is RFC 3339 in UTC
(``2025-12-01T10:00:00Z``, with ``.ffffff`` only when there are microseconds),
and everything it reads is checked against RFC 3339 §5.6 ``date-time`` exactly:
a full date, a full time, an optional fraction and a mandatory offset.  Python's
`datetime.fromisoformat` alone is not enough because it accepts more (ISO week
dates such as ``2025-W01-1T10:00:00``, no offset, basic formats), and two
readers that disagree about what a stored time means is how an expired token
gets printed.  Standard library only, and `datetime` only when a function needs it:
``create`` stamps a record with `now_rfc3339` and so never imports it (~1.5 ms).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import datetime as dt

_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC, to the second (what records store)."""
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def now_rfc3339() -> str:
    """``format_rfc3339(utc_now())``, without importing `datetime`."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def format_rfc3339(moment: dt.datetime) -> str:
    """An aware datetime as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in UTC.

    A naive datetime is refused: guessing its zone is how times drift by hours.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("refusing to format a datetime without a time zone")
    import datetime as dt

    text = moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="auto")
    return text + "Z"


def parse_rfc3339(text: str) -> dt.datetime:
    """An RFC 3339 ``date-time`` as an aware UTC datetime; ValueError for anything else.

    Fractions beyond microseconds are cut (not rounded); a leap second (``:60``) is
    refused, as Python cannot represent it.
    """
    if not isinstance(text, str):
        raise ValueError("an RFC 3339 date-time is text")  # noqa: TRY004 - callers catch ValueError
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with a time zone")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    import datetime as dt

    micro = int((fraction or "")[:6].ljust(6, "0"))
    if offset in ("Z", "z"):
        zone = dt.UTC
    else:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("the time zone offset is out of range")
        delta = dt.timedelta(hours=hours, minutes=minutes)
        zone = dt.timezone(-delta if offset[0] == "-" else delta)
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
        return moment.astimezone(dt.UTC)
    except OverflowError as exc:  # a valid date whose UTC form falls outside year 1–9999
        raise ValueError("date-time out of range") from exc


def from_unix(seconds: float) -> dt.datetime:
    """Unix seconds as an aware UTC datetime."""
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def format_unix(seconds: float) -> str:
    """Unix seconds as RFC 3339 UTC, to the second (session and key-slot times)."""
    return format_rfc3339(from_unix(int(seconds)))
