"""Real peers of the backend tests: PostgreSQL (Debian's), moto's AWS, a Vault KV v2 server.

PostgreSQL is started with ``initdb``/``pg_ctl`` into a temporary folder on a free
127.0.0.1 port (as the ``postgres`` user through ``runuser`` when the tests run as
root) and stopped after the session.  What a missing peer does is decided in one
place, `missing`: a loud skip, or a failure under ``CREDCTL_REQUIRE_PEERS=1``
(``.ci/run``); a peer that is installed but does not start always fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from tests import peers

if TYPE_CHECKING:
    from credctl.model import StorageBackend

#: ``CREDCTL_TEST_BACKEND=postgresql`` runs the command-line tests on PostgreSQL (a lane of
#: the test command): read at import, since each test's environment drops CREDCTL_ names.
LANE = os.environ.get("CREDCTL_TEST_BACKEND", "")
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def missing(reason: str) -> NoReturn:
    """A peer is not installed: tests.peers decides (a loud skip, or a failure)."""
    peers.peer_missing("backend peer", reason)


def failed(reason: str) -> NoReturn:
    """A peer is installed but did not start: always a failure."""
    peers.peer_failed("backend peer", reason)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_bin(name: str) -> str:
    candidate = PG_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        missing(f"PostgreSQL's {name} is not installed (`apt-get install postgresql`)")
    return found


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


class PostgresServer:
    """A throw-away PostgreSQL cluster; `url(space)` names a fresh vault space in it."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.count = 0

    def url(self, space: str | None = None) -> str:
        """A URL on the server; a new space unless one is named."""
        if space is None:
            self.count += 1
            space = f"t{os.getpid()}x{self.count}"
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres?space={space}"

    def psql(self, sql: str) -> str:
        """Run SQL as the superuser; the output, unaligned."""
        result = subprocess.run(
            _as_postgres(
                [
                    _pg_bin("psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-At",
                    "-c",
                    sql,
                ]
            ),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        return result.stdout


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a cluster (or skip/fail as `missing` decides) and stop it afterwards."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing("runuser is needed to start PostgreSQL as root")
    folder = Path(tempfile.mkdtemp(prefix="credctl-pg-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user must reach its data folder
    data = folder / "data"
    port = free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    try:
        init = subprocess.run(
            _as_postgres(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if init.returncode != 0:
            failed(f"initdb: {init.stderr.strip()[-500:]}")
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = subprocess.run(
            _as_postgres(
                [
                    pg_ctl,
                    "-D",
                    str(data),
                    "-l",
                    str(folder / "log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if start.returncode != 0:
            log = (folder / "log").read_text(errors="replace")[-800:]
            failed(f"pg_ctl start: {start.stderr.strip()[-300:]} {log}")
        server = PostgresServer(folder, port)
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline:
                failed("PostgreSQL did not accept connections")
            time.sleep(0.05)
        yield server
    finally:
        if data.exists():
            subprocess.run(
                _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", name="postgres")
def postgres_fixture() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole test session."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session", name="moto_endpoint")
def moto_fixture() -> Iterator[str]:
    """moto's AWS in server mode on a free 127.0.0.1 port (fake credentials)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        missing("moto[server] is not installed (pip install 'credctl[dev]')")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "FAKE-ACCESS-KEY"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "FAKE-SECRET-KEY"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def lane_url(server: PostgresServer | None, vault: Path) -> str | None:
    """The backend URL standing in for a test's vault file in the PostgreSQL lane."""
    if server is None:
        return None
    import hashlib

    return server.url("v" + hashlib.sha256(str(vault).encode()).hexdigest()[:20])


def vault_env(vault: Path) -> dict[str, str]:
    """The variables that point credctl at a test's vault: the file, or in the PostgreSQL
    lane its space (``CREDCTL_BACKEND`` wins over ``CREDCTL_VAULT``)."""
    env = {"CREDCTL_VAULT": str(vault)}
    backend = lane_url(lane_server(), vault)
    if backend is not None:
        env["CREDCTL_BACKEND"] = backend
    return env


def lane_storage_backend(vault: Path) -> StorageBackend:
    """The library's `StorageBackend` for a test's vault (its space in the lane)."""
    from credctl.model import StorageBackend

    backend = lane_url(lane_server(), vault)
    return StorageBackend.file(vault) if backend is None else StorageBackend.database(backend)


_LANE_SERVER: list[PostgresServer] = []


def lane_server() -> PostgresServer | None:
    """The lane's PostgreSQL server (started on first use, stopped at exit), or None."""
    if LANE != "postgresql":
        return None
    if not _LANE_SERVER:
        import atexit

        context = postgres_server()
        _LANE_SERVER.append(context.__enter__())
        atexit.register(context.__exit__, None, None, None)
    return _LANE_SERVER[0]


@pytest.fixture(scope="session", name="backend_lane")
def backend_lane_fixture() -> PostgresServer | None:
    """The PostgreSQL server of the lane, or None outside it."""
    return lane_server()
