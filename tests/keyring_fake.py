"""A file-backed keyring backend for tests (PYTHON_KEYRING_BACKEND=keyring_fake.FileKeyring).

Headless CI machines have no Secret Service; this stands in for one so that
`unlock --remember` can be tested end to end through the real `keyring` API.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    """Stores entries as JSON in $FAKE_KEYRING_FILE."""

    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["FAKE_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        try:
            return dict(json.loads(self._path.read_text()))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}\0{username}"] = password
        self._path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path.write_text(json.dumps(entries))
