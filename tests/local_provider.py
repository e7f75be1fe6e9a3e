"""A tiny OAuth provider on 127.0.0.1 for tests that run the console script against it.

Each path answers a canned JSON document, right away or dripped one byte at a
time (a provider that never quite finishes): ``drip_body`` sends the headers and
then the body byte by byte, ``drip_head`` drips the whole response, status line
first.  Started and stopped by the test itself; it never sleeps to synchronise
anything (the drip's pause is what it simulates, and stopping ends it at once).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class LocalProvider:
    """Canned answers per path; every request is recorded (path and form)."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, Any]] = {}
        self.drips: dict[str, tuple[str, float]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.provider = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, body: Any, status: int = 200) -> None:
        self.answers[path] = (status, body)

    def drip_body(self, path: str, every: float = 1.0) -> None:
        """Headers at once, then the body one byte per `every` seconds (60 bytes)."""
        self.drips[path] = ("body", every)

    def drip_head(self, path: str, every: float = 1.0) -> None:
        """The status line and headers one byte per `every` seconds."""
        self.drips[path] = ("head", every)

    def wait_for_request(self, path: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(seen == path for seen, _ in self.requests):
            assert time.monotonic() < deadline, f"no request to {path} arrived"
            self.stopping.wait(0.02)

    def close(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: test output stays readable."""

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        provider: LocalProvider = self.server.provider  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        provider.requests.append((path, {key: values[0] for key, values in form.items()}))
        status, body = provider.answers.get(path, (404, {"error": "not_found"}))
        payload = json.dumps(body).encode()
        drip = provider.drips.get(path)
        if drip is not None:
            mode, every = drip
            payload = b" " * 60 if mode == "body" else payload
            head = (
                f"HTTP/1.0 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            slow, fast = (payload, head) if mode == "body" else (head, payload)
            self._write(fast if mode == "body" else b"")
            for byte in slow:
                if not self._write(bytes([byte])) or provider.stopping.wait(every):
                    return
            self._write(fast if mode == "head" else b"")
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self._write(payload)

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up: that is what the tests wait for
            return False
        return True
