"""A small HashiCorp Vault KV v2 server for tests: Vault's documented semantics, in memory.

No Vault binary is installable here, so the backend's contract tests run against
this server (and against a real Vault when ``VAULT_ADDR``/``VAULT_TOKEN`` are set).
It copies what the backend relies on, from Vault's KV v2 API documentation:

- ``GET /v1/MOUNT/data/PATH``: the latest version and its metadata; 404 when there
  is none or the latest version was deleted (the 404 carries the metadata then);
- ``POST /v1/MOUNT/data/PATH`` with ``options.cas``: refused with 400 and
  "check-and-set parameter did not match the current version" unless ``cas``
  equals the current version (0: the key must not exist); versions count from 1;
- ``GET``/``LIST``/``DELETE /v1/MOUNT/metadata/PATH``: metadata, the keys of a
  folder (sub-folders end with ``/``; 404 when empty), delete every version;
- a wrong ``X-Vault-Token`` is 403 "permission denied"; ``/v1/auth/token/lookup-self``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class KvStore:
    """Secrets by path: a list of versions (each data or None when deleted)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.secrets: dict[str, list[dict[str, Any] | None]] = {}


def _handler(store: KvStore, token: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            return

        def _send(self, status: int, body: object | None = None) -> None:
            raw = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _route(self, method: str) -> None:
            if self.headers.get("X-Vault-Token") != token:
                self._send(403, {"errors": ["permission denied"]})
                return
            path = self.path.split("?", 1)[0]
            if path == "/v1/auth/token/lookup-self":
                self._send(200, {"data": {"policies": ["default"], "ttl": 0}})
                return
            parts = path.split("/", 4)  # '', 'v1', mount, kind, rest
            if len(parts) < 4 or parts[1] != "v1":
                self._send(404, {"errors": []})
                return
            kind, rest = parts[3], parts[4] if len(parts) > 4 else ""
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            if "list=true" in self.path:
                method = "LIST"
            with store.lock:
                self._answer(method, kind, rest, body)

        def _meta(self, versions: list[dict[str, Any] | None]) -> dict[str, Any]:
            return {"version": len(versions), "created_time": "2024-01-01T00:00:00Z",
                    "deletion_time": "" if versions[-1] is not None else "2024-01-01T00:00:00Z",
                    "destroyed": False, "custom_metadata": None}  # fmt: skip

        def _answer(self, method: str, kind: str, rest: str, body: dict[str, Any]) -> None:
            versions = store.secrets.get(rest)
            if kind == "data" and method == "GET":
                if not versions or versions[-1] is None:
                    data = {"data": None, "metadata": self._meta(versions)} if versions else None
                    self._send(404, {"errors": [], **({"data": data} if data else {})})
                    return
                self._send(200, {"data": {"data": versions[-1], "metadata": self._meta(versions)}})
            elif kind == "data" and method in ("POST", "PUT"):
                cas = (body.get("options") or {}).get("cas")
                current = len(versions or [])
                if cas is not None and int(cas) != current:
                    self._send(
                        400,
                        {"errors": ["check-and-set parameter did not match the current version"]},
                    )
                    return
                store.secrets.setdefault(rest, []).append(dict(body.get("data") or {}))
                self._send(200, {"data": self._meta(store.secrets[rest])})
            elif kind == "metadata" and method == "GET":
                if not versions:
                    self._send(404, {"errors": []})
                    return
                self._send(200, {"data": {"current_version": len(versions),
                                          "versions": {str(i + 1): {} for i in
                                                       range(len(versions))}}})  # fmt: skip
            elif kind == "metadata" and method == "DELETE":
                store.secrets.pop(rest, None)
                self._send(204)
            elif kind == "metadata" and method == "LIST":
                folder = rest.rstrip("/") + "/" if rest else ""
                keys = set()
                for name, kept in store.secrets.items():
                    if name.startswith(folder) and kept:
                        tail = name[len(folder) :]
                        keys.add(tail.split("/", 1)[0] + ("/" if "/" in tail else ""))
                if not keys:
                    self._send(404, {"errors": []})
                    return
                self._send(200, {"data": {"keys": sorted(keys)}})
            else:
                self._send(405, {"errors": [f"unsupported {method} {kind}"]})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_LIST(self) -> None:
            self._route("LIST")

    return Handler


@contextmanager
def kv2_server(token: str = "FAKE-VAULT-TOKEN") -> Iterator[str]:  # noqa: S107 - a fake
    """Serve on a free 127.0.0.1 port; yields the address ``127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(KvStore(), token))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        time.sleep(0)
