"""Rekey of a vault in a blob backend: every record re-sealed under a new data key.

Storage keys are HMACs under a key derived from the data key, so the new
generation lives under new names beside the old one.  The changes are ordered
so that the key-slot blob is the commit point: first every new blob (records,
aliases, buckets, settings, root), then the key-slot blob with the new slots,
then the removal of every old blob.  On engines without transactions a crash
before the key-slot blob leaves unreferenced new blobs; after it, unreferenced
old ones; neither is ever read.
"""

from __future__ import annotations

from credctl.storage.blobs import Change
from credctl.storage.sealed_commit import Commit
from credctl.storage.sealed_format import KEYS_KEY, SealKeys

#: Prefixes of every blob sealed under a data key (everything but slots and sessions).
SEALED_PREFIXES = ("r-", "i-", "m-", "root-", "meta-")


def rekey_changes(
    txn: Commit, new_keys: SealKeys, keys_blob: bytes, generation: int
) -> list[Change]:
    """The writes of a rekey, in commit order (see the module doc)."""
    records = list(txn.draft.records())
    meta = dict(txn.meta)
    old = [blob for prefix in SEALED_PREFIXES for blob in txn.txn.list(prefix)]
    fresh = Commit(txn.txn, new_keys, None, txn.keys_blob, atomic=txn.atomic)
    fresh.seq = txn.seq  # commit numbers only grow: this machine's anchor must accept it
    fresh.log_key = txn.log_key  # the activity log stays readable
    for record in records:
        fresh.draft.put(record)
    fresh.meta.clear()
    fresh.meta.update(meta)
    fresh.new_keys_blob = (keys_blob, generation)
    staged = fresh.changes()
    writes = [c for c in staged if c.key != KEYS_KEY]
    [slots] = [c for c in staged if c.key == KEYS_KEY]
    return [*writes, slots, *(Change(b.key, None, b.token) for b in old)]
