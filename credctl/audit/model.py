"""The audit trail's public types: `AuditAction`, `ExportFormat`, `AuditFilter`, `AuditEntry`.

Enum members are UPPER_CASE and also answer to the seed's spelling
(`AuditAction.GetToken`, `ExportFormat.Csv`): the seed's names are enum aliases
of the same members, so ``AuditAction.GetToken is AuditAction.GET_TOKEN``.
Both enums are `str` enums, so a member equals its snake_case value.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, NamedTuple

from credctl._time import format_rfc3339, parse_rfc3339, utc_now


class AuditAction(enum.StrEnum):
    """What an entry records (SPEC §13), snake_case on the wire."""

    # ruff: noqa: S105 - `get_token`, `passwd`: action names, not passwords

    CREATE = "create"
    GET_TOKEN = "get_token"
    READ_FIELD = "read_field"
    UPDATE = "update"
    DELETE = "delete"
    ROTATE = "rotate"
    REFRESH = "refresh"
    LOGIN = "login"
    IMPORT = "import"
    EXPORT = "export"
    INIT = "init"
    UNLOCK = "unlock"
    LOCK = "lock"
    KEY_ADD = "key_add"
    KEY_REMOVE = "key_remove"
    PASSWD = "passwd"
    REKEY = "rekey"
    POLICY_SET = "policy_set"
    SCHEDULE = "schedule"
    MIGRATE = "migrate"
    SERVE_TOKEN = "serve_token"
    AUDIT_LIST = "audit_list"
    AUDIT_EXPORT = "audit_export"
    AUDIT_VERIFY = "audit_verify"
    AUDIT_CHECKPOINT = "audit_checkpoint"
    AUDIT_PRUNE = "audit_prune"
    AUDIT_REPAIR = "audit_repair"
    AUDIT_START = "audit_start"

    # The seed's spellings: aliases of the members above.
    Create = "create"
    GetToken = "get_token"
    ReadField = "read_field"
    Update = "update"
    Delete = "delete"
    Rotate = "rotate"
    Refresh = "refresh"
    Login = "login"
    Import = "import"
    Export = "export"
    Init = "init"
    Unlock = "unlock"
    Lock = "lock"
    KeyAdd = "key_add"
    KeyRemove = "key_remove"
    Passwd = "passwd"
    Rekey = "rekey"
    PolicySet = "policy_set"
    Schedule = "schedule"
    Migrate = "migrate"
    ServeToken = "serve_token"
    AuditList = "audit_list"
    AuditExport = "audit_export"
    AuditVerify = "audit_verify"
    AuditCheckpoint = "audit_checkpoint"
    AuditPrune = "audit_prune"
    AuditRepair = "audit_repair"
    AuditStart = "audit_start"


class ExportFormat(enum.StrEnum):
    """`export_audit_report` formats."""

    JSON = "json"
    CSV = "csv"
    PDF = "pdf"

    Json = "json"
    Csv = "csv"
    Pdf = "pdf"


class AuditEntry(NamedTuple):
    """One entry of the trail (SPEC §13); never a secret."""

    seq: int
    timestamp: dt.datetime
    action: str
    credential_id: int | None = None
    credential_name: str | None = None
    user: str | None = None
    host: str | None = None
    ip: str | None = None
    execution_id: str | None = None
    workflow_id: str | None = None
    origin: str | None = None
    outcome: str = "ok"
    error: str | None = None
    #: A note of the trail's own (a repaired tail, a migration, a prune).
    detail: str | None = None
    duration_ms: float | None = None

    @property
    def user_id(self) -> str | None:
        """The seed's name for `user`."""
        return self.user

    @property
    def action_type(self) -> AuditAction | None:
        """`action` as an `AuditAction` (None for an action this version does not know)."""
        try:
            return AuditAction(self.action)
        except ValueError:
            return None

    @classmethod
    def from_fields(cls, seq: int, fields: Mapping[str, Any]) -> AuditEntry:
        """An entry from its decrypted fields."""

        get = fields.get
        name, user, host, ip, execution, workflow, origin, error, detail = (
            None if (value := get(key)) is None else str(value)
            for key in ("credential_name", "user", "host", "ip", "execution_id", "workflow_id",
                        "origin", "error", "detail")
        )  # fmt: skip
        credential_id = get("credential_id")
        duration = get("duration_ms")
        return cls(
            seq=seq,
            timestamp=entry_time(str(fields["timestamp"])),
            action=str(fields["action"]),
            credential_id=credential_id if isinstance(credential_id, int) else None,
            credential_name=name,
            user=user,
            host=host,
            ip=ip,
            execution_id=execution,
            workflow_id=workflow,
            origin=origin,
            outcome=str(get("outcome", "ok")),
            error=error,
            detail=detail,
            duration_ms=float(duration) if isinstance(duration, int | float) else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The `audit list --json` object (SPEC §13), plus `detail` and `duration_ms`."""
        return {
            "seq": self.seq,
            "timestamp": timestamp_text(self.timestamp),
            "action": str(self.action),
            "credential_id": self.credential_id,
            "credential_name": self.credential_name,
            "user": self.user,
            "host": self.host,
            "ip": self.ip,
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "origin": self.origin,
            "outcome": self.outcome,
            "error": self.error,
            "detail": self.detail,
            "duration_ms": self.duration_ms,
        }


class AuditFilter(NamedTuple):
    """Which entries to return; every field set must match (all None: everything).

    `credential_id` and `credential_name` both name a credential: an entry
    matches either (a credential renamed or deleted since is still found by id,
    one that never got an id by name).  `since` and `until` are inclusive.
    """

    credential_id: int | None = None
    credential_name: str | None = None
    action_type: str | None = None
    user_id: str | None = None
    workflow_id: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    @classmethod
    def builder(cls) -> AuditFilterBuilder:
        """Start building a filter, as in the seed."""
        return AuditFilterBuilder()

    @classmethod
    def last_days(cls, days: int) -> AuditFilter:
        """Everything from the last `days` days."""
        return cls(since=utc_now() - dt.timedelta(days=days))

    def matches(self, entry: AuditEntry) -> bool:
        """True when `entry` passes every condition set."""
        if self.credential_id is not None or self.credential_name is not None:
            by_id = self.credential_id is not None and entry.credential_id == self.credential_id
            by_name = (
                self.credential_name is not None and entry.credential_name == self.credential_name
            )
            if not (by_id or by_name):
                return False
        return (
            (self.action_type is None or entry.action == self.action_type)
            and (self.user_id is None or entry.user == self.user_id)
            and (self.workflow_id is None or entry.workflow_id == self.workflow_id)
            and (self.outcome is None or entry.outcome == self.outcome)
            and (self.since is None or entry.timestamp >= self.since)
            and (self.until is None or entry.timestamp <= self.until)
        )

    def matches_fields(self, fields: Mapping[str, Any]) -> bool:
        """`matches` on an entry's decrypted fields, before an `AuditEntry` is built."""
        get = fields.get
        by_credential = self.credential_id is not None or self.credential_name is not None
        if by_credential and not (
            (self.credential_id is not None and get("credential_id") == self.credential_id)
            or (
                self.credential_name is not None and get("credential_name") == self.credential_name
            )
        ):
            return False
        if (
            (self.action_type is not None and get("action") != self.action_type)
            or (self.user_id is not None and get("user") != self.user_id)
            or (self.workflow_id is not None and get("workflow_id") != self.workflow_id)
            or (self.outcome is not None and get("outcome", "ok") != self.outcome)
        ):
            return False
        if self.since is None and self.until is None:
            return True
        moment = entry_time(str(fields["timestamp"]))
        return (self.since is None or moment >= self.since) and (
            self.until is None or moment <= self.until
        )

    def to_json(self) -> dict[str, Any]:
        """The filter as exports print it (unset conditions are null)."""
        out: dict[str, Any] = {}
        for name, value in self._asdict().items():
            if isinstance(value, dt.datetime):
                value = format_rfc3339(value)
            out[name] = str(value) if isinstance(value, enum.Enum) else value
        return out

    def describe(self) -> str:
        """One line for people: the conditions set, or "all entries"."""
        parts = [f"{k}={v}" for k, v in self.to_json().items() if v is not None]
        return ", ".join(parts) if parts else "all entries"


class AuditFilterBuilder:
    """``AuditFilter.builder().credential_id(i).action_type(a).date_range(a, b).build()``.

    Each step takes None too (the seed passes ``Some(x)`` / ``None``), which
    leaves that condition unset.
    """

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}

    def credential_id(self, value: int | None) -> AuditFilterBuilder:
        """Only entries of this credential id."""
        self._fields["credential_id"] = value
        return self

    def credential_name(self, value: str | None) -> AuditFilterBuilder:
        """Only entries of the credential with this name."""
        self._fields["credential_name"] = value
        return self

    def action_type(self, value: AuditAction | str | None) -> AuditFilterBuilder:
        """Only entries of this action."""
        self._fields["action_type"] = AuditAction(value) if value is not None else None
        return self

    def user_id(self, value: str | None) -> AuditFilterBuilder:
        """Only entries of this user."""
        self._fields["user_id"] = value
        return self

    def workflow_id(self, value: str | None) -> AuditFilterBuilder:
        """Only entries of this workflow."""
        self._fields["workflow_id"] = value
        return self

    def outcome(self, value: str | None) -> AuditFilterBuilder:
        """Only ``ok`` or only ``error`` entries."""
        if value not in (None, "ok", "error"):
            from credctl.errors import InvalidInput

            raise InvalidInput("the outcome is ok or error")
        self._fields["outcome"] = value
        return self

    def date_range(
        self, since: dt.datetime | None, until: dt.datetime | None
    ) -> AuditFilterBuilder:
        """Only entries from `since` to `until` (inclusive; aware datetimes)."""
        for moment in (since, until):
            if moment is not None and moment.tzinfo is None:
                from credctl.errors import InvalidInput

                raise InvalidInput("date_range needs aware datetimes (with a time zone)")
        self._fields["since"], self._fields["until"] = since, until
        return self

    def build(self) -> AuditFilter:
        """The finished filter."""
        return AuditFilter(**self._fields)


def entry_time(text: str) -> dt.datetime:
    """An entry's timestamp (fast for the form credctl writes; any RFC 3339 is accepted)."""
    if len(text) == 24 and text[10] == "T" and text[19] == "." and text[23] == "Z":
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    return parse_rfc3339(text)


def timestamp_text(moment: dt.datetime) -> str:
    """RFC 3339 UTC with milliseconds, as entries store their time."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_moment(text: str, *, option: str) -> dt.datetime:
    """``--since``/``--until``: RFC 3339, or an age such as ``7d`` or ``12h`` (before now)."""
    from credctl.errors import InvalidInput

    try:
        return parse_rfc3339(text)
    except ValueError:
        pass
    from credctl.durations import parse_duration

    try:
        seconds = parse_duration(text, option=option)
    except InvalidInput:
        raise InvalidInput(
            f"{option} takes an RFC 3339 time or an age such as 7d or 12h, not {text!r}"
        ) from None
    return utc_now() - dt.timedelta(seconds=seconds)
