"""What ``rotate --due`` prints: plain lines, JSON, or a JUnit XML report for CI.

Plain lines rather than a table, so cron mail and CI logs stay readable and a
report over ten thousand credentials costs nothing to print.  In JUnit every
credential is a test case: overdue and stuck ones fail (CI shows them as failed
tests), credentials without a policy are skipped, warnings pass with a note.
Never a secret: names, ids, times and statuses only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from credctl.cli.tables import printable

if TYPE_CHECKING:
    from credctl.records.rotation_due import DueResult


def text_lines(results: Sequence[DueResult]) -> list[str]:
    """One line per credential: status, name and id, what was done, details."""
    lines = []
    for result in results:
        status = result.after
        action = f" [{result.action}" + (f" → id {result.new_id}" if result.new_id else "") + "]"
        error = f"; {result.error}" if result.error else ""
        lines.append(
            f"{status.status:<9} {printable(status.name)} (id {status.credential_id})"
            f"{action if result.action else ''}: {printable(status.detail)}{printable(error)}"
        )
    return lines


def junit(results: Sequence[DueResult], *, generated_at: str) -> str:
    """A JUnit XML document: one test case per credential; overdue and stuck fail."""
    import xml.etree.ElementTree as ET

    failures = sum(1 for r in results if r.after.failing)
    skipped = sum(1 for r in results if r.after.status == "no-policy")
    counts = {"tests": str(len(results)), "failures": str(failures), "errors": "0",
              "skipped": str(skipped)}  # fmt: skip
    root = ET.Element("testsuites", {"name": "credctl rotation", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": "credctl rotate --due",
                                              "timestamp": generated_at, **counts})  # fmt: skip
    for result in results:
        status = result.after
        case = ET.SubElement(
            suite, "testcase",
            {"classname": "credctl.rotation", "name": _clean(status.name), "time": "0"},
        )  # fmt: skip
        message = _clean(f"{status.status}: {status.detail}")
        if result.error:
            message += _clean(f" ({result.error})")
        if status.failing:
            failure = ET.SubElement(case, "failure", {"type": status.status, "message": message})
            failure.text = message
        elif status.status == "no-policy":
            ET.SubElement(case, "skipped", {"message": message})
        else:
            out = ET.SubElement(case, "system-out")
            out.text = message + (f" [{result.action}]" if result.action else "")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters: escape them as `printable` does."""
    return printable(text)
