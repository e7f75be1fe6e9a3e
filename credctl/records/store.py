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

from credctl.errors import AccessDenied, CredentialError, DuplicateCredential, NotFound
from credctl.records.activity import Activity, ActivityLog, Actor, MemoryActivityLog
from credctl.records.secrets import SecretRecord, SecretWant
from credctl.records.stored import StoredCredential

if TYPE_CHECKING:
    from credctl.storage.base import CredentialStorage, StorageSnapshot, StorageWriter

Ref = int | str


class _NothingToCommit(Exception):  # noqa: N818 - control flow, never escapes this module
    """Leave the storage writer without committing: the transaction changed nothing."""


def as_id(ref: Ref) -> int | None:
    """The id a reference names, or None when it is a name (SPEC §12: decimal = id)."""
    if isinstance(ref, bool):
        from credctl.errors import InvalidInput

        raise InvalidInput("a credential reference is a name or an id")
    if isinstance(ref, int):
        return ref
    return int(ref) if ref.isdecimal() and ref.isascii() else None


class RecordView:
    """The credentials of one snapshot, as an actor with an optional owner scope sees them."""

    def __init__(self, snapshot: StorageSnapshot, scope: str | None = None) -> None:
        self._snapshot = snapshot
        self._scope = scope

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
        """The credential with this name, or None."""
        return self._visible(self._snapshot.get_by_name(name))

    def find(self, ref: Ref) -> StoredCredential:
        """The credential `ref` names (a decimal string is an id), or `NotFound`."""
        credential_id = as_id(ref)
        found = self.get(credential_id) if credential_id is not None else self.by_name(str(ref))
        if found is None:
            # A rotated credential: its old id or NAME@previous in a grace period, else a
            # NotFound that names the id it was rotated to (credctl.records.versions).
            from credctl.records.versions import find_retired
            from credctl.rotation.clock import now

            found = find_retired(self, ref, now())
        if found is None:
            raise NotFound(
                f"no credential {'with id ' if credential_id is not None else ''}{str(ref)!r}",
                hint="see `credctl list`",
                credential_id=credential_id,
            )
        return found

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
        super().__init__(draft, actor.scope)
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
        from credctl.records.versions import VERSION_OF

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
    ) -> StoredCredential:
        """Validate and add a credential owned by the actor; its id is never reused.

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
        checked_description = validation.check_description(description)
        checked_tags = validation.check_tags(tags)
        checked_metadata = validation.check_metadata(metadata or {})
        request = {
            "name": name,
            "type": kind.name,
            "data": checked,
            "description": checked_description,
            "tags": list(checked_tags),
            "metadata": checked_metadata,
        }
        owner = self._actor.owner
        seen = self._idempotent(request, owner, idempotency_key)
        if seen is not None:
            return seen
        meta = self._draft.meta
        credential_id = int(meta.get("next_id", 1))
        if name is None:
            # Skip ids whose default name someone already chose by hand.
            while self._draft.get_by_name(f"{kind.name}_{credential_id}") is not None:
                credential_id += 1
        final_name = name or f"{kind.name}_{credential_id}"
        taken = self._draft.get_by_name(final_name)
        if taken is not None:
            raise DuplicateCredential(
                f"a credential named {final_name!r} already exists",
                hint="choose another name, or `credctl update` the existing one",
                credential_id=taken.get("id"),
            )
        from credctl._time import format_rfc3339, utc_now

        now = format_rfc3339(utc_now())
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
            extra=dict(extra or {}),
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
    ) -> StoredCredential:
        """Apply changes, each checked; new data is checked by the type and bumps `version`.

        `metadata` replaces the metadata; `metadata_changes` then sets single
        entries (a None value removes one) on what is stored now, under the lock,
        so concurrent updates of different keys all survive.
        """
        from credctl import types
        from credctl.records import validation

        changes: dict[str, Any] = {}
        if name is not None and name != credential.name:
            types.validate_name(name)
            taken = self._draft.get_by_name(name)
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
        if data is not None:
            changes["data"] = types.get_type(credential.type).validate(data)
            changes["version"] = credential.version + 1
        if extra is not None:
            changes["extra"] = {**credential.extra, **extra}
        from credctl._time import format_rfc3339, utc_now

        updated = credential.replace(updated_at=format_rfc3339(utc_now()), **changes)
        self._put(updated)
        return updated

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
        from credctl.storage.base import ActivityStorage

        self.storage = storage
        if activity_log is None:
            activity_log = (
                storage.activity_log()
                if isinstance(storage, ActivityStorage)
                else MemoryActivityLog()
            )
        self.activity_log = activity_log

    # -- reading -------------------------------------------------------------------

    def view(self, actor: Actor | None = None) -> RecordView:
        """A consistent snapshot of what `actor` may see (everything when None)."""
        return RecordView(self.storage.snapshot(), actor.scope if actor is not None else None)

    # -- writing -------------------------------------------------------------------

    @contextlib.contextmanager
    def transaction(self, action: str, actor: Actor) -> Iterator[RecordTransaction]:
        """One atomic write under the storage's lock, logged as `action`.

        Committed when the block ends normally and something changed; dropped when
        it raises (the error is logged and re-raised) or changed nothing.
        """
        started = time.perf_counter()
        txn: RecordTransaction | None = None
        try:
            with self.storage.writer() as draft:
                txn = RecordTransaction(draft, actor)
                yield txn
                if not txn.changed:
                    raise _NothingToCommit
        except _NothingToCommit:
            pass
        except CredentialError as exc:
            failure = _failure(action, actor, txn.subject if txn else None, exc)
            if txn is not None and txn.subject is None:
                failure.credential_name = txn.attempted_name
            self.log(failure)
            raise
        assert txn is not None
        elapsed = (time.perf_counter() - started) * 1000
        for credential in txn.touched.values():
            self.log(Activity(action, credential.id, credential.name, actor=actor,
                              duration_ms=elapsed))  # fmt: skip
        for label, error in txn.failures:
            failure = _failure(action, actor, None, error)
            failure.credential_name = label
            self.log(failure)

    # -- secrets -------------------------------------------------------------------

    def read_secrets(
        self,
        wants: Sequence[SecretWant],
        actor: Actor,
        *,
        action: str = "read_field",
        min_valid: float = 0.0,
        refresh: bool = True,
        require_owner: str | None = None,
        missing: list[tuple[SecretWant, NotFound]] | None = None,
    ) -> list[SecretRecord | None]:
        """The credentials `wants` name, from one snapshot, ready for secret use.

        An oauth2 credential whose access token is wanted is renewed first when it
        expires within the refresh-ahead window or `min_valid` seconds (unless
        `refresh` is False), and `Expired` (exit 7) when it has expired and cannot
        be renewed.  `require_owner` refuses another owner's credential
        (`AccessDenied`).  A named field the credential does not have is `NotFound`.
        With a `missing` list, a credential or field that does not exist is noted
        there (and None returned in its place) instead of raised, so a caller can
        name every missing one at once.  Each credential read is logged
        once as `action`; nothing is handed out unless every read was logged.
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
                    secret = oauth.current(self, secret, actor, min_valid=min_valid,
                                           refresh=renew)  # fmt: skip
                loaded[key] = secret
                found.append(secret)
        except CredentialError as exc:
            self.log(_failure(action, actor, subject, exc))
            raise
        if missing:  # the caller refuses the whole read: none of it counts as a use
            self.log(_failure(action, actor, None, missing[0][1]))
            return found
        for secret in loaded.values():
            self.log(Activity(action, secret.credential.id, secret.credential.name, actor=actor))
        return found

    # -- activity ------------------------------------------------------------------

    def log(self, activity: Activity) -> None:
        """Append one activity to the log."""
        self.activity_log.append(activity)

    def activities(self) -> Iterator[Activity]:
        """Every logged activity, oldest first."""
        return self.activity_log.activities()

    # -- backend facts -------------------------------------------------------------

    def state_stamp(self) -> Any:
        """A value that changes with every write, or None if the backend cannot say."""
        from credctl.storage.base import ChangeStamped

        if isinstance(self.storage, ChangeStamped):
            return self.storage.state_stamp()
        return None

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


def _failure(
    action: str, actor: Actor, subject: StoredCredential | None, error: CredentialError
) -> Activity:
    return Activity(
        action,
        subject.id if subject is not None else None,
        subject.name if subject is not None else None,
        actor=actor,
        outcome="error",
        error=type(error).__name__,
    )
