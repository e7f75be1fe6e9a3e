"""Every request of a real `credctl serve` is an audit entry, durable before it is answered.

Reads share their appends (credctl.server.auditing); these tests show, through the
server process and `credctl audit`, that none is lost or merged, that each keeps
its caller's identity, and that a read whose entry cannot be written is refused
(fail closed), and answered again once the trail can be written.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audit_support import current_log
from tests.serve_support import Api, ServerProcess, cli, envelope, init_vault, issue_token

NAME = "audited-credential"
BODY = {"name": NAME, "credential_type": "token",
        "credential_data": {"token": "FAKE-SECRET-audited-0001"}}  # fmt: skip


class Served:
    def __init__(self, vault: Path, server: ServerProcess, api: Api) -> None:
        self.vault = vault
        self.server = server
        self.api = api


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    vault = init_vault(tmp_path / "vault" / "audited.credctl")
    token = issue_token(vault, "reader")
    server = ServerProcess(vault, "--no-access-log").wait_ready()
    try:
        yield Served(vault, server, Api(server.url, token, []))
    finally:
        assert server.stop() == 0, server.text
    assert "Traceback" not in server.text
    assert "FAKE-SECRET" not in server.text


def audit_list(vault: Path, *args: str) -> list[dict[str, Any]]:
    result = cli(vault, "audit", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, Any]] = json.loads(result.stdout)
    return listed


def test_fifty_concurrent_reads_are_fifty_entries(served: Served) -> None:
    made = envelope(served.api.post("/credentials/", json=BODY), 201)
    detail = f"/credentials/{made['id']}"

    def read(i: int) -> httpx.Response:
        path = (detail, "/credentials/", f"{detail}/links")[i % 3]
        return served.api.get(path, headers={"X-Execution-Id": f"exec-{i}",
                                             "X-Workflow-Id": "wf-reads"})  # fmt: skip

    with ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(read, range(50)))
    for answer in answers:
        envelope(answer, 200)
    # Read while the server still runs: each entry was durable before its answer left.
    reads = [e for e in audit_list(served.vault, "--user", "reader")
             if e["action"] in ("show", "list")]  # fmt: skip
    assert len(reads) == 50
    assert sorted(e["execution_id"] for e in reads) == sorted(f"exec-{i}" for i in range(50))
    for entry in reads:
        assert (entry["origin"], entry["user"], entry["ip"], entry["workflow_id"],
                entry["outcome"]) == ("api", "reader", "127.0.0.1", "wf-reads", "ok")  # fmt: skip
        listing = int(entry["execution_id"].removeprefix("exec-")) % 3 == 1
        wanted = ("list", None) if listing else ("show", made["id"])
        assert (entry["action"], entry["credential_id"]) == wanted
    seqs = [e["seq"] for e in audit_list(served.vault)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one chain, no gap
    verified = cli(served.vault, "audit", "verify")
    assert verified.returncode == 0, verified.stderr


def test_reads_fail_closed_while_the_trail_cannot_be_written(served: Served) -> None:
    made = envelope(served.api.post("/credentials/", json=BODY), 201)
    detail = f"/credentials/{made['id']}"
    assert envelope(served.api.get(detail), 200)["name"] == NAME  # its answer is kept now
    pid = served.server.proc.pid
    before = resource.prlimit(pid, resource.RLIMIT_FSIZE)
    size = current_log(served.vault).stat().st_size
    # No file of the server may grow past the trail's size: the next append is refused
    # (EFBIG), as on a full disk.  The soft limit alone, so it can be lifted again.
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (size, before[1]))
    try:
        for path in (detail, "/credentials/", f"{detail}/links"):
            refused = served.api.get(path)
            envelope(refused, 500)  # data is null
            assert NAME not in refused.text and "FAKE-SECRET" not in refused.text
        # a request without a valid token cannot be logged either: an envelope, no traceback
        anonymous = Api(served.server.url, "credctl_1_not-a-token", [])
        envelope(anonymous.get(detail), 500)
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, before)
    assert current_log(served.vault).stat().st_size == size  # not a byte was appended
    assert envelope(served.api.get(detail), 200)["name"] == NAME
    shows = [(e["action"], e["outcome"]) for e in audit_list(served.vault, "--user", "reader")
             if e["action"] == "show"]  # fmt: skip
    assert shows == [("show", "ok"), ("show", "ok")]  # the refused reads left no entry
    assert served.server.text.count("AuditUnavailableError on GET") == 4
    verified = cli(served.vault, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
