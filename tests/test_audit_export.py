"""`audit export` and `export_audit_report`: JSON, CSV (RFC 4180, no formulas), PDF."""

from __future__ import annotations

import csv
import io
import json
import stat
import sys
from pathlib import Path

import pypdf
import pytest

from credctl import (
    AuditFilter,
    CredentialContext,
    CredentialManager,
    ExportFormat,
    UserContext,
)
from credctl.audit.export import CSV_COLUMNS
from credctl.errors import InternalError
from tests.audit_support import PASS_ENV, entries, history, ok, read_lines, write_lines
from tests.conftest import PASSPHRASE, RunCli
from tests.peer_backends import lane_storage_backend

# User ids are checked (credctl.records.validation.check_owner), so the hostile cells come
# from the fields a caller may fill freely: the ip and the execution and workflow ids.
HOSTILE = {
    "ip": '=HYPERLINK("http://example.invalid","x")',
    "other_ip": "+1-555-0100",
    "execution": "@SUM(A1:A9)",
    "workflow": "-2+3",
}


@pytest.fixture
def manager(initialized_vault: Path, monkeypatch: pytest.MonkeyPatch) -> CredentialManager:
    monkeypatch.setenv("CREDCTL_PASSPHRASE", PASSPHRASE)
    return (
        CredentialManager.builder()
        .storage_backend(lane_storage_backend(initialized_vault))
        .build()
    )


def hostile_history(manager: CredentialManager) -> int:
    created = manager.create_credential(
        "token", {"token": "FAKE-SECRET-x"}, UserContext("alice", HOSTILE["ip"]),
        name="hostile",
    )  # fmt: skip
    context = CredentialContext("alice", HOSTILE["execution"], HOSTILE["workflow"])
    manager.get_token_with_context(created, context)
    multiline = UserContext("bob", 'tab\there, "quoted"\nnext line')
    manager.create_credential("token", {"token": "FAKE-SECRET-y"}, multiline, name="plain")
    manager.create_credential("token", {"token": "FAKE-SECRET-z"}, UserContext("carol", "\rcr"),
                              name="cr")  # fmt: skip
    manager.create_credential("token", {"token": "FAKE-SECRET-w"},
                              UserContext("dave", HOSTILE["other_ip"]), name="plus")  # fmt: skip
    return created


def test_csv_has_fixed_columns_rfc4180_quoting_and_no_formulas(manager: CredentialManager):
    hostile_history(manager)
    data = manager.export_audit_report(ExportFormat.Csv, None)
    text = data.decode()
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    body = rows[1:]
    for row in body:
        assert len(row) == len(CSV_COLUMNS)
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
    by_name = {row[4]: row for row in body if row[2] == "create"}
    assert by_name["hostile"][5] == "alice"
    assert by_name["hostile"][7] == "'" + HOSTILE["ip"]
    assert by_name["plus"][7] == "'" + HOSTILE["other_ip"]
    assert by_name["plain"][7] == 'tab\there, "quoted"\nnext line'  # quoted, kept whole
    assert by_name["cr"][7] == "'\rcr"
    read = next(row for row in body if row[2] == "get_token")
    assert (read[8], read[9]) == ("'" + HOSTILE["execution"], "'" + HOSTILE["workflow"])
    # The multi-line cell is quoted per RFC 4180 (doubled quotes inside).
    assert '"tab\there, ""quoted""\nnext line"' in text


def test_json_report(manager: CredentialManager) -> None:
    created = hostile_history(manager)
    chosen = AuditFilter.builder().credential_id(created).build()
    report = json.loads(manager.export_audit_report(ExportFormat.JSON, chosen))
    assert list(report)[:5] == ["generated_at", "filter", "head", "verified", "verification"]
    assert report["verified"] is True
    assert report["filter"]["credential_id"] == created
    assert [e["action"] for e in report["entries"]] == ["create", "get_token"]
    assert report["counts"] == {"entries": 2, "ok": 2, "error": 0,
                                "by_action": {"create": 1, "get_token": 1}}  # fmt: skip
    assert report["head"]["seq"] >= 4 and report["head"]["hash"]
    # The export itself is in the trail.
    exported = manager.get_audit_logs(AuditFilter(action_type="audit_export"))
    assert len(exported) == 1 and exported[0].detail.startswith("json: 2 entries")


def test_unknown_format_is_refused(manager: CredentialManager) -> None:
    with pytest.raises(Exception, match="unknown export format"):
        manager.export_audit_report("xml")


def test_pdf_without_reportlab_names_the_extra(
    manager: CredentialManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "reportlab" or m.startswith("reportlab.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "reportlab", None)
    with pytest.raises(InternalError) as caught:
        manager.export_audit_report(ExportFormat.PDF)
    assert "pip install 'credctl[pdf]'" in (caught.value.hint or "")


def pdf_text(path: Path) -> tuple[int, str]:
    reader = pypdf.PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_cli_exports_all_three_formats_0600(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=3)
    out = tmp_path / "reports"
    out.mkdir()
    for kind in ("json", "csv", "pdf"):
        target = out / f"audit.{kind}"
        ok(run_cli("audit", "export", "--format", kind, "-o", str(target), env=PASS_ENV))
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    report = json.loads((out / "audit.json").read_text())
    assert report["verified"] is True and len(report["entries"]) == 5
    assert (out / "audit.csv").read_text().count("\n") == 1 + 6  # + the json export's entry
    pages, text = pdf_text(out / "audit.pdf")
    assert pages == 2
    for needle in ("credctl audit report", "VERIFIED", "page 1 of 2", "page 2 of 2",
                   "get_token", "1 gh", "audit_export"):  # fmt: skip
        assert needle in text, needle
    filtered = out / "reads.csv"
    ok(run_cli("audit", "export", "--format", "csv", "-o", str(filtered), "--action",
               "get_token", env=PASS_ENV))  # fmt: skip
    assert filtered.read_text().count("get_token") == 3
    stdout = ok(run_cli("audit", "export", "--format", "json", "-o", "-", env=PASS_ENV)).stdout
    assert json.loads(stdout)["verified"] is True
    link = out / "link.json"
    link.symlink_to(out / "audit.json")
    refused = run_cli("audit", "export", "--format", "json", "-o", str(link), env=PASS_ENV)
    assert refused.returncode == 9 and "symbolic link" in refused.stderr
    assert run_cli("audit", "export", "--format", "xml", "-o", "-", env=PASS_ENV).returncode == 2


@pytest.mark.vault_file  # PostgreSQL's: test_backend_audit.py
def test_reports_of_a_tampered_trail_say_so(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    history(run_cli, tmp_path, reads=3)
    lines = read_lines(initialized_vault)
    del lines[2]
    write_lines(initialized_vault, lines)
    out = tmp_path / "audit.pdf"
    ok(run_cli("audit", "export", "--format", "pdf", "-o", str(out), env=PASS_ENV))
    _, text = pdf_text(out)
    assert "FAILED" in text and "first bad seq 3" in text
    report = json.loads(
        ok(run_cli("audit", "export", "--format", "json", "-o", "-", env=PASS_ENV)).stdout
    )
    assert report["verified"] is False
    assert report["verification"]["first_bad_seq"] == 3
    assert len(entries(run_cli)) >= 4  # what still decrypts is listed


def test_a_large_pdf_has_one_row_per_entry(tmp_path: Path) -> None:
    import datetime as dt

    from credctl.audit.export import Report
    from credctl.audit.model import AuditEntry, AuditFilter
    from credctl.audit.pdf import to_pdf
    from credctl.audit.service import AuditVerification

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = [
        AuditEntry(
            seq,
            start + dt.timedelta(seconds=seq),
            "get_token",
            seq % 7,
            f"cred-{seq}",
            "alice",
            "host",
            None,
            f"exec-{seq}",
            "wf",
            "api",
        )
        for seq in range(1, 1001)
    ]
    verification = AuditVerification(True, 1000, 1, 1000, 1000, "aGFzaA==")
    path = tmp_path / "big.pdf"
    path.write_bytes(to_pdf(Report(rows, AuditFilter(), verification)))
    pages, text = pdf_text(path)
    assert pages == 1 + 21  # a cover, then 49 rows a page
    for seq in (1, 500, 1000):
        assert f"exec-{seq}" in text and f"cred-{seq}" in text
    assert f"page {pages} of {pages}" in text
