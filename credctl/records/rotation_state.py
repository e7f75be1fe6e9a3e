"""The rotation state a credential's record carries: policy, schedule, pending rotation.

Everything lives in ``extra["rotation"]`` of the record, inside the encrypted
backend:

- ``policy``: the stored `RotationPolicy` (`credctl.rotation.policy`);
- ``scheduled_at``: a one-off rotation time (``schedule NAME --at T``);
- ``pending``: a rotation under way (AWS's ``AWSPENDING``): a random ``token``
  naming the attempt, ``started_at``, the owner process (``pid``, its start
  time ``pid_start`` so a reused pid is not mistaken for it, ``host``), the
  ``step`` reached (``started``: no new secret yet; ``created``: the new data is
  stored in ``data``), and what the rotation needs to finish: ``strategy``,
  ``grace``, ``test_command``, ``timeout``, ``window`` (seconds), and for oauth2
  the renewed non-secret ``oauth`` state.

A pending rotation whose owner process is gone (same host, pid not running or
started at another time) is *interrupted*; one older than its window is
*stuck*.  Both are reported; see `credctl.records.rotation` for who finishes or
rolls them back.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import VaultCorruptError

if TYPE_CHECKING:
    from credctl.records.stored import StoredCredential
    from credctl.rotation.policy import RotationPolicy

ROTATION: Final = "rotation"
STARTED: Final = "started"
CREATED: Final = "created"


def state(credential: StoredCredential) -> dict[str, Any]:
    """The record's rotation state (an empty dict when it has none)."""
    value = credential.extra.get(ROTATION, {})
    if not isinstance(value, dict):
        raise VaultCorruptError(f"the rotation state of credential {credential.id} is malformed")
    return value


def policy(credential: StoredCredential) -> RotationPolicy | None:
    """The credential's rotation policy, or None."""
    stored = state(credential).get("policy")
    if stored is None:
        return None
    from credctl.rotation.policy import RotationPolicy

    return RotationPolicy.from_stored(stored)


def scheduled_at(credential: StoredCredential) -> dt.datetime | None:
    """The one-off rotation time set by `schedule`, or None."""
    value = state(credential).get("scheduled_at")
    if value is None:
        return None
    from credctl.records.versions import moment

    return moment(value, "schedule")


def pending(credential: StoredCredential) -> dict[str, Any] | None:
    """The pending rotation, or None."""
    value = state(credential).get("pending")
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("token"), str):
        raise VaultCorruptError(f"the pending rotation of credential {credential.id} is malformed")
    return value


def with_state(credential: StoredCredential, **changes: Any) -> dict[str, Any]:
    """`extra` changes that set keys of the rotation state (a None value removes one)."""
    merged = dict(state(credential))
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return {ROTATION: merged}


def pending_since(entry: dict[str, Any]) -> dt.datetime:
    """When a pending rotation started."""
    from credctl.records.versions import moment

    return moment(entry.get("started_at"), "rotation start")


def process_start(pid: int) -> str | None:
    """The start time of process `pid` (Linux ``/proc``), None when unknown or gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # Field 22 (starttime) follows the command name, which may hold spaces: split after ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    return fields[19].decode() if len(fields) > 19 else None


def owner() -> dict[str, Any]:
    """This process, as a pending rotation's owner."""
    from credctl.records.activity import local_host

    pid = os.getpid()
    return {"pid": pid, "pid_start": process_start(pid), "host": local_host()}


def owner_gone(entry: dict[str, Any]) -> bool:
    """True when the process that owns a pending rotation surely no longer runs."""
    from credctl.records.activity import local_host

    if entry.get("host") != local_host():
        return False  # another machine: only its window can tell
    pid = entry.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return True
    started = process_start(pid)
    if started is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False  # no /proc: the pid runs, assume it is the owner
    return entry.get("pid_start") is not None and started != entry.get("pid_start")


def is_stuck(entry: dict[str, Any], now: dt.datetime) -> bool:
    """True when a pending rotation is interrupted or older than its window."""
    window = entry.get("window")
    seconds = window if isinstance(window, int) and not isinstance(window, bool) else 3600
    return owner_gone(entry) or now - pending_since(entry) > dt.timedelta(seconds=seconds)
