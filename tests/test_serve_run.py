"""How `credctl serve` starts and stops: where it may listen, TLS, a Unix socket, SIGTERM.

Each test starts its own server process (through the console script) or shows
that a start is refused before anything is bound.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import socket
import ssl
import stat
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import assert_no_traceback
from tests.serve_support import (
    ServerProcess,
    cli,
    cli_env,
    envelope,
    init_vault,
    issue_token,
    poll,
)

WILDCARD = "0.0.0.0"  # noqa: S104 - only in starts that are refused before binding
BODY = {"name": "shutdown", "credential_type": "token", "credential_data": {"token": "FAKE-t"}}


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    return init_vault(tmp_path / "vault" / "run.credctl")


@pytest.mark.parametrize(
    ("args", "message"),
    [  # refused before anything is bound: tests never listen beyond loopback
        (("--host", WILDCARD), "refusing to serve credentials over plain HTTP"),
        (("--host", "192.0.2.1"), "refusing to serve credentials over plain HTTP"),
        (("--host", "::"), "refusing to serve credentials over plain HTTP"),
        (("--host", WILDCARD, "--insecure-bind"), "--allow-host"),
        (("--workers", "2"), "needs a database backend"),
        (("--tls-cert", "c.pem"), "--tls-cert and --tls-key go together"),
    ],
)
def test_unsafe_starts_are_refused(vault: Path, args: tuple[str, ...], message: str) -> None:
    server = ServerProcess(vault, *args)
    assert server.wait_exit() == 2, server.text
    assert message in server.text
    assert not server.url


def test_a_locked_vault_fails_before_listening(vault: Path) -> None:
    env = cli_env(vault)
    del env["CREDCTL_PASSPHRASE"]
    server = ServerProcess(vault, env=env)
    assert server.wait_exit() == 4, server.text
    assert not server.url


def test_a_busy_port_is_exit_8(vault: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(vault, "serve", "--port", str(port))
    assert result.returncode == 8, result.stderr
    assert "address is in use" in result.stderr
    assert_no_traceback(result)


def test_no_tokens_is_warned_about(vault: Path) -> None:
    server = ServerProcess(vault).wait_ready()
    assert server.stop() == 0
    assert "no API tokens yet" in server.text


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_tls_and_extra_host_names(vault: Path, tmp_path: Path) -> None:
    """TLS (required off loopback, allowed on it); --allow-host adds names to accept."""
    cert, key = self_signed(tmp_path)
    token = issue_token(vault, "tls-user")
    server = ServerProcess(vault, "--allow-host", "creds.internal", "--tls-cert", str(cert),
                           "--tls-key", str(key)).wait_ready()  # fmt: skip
    try:
        assert server.url.startswith("https://127.0.0.1:")
        port = server.url.rsplit(":", 1)[1]
        headers = {"Authorization": f"Bearer {token}"}
        trusted = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trusted, headers=headers) as client:
            url = f"https://localhost:{port}/credentials/"
            assert envelope(client.get(url), 200) == []
            envelope(client.get(url, headers={"Host": "evil.example"}), 400)
            envelope(client.get(url, headers={"Host": "creds.internal"}), 200)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/credentials/", headers=headers, timeout=10)
    finally:
        assert server.stop() == 0


def test_unix_socket(vault: Path, tmp_path: Path) -> None:
    token = issue_token(vault, "uds-user")
    path = tmp_path / "api.sock"
    server = ServerProcess(vault, "--uds", str(path)).wait_ready()
    try:
        assert server.url == f"unix:{path}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport, base_url="http://credctl") as client:
            envelope(client.get("/credentials/"), 401)
            made = client.post("/credentials/", json=BODY,
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert envelope(made, 201)["name"] == "shutdown"
    finally:
        assert server.stop() == 0
    # a socket left behind by a server that died is replaced at the next start
    assert path.exists()
    again = ServerProcess(vault, "--uds", str(path)).wait_ready()
    assert again.stop() == 0


def test_sigterm_lets_a_write_under_way_finish(vault: Path, tmp_path: Path) -> None:
    """A write waiting for the vault lock when SIGTERM arrives is still committed."""
    token = issue_token(vault, "graceful")
    server = ServerProcess(vault, "--no-access-log").wait_ready()
    lock_path = Path(str(vault) + ".lock")
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)  # as another credctl process writing would
    answer: list[httpx.Response] = []

    def create() -> None:
        answer.append(httpx.post(f"{server.url}/credentials/", json=BODY, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}))  # fmt: skip

    request = threading.Thread(target=create)
    try:
        request.start()

        def waiting_for_the_lock() -> bool:
            fds = Path(f"/proc/{server.proc.pid}/fd")
            return any(os.readlink(fd) == str(lock_path) for fd in fds.iterdir())

        poll(waiting_for_the_lock, timeout=60, interval=0.02)
        server.proc.terminate()  # SIGTERM while the write waits for the lock
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
    request.join(60)
    assert server.stop() == 0, server.text
    assert envelope(answer[0], 201)["name"] == "shutdown"
    shown = cli(vault, "list", "--json")
    assert [c["name"] for c in json.loads(shown.stdout)] == ["shutdown"]
