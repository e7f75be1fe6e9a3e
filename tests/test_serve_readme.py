"""The README's REST API examples run as written against a real `credctl serve`.

The curl commands of the README (the examples of seed 004, with ``$TOKEN``) are
taken from the README itself and run by bash, with only the address changed to
the test server's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.serve_support import ServerProcess, envelope, init_vault, issue_token

README = Path(__file__).resolve().parent.parent / "README.md"


def rest_examples() -> list[str]:
    text = README.read_text()
    section = text[text.index("## REST API for workflow engines") :]
    section = section[: section.index("\n## ", 10)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [block for block in blocks if block.lstrip().startswith("curl")]


def run(block: str, url: str, token: str) -> str:
    script = block.replace("http://localhost:8000", url)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                            text=True, env={**os.environ, "TOKEN": token}, timeout=60,
                            check=False)  # fmt: skip
    assert result.returncode == 0, (block, result.stderr)
    return result.stdout


@pytest.mark.skipif(shutil.which("curl") is None, reason="LOUD: curl is not installed")
def test_the_readme_curl_examples_work_as_written(tmp_path: Path) -> None:
    vault = init_vault(tmp_path / "v" / "readme.credctl")
    token = issue_token(vault, "n8n")
    server = ServerProcess(vault).wait_ready()
    try:
        url = server.url.replace("127.0.0.1", "localhost")
        listing, create, show, update, delete, links = rest_examples()
        assert json.loads(run(listing, url, token)) == {"success": True, "message": "Success",
                                                        "data": []}  # fmt: skip
        created = json.loads(run(create, url, token))["data"]
        assert (created["id"], created["name"]) == (1, "my_api_credential")
        assert json.loads(run(show, url, token))["data"] == created
        updated = json.loads(run(update, url, token))["data"]
        assert (updated["name"], updated["credential_type"]) == ("github_api_updated", "token")
        assert run(delete, url, token) == ""
        api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        envelope(api.get("/credentials/1"), 404)
        body = {"credential_type": "token", "credential_data": {"token": "FAKE-SECRET-x"}}
        ids = [envelope(api.post("/credentials/", json={**body, "name": f"c{i}"}), 201)["id"]
               for i in range(3)]  # fmt: skip
        assert ids == [2, 3, 4]
        out = run(links, url, token)
        assert '"workflow_id":"wf-nightly-report"' in out
        envelope(api.get("/credentials/4"), 404)
    finally:
        assert server.stop() == 0
