"""schemathesis against ``/openapi.json`` of a real `credctl serve`, with a token.

schemathesis (installed by the test command, the ``dev`` extra) calls every
operation of the document with generated requests, valid and invalid, and in
stateful chains (create, then read, update, link, delete what it created).  No
answer may be a 5xx, and every answer must be documented: its status, its
content type and its body's schema; invalid requests must be refused.  The
token reaches schemathesis through its environment, never its command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve_support import ServerProcess, init_vault, issue_token

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])  # fmt: skip
CONFIG = """\
headers = { Authorization = "Bearer ${CREDCTL_TEST_API_TOKEN}" }
"""


def schemathesis_command() -> list[str]:
    found = shutil.which("st") or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: install the dev extra (pip install -e .[dev])")
    return [found]


def test_schemathesis_finds_no_5xx_and_no_undocumented_answer(tmp_path: Path) -> None:
    vault = init_vault(tmp_path / "v" / "api.credctl")
    token = issue_token(vault, "fuzzer")
    server = ServerProcess(vault, "--no-access-log").wait_ready()
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    env = {**os.environ, "CREDCTL_TEST_API_TOKEN": token, "NO_COLOR": "1"}
    try:
        result = subprocess.run(
            [*schemathesis_command(), "--config-file", str(config), "run",
             f"{server.url}/openapi.json", "--checks", CHECKS, "--max-examples", "30",
             "--seed", "20251201", "--workers", "1", "--phases",
             "examples,coverage,fuzzing,stateful", "--request-timeout", "30"],
            capture_output=True, text=True, env=env, timeout=1500, check=False,
            cwd=tmp_path,  # its cache folder goes there, not into the repository
        )  # fmt: skip
    finally:
        code = server.stop()
    report = result.stdout + result.stderr
    sys.stdout.write(report[-4000:])
    assert result.returncode == 0, report[-8000:]
    assert "No issues found" in report or "passed" in report, report[-2000:]
    assert code == 0
    assert "Traceback" not in server.text
    assert "internal error" not in server.text
    assert token not in report
