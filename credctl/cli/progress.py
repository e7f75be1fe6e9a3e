"""A spinner on stderr while Argon2id derives a key: 0.4–3 s that would otherwise be silent.

Installed for every command, it costs nothing until a derivation actually runs:
only then is rich imported.  Reading a token with a session or a CI key never
derives a key, so `get-token` stays on the fast path.  Shown only when stderr is
a terminal and --quiet was not given.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from credctl.vault.crypto import KdfParams


def install(*, quiet: bool, color: bool) -> None:
    """Show a spinner around each later key derivation, when stderr is a terminal."""
    if quiet or not sys.stderr or not sys.stderr.isatty():
        return
    from credctl.vault import crypto

    @contextlib.contextmanager
    def spinner(params: KdfParams) -> Iterator[None]:
        from rich.console import Console

        console = Console(stderr=True, no_color=not color, highlight=False)
        text = f"deriving the key (Argon2id, {params.memory_kib // 1024} MiB)…"
        with console.status(text, spinner="dots"):
            yield

    crypto.observe_kdf(spinner)
