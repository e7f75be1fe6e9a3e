"""Pending interactive logins in the backend's settings, under the record layer's lock.

A flow is saved when `start_interactive_flow` prepares it and taken out again,
in one transaction, when its callback arrives; `credctl.oauth.flows` decides
whether the callback belongs to it.  The settings key holds secrets (the PKCE
verifier, the device code), which is why flows live in the encrypted backend.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import CredentialError

if TYPE_CHECKING:
    from credctl.model import CallbackData
    from credctl.oauth.flows import PendingFlow
    from credctl.records.activity import Actor
    from credctl.records.store import RecordStore, RecordTransaction

#: The settings key that holds pending flows by id.
FLOWS_KEY: Final = "oauth_flows"


def _flows(txn: RecordTransaction) -> dict[str, Any]:
    flows = txn.settings.get(FLOWS_KEY)
    if not isinstance(flows, dict):
        flows = {}
        txn.settings[FLOWS_KEY] = flows
    return flows


def save_flow(store: RecordStore, pending: PendingFlow, actor: Actor) -> None:
    """Keep a prepared flow until its callback (old and surplus flows are dropped)."""
    from credctl.oauth.flows import purge

    with store.transaction("login", actor) as txn:
        flows = _flows(txn)
        purge(flows, time.time())
        flows[pending.id] = pending.stored
        txn.mark_settings_changed()


def take_flow(
    store: RecordStore, flow_id: str, callback: CallbackData, actor: Actor
) -> dict[str, Any]:
    """Remove and return the flow `callback` belongs to; raise why it cannot be finished.

    A forged callback leaves the flow pending; an expired or refused one removes it
    (that removal is committed) and then raises.
    """
    from credctl.oauth.flows import ended, take

    problem: CredentialError | None = None
    with store.transaction("login", actor) as txn:
        flow = take(_flows(txn), flow_id, callback)
        txn.mark_settings_changed()
        problem = ended(flow, callback)
    if problem is not None:
        raise problem
    return flow


def cancel_flow(store: RecordStore, flow_id: str, actor: Actor) -> bool:
    """Forget a pending flow (the person gave up); False if there was none."""
    with store.transaction("login", actor) as txn:
        removed = _flows(txn).pop(flow_id, None) is not None
        if removed:
            txn.mark_settings_changed()
    return removed
