"""Where credctl keeps things by default."""

from __future__ import annotations

import os
from pathlib import Path

VAULT_FILE_NAME = "vault.credctl"


def default_vault_path() -> Path:
    """`CREDCTL_VAULT`, else ``vault.credctl`` in the user data folder (platformdirs)."""
    configured = os.environ.get("CREDCTL_VAULT")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("credctl")) / VAULT_FILE_NAME
