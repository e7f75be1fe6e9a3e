"""`RecordStore`: the one owner of credential records.

Every read and write of a credential, from every front end, passes here:

- `view` gives a consistent read-only snapshot (`RecordView`: find by name or id,
  list, count) that never shows secret data;
- `transaction` is one atomic write under the storage's lock (`RecordTransaction`:
  create, update, delete, the settings in `meta`), committed only if something
  changed, and logged as one activity per credential it touched;
- `read_secrets` is the only way to secret data: it finds the credentials in one
  snapshot, checks who may read them, renews an oauth2 access token that is about
  to expire (under the lock, `credctl.records.oauth`) or refuses an expired one,
  and logs each read before handing anything out.

Failed operations are logged too, with the kind of error.  The manager is the
only caller; it turns public types into calls here and results back.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from credctl.errors import (
    AccessDenied,
    CredentialError,
    DuplicateCredential,
    InvalidInput,
    NotFound,
)
from credctl.records.activity import Activity, ActivityLog, Actor, BatchLog, MemoryActivityLog
from credctl.records.refs import Ref, as_id
from credctl.records.secrets import SecretRecord, SecretWant
from credctl.records.stored import DEFAULT_OWNER, ENV_NAMES, OAUTH_STATE, StoredCredential

if TYPE_CHECKING:
    from credctl.storage.base import (
        ChangeStamped,
        CredentialStorage,
        StorageSnapshot,
        StorageWriter,
    )


class _NothingToCommit(Exception):  # noqa: N818 - control flow, never escapes this module
    """Leave the storage writer without committing: the transaction changed nothing."""


class RecordView:
    """The credentials of one snapshot, as an actor with an optional owner scope sees them.

    Names are unique per owner: `by_name` looks in the namespace of `owner` (the
    acting owner).  An unscoped view (the vault's own user) may also `find` another
    owner's credential by a name no one else uses.
    """

    def __init__(
        self, snapshot: StorageSnapshot, scope: str | None = None, owner: str = DEFAULT_OWNER
    ) -> None:
        self._snapshot = snapshot
        self._scope = scope
        self._owner = scope if scope is not None else owner

    @property
    def meta(self) -> Mapping[str, Any]:
        """The backend's settings (next id, pending flows, …), read-only."""
        return self._snapshot.meta

    def _visible(self, record: dict[str, Any] | None) -> StoredCredential | None:
        if record is None:
            return None
        credential = StoredCredential.from_record(record)
        if self._scope is not None and credential.owner != self._scope:
            return None
        return credential

    def get(self, credential_id: int) -> StoredCredential | None:
        """The credential with this id, or None."""
        return self._visible(self._snapshot.get_by_id(credential_id))

    def by_name(self, name: str) -> StoredCredential | None:
        """The acting owner's credential with this name, or None."""
        return self._visible(self._snapshot.get_by_name(name, self._owner))

    def find(self, ref: Ref) -> StoredCredential:
        """The credential `ref` names (a decimal string is an id), or `NotFound`.

        A name is looked up among the acting owner's credentials; an unscoped view
        then takes the one other owner's credential of that name, and refuses a name
        that several other owners use (`DuplicateCredential`: give the id).
        """
        credential_id = as_id(ref)
        if credential_id is not None:
            found = self.get(credential_id)
        else:
            found = self.by_name(str(ref))
            if found is None and self._scope is None:
                found = self._only_one_named(str(ref))
        if found is None:
            # A rotated credential: its old id or NAME@previous in a grace period, else a
            # NotFound that names the id it was rotated to (credctl.records.versions).
            from credctl.records.versions import find_retired
            from credctl.rotation.clock import now

            found = find_retired(self, ref, now())
        if found is None:
            close = self._close_name(str(ref)) if credential_id is None else None
            raise NotFound(
                f"no credential {'with id ' if credential_id is not None else ''}{str(ref)!r}"
                + (f" (did you mean {close!r}?)" if close else ""),
                hint="see `credctl list`",
                credential_id=credential_id,
            )
        return found

    def _only_one_named(self, name: str) -> StoredCredential | None:
        named = self._snapshot.with_name(name)
        if len(named) > 1:
            ids = ", ".join(str(record["id"]) for record in named)
            raise DuplicateCredential(
                f"{len(named)} owners have a credential named {name!r} (ids {ids})",
                hint="name it by its id",
            )
        return StoredCredential.from_record(named[0]) if named else None

    def _close_name(self, name: str) -> str | None:
        """The one visible name `name` is most likely a typo of (case, a letter or two)."""
        import difflib

        names = [credential.name for credential in self.all()]
        folded = [n for n in names if n.casefold() == name.casefold()]
        if folded:
            return folded[0]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        return close[0] if close else None

    def all(
        self, *, credential_type: str | None = None, tag: str | None = None
    ) -> list[StoredCredential]:
        """Every visible credential in id order, filtered by type and tag."""
        found = []
        for record in self._snapshot.records():
            credential = self._visible(record)
            if credential is None:
                continue
            if credential_type and credential.type != credential_type:
                continue
            if tag and tag not in credential.tags:
                continue
            found.append(credential)
        return found

    def count(self) -> int:
        """How many credentials there are (all owners: the backend's own count)."""
        if self._scope is None:
            return self._snapshot.count()
        return len(self.all())


class RecordTransaction(RecordView):
    """One atomic change: everything done here is committed together, or nothing is."""

    def __init__(self, draft: StorageWriter, actor: Actor) -> None:
        super().__init__(draft, actor.scope, actor.owner)
        self._draft = draft
        self._actor = actor
        self.touched: dict[int, StoredCredential] = {}
        self.failures: list[tuple[str | None, CredentialError]] = []
        self.subject: StoredCredential | None = None
        #: The name a create was attempted under (logged if it fails: there is no id yet).
        self.attempted_name: str | None = None
        self.settings_changed = False

    @property
    def settings(self) -> dict[str, Any]:
        """The backend's settings, for changing (`mark_settings_changed` after a change)."""
        return self._draft.meta

    def mark_settings_changed(self) -> None:
        """Commit even if no credential changed (pending flows, idempotency keys)."""
        self.settings_changed = True

    @property
    def changed(self) -> bool:
        """True when something must be committed."""
        return bool(self.touched) or self.settings_changed

    def find(self, ref: Ref) -> StoredCredential:
        """As `RecordView.find`; the credential becomes the subject of this transaction.

        An older version (an old id in its grace period, ``NAME@previous``) is
        read-only: changing it is `NotFound` naming the current id.
        """
        found = super().find(ref)
        from credctl.records.stored import VERSION_OF

        if VERSION_OF in found.extra:
            current = found.extra[VERSION_OF]
            raise NotFound(
                f"{str(ref)!r} is an older version of {found.name!r}, which is read-only",
                hint=f"change the current credential, id {current} ({found.name!r})",
                credential_id=found.id,
            )
        self.subject = found
        return found

    def create(
        self,
        credential_type: str,
        data: Mapping[str, Any],
        *,
        name: str | None = None,
        description: str = "",
        tags: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
        env_names: Mapping[str, str] | None = None,
    ) -> StoredCredential:
        """Validate and add a credential owned by the actor; its id is never reused.

        `env_names` remembers variable names by field (`StoredCredential.env_names`).
        Without `name` it is called ``<type>_<id>``.  Repeating an `idempotency_key`
        with the same request returns the credential it created; with another
        request it is `DuplicateCredential` (exit 8).
        """
        from credctl import types
        from credctl.records import validation

        self.subject, self.attempted_name = None, name
        kind = types.get_type(credential_type)
        checked = kind.validate(data)
        if name is not None:
            types.validate_name(name)
        owner = validation.check_owner(self._actor.owner)
        checked_description = validation.check_description(description)
        checked_tags = validation.check_tags(tags)
        checked_metadata = validation.check_metadata(metadata or {})
        extra = dict(extra or {})
        if env_names:
            extra[ENV_NAMES] = validation.check_env_names(tuple(kind.fields), env_names)
        request = {
            "name": name,
            "type": kind.name,
            "data": checked,
            "description": checked_description,
            "tags": list(checked_tags),
            "metadata": checked_metadata,
        }
        seen = self._idempotent(request, owner, idempotency_key)
        if seen is not None:
            self.subject = seen  # the repeat is logged against the credential it returns
            return seen
        meta = self._draft.meta
        credential_id = int(meta.get("next_id", 1))
        if name is None:
            # Skip ids whose default name someone already chose by hand.
            while self._draft.get_by_name(f"{kind.name}_{credential_id}", owner) is not None:
                credential_id += 1
        final_name = name or f"{kind.name}_{credential_id}"
        taken = self._draft.get_by_name(final_name, owner)
        if taken is not None:
            raise DuplicateCredential(
                f"a credential named {final_name!r} already exists",
                hint="choose another name, or `credctl update` the existing one",
                credential_id=taken.get("id"),
            )
        from credctl._time import now_rfc3339

        now = now_rfc3339()
        credential = StoredCredential(
            id=credential_id,
            name=final_name,
            type=kind.name,
            data=checked,
            description=checked_description,
            tags=checked_tags,
            metadata=checked_metadata,
            owner=owner,
            created_at=now,
            updated_at=now,
            extra=extra,
        )
        self._put(credential)
        meta["next_id"] = credential_id + 1
        if idempotency_key is not None:
            keys = meta.setdefault("idempotency", {})
            keys[f"{owner}\x00{idempotency_key}"] = {
                "digest": _digest(request),
                "id": credential_id,
            }
        return credential

    def _idempotent(
        self, request: dict[str, Any], owner: str, key: str | None
    ) -> StoredCredential | None:
        if key is None:
            return None
        seen = self._draft.meta.get("idempotency", {}).get(f"{owner}\x00{key}")
        if seen is None:
            return None
        if seen.get("digest") != _digest(request):
            raise DuplicateCredential(
                "this idempotency key was already used with a different request",
                credential_id=seen.get("id"),
            )
        return self.get(int(seen["id"]))

    def update(
        self,
        credential: StoredCredential,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        metadata_changes: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        credential_type: str | None = None,
        data_changes: Mapping[str, Any] | None = None,
        env_names: Mapping[str, str] | None = None,
        keep_version: bool = False,
    ) -> StoredCredential:
        """Apply changes, each checked; new data is checked by the type and bumps `version`.

        A new `credential_type` needs new `data` valid for it (the old data cannot be
        valid for another type); the OAuth state of an oauth2 credential goes with it.

        `metadata` replaces the metadata; `metadata_changes` then sets single
        entries (a None value removes one) on what is stored now, under the lock,
        so concurrent updates of different keys all survive.  `data` and
        `data_changes` work the same way for the secret data (`update --field`).
        `env_names` sets remembered variable names (merged with the stored ones).
        With `keep_version`, new data keeps the current data as a version (history,
        rollback; refused while a rotation is pending).
        """
        from credctl import types
        from credctl.records import validation

        if keep_version and (data is not None or data_changes is not None):
            from credctl.records.rotation_due import versioned_update

            extra = {**(extra or {}), **versioned_update(self, credential, self._actor)}

        changes: dict[str, Any] = {}
        if name is not None and name != credential.name:
            types.validate_name(name)
            taken = self._draft.get_by_name(name, credential.owner)
            if taken is not None:
                raise DuplicateCredential(
                    f"a credential named {name!r} already exists", credential_id=taken.get("id")
                )
            changes["name"] = name
        if description is not None:
            changes["description"] = validation.check_description(description)
        if tags is not None:
            changes["tags"] = validation.check_tags(tags)
        if metadata is not None or metadata_changes is not None:
            merged = dict(credential.metadata if metadata is None else metadata)
            for key, value in (metadata_changes or {}).items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            changes["metadata"] = validation.check_metadata(merged)
        if credential_type is not None:
            kind = types.get_type(credential_type)
            if kind.name != credential.type:
                if data is None:
                    raise InvalidInput(
                        f"changing the type to {kind.name!r} needs credential data for that type"
                    )
                changes["type"] = kind.name
                changes["extra"] = {k: v for k, v in credential.extra.items() if k != OAUTH_STATE}
        if data is not None or data_changes is not None:
            merged_data = dict(credential.data if data is None else data)
            for key, value in (data_changes or {}).items():
                if value is None:
                    merged_data.pop(key, None)
                else:
                    merged_data[key] = value
            new_type = changes.get("type", credential.type)
            changes["data"] = types.get_type(new_type).validate(merged_data)
            changes["version"] = credential.version + 1
        if extra is not None:
            changes["extra"] = {**changes.get("extra", credential.extra), **extra}
        if env_names:
            kind = types.get_type(changes.get("type", credential.type))
            names = {**credential.env_names, **env_names}
            changes["extra"] = {
                **changes.get("extra", credential.extra),
                ENV_NAMES: validation.check_env_names(tuple(kind.fields), names),
            }
        from credctl._time import now_rfc3339

        updated = credential.replace(updated_at=now_rfc3339(), **changes)
        self._put(updated)
        return updated

    def set_extra(self, credential: StoredCredential, key: str, value: Any) -> StoredCredential:
        """Set (or, with None, remove) one key a later layer keeps with the record.

        Workflow links and rotation state describe how a credential is used, not the
        credential: `updated_at` and `version` stay as they are.
        """
        from credctl.records.stored import CORE_KEYS

        if key in CORE_KEYS:
            raise ValueError(f"{key!r} is a core key of a credential record")
        extra = dict(credential.extra)
        if value is None:
            extra.pop(key, None)
        else:
            extra[key] = value
        changed = credential.replace(extra=extra)
        self._put(changed)
        return changed

    def delete(self, credential: StoredCredential) -> None:
        """Remove a credential (its id is never reused)."""
        self._draft.delete(credential.id)
        self.touched[credential.id] = credential
        self.subject = credential

    def failed(self, label: str | None, error: CredentialError) -> None:
        """Note an item of a batch that failed (it is logged with the others)."""
        self.failures.append((label, error))

    def _put(self, credential: StoredCredential) -> None:
        self._draft.put(credential.to_record())
        self.touched[credential.id] = credential
        self.subject = credential


def _digest(request: dict[str, Any]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


class RecordStore:
    """Credential records over one storage backend, with every operation logged."""

    def __init__(
        self, storage: CredentialStorage, activity_log: ActivityLog | None = None
    ) -> None:
        from credctl.storage.base import ActivityStorage, ChangeStamped

        self.storage = storage
        if activity_log is None:
            activity_log = (
                storage.activity_log()
                if isinstance(storage, ActivityStorage)
                else MemoryActivityLog()
            )
        self.activity_log = activity_log
        self._stamped: ChangeStamped | None = None  # checked once: isinstance is slow
        if isinstance(storage, ChangeStamped):
            self._stamped = storage

    # -- reading -------------------------------------------------------------------

    def view(self, actor: Actor | None = None) -> RecordView:
        """A consistent snapshot of what `actor` may see (everything when None)."""
        if actor is None:
            return RecordView(self.storage.snapshot())
        return RecordView(self.storage.snapshot(), actor.scope, actor.owner)

    # -- writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, action: str, actor: Actor) -> Iterator[RecordTransaction]:
        """One atomic write under the storage's lock, logged as `action`.

        Committed when the block ends normally and something changed; dropped when
        it raises (the error is logged and re-raised) or changed nothing.  The
        activities are appended before the commit, inside the lock, and the log
        records its head in the settings being committed (`BatchLog`), so the
        write proves which entries existed; if the log cannot be written nothing
        is committed, and if the commit fails after the append, the failure is
        logged too.
        """
        started = time.perf_counter()
        txn: RecordTransaction | None = None
        appended = False
        try:
            with self.storage.writer() as draft:
                txn = RecordTransaction(draft, actor)
                yield txn
                if not txn.changed:
                    raise _NothingToCommit
                elapsed = (time.perf_counter() - started) * 1000
                self.log_all(_done(action, actor, txn, elapsed), settings=draft.meta)
                appended = True
        except _NothingToCommit:
            assert txn is not None
            elapsed = (time.perf_counter() - started) * 1000
            self.log_all(_done(action, actor, txn, elapsed))
        except CredentialError as exc:
            failure = _failure(action, actor, txn.subject if txn else None, exc)
            if txn is not None and txn.subject is None:
                failure.credential_name = txn.attempted_name
            self._log_failure(failure, exc)
            raise
        except BaseException as exc:
            if appended:  # the entries say it happened: say that the commit did not
                subject = txn.subject if txn else None
                self._log_failure(_failure(action, actor, subject, exc), exc)
            raise

    def _log_failure(self, failure: Activity, error: BaseException) -> None:
        from credctl.errors import AuditUnavailableError

        try:
            self.log(failure)
        except CredentialError:
            if isinstance(error, AuditUnavailableError):
                return  # the log is what failed; its error is the one to report
            raise

    # -- secrets -------------------------------------------------------------------

    def read_secrets(
        self,
        wants: Sequence[SecretWant],
        actor: Actor,
        *,
        action: str = "read_field",
        min_valid: float = 0.0,
        refresh: bool = True,
        refresh_ahead: bool = True,
        allow_plain_http: bool = True,
        require_owner: str | None = None,
        missing: list[tuple[SecretWant, NotFound]] | None = None,
    ) -> list[SecretRecord | None]:
        """The credentials `wants` name, from one snapshot, ready for secret use.

        An oauth2 credential whose access token is wanted is renewed first when it
        expires within the refresh-ahead window (once it has expired, if
        `refresh_ahead` is False) or `min_valid` seconds (unless `refresh` is False),
        and `Expired` (exit 7) when it has expired and cannot be renewed; one that was
        never logged in starts a login (`InteractionRequired`, exit 4).  Without
        `allow_plain_http`, a provider on plain http is never asked.  `require_owner`
        refuses another owner's credential (`AccessDenied`).  A named field the
        credential does not have is `NotFound`.  With a `missing` list, a credential
        or field that does not exist is noted there (and None returned in its place)
        instead of raised, so a caller can name every missing one at once.  Each
        credential read is logged once as `action`; nothing is handed out unless every
        read was logged.
        """
        view = self.view(actor)
        loaded: dict[tuple[int, int], SecretRecord] = {}
        found: list[SecretRecord | None] = []
        subject: StoredCredential | None = None
        try:
            for want in wants:
                try:
                    credential = view.find(want.ref)
                except NotFound as exc:
                    if missing is None:
                        raise
                    missing.append((want, exc))
                    found.append(None)
                    continue
                if want.version is not None:
                    from credctl.records.versions import at_version

                    credential = at_version(view, credential, want.version)
                subject = credential
                if require_owner is not None and credential.owner != require_owner:
                    raise AccessDenied(f"user {require_owner!r} may not read this credential")
                key = (credential.id, credential.version)
                secret = loaded.get(key) or SecretRecord.load(credential)
                if isinstance(want.fields, tuple):
                    try:  # an unknown field is no read of the credential
                        for field_name in want.fields:
                            secret.field(field_name)
                    except NotFound as exc:
                        if missing is None:
                            raise
                        missing.append((want, exc))
                        found.append(None)
                        continue
                if secret.uses_access_token(want.fields):
                    from credctl.records import oauth
                    from credctl.records.versions import is_version

                    # An older version is never renewed (that would write the current one).
                    renew = refresh and not is_version(credential)
                    secret = oauth.current(
                        self, secret, actor, min_valid=min_valid, refresh=renew,
                        ahead=refresh_ahead, plain_http=allow_plain_http,
                    )  # fmt: skip
                loaded[key] = secret
                found.append(secret)
        except CredentialError as exc:
            self._log_failure(_failure(action, actor, subject, exc), exc)
            raise
        if missing:  # the caller refuses the whole read: none of it counts as a use
            self.log(_failure(action, actor, None, missing[0][1]))
            return found
        # Fail closed: if the log cannot take these entries, this raises and no
        # secret leaves the record layer.
        self.log_all(
            [Activity(action, s.credential.id, s.credential.name, actor=actor)
             for s in loaded.values()]
        )  # fmt: skip
        return found

    # -- activity ------------------------------------------------------------------

    def log(self, activity: Activity) -> None:
        """Append one activity to the log (raises when it cannot: callers fail closed)."""
        self.activity_log.append(activity)

    def log_all(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        """Append activities in one go; `settings`: a write's, to record the log's head in."""
        if not activities:
            return
        if isinstance(self.activity_log, BatchLog):
            self.activity_log.append_batch(activities, settings)
        else:
            for activity in activities:
                self.activity_log.append(activity)

    def activities(self) -> Iterator[Activity]:
        """Every logged activity, oldest first."""
        return self.activity_log.activities()

    # -- backend facts -------------------------------------------------------------

    def state_stamp(self) -> Any:
        """A value that changes with every write, or None if the backend cannot say."""
        return self._stamped.state_stamp() if self._stamped is not None else None

    def location_hint(self) -> str | None:
        """The vault path to name in a hint, when the default would not find it."""
        from credctl.storage.base import VaultLocated

        if not isinstance(self.storage, VaultLocated):
            return None
        from credctl.paths import default_vault_path

        path = self.storage.vault_path
        if default_vault_path().absolute() == path.absolute():
            return None
        return str(path)


def _done(action: str, actor: Actor, txn: RecordTransaction, elapsed: float) -> list[Activity]:
    """One activity per credential the transaction touched (or its subject), and failures."""
    done = [
        Activity(action, c.id, c.name, actor=actor, duration_ms=elapsed)
        for c in txn.touched.values()
    ]
    if not done and not txn.failures:  # nothing changed, yet the operation happened
        subject = txn.subject
        done.append(Activity(action, subject.id if subject else None,
                             subject.name if subject else None, actor=actor,
                             duration_ms=elapsed))  # fmt: skip
    for label, error in txn.failures:
        failure = _failure(action, actor, None, error)
        failure.credential_name = label
        done.append(failure)
    return done


def _failure(
    action: str, actor: Actor, subject: StoredCredential | None, error: BaseException
) -> Activity:
    if isinstance(error, CredentialError):
        kind = type(error).__name__
    else:
        kind = "Interrupted" if isinstance(error, KeyboardInterrupt) else "InternalError"
    return Activity(
        action,
        subject.id if subject is not None else None,
        subject.name if subject is not None else None,
        actor=actor,
        outcome="error",
        error=kind,
    )
