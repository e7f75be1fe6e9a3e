"""From a backend URL to a `BlobBackend` and a `SealedStorage` (SPEC §13).

Each engine's module is imported only when its URL is used, and its Python
package only inside that module, so `get-token` on the vault file imports none
of them.  A missing package is a clear error naming the extra to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from credctl.errors import InvalidInput

if TYPE_CHECKING:
    from credctl.storage.blobs import BlobBackend
    from credctl.storage.sealed import SealedStorage
    from credctl.vault.slot_ops import Unlocker

#: What ``--backend`` accepts, for hints.
FORMS = (
    "sqlite:///PATH, postgresql://USER@HOST/DB, vault://HOST/MOUNT, awssm://REGION/PREFIX, "
    "azurekv://NAME"
)


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def open_blob_backend(url: str, *, token: str | None = None) -> BlobBackend:
    """The engine a URL names (nothing is contacted yet)."""
    from credctl.storage.backend_vault import default_lock_timeout

    scheme = url.split(":", 1)[0].lower()
    query = _query(url)
    space = query.get("space", "default")
    if scheme == "sqlite":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise InvalidInput(f"a SQLite URL is sqlite:///PATH, not {url!r}")
        from credctl.storage.sqlite import SqliteBackend

        return SqliteBackend(Path(unquote(parts.path)), space=space,
                             timeout=default_lock_timeout())  # fmt: skip
    if scheme in ("postgresql", "postgres"):
        from credctl.storage.postgres import PostgresBackend

        return PostgresBackend(url, space=space, timeout=default_lock_timeout())
    if scheme == "vault":
        from credctl.storage.hashicorp import HashicorpBackend

        return HashicorpBackend.from_url(url, token=token)
    if scheme == "awssm":
        from credctl.storage.aws import AwsBackend

        return AwsBackend.from_url(url)
    if scheme == "azurekv":
        from credctl.storage.azure import AzureBackend

        return AzureBackend.from_url(url)
    raise InvalidInput(f"unknown storage backend {scheme!r}", hint=f"use {FORMS}")


def open_backend_storage(
    url: str, *, token: str | None = None, unlocker: Unlocker | None = None
) -> SealedStorage:
    """A `SealedStorage` on the engine a URL names, unlocked by `unlocker`
    (default: the standard sources of SPEC §5)."""
    from credctl.storage.sealed import SealedStorage

    if unlocker is None:
        from credctl.vault.unlock import EnvironmentUnlocker, terminal_prompt

        unlocker = EnvironmentUnlocker(prompt=terminal_prompt())
    return SealedStorage(open_blob_backend(url, token=token), unlocker)


def redact(url: str) -> str:
    """The URL without a password (for messages and `doctor`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()
