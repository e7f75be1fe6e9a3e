"""A small OAuth 2.0 provider and API on 127.0.0.1, for the seed's examples.

It does what the seed's examples need from "google" and from
``https://api.example.com``: OpenID Connect discovery (a seed reader who cannot
reach Google names this provider by ``"issuer"`` where the seed says
``"provider": "google"``), the authorization code grant with PKCE S256 (the
browser's part is `browse`: it reads the authorization URL, checks it and returns
the address the browser would end on), refresh tokens that rotate, and a ``/data``
endpoint that wants ``Authorization: Bearer <a live access token>``.  Every token
it issues is an obviously fake ``FAKE-SECRET-…`` value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "seed-client"
CLIENT_SECRET = "FAKE-SECRET-client"


class SeedProvider:
    """The provider; `url` is its base address, `lifetime` the access tokens' lifetime."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self._codes: dict[str, dict[str, str]] = {}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.grants: list[str] = []
        self.api_calls: list[str | None] = []  # the Authorization header of each /data call
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.provider = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def metadata(self) -> dict[str, Any]:
        """The discovery document."""
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "scopes_supported": ["openid", "email", "profile"],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        }

    def get(self, path: str, headers: dict[str, str]) -> int:
        """The seed's ``reqwest`` call: GET `path` with `headers`; the status."""
        connection = http.client.HTTPConnection("127.0.0.1", self._server.server_address[1],
                                                timeout=10)  # fmt: skip
        try:
            connection.request("GET", path, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _mint(self, kind: str) -> str:
        return f"FAKE-SECRET-{kind}-{next(self._counter):04d}"

    def browse(self, auth_url: str) -> str:
        """The person logs in and consents: the redirect address the browser ends on."""
        parts = urlsplit(auth_url)
        assert f"{parts.scheme}://{parts.netloc}" == self.url, auth_url
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        assert query["response_type"] == "code", query
        assert query["client_id"] == CLIENT_ID, query
        assert query["code_challenge_method"] == "S256", query
        with self._lock:
            code = self._mint("code")
            self._codes[code] = {"redirect_uri": query["redirect_uri"],
                                 "challenge": query["code_challenge"]}  # fmt: skip
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not hmac.compare_digest((authorization or "").encode(), expected.encode()):
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type", "")
        with self._lock:
            if grant == "authorization_code":
                issued = self._codes.pop(form.get("code", ""), None)
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if issued is None or issued["redirect_uri"] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}
                if issued["challenge"] != challenge:
                    return 400, {"error": "invalid_grant"}
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant"}
                self.refresh_tokens.discard(form["refresh_token"])  # rotated
            else:
                return 400, {"error": "unsupported_grant_type"}
            self.grants.append(grant)
            access, refresh = self._mint("at"), self._mint("rt")
            self.access_tokens.add(access)
            self.refresh_tokens.add(refresh)
        return 200, {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                     "expires_in": self.lifetime, "scope": "email profile"}  # fmt: skip

    def data(self, authorization: str | None) -> tuple[int, Any]:
        self.api_calls.append(authorization)
        scheme, _, token = (authorization or "").partition(" ")
        if scheme != "Bearer" or token not in self.access_tokens:
            return 401, {"error": "invalid_token"}
        return 200, {"data": "the seed's api.example.com answer"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request line of a callback would carry a code."""

    def do_GET(self) -> None:
        provider: SeedProvider = self.server.provider  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        if path == "/data":
            self._send(*provider.data(self.headers.get("Authorization")))
        elif path == "/.well-known/openid-configuration":
            self._send(200, provider.metadata())
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        provider: SeedProvider = self.server.provider  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if urlsplit(self.path).path == "/token":
            self._send(*provider.token(form, self.headers.get("Authorization")))
        else:
            self._send(404, {"error": "not_found"})

    def _send(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
