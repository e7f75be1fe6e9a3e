"""Where credctl keeps things by default."""

from __future__ import annotations

import os
import sys
from pathlib import Path

VAULT_FILE_NAME = "vault.credctl"
APP_NAME = "credctl"


def user_data_dir() -> str:
    """``platformdirs.user_data_dir("credctl")``, without importing platformdirs on Linux.

    platformdirs costs a command several milliseconds at start (it imports shutil,
    tempfile, lzma and bz2), and on Linux its answer is the XDG rule below, which
    tests/test_paths.py checks against platformdirs itself.  Elsewhere (macOS,
    Windows, the BSDs) platformdirs decides.
    """
    if sys.platform.startswith("linux"):
        # The XDG rule as platformdirs applies it: an absolute $XDG_DATA_HOME, else
        # $HOME/.local/share.  Anything unusual (a relative value, no HOME) goes to
        # platformdirs itself.
        xdg, home = os.environ.get("XDG_DATA_HOME", ""), os.environ.get("HOME", "")
        if os.path.isabs(xdg):
            return os.path.join(xdg, APP_NAME)
        if os.path.isabs(home):
            return os.path.join(home.rstrip("/") or "/", ".local/share", APP_NAME)
    import platformdirs

    return str(platformdirs.user_data_dir(APP_NAME))


def default_vault_path() -> Path:
    """`CREDCTL_VAULT`, else ``vault.credctl`` in the user data folder (platformdirs)."""
    configured = os.environ.get("CREDCTL_VAULT")
    if configured:
        return Path(configured).expanduser()
    return Path(user_data_dir()) / VAULT_FILE_NAME
