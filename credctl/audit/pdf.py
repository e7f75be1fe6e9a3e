"""The PDF audit report, drawn with reportlab's canvas (BSD licence).

A cover page (filter, counts, first and last seq, the trail's head and the
verification result), then one row per entry in landscape A4, every page
numbered "page N of M".  Rows are drawn straight on the canvas rather than
through platypus tables, which lay out every cell and take minutes for tens of
thousands of rows; each row is one string in a monospaced font, its columns
padded to fixed widths, so a row costs one `drawString` and no text measuring,
and 20,000 entries take a few seconds.

reportlab is an optional dependency (``pip install 'credctl[pdf]'``), imported
only here.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import InternalError

if TYPE_CHECKING:
    from credctl.audit.export import Report
    from credctl.audit.model import AuditEntry

MARGIN: Final = 36.0
FONT: Final = "Helvetica"
BOLD: Final = "Helvetica-Bold"
ROW_FONT: Final = "Courier"
ROW_FONT_SIZE: Final = 7.0
ROW_HEIGHT: Final = 10.0
#: (heading, width in characters) of the entry table: 181 Courier characters of 4.2
#: points fit the 770 points of landscape A4 between the margins.
COLUMNS: Final = (
    ("seq", 7), ("time (UTC)", 23), ("action", 16), ("credential", 24), ("user", 14),
    ("host", 14), ("origin", 7), ("outcome", 20), ("ip", 15), ("execution / workflow", 32),
)  # fmt: skip


def _reportlab() -> Any:
    try:
        from reportlab.lib.pagesizes import A4, landscape
        from reportlab.pdfgen.canvas import Canvas
    except ImportError:
        raise InternalError(
            "PDF export needs the reportlab package, which is not installed",
            hint="pip install 'credctl[pdf]' (or export --format json or csv)",
        ) from None
    return A4, landscape, Canvas


def _clean(text: str) -> str:
    # Standard PDF fonts speak Latin-1; control characters would garble the page.
    if text.isascii() and text.isprintable():
        return text
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return cleaned.encode("latin-1", "replace").decode("latin-1")


def _fit(text: str, width: int) -> str:
    text = _clean(text)
    if len(text) > width:
        text = text[: width - 1] + "~"
    return text.ljust(width)


def _row(cells: list[str]) -> str:
    return " ".join(_fit(cell, width) for cell, (_, width) in zip(cells, COLUMNS, strict=True))


def _cells(entry: AuditEntry) -> list[str]:
    credential = ""
    if entry.credential_id is not None:
        credential = str(entry.credential_id)
    if entry.credential_name:
        credential = f"{credential} {entry.credential_name}".strip()
    outcome = entry.outcome if entry.error is None else f"{entry.outcome}: {entry.error}"
    ids = " / ".join(x for x in (entry.execution_id, entry.workflow_id) if x)
    if entry.detail:
        ids = f"{ids} ({entry.detail})" if ids else entry.detail
    stamp = (
        entry.timestamp.strftime("%Y-%m-%d %H:%M:%S.")
        + f"{entry.timestamp.microsecond // 1000:03d}"
    )
    return [str(entry.seq), stamp, entry.action, credential, entry.user or "", entry.host or "",
            entry.origin or "", outcome, entry.ip or "", ids]  # fmt: skip


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    while len(text) > width:
        cut = text.rfind(" ", 0, width)
        cut = cut if cut > 0 else width
        lines.append(text[:cut])
        text = text[cut:].lstrip()
    return [*lines, text]


def to_pdf(report: Report) -> bytes:
    """The report as a PDF document."""
    a4, landscape, canvas_class = _reportlab()
    page_width, page_height = landscape(a4)
    rows_per_page = int((page_height - 2 * MARGIN - 3 * ROW_HEIGHT) // ROW_HEIGHT)
    entries = report.entries
    pages = 1 + max(1, -(-len(entries) // rows_per_page))
    buffer = io.BytesIO()
    canvas = canvas_class(buffer, pagesize=(page_width, page_height), pageCompression=1)
    canvas.setTitle("credctl audit report")
    canvas.setAuthor("credctl")
    canvas.setCreator("credctl")

    def footer(number: int) -> None:
        canvas.setFont(FONT, 8)
        canvas.drawRightString(page_width - MARGIN, MARGIN / 2, f"page {number} of {pages}")
        canvas.drawString(MARGIN, MARGIN / 2, f"credctl audit report, {report.moment}")

    _cover(canvas, report, page_height)
    footer(1)
    canvas.showPage()
    number = 2
    for start in range(0, max(len(entries), 1), rows_per_page):
        y = page_height - MARGIN
        canvas.setFont("Courier-Bold", ROW_FONT_SIZE)
        canvas.drawString(MARGIN, y, _row([heading for heading, _ in COLUMNS]))
        y -= ROW_HEIGHT * 1.5
        canvas.setFont(ROW_FONT, ROW_FONT_SIZE)
        for entry in entries[start : start + rows_per_page]:
            canvas.drawString(MARGIN, y, _row(_cells(entry)).rstrip())
            y -= ROW_HEIGHT
        if not entries:
            canvas.drawString(MARGIN, y, "no entry matches the filter")
        footer(number)
        canvas.showPage()
        number += 1
    canvas.save()
    return buffer.getvalue()


def _cover(canvas: Any, report: Report, page_height: float) -> None:
    verification = report.verification
    counts = report.counts()
    y = page_height - MARGIN - 18
    canvas.setFont(BOLD, 18)
    canvas.drawString(MARGIN, y, "credctl audit report")
    y -= 30
    first = report.entries[0].seq if report.entries else None
    last = report.entries[-1].seq if report.entries else None
    verdict = {True: "VERIFIED", False: "FAILED", None: "not sealed"}[verification.verified]
    lines = [
        ("Generated", report.moment),
        ("Filter", report.filter.describe()),
        ("Entries", f"{counts['entries']} ({counts['ok']} ok, {counts['error']} error)"),
        ("First and last seq", f"{first if first is not None else '-'} .. "
                               f"{last if last is not None else '-'}"),
        ("Trail head", f"seq {verification.head_seq} {verification.head_hash or ''}"),
        ("Verification", f"{verdict}: {report.verified_text()}"),
    ]  # fmt: skip
    if verification.torn_bytes:
        torn = f"{verification.torn_bytes} bytes of an entry cut off by a writer that died "
        lines.append(("Torn tail", torn + "(repaired by the next append; not tampering)"))
    for label, value in lines:
        canvas.setFont(BOLD, 10)
        canvas.drawString(MARGIN, y, label)
        canvas.setFont(FONT, 10)
        for part in _wrap(_clean(value), 110):
            canvas.drawString(MARGIN + 120, y, part)
            y -= 14
        y -= 4
    y -= 10
    canvas.setFont(BOLD, 10)
    canvas.drawString(MARGIN, y, "Entries by action")
    y -= 14
    canvas.setFont(FONT, 10)
    for action, count in counts["by_action"].items():
        if y < MARGIN + 20:
            canvas.drawString(MARGIN + 120, y, "…")
            break
        canvas.drawString(MARGIN + 120, y, _fit(action, 28).rstrip())
        canvas.drawRightString(MARGIN + 330, y, str(count))
        y -= 13
