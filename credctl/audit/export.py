"""Audit reports as JSON, CSV (RFC 4180) and PDF (`credctl.audit.pdf`).

Every format carries the same facts: when it was made, the filter, the trail's
head, whether the trail verified, and the entries.  CSV has fixed columns (SPEC
§13) and no cell that a spreadsheet would run as a formula: a cell starting
with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from credctl._time import format_rfc3339, utc_now
from credctl.audit.model import AuditEntry, AuditFilter, ExportFormat

if TYPE_CHECKING:
    import datetime as dt

    from credctl.audit.service import AuditVerification

CSV_COLUMNS: Final = (
    "seq", "timestamp", "action", "credential_id", "credential_name", "user", "host", "ip",
    "execution_id", "workflow_id", "origin", "outcome", "error",
)  # fmt: skip
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class Report(NamedTuple):
    """What an export holds."""

    entries: list[AuditEntry]
    filter: AuditFilter
    verification: AuditVerification
    generated_at: dt.datetime | None = None

    @property
    def moment(self) -> str:
        """When the report was made, RFC 3339."""
        return format_rfc3339(self.generated_at or utc_now())

    def counts(self) -> dict[str, Any]:
        """Entries in total, by outcome and by action."""
        by_action: dict[str, int] = {}
        errors = 0
        for entry in self.entries:
            by_action[entry.action] = by_action.get(entry.action, 0) + 1
            errors += entry.outcome != "ok"
        return {
            "entries": len(self.entries),
            "ok": len(self.entries) - errors,
            "error": errors,
            "by_action": dict(sorted(by_action.items())),
        }

    def verified_text(self) -> str:
        """The verification result, for people."""
        return self.verification.describe()


def render(kind: ExportFormat, report: Report) -> bytes:
    """The report as bytes in `kind`."""
    if kind is ExportFormat.JSON:
        return to_json(report)
    if kind is ExportFormat.CSV:
        return to_csv(report)
    from credctl.audit.pdf import to_pdf

    return to_pdf(report)


def to_json(report: Report) -> bytes:
    """One JSON object: generated_at, filter, head, verified, verification, counts, entries."""
    verification = report.verification
    document = {
        "generated_at": report.moment,
        "filter": report.filter.to_json(),
        "head": {"seq": verification.head_seq, "hash": verification.head_hash},
        "verified": verification.verified,
        "verification": verification.to_json(),
        "counts": report.counts(),
        "entries": [entry.to_json() for entry in report.entries],
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def neutralised(value: object) -> str:
    """A CSV cell's text; one a spreadsheet would evaluate gets a leading quote."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(report: Report) -> bytes:
    """A header row and one row per entry, CRLF line ends, quoted where RFC 4180 needs it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for entry in report.entries:
        row = entry.to_json()
        writer.writerow([neutralised(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue().encode()
