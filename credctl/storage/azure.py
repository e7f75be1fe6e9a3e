"""``azurekv://NAME[/PREFIX]``: sealed records in Azure Key Vault (azure-keyvault-secrets).

Each blob is one secret ``PREFIX-KEY`` (Key Vault names allow letters, digits and
dashes) whose value is the sealed blob in base64; its version id is the
revision token.  **Key Vault has no conditional write**, so compare-and-swap is
best effort here (`Capabilities.cas` says so): a write first checks that the
latest version is still the one read, sets the new value tagged with its
revision, then reads the secret back and reports a conflict if another version
won meanwhile.  Writers also take the lease in the sealed root, which makes a
lost race between two credctl writers all but impossible; the read-back catches
the rest after the fact.  Deleted secrets keep their names reserved until purged
(soft delete), so a delete writes a tombstone instead; tombstones read as
absent.  Credentials come from azure-identity's `DefaultAzureCredential`.
"""

from __future__ import annotations

import base64
from collections.abc import Hashable
from typing import Any
from urllib.parse import urlsplit

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
    from azure.core import exceptions as azure_errors
    from azure.keyvault.secrets import SecretClient
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingExtraError("Azure Key Vault", "azure", exc.name or "azure") from None

_TOMBSTONE = "-"
_DELETED_TAG = "credctl-deleted"


class AzureBackend(KvBackend):
    """A `BlobBackend` in Azure Key Vault (best-effort compare-and-swap)."""

    capabilities = Capabilities(cas="best-effort", atomic_commit=False, consistent_reads=False,
                                max_blob=18 * 1024)  # fmt: skip

    def __init__(self, name: str, prefix: str = "credctl", *, credential: Any = None,
                 vault_url: str | None = None) -> None:  # fmt: skip
        self.name = name
        self.prefix = prefix
        self.vault_url = vault_url or f"https://{name}.vault.azure.net"
        if credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:  # pragma: no cover
                raise MissingExtraError("Azure Key Vault", "azure", "azure-identity") from exc
            credential = DefaultAzureCredential()
        self.client = SecretClient(vault_url=self.vault_url, credential=credential)

    @classmethod
    def from_url(cls, url: str, *, credential: Any = None) -> AzureBackend:
        """Parse ``azurekv://NAME[/PREFIX]``."""
        parts = urlsplit(url)
        if not parts.netloc or not parts.netloc.replace("-", "").isalnum():
            raise InvalidInput(f"an Azure Key Vault URL is azurekv://NAME, not {url!r}")
        prefix = parts.path.strip("/") or "credctl"
        if not prefix.replace("-", "").isalnum():
            raise InvalidInput("an Azure Key Vault prefix is letters, digits and dashes")
        return cls(parts.netloc, prefix, credential=credential)

    def describe(self) -> str:
        """``azurekv://NAME/PREFIX``."""
        return f"azurekv://{self.name}/{self.prefix}"

    def _secret(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def _call(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return action(*args, **kwargs)
        except azure_errors.ClientAuthenticationError as exc:
            raise AccessDenied(
                f"{self.describe()} refused the Azure credentials ({type(exc).__name__})",
                hint="az login, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET; the "
                "identity needs secret get, set, list",
            ) from None
        except azure_errors.ServiceRequestError as exc:
            raise BackendUnavailableError(
                f"cannot reach {self.describe()} ({type(exc).__name__})"
            ) from None

    def _latest(self, key: str) -> Any:
        try:
            return self._call(self.client.get_secret, self._secret(key))
        except azure_errors.ResourceNotFoundError:
            return None

    def kv_get(self, key: str) -> Blob | None:
        """The latest version; None when absent or a tombstone."""
        secret = self._latest(key)
        if secret is None or (secret.properties.tags or {}).get(_DELETED_TAG):
            return None
        return Blob(key, base64.b64decode(secret.value or ""), str(secret.properties.version))

    def _write(self, key: str, value: str, expected: Hashable | None, tags: dict[str, str]) -> str:
        current = self._latest(key)
        live = current is not None and not (current.properties.tags or {}).get(_DELETED_TAG)
        if (expected is None and live) or (
            expected is not None and (current is None or current.properties.version != expected)
        ):
            raise BlobConflictError(f"{key} changed since it was read")
        written = self._call(self.client.set_secret, self._secret(key), value, tags=tags)
        version = str(written.properties.version)
        after = self._latest(key)  # no conditional write: read back who won
        if after is None or str(after.properties.version) != version:
            raise BlobConflictError(f"{key} was written by another process at the same time")
        return version

    def kv_put(self, key: str, data: bytes, expected: Hashable | None) -> Hashable:
        """Check, set, read back (best effort)."""
        return self._write(key, base64.b64encode(data).decode(), expected, {"credctl": "1"})

    def kv_delete(self, key: str, expected: Hashable) -> None:
        """A tombstone: soft-deleted names cannot be reused until purged."""
        self._write(key, _TOMBSTONE, expected, {_DELETED_TAG: "1"})

    def kv_list(self, prefix: str) -> list[str]:
        """Secret names under the prefix, tombstones left out."""
        start = self._secret(prefix)
        found = []
        try:
            for item in self._call(self.client.list_properties_of_secrets):
                name = str(item.name)
                if name.startswith(start) and not (item.tags or {}).get(_DELETED_TAG):
                    found.append(name[len(self.prefix) + 1 :])
        except azure_errors.ServiceRequestError as exc:
            raise BackendUnavailableError(f"cannot reach {self.describe()} ({exc})") from None
        return found

    def check(self) -> list[str]:
        """Reachable and allowed to list."""
        try:
            self.kv_list("keys")
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [f"{self.describe()}: {exc}"]
        return []
