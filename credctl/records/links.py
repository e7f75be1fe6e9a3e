"""Workflow links: which workflows use a credential (SPEC §6).

A workflow engine links a credential to each workflow that refers to it.  A
linked credential cannot be deleted unless the caller forces it (the REST API's
``?force=true``, the CLI's ``--force``): deleting a credential that workflows
use makes them fail when they run.  Links are kept with the credential, in its
record's ``links`` key (`StoredCredential.extra`), so they are written and read
back with it in the same vault generation, and they follow a rotated credential
to its new id (`move_links`).

Each link is ``{"workflow_id", "created_at", "user"}``; the list is kept sorted
by workflow id.  A malformed list can only come from a forged body: it is damage.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import CredentialInUse, InvalidInput, NotFound, VaultCorruptError

if TYPE_CHECKING:
    from credctl.records.store import RecordTransaction
    from credctl.records.stored import StoredCredential

#: The record key that holds the links.
LINKS: Final = "links"
#: Workflow ids as n8n, Airflow (dag ids) and Temporal name them, safe in a URL path
#: segment and in an audit export: no ``/``, no spaces, no control characters.
WORKFLOW_ID_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,199}"
_WORKFLOW_ID: Final = re.compile(WORKFLOW_ID_PATTERN + r"\Z")
MAX_LINKS: Final = 1000


class Link:
    """One workflow that uses a credential."""

    __slots__ = ("created_at", "user", "workflow_id")

    def __init__(self, workflow_id: str, created_at: str, user: str) -> None:
        self.workflow_id = workflow_id
        self.created_at = created_at
        self.user = user

    def __repr__(self) -> str:
        return f"Link({self.workflow_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Link):
            return NotImplemented
        return self.to_record() == other.to_record()

    def __hash__(self) -> int:
        return hash(self.workflow_id)

    def to_record(self) -> dict[str, str]:
        """The JSON object kept in the record."""
        return {"workflow_id": self.workflow_id, "created_at": self.created_at, "user": self.user}


def check_workflow_id(value: object) -> str:
    """`value` if it is a valid workflow id, else `InvalidInput`."""
    if not isinstance(value, str) or not _WORKFLOW_ID.match(value):
        raise InvalidInput(
            "workflow_id must be 1–200 ASCII letters, digits, '_', '.', ':', '@' or '-', "
            "starting with a letter or digit"
        )
    return value


def links_of(credential: StoredCredential) -> list[Link]:
    """The credential's links, sorted by workflow id."""
    raw: Any = credential.extra.get(LINKS, [])
    try:
        if not isinstance(raw, list):
            raise TypeError("links is not a list")
        links = [Link(str(i["workflow_id"]), str(i["created_at"]), str(i["user"])) for i in raw]
    except (KeyError, TypeError) as exc:
        raise VaultCorruptError(
            f"the workflow links of credential {credential.id} are malformed"
        ) from exc
    return sorted(links, key=lambda link: link.workflow_id)


def _store(
    txn: RecordTransaction, credential: StoredCredential, links: list[Link]
) -> StoredCredential:
    ordered = sorted(links, key=lambda link: link.workflow_id)
    return txn.set_extra(credential, LINKS, [link.to_record() for link in ordered] or None)


def add_link(
    txn: RecordTransaction, credential: StoredCredential, workflow_id: str, user: str
) -> tuple[Link, bool]:
    """Link `workflow_id` to the credential; (the link, True if it is new).

    Linking a workflow that is already linked changes nothing (engines link on
    every save of a workflow).
    """
    check_workflow_id(workflow_id)
    links = links_of(credential)
    for link in links:
        if link.workflow_id == workflow_id:
            return link, False
    if len(links) >= MAX_LINKS:
        raise InvalidInput(f"a credential can be linked to at most {MAX_LINKS} workflows")
    from credctl._time import format_rfc3339, utc_now

    link = Link(workflow_id, format_rfc3339(utc_now()), user)
    _store(txn, credential, [*links, link])
    return link, True


def remove_link(txn: RecordTransaction, credential: StoredCredential, workflow_id: str) -> None:
    """Unlink `workflow_id`, or `NotFound` if it is not linked."""
    links = links_of(credential)
    kept = [link for link in links if link.workflow_id != workflow_id]
    if len(kept) == len(links):
        raise NotFound(f"credential {credential.id} is not linked to that workflow")
    _store(txn, credential, kept)


def require_unlinked(credential: StoredCredential, *, force: bool) -> None:
    """`CredentialInUse` (exit 8, HTTP 409) if workflows use the credential, unless `force`."""
    links = links_of(credential)
    if links and not force:
        shown = ", ".join(link.workflow_id for link in links[:5])
        more = f" and {len(links) - 5} more" if len(links) > 5 else ""
        raise CredentialInUse(
            f"credential {credential.id} is used by {len(links)} workflow(s): {shown}{more}",
            hint="unlink the workflows first, or force the deletion (--force, ?force=true)",
        )


def move_links(
    txn: RecordTransaction, old: StoredCredential, new: StoredCredential
) -> StoredCredential:
    """Move every link of `old` to `new` (rotation gives a credential a new id).

    Links `new` already has are kept (with their original time); `old` is left
    with none.  Returns `new` as stored now.
    """
    moved = {link.workflow_id: link for link in links_of(old)}
    moved.update({link.workflow_id: link for link in links_of(new)})
    if len(moved) > MAX_LINKS:
        raise InvalidInput(f"a credential can be linked to at most {MAX_LINKS} workflows")
    if links_of(old):
        txn.set_extra(old, LINKS, None)
    return _store(txn, new, list(moved.values()))
