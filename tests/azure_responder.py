"""Azure Key Vault's secrets API, answered with recorded-shape responses (`responses`).

No Key Vault emulator is installable here, so the Azure backend's tests answer the
SDK's HTTP requests with responses shaped like the service's (api-version 7.x):
the bearer challenge of a first, unauthenticated request (401 with
``WWW-Authenticate``), ``GET /secrets/NAME/`` (the latest version, or 404
``SecretNotFound``), ``PUT /secrets/NAME`` (a new version with a fresh id, tags
kept) and ``GET /secrets`` (the list, without values).  State is kept in memory
so the contract tests can run; Key Vault has no conditional write, and neither
does this responder.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import responses

_CHALLENGE = (
    'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-'
    '000000000000", resource="https://vault.azure.net"'
)


class FakeCredential:
    """A `TokenCredential` that hands out an obviously fake token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("FAKE-AZURE-TOKEN", int(time.time()) + 3600)


@contextmanager
def azure_vault(name: str) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Answer https://NAME.vault.azure.net while the block runs; yields the stored secrets."""
    base = f"https://{name}.vault.azure.net"
    secrets: dict[str, list[dict[str, Any]]] = {}
    lock = threading.Lock()

    def bundle(secret: str, version: dict[str, Any], with_value: bool = True) -> dict[str, Any]:
        out = {"id": f"{base}/secrets/{secret}/{version['version']}",
               "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000,
                              "recoveryLevel": "Recoverable+Purgeable"},
               "tags": version["tags"]}  # fmt: skip
        if with_value:
            out["value"] = version["value"]
        return out

    def authorised(request: Any) -> bool:
        return request.headers.get("Authorization") == "Bearer FAKE-AZURE-TOKEN"

    def handle(request: Any) -> tuple[int, dict[str, str], str]:
        if not authorised(request):
            return 401, {"WWW-Authenticate": _CHALLENGE}, json.dumps(
                {"error": {"code": "Unauthorized", "message": "no token"}})  # fmt: skip
        path = request.path_url.split("?", 1)[0]
        found = re.fullmatch(r"/secrets/([A-Za-z0-9-]+)/?", path)
        with lock:
            if path.rstrip("/") == "/secrets" and request.method == "GET":
                items = [bundle(n, v[-1], with_value=False) | {"id": f"{base}/secrets/{n}"}
                         for n, v in sorted(secrets.items())]  # fmt: skip
                return 200, {}, json.dumps({"value": items, "nextLink": None})
            if found is None:
                return 400, {}, json.dumps({"error": {"code": "BadParameter", "message": path}})
            secret = found.group(1)
            if request.method == "GET":
                versions = secrets.get(secret)
                if not versions:
                    return 404, {}, json.dumps({"error": {
                        "code": "SecretNotFound", "message": f"A secret with (name/id) {secret} "
                        "was not found in this key vault."}})  # fmt: skip
                return 200, {}, json.dumps(bundle(secret, versions[-1]))
            if request.method == "PUT":
                body = json.loads(request.body or b"{}")
                version = {"version": uuid.uuid4().hex, "value": body["value"],
                           "tags": body.get("tags") or {}}  # fmt: skip
                secrets.setdefault(secret, []).append(version)
                return 200, {}, json.dumps(bundle(secret, version))
        return 405, {}, "{}"

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        pattern = re.compile(re.escape(base) + r"/secrets.*")
        for method in ("GET", "PUT"):
            mock.add_callback(method, pattern, callback=handle, content_type="application/json")
        yield secrets
