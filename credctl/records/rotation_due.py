"""Policies, schedules, the due report, ``rotate --due``, history and rollback.

The companion of `credctl.records.rotation` (which runs one rotation): here are
the writes that set a credential's policy (``policy_set``) or one-off schedule
(``schedule``), the report of how every credential stands (`report`, from one
snapshot, linear in the number of credentials), `rotate_due` (rotate what is
overdue and can be rotated without a person, settle interrupted rotations and
record ended grace periods), `rollback` (a new version holding an older one's
data: history only grows) and `versioned_update` (what an ``update`` with new
data keeps of the old).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from credctl.errors import CredentialError, InvalidInput, RotationInProgress
from credctl.records import rotation_state as rs
from credctl.records import versions
from credctl.rotation import clock
from credctl.rotation.due import OVERDUE, STUCK, RotationStatus, assess

if TYPE_CHECKING:
    from credctl.records.activity import Actor
    from credctl.records.refs import Ref
    from credctl.records.store import RecordStore, RecordTransaction
    from credctl.records.stored import StoredCredential
    from credctl.rotation.policy import RotationPolicy


# -- policy and schedule ---------------------------------------------------------------------


def set_policy(store: RecordStore, ref: Ref, policy: RotationPolicy, actor: Actor) -> None:
    """Store `policy` (checked first); kept versions beyond its `max_versions` are dropped."""
    checked = policy.checked()
    now = clock.now()
    with store.transaction("policy_set", actor) as txn:
        credential = txn.find(ref)
        extra = rs.with_state(credential, policy=checked.to_stored())
        entries = versions.kept(credential)
        trimmed = versions.prune(entries, checked.max_versions - 1, now)
        if len(trimmed) != len(entries):
            extra[versions.VERSIONS] = trimmed
        txn.update(credential, extra=extra)


def clear_policy(store: RecordStore, ref: Ref, actor: Actor) -> bool:
    """Remove the policy; False (and nothing written) when there was none."""
    with store.transaction("policy_set", actor) as txn:
        credential = txn.find(ref)
        if rs.policy(credential) is None:
            return False
        txn.update(credential, extra=rs.with_state(credential, policy=None))
    return True


def schedule(store: RecordStore, ref: Ref, at: dt.datetime | None, actor: Actor) -> None:
    """Rotate `ref` at `at` (one-off, on top of any policy); None clears the schedule."""
    from credctl._time import format_rfc3339

    with store.transaction("schedule", actor) as txn:
        credential = txn.find(ref)
        value = format_rfc3339(at) if at is not None else None
        txn.update(credential, extra=rs.with_state(credential, scheduled_at=value))


# -- the report --------------------------------------------------------------------------------


def status_of(credential: StoredCredential, now: dt.datetime) -> RotationStatus:
    """How one credential stands at `now`."""
    policy = rs.policy(credential)
    entry = rs.pending(credential)
    can = policy is not None and (policy.generate is not None or policy.command is not None)
    if not can and credential.type == "oauth2":
        from credctl.oauth.expiry import grant

        can = grant(credential.data, credential.oauth_state) is not None
    return assess(
        credential.id, credential.name, policy=policy,
        last_rotated=versions.last_rotated(credential), scheduled_at=rs.scheduled_at(credential),
        pending_since=rs.pending_since(entry) if entry is not None else None,
        pending_stuck=entry is not None and rs.is_stuck(entry, now), can_rotate=can, now=now,
    )  # fmt: skip


def report(
    store: RecordStore, actor: Actor, now: dt.datetime | None = None
) -> list[RotationStatus]:
    """Every visible credential's status, from one snapshot, in id order."""
    moment = now or clock.now()
    return [status_of(credential, moment) for credential in store.view(actor).all()]


class DueResult(NamedTuple):
    """One line of ``rotate --due``: the status before, what was done, the status after."""

    before: RotationStatus
    after: RotationStatus
    action: str = ""  # rotated | resumed | rolled back | would rotate | failed | ""
    new_id: int | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """One object of ``rotate --due --json``: the status after, and what was done."""
        return {
            **self.after.to_json(),
            "status_before": self.before.status,
            "action": self.action or None,
            "new_id": self.new_id,
            "error": self.error,
        }


def rotate_due(store: RecordStore, actor: Actor, *, dry_run: bool = False) -> list[DueResult]:
    """Rotate every overdue credential that can be rotated; settle what was interrupted.

    With `dry_run` nothing is written: the actions are what would be done.
    """
    from credctl.records.rotation import RotationRequest, resume, rotate

    now = clock.now()
    results: list[DueResult] = []
    for status in report(store, actor, now):
        interrupted = status.status == STUCK and _owner_gone(store, actor, status.credential_id)
        wants = interrupted or (status.status == OVERDUE and status.can_rotate
                                and status.pending_since is None)  # fmt: skip
        if not wants:
            results.append(DueResult(status, status))
            continue
        if dry_run:
            results.append(DueResult(status, status, "would resume" if interrupted else
                                     "would rotate"))  # fmt: skip
            continue
        try:
            if interrupted:
                outcome = resume(store, status.credential_id, actor, stuck_ok=False)
                action = "resumed" if outcome.rotated else "rolled back"
                if not outcome.rotated and status.can_rotate:
                    outcome = rotate(store, outcome.credential_id, RotationRequest(), actor)
                    action = "rotated"
            else:
                outcome = rotate(store, status.credential_id, RotationRequest(), actor)
                action = "rotated"
        except CredentialError as exc:
            after = _status_now(store, actor, status)
            failure = f"{type(exc).__name__}: {exc}"
            results.append(DueResult(status, after, "failed", None, failure))
            continue
        after = _status_now(store, actor, status, outcome.credential_id)
        new_id = outcome.credential_id if outcome.rotated else None
        results.append(DueResult(status, after, action, new_id))
    if not dry_run:
        settle_graces(store, actor, now)
    return results


def _owner_gone(store: RecordStore, actor: Actor, credential_id: int) -> bool:
    credential = store.view(actor).get(credential_id)
    entry = rs.pending(credential) if credential is not None else None
    return entry is not None and rs.owner_gone(entry)


def _status_now(
    store: RecordStore, actor: Actor, before: RotationStatus, credential_id: int | None = None
) -> RotationStatus:
    credential = store.view(actor).get(credential_id or before.credential_id)
    return status_of(credential, clock.now()) if credential is not None else before


def settle_graces(store: RecordStore, actor: Actor, now: dt.datetime) -> int:
    """Record the grace periods that ended as retired (one write); how many credentials."""
    if not any(versions.settled(c, now) for c in store.view(actor).all()):
        return 0  # nothing ended: no write at all
    with store.transaction("rotate", actor) as txn:
        for credential in txn.all():
            entries = versions.settled(credential, now)
            if entries is not None:
                txn.update(credential, extra={versions.VERSIONS: entries})
        return len(txn.touched)


# -- history, rollback, updates ------------------------------------------------------------


def history(store: RecordStore, ref: Ref, actor: Actor) -> list[versions.CredentialVersion]:
    """Every kept version of `ref`, oldest first (never data)."""
    return versions.history(store.view(actor).find(ref), clock.now())


def rollback(store: RecordStore, ref: Ref, to: int, actor: Actor) -> StoredCredential:
    """Make version `to`'s data current again, as a new version (reason ``rollback``)."""
    with store.transaction("update", actor) as txn:
        credential = txn.find(ref)
        if to == credential.version:
            raise InvalidInput(f"version {to} of {credential.name!r} is already the current one")
        older = versions.at_version(txn, credential, to)
        extra = _kept_extra(txn, credential, "rollback", actor)
        return txn.update(credential, data=older.data, extra=extra)


def versioned_update(
    txn: RecordTransaction, credential: StoredCredential, actor: Actor
) -> dict[str, Any]:
    """The `extra` that keeps `credential`'s current data as a version before an update."""
    return _kept_extra(txn, credential, "update", actor)


def _kept_extra(
    txn: RecordTransaction, credential: StoredCredential, reason: str, actor: Actor
) -> dict[str, Any]:
    entry = rs.pending(credential)
    if entry is not None:
        raise RotationInProgress(
            f"a rotation of {credential.name!r} is in progress; its data cannot change now",
            hint=f"wait for it, or `credctl rotate --resume {credential.name}` if it is stuck",
            credential_id=credential.id,
        )
    policy = rs.policy(credential)
    keep = policy.max_versions if policy is not None else 10
    return versions.pushed(credential, reason=reason, user=actor.user, now=clock.now(),
                           max_versions=keep)  # fmt: skip


def remove_retired_ids(txn: RecordTransaction, deleted: Mapping[int, Any]) -> None:
    """After deleting credentials: forget the ids their rotations retired."""
    changed = False
    for credential_id in deleted:
        changed = versions.forget_retired(txn.settings, credential_id) or changed
    if changed:
        txn.mark_settings_changed()
