"""Vault-level operations in the trail: init, unlock, lock, key changes, rekey, export.

These commands work on the `Vault` directly, not through the record layer, so
they record their entry here, each with one call:

- `record_vault_event(vault, action, data_key=…)` when the command holds the
  data key (``init`` after `Vault.create`, ``export``);
- ``with audited(vault, action, unlocker) as unlocker:`` around a command that
  unlocks through an `Unlocker` (the vault methods of ``key``, ``passwd``,
  ``rekey``, ``unlock``): the entry is written when the block ends, with the
  error kind if it raised, before anything the command prints afterwards.

These entries are appended like a read's: no vault write of their own (that
would double the generations, and push real ones out of the kept backups), so
the trail's head is recorded again by the next credential write.  An operation
refused before the vault could be unlocked (no unlock source, wrong passphrase)
cannot be sealed and leaves no entry.

A `rekey` replaces the data key the trail's keys come from: before the key is
used, `audited` makes sure the vault stores the current epoch's root (so
entries sealed under it stay verifiable), and the ``rekey`` entry itself is the
last one sealed under the old key; the next one starts a new epoch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from credctl.audit import seal
from credctl.errors import CredentialError
from credctl.records.activity import Activity, ActivityLog, Actor, os_user

if TYPE_CHECKING:
    from credctl.storage.backend_vault import BackendVault
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault.format import ParsedFile
    from credctl.vault.slot_ops import UnlockTarget
    from credctl.vault.store import Unlocker, Vault

#: Actions that may replace the data key (`passwd --rekey`, `key remove --rekey`, `rekey`).
REKEYING: Final = frozenset({"key_remove", "passwd", "rekey"})


class KeyUnlocker:
    """An `Unlocker` that hands out a data key the caller already holds."""

    def __init__(self, data_key: bytes, source: str = "data-key") -> None:
        self.data_key = data_key
        self.source = source

    def __repr__(self) -> str:  # never the key
        return f"KeyUnlocker(source={self.source!r})"

    def unlock(self, vault: UnlockTarget, parsed: ParsedFile) -> tuple[bytes, str]:
        """The held key."""
        return self.data_key, self.source


class RememberingUnlocker:
    """Asks `inner` once, remembers the key, and stores the trail's settings if needed.

    The first time it unlocks, it makes sure the vault's settings hold the trail's
    current epoch (one vault write, only for a vault that has never stored them),
    so that a rekey inside the operation cannot strand the entries sealed so far.
    """

    def __init__(self, inner: Unlocker, *, store_epoch: bool = True) -> None:
        self.inner = inner
        self.store_epoch = store_epoch
        self.found: tuple[bytes, str] | None = None
        self.vault_id: bytes | None = None
        self.settings: Mapping[str, Any] = {}
        #: The passphrase the inner unlocker used, if it tells (a rekey re-wraps with it).
        self.used_passphrase: bytes | None = None
        #: A backend's activity log, opened before a rekey could replace the data key.
        self.backend_log: ActivityLog | None = None

    def __repr__(self) -> str:  # never the key
        return f"RememberingUnlocker({self.inner!r})"

    def unlock(self, vault: UnlockTarget, parsed: ParsedFile) -> tuple[bytes, str]:
        """The inner unlocker's answer, asked once."""
        if self.found is None:
            found = self.inner.unlock(vault, parsed)
            self.used_passphrase = getattr(self.inner, "used_passphrase", None)
            self.vault_id = parsed.header.vault_id
            from credctl.vault.store import Vault

            # A backend's activity log keeps its own key across rekeys: no epochs there,
            # but that key is read with the data key, which the operation may replace.
            if self.store_epoch and isinstance(vault, Vault):
                self.settings = store_epoch(vault, found[0])
            elif self.store_epoch:
                self.backend_log = _backend_log(vault, found[0])
            self.found = found
        return self.found


def _backend_log(vault: UnlockTarget, data_key: bytes) -> ActivityLog | None:
    """A backend's activity log, its key read now (while `data_key` still opens it)."""
    from credctl.storage.backend_vault import BackendVault
    from credctl.storage.sealed import SealedStorage

    if not isinstance(vault, BackendVault):
        return None
    storage = SealedStorage(vault.backend, KeyUnlocker(data_key))
    storage.log_keys()
    return storage.activity_log()


def first_epoch(settings: dict[str, Any], vault_id: bytes, data_key: bytes) -> None:
    """Put the trail's first epoch into a new vault's settings (`Vault.create`).

    A vault that stores its epoch from the start never has to be written before a
    key change (`store_epoch`), so a key change that is then refused (`key remove
    --rekey` of the last passphrase) leaves the file exactly as it was.
    """
    from credctl.audit.trail import prepared

    prepared(settings, vault_id, seal.epoch_root(data_key, vault_id))


def store_epoch(vault: Vault, data_key: bytes) -> Mapping[str, Any]:
    """Make sure the vault stores the trail's current epoch; its settings as stored."""
    from credctl.audit.trail import prepared

    opened = vault.open_with_key(data_key)
    root = seal.epoch_root(data_key, opened.vault_id)
    config = seal.TrailConfig.from_settings(
        opened.body.meta.get(seal.SETTINGS_KEY), opened.vault_id
    )
    if config is not None and config.is_current(root):
        return dict(opened.body.meta)
    with vault.edit(data_key=data_key, source="data-key") as txn:
        prepared(txn.body.meta, txn.vault_id, root)
        settings = dict(txn.body.meta)
    return settings


def cli_actor() -> Actor:
    """The actor of a vault-level command: the OS user, origin ``cli``."""
    return Actor(os_user(), origin="cli")


def record_vault_event(
    vault: Vault | BackendVault,
    action: str,
    *,
    data_key: bytes | None = None,
    unlocker: Unlocker | None = None,
    error: BaseException | None = None,
    actor: Actor | None = None,
    detail: str | None = None,
    replaced_key: bytes | None = None,
) -> None:
    """Append the entry of a vault-level operation (raises when it cannot be written).

    Give the data key, or the `Unlocker` the operation used (a `RememberingUnlocker`
    costs nothing more).  `error`: the operation failed with it.  After a rekey,
    give the new data key and the one it replaced (`replaced_key`), so that the
    entries sealed under the old one stay verifiable.
    """
    from credctl.storage.vault_storage import VaultStorage
    from credctl.vault.store import StaleDataKeyError

    if unlocker is None:
        if data_key is None:
            raise TypeError("record_vault_event needs the data key or an unlocker")
        unlocker = KeyUnlocker(data_key)
    activity = Activity(
        action,
        actor=actor or cli_actor(),
        outcome="ok" if error is None else "error",
        error=_kind(error),
        detail=detail,
    )
    from credctl.vault.store import Vault

    if not isinstance(vault, Vault):  # a shared backend: its sealed activity log
        from credctl.storage.sealed import SealedStorage

        opened = unlocker.backend_log if isinstance(unlocker, RememberingUnlocker) else None
        (opened or SealedStorage(vault.backend, unlocker).activity_log()).append(activity)
        return
    storage = VaultStorage(vault, unlocker)
    trail = storage.activity_log()
    try:
        storage.trail_identity()
    except StaleDataKeyError:
        # Rekeyed by this very operation: the entry is the last of the old key's epoch.
        if not isinstance(unlocker, RememberingUnlocker) or unlocker.found is None:
            raise
        _append_with_old_key(vault, unlocker, activity)
        return
    if replaced_key is not None:
        _store_epochs(storage, replaced_key)
    trail.append(activity)


def _store_epochs(storage: VaultStorage, replaced_key: bytes) -> None:
    """After a rekey: keep the replaced key's epoch (a vault write, unless already stored).

    The new key's epoch needs no write: it is derived from the key in use.
    """
    from credctl.audit.trail import prepared
    from credctl.vault.crypto import checks_equal

    vault_id, data_key = storage.trail_identity()
    root = seal.epoch_root(data_key, vault_id)
    earlier = seal.epoch_root(replaced_key, vault_id)
    settings = storage.trail_settings()
    stored = seal.TrailConfig.from_settings(settings.get(seal.SETTINGS_KEY), vault_id)
    if stored is not None and any(checks_equal(earlier, r) for r in stored.epochs):
        return
    with storage.writer() as draft:
        prepared(draft.meta, vault_id, root, earlier=earlier)


def record_if_unlocked(
    vault: Vault | BackendVault, action: str, *, actor: Actor | None = None
) -> bool:
    """Record an operation that needs no unlock (``lock``) if an unlock source is at hand.

    Nothing prompts; with no source (or any other problem) nothing is recorded and
    False is returned: such an operation never fails over its entry.
    """
    import os

    from credctl.vault.unlock import EnvironmentUnlocker

    try:
        record_vault_event(vault, action, unlocker=EnvironmentUnlocker(env=os.environ),
                           actor=actor)  # fmt: skip
    except CredentialError:
        return False
    return True


class _OldKeyHost:
    """A `TrailHost` for the data key a rekey just replaced."""

    def __init__(self, vault_id: bytes, data_key: bytes, settings: Mapping[str, Any]) -> None:
        self.vault_id = vault_id
        self.data_key = data_key
        self.settings = settings

    def trail_identity(self) -> tuple[bytes, bytes]:
        return self.vault_id, self.data_key

    def trail_settings(self) -> Mapping[str, Any]:
        return self.settings


def _append_with_old_key(vault: Vault, unlocker: RememberingUnlocker, activity: Activity) -> None:
    from credctl.audit.trail import AuditTrail

    assert unlocker.found is not None
    assert unlocker.vault_id is not None
    host = _OldKeyHost(unlocker.vault_id, unlocker.found[0], unlocker.settings)
    AuditTrail(vault.file.sidecar, host).append(activity)


def _kind(error: BaseException | None) -> str | None:
    if error is None:
        return None
    if isinstance(error, CredentialError):
        return type(error).__name__
    return "Interrupted" if isinstance(error, KeyboardInterrupt) else "InternalError"


@contextlib.contextmanager
def audited(
    vault: Vault | BackendVault, action: str, unlocker: Unlocker, *, actor: Actor | None = None
) -> Iterator[RememberingUnlocker]:
    """Run a vault-level operation with `unlocker` and record it when the block ends.

    Yields the unlocker to pass on.  A failure is recorded with its error kind and
    re-raised (if the entry cannot be written either, the operation's own error is
    the one raised).  If the vault was never unlocked, nothing can be recorded.
    """
    remembering = RememberingUnlocker(unlocker, store_epoch=action in REKEYING)
    try:
        yield remembering
    except BaseException as exc:
        if remembering.found is not None:
            with contextlib.suppress(CredentialError):
                record_vault_event(vault, action, unlocker=remembering, error=exc, actor=actor)
        raise
    record_vault_event(vault, action, unlocker=remembering, actor=actor)
