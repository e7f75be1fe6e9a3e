"""Two machines' worth of writers on one PostgreSQL vault: nothing is lost.

8 processes each write 200 times through two separate manager handles (as two
machines would), all at once; every create survives, and concurrent metadata
changes of one shared credential all survive too (each is applied under the
write lock to what is stored then).  Conflicts wait and retry; none exits 8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backend_support import init_backend
from tests.peer_backends import PostgresServer, postgres_fixture  # noqa: F401 - a fixture

PROCESSES = 8
WRITES = 200

WRITER = r"""
import json, sys
from credctl.manager import CredentialManager
from credctl.model import CredentialUpdate, StorageBackend
url, worker, writes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
handles = [CredentialManager.builder().storage_backend(StorageBackend.database(url)).build()
           for _ in range(2)]
for i in range(writes):
    manager = handles[i % 2]
    if i % 4 == 3:
        manager.update_credential("shared", CredentialUpdate(
            metadata_changes={f"w{worker}-{i}": "x"}))
    else:
        manager.create_credential("token", {"token": f"FAKE-SECRET-{worker}-{i}"},
                                  name=f"w{worker}-{i}")
print(json.dumps({"worker": worker, "done": writes}))
"""


@pytest.mark.slow
def test_eight_processes_two_handles_nothing_lost(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    from credctl.manager import CredentialManager
    from credctl.model import StorageBackend
    from credctl.storage.postgres import PostgresBackend

    url = postgres.url()
    space = url.rsplit("=", 1)[1]
    backend = PostgresBackend(url, space=space)
    init_backend(backend)
    backend.close()
    env = {**os.environ, "CREDCTL_PASSPHRASE": "backend contract passphrase (fake)",
           "CREDCTL_LOCK_TIMEOUT": "120"}  # fmt: skip
    manager = CredentialManager.builder().storage_backend(StorageBackend.database(url)).build()
    os.environ["CREDCTL_PASSPHRASE"] = env["CREDCTL_PASSPHRASE"]
    try:
        manager.create_credential("token", {"token": "FAKE-SECRET-shared"}, name="shared")
        children = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, url, str(w), str(WRITES)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(PROCESSES)
        ]
        for child in children:
            out, err = child.communicate(timeout=900)
            assert child.returncode == 0, err[-2000:]
            assert json.loads(out)["done"] == WRITES
        names = {c.name for c in manager.list_credentials()}
        creates = {f"w{w}-{i}" for w in range(PROCESSES) for i in range(WRITES) if i % 4 != 3}
        assert creates <= names
        assert len(names) == len(creates) + 1
        shared = manager.get_credential("shared")
        updates = {f"w{w}-{i}" for w in range(PROCESSES) for i in range(WRITES) if i % 4 == 3}
        assert set(shared.metadata) == updates
    finally:
        del os.environ["CREDCTL_PASSPHRASE"]
