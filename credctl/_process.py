"""Keep credctl's memory out of core files and away from other processes (SPEC §14).

credctl's memory holds the passphrase, the vault's data key and decrypted
secrets.  A SIGQUIT (Ctrl-\\) at a prompt or during ``oauth login`` would otherwise
write all of it to a core file, and any process of the same user could read it
through ``/proc/PID/mem`` or a debugger.  `disable_core_dumps`, called once when
the command line starts, does two things:

- the soft ``RLIMIT_CORE`` becomes 0 (the hard limit is kept, so that the user's
  soft limit can be given back to the command ``credctl exec`` runs:
  `restore_core_limit`);
- on Linux, ``prctl(PR_SET_DUMPABLE, 0)``: no core file whatever the limit, and
  ``/proc/PID/mem``, ``environ`` and ptrace are refused to other processes of the
  same user (proc(5), prctl(2)).  ``execve`` makes a program dumpable again, so a
  command credctl starts is not affected.

Cost: ``prctl`` is reached through ``_ctypes``, the C module under `ctypes`,
because importing `ctypes` itself takes about 2 ms and this runs before every
``get-token``; if ``_ctypes`` lacks the functions used, `ctypes` is the fallback.
Failures are ignored: hardening never stops a command.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Final

_PR_SET_DUMPABLE: Final = 4
_RTLD_NOW: Final = 2

#: The soft and hard RLIMIT_CORE credctl started with (None: not changed, or no `resource`).
_original_core_limit: tuple[int, int] | None = None


def disable_core_dumps() -> None:
    """No core file of credctl, and (Linux) not dumpable; idempotent, never raises."""
    global _original_core_limit
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        if _original_core_limit is None:
            _original_core_limit = (soft, hard)
        if soft != 0:
            resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    if sys.platform.startswith("linux"):
        _prctl(_PR_SET_DUMPABLE, 0)


def original_core_limit() -> tuple[int, int] | None:
    """RLIMIT_CORE as it was before `disable_core_dumps`, or None if it was not changed."""
    return _original_core_limit


def restore_core_limit() -> None:
    """Give the user's soft RLIMIT_CORE back, for a command about to replace or leave credctl.

    Safe in credctl itself right before ``execve``: a non-dumpable process writes
    no core file whatever its limit.  Safe in a forked child (``preexec_fn``): it
    only calls `resource.setrlimit`, already imported.
    """
    if _original_core_limit is None:
        return
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, _original_core_limit)


def is_dumpable() -> bool | None:
    """``prctl(PR_GET_DUMPABLE)`` on Linux (tests and ``doctor``), None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    result = _prctl(3, 0)  # PR_GET_DUMPABLE
    return None if result is None else result != 0


def _prctl(option: int, argument: int) -> int | None:
    """Call prctl(2) with one argument; its result, or None if it could not be called."""
    try:
        import _ctypes

        handle = _ctypes.dlopen(None, _RTLD_NOW)  # type: ignore[arg-type]  # NULL: the program
        address = _ctypes.dlsym(handle, "prctl")
        # Python ints are passed as C ints; prctl reads the unused ones as unsigned
        # long, and 0 is 0 in either width on every Linux ABI.
        return int(_ctypes.call_function(address, (option, argument, 0, 0, 0)))
    except (ImportError, AttributeError, OSError, TypeError):
        pass
    try:
        import ctypes

        return int(ctypes.CDLL(None, use_errno=True).prctl(option, argument, 0, 0, 0))
    except (ImportError, AttributeError, OSError, TypeError):
        return None
