"""Real peers the tests need (shells, Chromium, node packages): the one place that decides
what happens when one is missing.

Without ``CREDCTL_REQUIRE_PEERS=1`` a missing peer skips the test with a banner
nobody can miss.  ``.ci/run`` sets it (``scripts/test`` installs every peer), and then
a missing peer fails the test, except a peer that no Debian package provides (pwsh),
which still skips loudly.  A peer that is installed but does not start is always a
failure: that is a broken test set-up, not a missing program.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import NoReturn

import pytest

REQUIRE_ENV = "CREDCTL_REQUIRE_PEERS"
# Read once at import: the tests' isolated environment drops every CREDCTL_ variable.
REQUIRED = os.environ.get(REQUIRE_ENV) == "1"

# Peers no Debian 12 package provides: scripts/test cannot install them, so they skip
# even when peers are required.
NOT_INSTALLABLE = {"pwsh": "PowerShell is no Debian package"}


def _banner(text: str) -> None:
    line = "!" * 78
    sys.stderr.write(f"\n{line}\n{text}\n{line}\n")


def peer_missing(name: str, reason: str) -> NoReturn:
    """Peer `name` is not installed (`reason` says so): skip loudly, or fail when peers
    are required."""
    if name in NOT_INSTALLABLE:
        message = f"NOT TESTED: {reason} ({NOT_INSTALLABLE[name]})"
        _banner(message)
        pytest.skip(message)
    if REQUIRED:
        message = f"PEER MISSING: {reason} ({REQUIRE_ENV}=1: a missing peer fails)"
        _banner(message)
        pytest.fail(message, pytrace=False)
    message = f"NOT TESTED: {reason} (scripts/test installs it)"
    _banner(message)
    pytest.skip(message)


def peer_failed(name: str, reason: str) -> NoReturn:
    """`name` is installed but did not start or work: always a failure."""
    message = f"PEER FAILED: {name}: {reason}"
    _banner(message)
    pytest.fail(message, pytrace=False)


def which_peer(program: str, package: str | None = None) -> str:
    """The path of `program`, or `peer_missing` naming the Debian package to install."""
    found = shutil.which(program)
    if found is None:
        install = f"; `apt-get install {package}`" if package else ""
        peer_missing(program, f"{program} is not on PATH{install}")
    return found
