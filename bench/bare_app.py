"""The reference of bench_serve.py: bare FastAPI endpoints on credctl serve's settings.

Usage:  python bench/bare_app.py SIZE_FILE

Serves on 127.0.0.1 (a free port, printed as ``port N`` on stdout):

- ``GET /bare``: a constant envelope with one credential item, the smallest
  answer an API of this shape can give (the reference of ``GET /credentials/{id}``);
- ``GET /bare-list``: constant bytes as large as the list answer of credctl serve
  (read from SIZE_FILE), the reference of ``GET /credentials/``.

uvicorn runs exactly as `credctl.server.run` configures it: one worker, the
default event loop and HTTP parser (uvloop and httptools when installed), no
proxy headers, no server header, no access log.
"""

from __future__ import annotations

import json
import socket
import sys

import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

ITEM = {"id": 1, "name": "github_api", "credential_type": "token",
        "created_at": "2025-11-01T10:00:00Z", "updated_at": "2025-11-01T10:00:00Z"}  # fmt: skip


def main() -> int:
    size = int(open(sys.argv[1]).read()) if len(sys.argv) > 1 else 150_000  # noqa: SIM115
    one = json.dumps({"success": True, "message": "Success", "data": ITEM}).encode()
    big = json.dumps({"success": True, "message": "Success", "data": "x" * size}).encode()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/bare")
    async def bare() -> Response:
        return Response(one, media_type="application/json")

    @app.get("/bare-list")
    async def bare_list() -> Response:
        return Response(big, media_type="application/json")

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    sys.stdout.write(f"port {sock.getsockname()[1]}\n")
    sys.stdout.flush()
    config = uvicorn.Config(app, proxy_headers=False, server_header=False, access_log=False,
                            log_level="warning", lifespan="off")  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
