"""Rotating a credential in steps that survive being killed at any instant.

A rotation is a few separate vault commits, like AWS Secrets Manager's
create / set / test / finish, and nothing ever runs a hook while holding the
vault lock:

1. **begin** (one commit): refuse if a rotation is pending (`RotationInProgress`,
   exit 8), else record a pending rotation (`credctl.records.rotation_state`)
   with a random token, this process as owner and a start time.  When the new
   data is known up front (``--field``, ``--data-file``, ``--generate``) it is
   stored in the same commit (step ``created``).  An oauth2 refresh grant runs
   here, under the lock (a refresh token is never spent twice).  When the new
   data is known and there is no test command, nothing has to run outside the
   lock, and this one commit also switches (step 4): all or nothing.
2. **create** (hook, then one commit): the rotation command runs with the
   current credential in its environment; its JSON is checked by the type and
   stored in the pending state as soon as it is known.
3. **test** (hook): the test command runs with the new credential; a failure
   rolls back (the pending state is removed, the old secret stays).
4. **switch** (one commit): the credential moves to a new id with the new data
   (`credctl.records.versions`: the old data is kept as a version, under
   blue-green readable by its old id until the grace ends); the name,
   description, tags, links and policy follow; the old id is retired.

Every commit checks that the pending token is still its own, so a rotation that
another process took over can never switch.  A pending rotation whose owner
died is finished (when its new data was stored, after its test) or rolled back
(when it was not) by the next `rotate` of that credential, by ``rotate --due``,
or by ``rotate --resume``; one whose owner still runs but which is older than
its window is *stuck*, reported by ``rotate --due`` and ``doctor``, and taken
over only by ``rotate --resume`` (its owner may still be working).

Each commit is a ``rotate`` activity; failures are logged with their kind.
``CREDCTL_TEST_ONLY_ROTATION_PAUSE=STEP`` (tests only) parks the process after
STEP (``begun``, ``created``, ``tested``, ``switched``) so a test can kill it there.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets as random_tokens
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from credctl.errors import CredentialError, InvalidInput, RotationFailed, RotationInProgress
from credctl.records import rotation_state as rs
from credctl.records import versions
from credctl.records.activity import Activity
from credctl.rotation import clock
from credctl.rotation.policy import GenerateSpec, RotationPolicy, RotationStrategy

if TYPE_CHECKING:
    from credctl.records.activity import Actor
    from credctl.records.refs import Ref
    from credctl.records.store import RecordStore, RecordTransaction
    from credctl.records.stored import StoredCredential

TEST_ONLY_PAUSE_VARIABLE: Final = "CREDCTL_TEST_ONLY_ROTATION_PAUSE"


class RotationRequest(NamedTuple):
    """What the caller asks for; anything left None comes from the credential's policy."""

    data: Mapping[str, Any] | None = None
    generate: GenerateSpec | None = None
    command: str | None = None
    test_command: str | None = None
    strategy: RotationStrategy | None = None
    grace: dt.timedelta | None = None

    def __repr__(self) -> str:  # never the data
        return f"RotationRequest(data={'***' if self.data is not None else None}, ...)"


class RotationOutcome(NamedTuple):
    """What a rotation did: the credential's id now, its id before, and a note for people."""

    credential_id: int
    old_id: int
    rotated: bool
    note: str = ""
    grace_until: dt.datetime | None = None
    name: str = ""


class _Plan(NamedTuple):
    source: str  # data | generate | command | refresh
    request: RotationRequest
    policy: RotationPolicy
    test_command: str | None
    strategy: RotationStrategy
    grace: dt.timedelta


# -- the public steps ----------------------------------------------------------------------


def rotate(
    store: RecordStore, ref: Ref, request: RotationRequest, actor: Actor
) -> RotationOutcome:
    """Rotate now; a pending rotation whose owner died is settled first.

    When settling finished that rotation and `request` brings no data of its own,
    the finished rotation is the one asked for.
    """
    credential = store.view(actor).find(ref)
    note = ""
    entry = rs.pending(credential)
    if entry is not None and rs.owner_gone(entry):
        settled = resume(store, credential.id, actor, stuck_ok=False)
        if settled.rotated and request.data is None:
            return settled
        note = settled.note
        credential = store.view(actor).find(settled.credential_id)
    outcome = _rotate_fresh(store, credential.id, request, actor)
    return outcome._replace(note="; ".join(n for n in (note, outcome.note) if n))


def resume(
    store: RecordStore, ref: Ref, actor: Actor, *, stuck_ok: bool = True
) -> RotationOutcome:
    """Finish or roll back the pending rotation of `ref` (``rotate --resume``).

    It is taken over when its owner is gone, or (with `stuck_ok`) when it is
    older than its window; otherwise `RotationInProgress`.  A rotation whose new
    data was stored is finished after its test command passes; one without new
    data is rolled back (a rotation command may have to run again).
    """
    claimed = _claim(store, ref, actor, stuck_ok=stuck_ok)
    if isinstance(claimed, int):
        return RotationOutcome(claimed, claimed, False, "no rotation to resume")
    credential_id, entry = claimed
    if entry.get("step") != rs.CREATED:
        _abort(store, credential_id, entry["token"], actor, RotationFailed())
        note = "rolled back an interrupted rotation (no new secret was stored)"
        return RotationOutcome(credential_id, credential_id, False, note)
    outcome = _test_and_switch(store, credential_id, entry, actor)
    return outcome._replace(note="finished an interrupted rotation")


# -- begin ---------------------------------------------------------------------------------


def _plan(credential: StoredCredential, request: RotationRequest) -> _Plan:
    policy = rs.policy(credential) or RotationPolicy()
    given = [
        name
        for name, value in (("data", request.data), ("generate", request.generate),
                            ("command", request.command))
        if value is not None
    ]  # fmt: skip
    if len(given) > 1:
        raise InvalidInput("give the new secret one way: data, --generate or --command")
    if given:
        source = given[0]
    elif policy.generate is not None:
        source, request = "generate", request._replace(generate=policy.generate)
    elif policy.command is not None:
        source, request = "command", request._replace(command=policy.command)
    elif credential.type == "oauth2":
        source = "refresh"
    else:
        raise InvalidInput(
            f"no way to get a new secret for {credential.name!r}",
            hint="give it with --field KEY=@FILE or --data-file, or use --generate or "
            "--command CMD (or set them in the policy: `credctl policy set`)",
        )
    return _Plan(
        source, request, policy, request.test_command or policy.test_command,
        request.strategy or policy.strategy, request.grace or policy.grace,
    )  # fmt: skip


def new_data(credential: StoredCredential, given: Mapping[str, Any]) -> dict[str, Any]:
    """The current data with `given` merged in, checked by the type; it must differ."""
    from credctl import types

    kind = types.get_type(credential.type)
    # `given` may name a field by an alias (api_key's ``api_key`` for ``key``).
    aliases = {alias: spec.name for spec in kind.fields.values() for alias in spec.aliases}
    fresh = kind.validate({**credential.data, **{aliases.get(k, k): v for k, v in given.items()}})
    if fresh == kind.validate(credential.data):
        raise InvalidInput("the new secret is the same as the current one; nothing to rotate")
    return fresh


def _refuse_pending(credential: StoredCredential, entry: dict[str, Any]) -> RotationInProgress:
    from credctl._time import format_rfc3339

    since = format_rfc3339(rs.pending_since(entry))
    stuck = rs.is_stuck(entry, clock.now())
    return RotationInProgress(
        f"a rotation of {credential.name!r} is in progress since {since} "
        f"(process {entry.get('pid')} on {entry.get('host')})",
        hint=f"it is stuck: `credctl rotate --resume {credential.name}` finishes or rolls it back"
        if stuck
        else "wait for it to finish",
        credential_id=credential.id,
    )


def _rotate_fresh(
    store: RecordStore, credential_id: int, request: RotationRequest, actor: Actor
) -> RotationOutcome:
    now = clock.now()
    with store.transaction("rotate", actor) as txn:
        credential = txn.find(credential_id)
        entry = rs.pending(credential)
        if entry is not None:
            raise _refuse_pending(credential, entry)
        plan = _plan(credential, request)
        entry = {
            "token": random_tokens.token_hex(16),
            "started_at": _text(now),
            **rs.owner(),
            "user": actor.user,
            "step": rs.STARTED,
            "strategy": plan.strategy.value,
            "grace": int(plan.grace.total_seconds()),
            "test_command": plan.test_command,
            "timeout": int(plan.policy.timeout.total_seconds()),
            "window": int(plan.policy.window.total_seconds()),
            "max_versions": plan.policy.max_versions,
        }
        if plan.source == "data":
            assert plan.request.data is not None
            entry.update(step=rs.CREATED, data=new_data(credential, plan.request.data))
        elif plan.source == "generate":
            from credctl import types
            from credctl.rotation.generate import generated_data

            assert plan.request.generate is not None
            kind = types.get_type(credential.type)
            fresh = generated_data(kind, credential.data, plan.request.generate.checked())
            entry.update(step=rs.CREATED, data=new_data(credential, fresh))
        elif plan.source == "refresh":
            data, oauth_state = _refreshed(store, credential)
            entry.update(step=rs.CREATED, data=data, oauth=oauth_state)
        if entry["step"] == rs.CREATED and plan.test_command is None:
            # Nothing has to run outside the lock: one commit switches (all or nothing).
            new = _switch_in(txn, credential, entry, actor, now)
            return _outcome(credential, new, entry, now)
        txn.update(credential, extra=rs.with_state(credential, pending=entry))
    _test_only_pause("begun")
    token = entry["token"]
    try:
        if entry["step"] != rs.CREATED:
            assert plan.request.command is not None
            from credctl.records.rotation_hooks import run_command

            given = run_command(credential, plan.request.command, entry)
            try:
                fresh = new_data(credential, given)
            except InvalidInput as exc:
                raise RotationFailed(f"the rotation command's output was refused: {exc}",
                                     hint="the old secret is kept") from None  # fmt: skip
            entry = _store_new(store, credential_id, token, fresh, actor)
        _test_only_pause("created")
        return _test_and_switch(store, credential_id, entry, actor)
    except BaseException as exc:
        _abort(store, credential_id, token, actor, exc)
        raise


def _refreshed(store: RecordStore, credential: StoredCredential) -> tuple[dict[str, Any], Any]:
    """oauth2: new tokens by the refresh grant, under the lock held by the caller."""
    from credctl.oauth import refresh

    vault = store.location_hint()
    data, state = credential.data, credential.oauth_state
    grant = refresh.check_refreshable(credential.name, credential.type, data, state, vault)
    tokens = refresh.request_tokens(credential.name, data, state, grant, vault)
    return refresh.renewed_data(data, state, grant, tokens)


# -- create, test, switch ------------------------------------------------------------------


def _store_new(
    store: RecordStore, credential_id: int, token: str, data: dict[str, Any], actor: Actor
) -> dict[str, Any]:
    with store.transaction("rotate", actor) as txn:
        credential, entry = _mine(txn, credential_id, token)
        entry = {**entry, "step": rs.CREATED, "data": data}
        txn.update(credential, extra=rs.with_state(credential, pending=entry))
    return entry


def _test_and_switch(
    store: RecordStore, credential_id: int, entry: dict[str, Any], actor: Actor
) -> RotationOutcome:
    if entry.get("test_command"):
        from credctl.records.rotation_hooks import run_test

        run_test(store.view(actor).find(credential_id), entry)
    _test_only_pause("tested")
    now = clock.now()
    with store.transaction("rotate", actor) as txn:
        credential, entry = _mine(txn, credential_id, entry["token"])
        new = _switch_in(txn, credential, entry, actor, now)
    _test_only_pause("switched")
    return _outcome(credential, new, entry, now)


def _switch_in(
    txn: RecordTransaction,
    credential: StoredCredential,
    entry: dict[str, Any],
    actor: Actor,
    now: dt.datetime,
) -> StoredCredential:
    """Move `credential` to a new id holding the pending data; retire the old id."""
    blue_green = entry.get("strategy") == RotationStrategy.BLUE_GREEN.value
    grace_until = now + dt.timedelta(seconds=int(entry["grace"])) if blue_green else None
    extra = versions.pushed(
        credential, reason="rotate", user=actor.user, now=now,
        max_versions=int(entry.get("max_versions", 10)), old_grace_until=grace_until,
    )  # fmt: skip
    changes: dict[str, Any] = {"pending": None}
    scheduled = rs.scheduled_at(credential)
    if scheduled is not None and scheduled <= now:  # this rotation is the one scheduled
        changes["scheduled_at"] = None
    extra.update(rs.with_state(credential, **changes))
    if "oauth" in entry:
        from credctl.records.stored import OAUTH_STATE

        extra[OAUTH_STATE] = entry["oauth"]
    new_id = int(txn.settings.get("next_id", 1))
    txn.settings["next_id"] = new_id + 1
    versions.record_retired(txn.settings, credential.id, new_id)
    txn.mark_settings_changed()
    txn.delete(credential)
    moved = credential.replace(id=new_id, extra=extra)
    return txn.update(moved, data=entry["data"])


def _outcome(
    old: StoredCredential, new: StoredCredential, entry: dict[str, Any], now: dt.datetime
) -> RotationOutcome:
    blue_green = entry.get("strategy") == RotationStrategy.BLUE_GREEN.value
    until = now + dt.timedelta(seconds=int(entry["grace"])) if blue_green else None
    return RotationOutcome(new.id, old.id, True, grace_until=until, name=new.name)


# -- taking over, rolling back ---------------------------------------------------------------


def _mine(txn: RecordTransaction, credential_id: int, token: str) -> tuple[
    StoredCredential, dict[str, Any]
]:  # fmt: skip
    credential = txn.find(credential_id)
    entry = rs.pending(credential)
    if entry is None or entry.get("token") != token:
        raise RotationFailed(
            f"the rotation of {credential.name!r} was taken over or rolled back by another "
            "process",
            hint=f"see `credctl history {credential.name}`",
        )
    return credential, entry


def _claim(
    store: RecordStore, ref: Ref, actor: Actor, *, stuck_ok: bool
) -> int | tuple[int, dict[str, Any]]:
    """Take over the pending rotation (new token, this process); the id alone if none."""
    now = clock.now()
    with store.transaction("rotate", actor) as txn:
        credential = txn.find(ref)
        entry = rs.pending(credential)
        if entry is None:
            return credential.id
        if not (rs.owner_gone(entry) or (stuck_ok and rs.is_stuck(entry, now))):
            raise _refuse_pending(credential, entry)
        entry = {**entry, **rs.owner(), "token": random_tokens.token_hex(16),
                 "started_at": _text(now), "user": actor.user}  # fmt: skip
        txn.update(credential, extra=rs.with_state(credential, pending=entry))
    return credential.id, entry


def _abort(
    store: RecordStore, credential_id: int, token: str, actor: Actor, error: BaseException | None
) -> None:
    """Remove our pending rotation (the old secret stays); log the failure that caused it."""
    name: str | None = None
    try:
        with store.transaction("rotate", actor) as txn:
            credential = txn.get(credential_id)
            entry = rs.pending(credential) if credential is not None else None
            if credential is not None:
                name = credential.name
            if credential is not None and entry is not None and entry.get("token") == token:
                txn.subject = credential
                txn.update(credential, extra=rs.with_state(credential, pending=None))
    except CredentialError:
        pass  # the pending state stays; the next rotate or --resume settles it
    if isinstance(error, CredentialError):
        store.log(Activity("rotate", credential_id, name, actor=actor, outcome="error",
                           error=type(error).__name__))  # fmt: skip


def _text(moment: dt.datetime) -> str:
    from credctl._time import format_rfc3339

    return format_rfc3339(moment)


def _test_only_pause(step: str) -> None:
    """Tests only: park after `step` so that a test can kill this process there."""
    if os.environ.get(TEST_ONLY_PAUSE_VARIABLE) != step:
        return
    import time

    os.write(2, f"credctl: test-only pause after {step}\n".encode())
    time.sleep(120)
