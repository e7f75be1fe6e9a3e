"""Version history inside a credential's record, and the ids that rotations retired.

A credential keeps its older versions in its own record (``extra["versions"]``,
oldest first; each with its data, the id it had, when, by whom, why, and under
blue-green the end of its grace period), so old secrets stay inside the
encrypted backend and are destroyed with the credential.  ``extra
["version_info"]`` says when, by whom and why the current version was made.
At most ``max_versions`` versions are kept, the current one included (ten by
default); a version still in its grace period is never dropped.

A rotation gives the credential a new id.  The backend's settings map each
retired id to the id it was rotated to (``rotated_ids``, kept flat so one look-up
finds the current id), so a retired id answers `NotFound` with a hint naming the
new id, and under blue-green the old id (and ``NAME@previous``) still reads the
previous version until its grace period ends.  Such a read returns a
*version*: a `StoredCredential` built from the kept entry, marked with
``version_of``, which the record layer never writes back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from credctl.errors import NotFound, VaultCorruptError
from credctl.records.stored import VERSION_OF, StoredCredential

if TYPE_CHECKING:
    from credctl.records.refs import Ref
    from credctl.records.store import RecordView

VERSIONS: Final = "versions"
VERSION_INFO: Final = "version_info"
#: Settings key: retired id (as text) -> the credential's current id.
RETIRED_IDS: Final = "rotated_ids"
PREVIOUS_SUFFIX: Final = "@previous"

CURRENT: Final = "current"
PREVIOUS: Final = "previous"
RETIRED: Final = "retired"


class CredentialVersion(NamedTuple):
    """One version of a credential, as `history` lists it (never its data)."""

    version: int
    credential_id: int
    created_at: dt.datetime
    user: str | None
    reason: str
    state: str
    grace_until: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """One object of `history --json`."""
        from credctl._time import format_rfc3339

        return {
            "version": self.version,
            "id": self.credential_id,
            "created_at": format_rfc3339(self.created_at),
            "user": self.user,
            "reason": self.reason,
            "state": self.state,
            "grace_until": format_rfc3339(self.grace_until) if self.grace_until else None,
        }


# -- reading the stored history ----------------------------------------------------------


def kept(credential: StoredCredential) -> list[dict[str, Any]]:
    """The older versions kept in the record, oldest first (each with its data)."""
    entries = credential.extra.get(VERSIONS, [])
    if not isinstance(entries, list) or not all(_valid_entry(e) for e in entries):
        raise VaultCorruptError(f"the version history of credential {credential.id} is malformed")
    return entries


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and _is_int(entry.get("version"))
        and _is_int(entry.get("id"))
        and isinstance(entry.get("data"), dict)
        and isinstance(entry.get("created_at"), str)
        and isinstance(entry.get("reason"), str)
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def current_info(credential: StoredCredential) -> dict[str, Any]:
    """When, by whom and why the current version was made (guessed for older records)."""
    info = credential.extra.get(VERSION_INFO)
    if isinstance(info, dict) and isinstance(info.get("created_at"), str):
        return info
    return {
        "created_at": credential.created_at,
        "user": None,
        "reason": "create" if credential.version == 1 else "update",
    }


def moment(text: Any, what: str) -> dt.datetime:
    """A stored RFC 3339 time; damage (exit 6) when it is not one."""
    from credctl._time import parse_rfc3339

    try:
        return parse_rfc3339(text)
    except ValueError:
        raise VaultCorruptError(f"a stored {what} time is malformed") from None


def last_rotated(credential: StoredCredential) -> dt.datetime:
    """When the current secret was set (what a rotation interval counts from)."""
    return moment(current_info(credential)["created_at"], "version")


def grace_until(entry: Mapping[str, Any]) -> dt.datetime | None:
    """When a kept version's grace period ends, or None when it has none."""
    value = entry.get("grace_until")
    return moment(value, "grace") if value is not None else None


def in_grace(entry: Mapping[str, Any], now: dt.datetime) -> bool:
    """True while a kept version is still readable under its old id."""
    until = grace_until(entry)
    return until is not None and now < until


def history(credential: StoredCredential, now: dt.datetime) -> list[CredentialVersion]:
    """Every kept version, oldest first, the current one last."""
    versions = [_listed(entry, now) for entry in kept(credential)]
    info = current_info(credential)
    created = moment(info["created_at"], "version")
    reason = str(info.get("reason", "update"))
    versions.append(
        CredentialVersion(
            credential.version, credential.id, created, info.get("user"), reason, CURRENT
        )
    )
    return versions


def _listed(entry: Mapping[str, Any], now: dt.datetime) -> CredentialVersion:
    state = PREVIOUS if in_grace(entry, now) else RETIRED
    created = moment(entry["created_at"], "version")
    return CredentialVersion(int(entry["version"]), int(entry["id"]), created,
                             entry.get("user"), str(entry["reason"]), state,
                             grace_until(entry))  # fmt: skip


# -- writing a new version ---------------------------------------------------------------


def pushed(
    credential: StoredCredential,
    *,
    reason: str,
    user: str | None,
    now: dt.datetime,
    max_versions: int,
    old_grace_until: dt.datetime | None = None,
) -> dict[str, Any]:
    """The record's `extra` for its next version: the current data kept as an older one.

    The oldest versions beyond `max_versions` (the new current one included) are
    dropped, except those still in a grace period.
    """
    from credctl._time import format_rfc3339

    info = current_info(credential)
    entry: dict[str, Any] = {
        "version": credential.version,
        "id": credential.id,
        "data": credential.data,
        "created_at": info["created_at"],
        "user": info.get("user"),
        "reason": info.get("reason", "update"),
    }
    if old_grace_until is not None:
        entry["grace_until"] = format_rfc3339(old_grace_until)
    older = settled(credential, now) or kept(credential)  # ended grace periods: retired
    entries = prune([*older, entry], max_versions - 1, now)
    return {
        **credential.extra,
        VERSIONS: entries,
        VERSION_INFO: {"created_at": format_rfc3339(now), "user": user, "reason": reason},
    }


def prune(entries: list[dict[str, Any]], keep: int, now: dt.datetime) -> list[dict[str, Any]]:
    """`entries` without the oldest beyond `keep`, never one still in its grace period."""
    out = list(entries)
    index = 0
    while len(out) > keep and index < len(out):
        if in_grace(out[index], now):
            index += 1
        else:
            del out[index]
    return out


def settled(credential: StoredCredential, now: dt.datetime) -> list[dict[str, Any]] | None:
    """The kept versions with ended grace periods recorded as retired; None if none ended."""
    entries = kept(credential)
    ended = [e for e in entries if "grace_until" in e and not in_grace(e, now)]
    if not ended:
        return None
    return [
        {k: v for k, v in e.items() if k != "grace_until"} if e in ended else e for e in entries
    ]


# -- reading an older version ------------------------------------------------------------


def as_version(
    current: StoredCredential, entry: Mapping[str, Any], *, credential_id: int | None = None
) -> StoredCredential:
    """A read-only credential holding a kept version's data (marked `VERSION_OF`)."""
    return current.replace(
        id=int(entry["id"]) if credential_id is None else credential_id,
        data=dict(entry["data"]),
        version=int(entry["version"]),
        created_at=str(entry["created_at"]),
        updated_at=str(entry["created_at"]),
        extra={VERSION_OF: current.id},
    )


def is_version(credential: StoredCredential) -> bool:
    """True for an older version built by this module (never written back)."""
    return credential.is_old_version


def at_version(view: RecordView, credential: StoredCredential, number: int) -> StoredCredential:
    """Version `number` of `credential` (the current one, or a kept one), or `NotFound`."""
    base = credential
    if is_version(credential):
        found = view.get(int(credential.extra[VERSION_OF]))
        if found is None:
            raise NotFound(f"no credential with id {credential.extra[VERSION_OF]!r}")
        base = found
    if number == base.version:
        return base
    entries = kept(base)
    for entry in entries:
        if entry["version"] == number:
            return as_version(base, entry, credential_id=base.id)
    numbers = ", ".join(str(n) for n in [*(e["version"] for e in entries), base.version])
    raise NotFound(
        f"version {number} of {base.name!r} is not kept",
        hint=f"kept versions: {numbers} (see `credctl history {base.name}`)",
        credential_id=base.id,
    )


def find_retired(view: RecordView, ref: Ref, now: dt.datetime) -> StoredCredential | None:
    """What `ref` names when no current credential does: a version in its grace period.

    ``NAME@previous`` is the newest kept version while its grace period lasts; a
    retired id is that version while its grace lasts, else `NotFound` naming the
    id it was rotated to.  None when `ref` never named a rotated credential.
    """
    from credctl.records.refs import as_id

    if isinstance(ref, str) and ref.endswith(PREVIOUS_SUFFIX):
        current = view.find(ref[: -len(PREVIOUS_SUFFIX)])
        entries = kept(current)
        if entries and in_grace(entries[-1], now):
            return as_version(current, entries[-1])
        raise NotFound(
            f"{current.name!r} has no previous version in a grace period",
            hint=f"older versions are read with `credctl get-token {current.name} --version N` "
            f"(see `credctl history {current.name}`)",
            credential_id=current.id,
        )
    credential_id = as_id(ref)
    if credential_id is None:
        return None
    target = view.meta.get(RETIRED_IDS, {}).get(str(credential_id))
    found = view.get(target) if _is_int(target) else None
    if found is None:
        return None
    for entry in reversed(kept(found)):
        if entry["id"] == credential_id and in_grace(entry, now):
            return as_version(found, entry)
    raise NotFound(
        f"credential id {credential_id} was retired: rotated to id {found.id} ({found.name!r})",
        hint=f"use the name {found.name!r} (names follow rotations) or id {found.id}",
        credential_id=credential_id,
    )


# -- the retired-id map in the settings ----------------------------------------------------


def _retired(settings: MutableMapping[str, Any]) -> dict[str, Any]:
    mapping = settings.get(RETIRED_IDS)
    if not isinstance(mapping, dict):
        mapping = {}
        settings[RETIRED_IDS] = mapping
    return mapping


def record_retired(settings: MutableMapping[str, Any], old_id: int, new_id: int) -> None:
    """Remember that `old_id` was rotated to `new_id` (earlier ids now point there too)."""
    mapping = _retired(settings)
    for key, value in mapping.items():
        if value == old_id:
            mapping[key] = new_id
    mapping[str(old_id)] = new_id
    keys = settings.get("idempotency")
    if isinstance(keys, dict):  # a repeated create with the same key finds the new id
        for seen in keys.values():
            if isinstance(seen, dict) and seen.get("id") == old_id:
                seen["id"] = new_id


def forget_retired(settings: MutableMapping[str, Any], deleted_id: int) -> bool:
    """Drop the retired ids of a deleted credential; True if there were any."""
    mapping = settings.get(RETIRED_IDS)
    if not isinstance(mapping, dict):
        return False
    gone = [key for key, value in mapping.items() if value == deleted_id]
    for key in gone:
        del mapping[key]
    return bool(gone)
