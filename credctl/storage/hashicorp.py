"""``vault://HOST[:PORT]/MOUNT[/PREFIX]``: sealed records in HashiCorp Vault's KV v2 (hvac).

Each blob is one KV v2 secret at ``MOUNT/PREFIX/KEY`` (prefix default
``credctl``) holding ``{"b": base64 of the sealed blob}``; its KV version is
the revision token.  Every write passes ``cas``: the version read, or 0 for a
key that must not exist yet, so Vault itself refuses a stale write.  KV v2 has
no compare-and-swap delete: a delete first writes an empty tombstone with
``cas`` (the refusal point), then removes the metadata; a tombstone left by a
crash reads as absent.  The token comes from ``VAULT_TOKEN``; ``?tls=false``
talks plain HTTP (a development server), and ``?namespace=NS`` sets
Enterprise's namespace.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Hashable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from credctl.errors import AccessDenied, InvalidInput
from credctl.storage.blobs import (
    BackendUnavailableError,
    Blob,
    BlobConflictError,
    Capabilities,
    MissingExtraError,
)
from credctl.storage.kv import KvBackend

try:
    import hvac
    import requests
    from hvac import exceptions as hvac_errors
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingExtraError("HashiCorp Vault", "hashicorp", exc.name or "hvac") from None

_TOMBSTONE = ""


class HashicorpBackend(KvBackend):
    """A `BlobBackend` in a KV v2 secrets engine."""

    capabilities = Capabilities(cas="exact", atomic_commit=False, consistent_reads=False,
                                max_blob=512 * 1024)  # fmt: skip

    def __init__(self, address: str, mount: str, prefix: str, token: str | None,
                 namespace: str | None = None) -> None:  # fmt: skip
        self.address = address
        self.mount = mount
        self.prefix = prefix.strip("/")
        token = token or os.environ.get("VAULT_TOKEN")
        if not token:
            raise AccessDenied(
                "HashiCorp Vault needs a token", hint="set VAULT_TOKEN (e.g. from `vault login`)"
            )
        self.client = hvac.Client(url=address, token=token, namespace=namespace, timeout=10)

    @classmethod
    def from_url(cls, url: str, *, token: str | None = None) -> HashicorpBackend:
        """Parse ``vault://HOST[:PORT]/MOUNT[/PREFIX][?tls=false&namespace=NS]``."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        path = [p for p in parts.path.split("/") if p]
        if not parts.netloc or not path:
            raise InvalidInput(f"a HashiCorp Vault URL is vault://HOST/MOUNT, not {url!r}")
        scheme = "http" if query.get("tls") == "false" else "https"
        prefix = "/".join(path[1:]) or "credctl"
        return cls(f"{scheme}://{parts.netloc}", path[0], prefix, token, query.get("namespace"))

    def describe(self) -> str:
        """``vault://HOST/MOUNT/PREFIX`` (never the token)."""
        host = urlsplit(self.address).netloc
        return f"vault://{host}/{self.mount}/{self.prefix}"

    def _path(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _call(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except hvac_errors.Forbidden:
            raise AccessDenied(
                f"{self.describe()} refused the token (permission denied)",
                hint="the token's policy needs create, read, update, delete and list on "
                f"{self.mount}/data/{self.prefix}/* and {self.mount}/metadata/{self.prefix}/*",
            ) from None
        except (requests.ConnectionError, requests.Timeout, hvac_errors.VaultDown) as exc:
            raise BackendUnavailableError(
                f"cannot reach {self.describe()} ({type(exc).__name__})"
            ) from None

    def kv_get(self, key: str) -> Blob | None:
        """The latest version, None when absent, deleted or a tombstone."""
        kv = self.client.secrets.kv.v2
        try:
            answer = self._call(kv.read_secret_version, path=self._path(key),
                                mount_point=self.mount, raise_on_deleted_version=True)  # fmt: skip
        except hvac_errors.InvalidPath:
            return None
        data = answer["data"]["data"] or {}
        encoded = data.get("b", _TOMBSTONE)
        if encoded == _TOMBSTONE:
            return None
        return Blob(key, base64.b64decode(encoded), int(answer["data"]["metadata"]["version"]))

    def _version(self, key: str) -> int:
        """The current version number (0 when the key has no metadata)."""
        try:
            meta = self._call(self.client.secrets.kv.v2.read_secret_metadata,
                              path=self._path(key), mount_point=self.mount)  # fmt: skip
        except hvac_errors.InvalidPath:
            return 0
        return int(meta["data"]["current_version"])

    def kv_put(self, key: str, data: bytes, expected: Hashable | None) -> Hashable:
        """Write with ``cas`` = the version read (0: must not exist)."""
        cas = int(expected) if expected is not None else 0  # type: ignore[call-overload]
        if expected is None:
            current = self._version(key)  # a tombstone left by a crash may be replaced
            if current and self.kv_get(key) is None:
                cas = current
        secret = {"b": base64.b64encode(data).decode()}
        try:
            answer = self._call(self.client.secrets.kv.v2.create_or_update_secret,
                                path=self._path(key), secret=secret, cas=cas,
                                mount_point=self.mount)  # fmt: skip
        except hvac_errors.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise BlobConflictError(f"{key} changed since it was read") from None
            raise
        return int(answer["data"]["version"])

    def kv_delete(self, key: str, expected: Hashable) -> None:
        """Tombstone with ``cas`` (refused if stale), then remove every version."""
        try:
            self._call(self.client.secrets.kv.v2.create_or_update_secret, path=self._path(key),
                       secret={"b": _TOMBSTONE}, cas=int(expected),  # type: ignore[call-overload]
                       mount_point=self.mount)  # fmt: skip
        except hvac_errors.InvalidRequest as exc:
            if "check-and-set" in str(exc):
                raise BlobConflictError(f"{key} changed since it was read") from None
            raise
        self._call(self.client.secrets.kv.v2.delete_metadata_and_all_versions,
                   path=self._path(key), mount_point=self.mount)  # fmt: skip

    def kv_list(self, prefix: str) -> list[str]:
        """Keys under the prefix (KV v2 lists one folder: credctl keys have no slash)."""
        try:
            answer = self._call(self.client.secrets.kv.v2.list_secrets, path=self.prefix,
                                mount_point=self.mount)  # fmt: skip
        except hvac_errors.InvalidPath:
            return []
        return [k for k in answer["data"]["keys"] if k.startswith(prefix) and "/" not in k]

    def check(self) -> list[str]:
        """Reachable, the token valid, the mount a KV v2 engine."""
        try:
            self._call(self.client.lookup_token)
            self.kv_list("")
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [f"{self.describe()}: {exc}"]
        return []
