"""`ScopedManager`: the manager as one user of the REST API sees it.

``CredentialManager.acting_as(user, ip=…, execution_id=…, workflow_id=…)`` returns
one.  Every call acts as that user (the `Actor` of the activity log, with origin
``api`` for the server), creates credentials they own, and sees only their
credentials: another owner's id answers `NotFound`, exactly like an id that does
not exist, so a user never learns that it does.  The record layer enforces that
(`Actor.scope`); this class only turns its results into the seed's
``CredentialListItem`` (`CredentialSummary`) and logs the reads, so that every
request is one entry in the activity log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from credctl.errors import CredentialError
from credctl.records.activity import Activity, Actor

if TYPE_CHECKING:
    from credctl.records.links import Link
    from credctl.records.store import RecordStore
    from credctl.records.stored import StoredCredential

_T = TypeVar("_T")


class CredentialSummary(NamedTuple):
    """The seed's ``CredentialListItem``: never the secret data.

    Times are RFC 3339 UTC text, as stored.
    """

    id: int
    name: str
    credential_type: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, credential: StoredCredential) -> CredentialSummary:
        """The summary of a stored credential."""
        return cls(credential.id, credential.name, credential.type, credential.created_at,
                   credential.updated_at)  # fmt: skip


class ScopedManager:
    """Credentials of one user, every call logged as that user (see the module docs)."""

    def __init__(self, records: RecordStore, actor: Actor) -> None:
        self._records = records
        self.actor = actor

    def _logged(self, action: str, read: Callable[[], _T], credential_id: int | None) -> _T:
        try:
            result = read()
        except CredentialError as exc:
            self._records.log(Activity(action, credential_id, actor=self.actor, outcome="error",
                                       error=type(exc).__name__))  # fmt: skip
            raise
        self._records.log(Activity(action, credential_id, actor=self.actor))
        return result

    # -- reading -------------------------------------------------------------------

    def list_credentials(self) -> list[CredentialSummary]:
        """Every credential of this user, by id (logged as one ``list``)."""
        return self._logged("list", self.list_unlogged, None)

    def list_unlogged(self) -> list[CredentialSummary]:
        """`list_credentials` without an entry in the activity log (for a caller that logs)."""
        return [CredentialSummary.of(c) for c in self._records.view(self.actor).all()]

    def get_credential(self, credential_id: int) -> CredentialSummary:
        """One credential of this user, or `NotFound` (logged as ``show``)."""

        return self._logged("show", lambda: self.get_unlogged(credential_id), credential_id)

    def get_unlogged(self, credential_id: int) -> CredentialSummary:
        """`get_credential` without an entry in the activity log (for a caller that logs)."""
        return CredentialSummary.of(self._records.view(self.actor).find(credential_id))

    def get_current(self, credential_id: int) -> CredentialSummary | None:
        """This user's current credential with this id, or None: no retired id is looked up,
        so the answer depends on the backend's state alone, never on the time (unlogged)."""
        found = self._records.view(self.actor).get(credential_id)
        return CredentialSummary.of(found) if found is not None else None

    def links(self, credential_id: int) -> list[Link]:
        """The workflows linked to one credential of this user (logged as ``show``)."""
        return self._logged("show", lambda: self.links_unlogged(credential_id), credential_id)

    def links_unlogged(self, credential_id: int) -> list[Link]:
        """`links` without an entry in the activity log (for a caller that logs)."""
        from credctl.records.links import links_of

        return links_of(self._records.view(self.actor).find(credential_id))

    def state_stamp(self) -> Any:
        """A value that changes with every write to the backend (None if it cannot say)."""
        return self._records.state_stamp()

    # -- writing -------------------------------------------------------------------

    def create_credential(
        self,
        credential_type: str,
        data: Mapping[str, Any],
        *,
        name: str | None = None,
        description: str = "",
        tags: Sequence[str] = (),
    ) -> CredentialSummary:
        """Validate and store a credential this user owns."""
        with self._records.transaction("create", self.actor) as txn:
            created = txn.create(credential_type, data, name=name, description=description,
                                 tags=tags)  # fmt: skip
        return CredentialSummary.of(created)

    def update_credential(
        self,
        credential_id: int,
        *,
        name: str | None = None,
        credential_type: str | None = None,
        data: Mapping[str, Any] | None = None,
        description: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> CredentialSummary:
        """Change what is given; the rest stays.  A new type needs new data."""
        if all(v is None for v in (name, credential_type, data, description, tags)):
            return self._logged("update", lambda: self.get_unlogged(credential_id), credential_id)
        with self._records.transaction("update", self.actor) as txn:
            updated = txn.update(
                txn.find(credential_id), name=name, credential_type=credential_type, data=data,
                description=description, tags=tuple(tags) if tags is not None else None,
                keep_version=True,
            )  # fmt: skip
        return CredentialSummary.of(updated)

    def delete_credential(self, credential_id: int, *, force: bool = False) -> None:
        """Delete a credential; `CredentialInUse` while workflows are linked, unless `force`."""
        from credctl.records.links import require_unlinked

        with self._records.transaction("delete", self.actor) as txn:
            credential = txn.find(credential_id)
            require_unlinked(credential, force=force)
            txn.delete(credential)

    def add_link(self, credential_id: int, workflow_id: str) -> tuple[Link, bool]:
        """Link a workflow to a credential; (the link, True if it is new)."""
        from credctl.records.links import add_link

        with self._records.transaction("link", self.actor) as txn:
            link, created = add_link(txn, txn.find(credential_id), workflow_id, self.actor.user)
        if not created:  # nothing was written, so the transaction logged nothing
            self._records.log(Activity("link", credential_id, actor=self.actor))
        return link, created

    def remove_link(self, credential_id: int, workflow_id: str) -> None:
        """Unlink a workflow, or `NotFound` if it is not linked."""
        from credctl.records.links import remove_link

        with self._records.transaction("unlink", self.actor) as txn:
            remove_link(txn, txn.find(credential_id), workflow_id)
