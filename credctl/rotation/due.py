"""When a credential is due for rotation, and how it stands: ok, warning, overdue, stuck.

Pure arithmetic on a policy, the time of the last rotation, an optional one-off
schedule and a pending rotation: no storage, no clock of its own (callers pass
`now`).  A cron schedule is 5 fields, evaluated in UTC by `cronsim` (imported
here only, when a cron policy is evaluated), so daylight-saving time never
moves a rotation: ``0 3 * * *`` is 03:00Z every day of the year.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from credctl.errors import InvalidInput

if TYPE_CHECKING:
    from credctl.rotation.policy import RotationPolicy

OK: Final = "ok"
WARNING: Final = "warning"
OVERDUE: Final = "overdue"
STUCK: Final = "stuck"
NO_POLICY: Final = "no-policy"
STATUSES: Final = (OK, WARNING, OVERDUE, STUCK, NO_POLICY)
#: Statuses that fail `rotate --due` (exit 11) and CI.
FAILING: Final = frozenset({OVERDUE, STUCK})


def check_cron(expression: str) -> None:
    """`InvalidInput` unless `expression` is a valid 5-field cron expression."""
    if len(expression.split()) != 5:
        raise InvalidInput(
            f"schedule {expression!r} is not a 5-field cron expression",
            hint="minute hour day-of-month month day-of-week, in UTC: '0 3 * * MON'",
        )
    from cronsim import CronSim, CronSimError

    try:
        CronSim(expression, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    except CronSimError as exc:
        raise InvalidInput(f"schedule {expression!r} is not valid cron ({exc})") from None


def cron_next(expression: str, after: dt.datetime) -> dt.datetime:
    """The first time `expression` fires strictly after `after` (UTC)."""
    from cronsim import CronSim

    moment = next(CronSim(expression, after.astimezone(dt.UTC)))
    return moment.replace(tzinfo=dt.UTC)


def due_at(
    policy: RotationPolicy | None,
    last_rotated: dt.datetime,
    scheduled_at: dt.datetime | None = None,
) -> dt.datetime | None:
    """When the next rotation is due: the policy's next time or the schedule, if sooner."""
    candidates = [] if scheduled_at is None else [scheduled_at]
    if policy is not None and policy.interval is not None:
        candidates.append(last_rotated + policy.interval)
    elif policy is not None and policy.schedule is not None:
        candidates.append(cron_next(policy.schedule, last_rotated))
    return min(candidates) if candidates else None


class RotationStatus(NamedTuple):
    """How one credential stands (`rotate --due`, `show`, `doctor`); never a secret."""

    credential_id: int
    name: str
    status: str
    due_at: dt.datetime | None
    last_rotated: dt.datetime
    scheduled_at: dt.datetime | None = None
    policy: RotationPolicy | None = None
    pending_since: dt.datetime | None = None
    #: True when credctl can get a new secret by itself (policy or oauth2 refresh grant).
    can_rotate: bool = False
    detail: str = ""

    @property
    def failing(self) -> bool:
        """True for overdue and stuck credentials (exit 11)."""
        return self.status in FAILING

    def to_json(self) -> dict[str, Any]:
        """One object of `rotate --due --json`."""
        from credctl._time import format_rfc3339

        def moment(value: dt.datetime | None) -> str | None:
            return format_rfc3339(value) if value is not None else None

        return {
            "id": self.credential_id,
            "name": self.name,
            "status": self.status,
            "due_at": moment(self.due_at),
            "last_rotated": moment(self.last_rotated),
            "scheduled_at": moment(self.scheduled_at),
            "pending_since": moment(self.pending_since),
            "can_rotate": self.can_rotate,
            "policy": self.policy.to_json() if self.policy is not None else None,
            "detail": self.detail,
        }


def assess(
    credential_id: int,
    name: str,
    *,
    policy: RotationPolicy | None,
    last_rotated: dt.datetime,
    scheduled_at: dt.datetime | None,
    pending_since: dt.datetime | None,
    pending_stuck: bool,
    can_rotate: bool,
    now: dt.datetime,
) -> RotationStatus:
    """The status of one credential at `now`."""
    from credctl._time import format_rfc3339

    due = due_at(policy, last_rotated, scheduled_at)

    def status(value: str, detail: str) -> RotationStatus:
        return RotationStatus(credential_id, name, value, due, last_rotated, scheduled_at,
                              policy, pending_since, can_rotate, detail)  # fmt: skip

    if pending_since is not None and pending_stuck:
        return status(
            STUCK,
            f"a rotation started at {format_rfc3339(pending_since)} did not finish; "
            f"`credctl rotate --resume {name}` finishes or rolls it back",
        )
    in_progress = (
        f"; a rotation is in progress since {format_rfc3339(pending_since)}"
        if pending_since is not None
        else ""
    )
    if due is None:
        return status(NO_POLICY, "no rotation policy or schedule" + in_progress)
    warning = policy.warning_period if policy is not None else dt.timedelta(0)
    if now >= due:
        how = "" if can_rotate else "; no way to get a new secret (set --generate or --command)"
        return status(OVERDUE, f"due since {format_rfc3339(due)}{how}{in_progress}")
    if now >= due - warning:
        return status(WARNING, f"due at {format_rfc3339(due)}{in_progress}")
    return status(OK, f"due at {format_rfc3339(due)}{in_progress}")
