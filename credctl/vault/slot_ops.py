"""Key-slot changes, written once for every place a vault's key slots live.

`KeySlotOps` holds what `key add-ci`, `key remove`, `passwd` and `rekey` do: who
may change slots (the passphrase itself; a CI key only when allowed), the rules
of each change, and when a new data key is needed.  It is written against four
primitives that a keeper of slots provides: `open` (unlock), `edit` (an exclusive
change of the slots, committed on exit), `replace_data_key` (rekey) and the
slot body's settings.  `credctl.vault.store.Vault` keeps them in the vault file's
header; `credctl.storage.backend_vault.BackendVault` in a key-slot blob of a
shared backend.

Key slots change only with the passphrase itself (`add_ci_key` may also take a
CI key when the caller allows it): a session or the keyring entry is a grant
that a TTL or `lock` ends, and a slot made with one would outlive it.  Removing
a slot or a passphrase leaves older copies openable with it, and the data key
they give reads every later generation too; only a new data key (`rekey=True`,
`rekey`) retires them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from credctl.errors import InvalidInput, VaultLockedError
from credctl.vault import keys
from credctl.vault.crypto import KdfParams
from credctl.vault.format import ParsedFile, SlotType
from credctl.vault.opened import CI_KEY_SOURCE, PASSPHRASE_SOURCES, OpenVault

if TYPE_CHECKING:
    from credctl.vault.sessions import SessionPlace

PASSPHRASE_HINT = "set CREDCTL_PASSPHRASE_FILE or CREDCTL_PASSPHRASE, or run in a terminal"  # noqa: S105


class UnlockTarget(Protocol):
    """What an unlocker needs from the vault it unlocks, wherever its slots live."""

    @property
    def location(self) -> str:
        """Where the vault is, for prompts and messages (a path or a backend URL)."""
        ...

    def session_host(self) -> SessionPlace:
        """Where this vault's sessions are kept."""
        ...

    def has_keyring_marker(self) -> bool:
        """Whether `unlock --remember` stored the data key in the OS keyring."""
        ...

    def recall_keyring(self, vault_id: bytes) -> bytes | None:
        """The data key the OS keyring holds for this vault, if any."""
        ...


class Unlocker(Protocol):
    """Finds the data key for a parsed vault, from whatever source it knows."""

    def unlock(self, vault: UnlockTarget, parsed: ParsedFile) -> tuple[bytes, str]:
        """Return (data key, name of the source that gave it)."""
        ...


class PassphraseUnlocker(Unlocker, Protocol):
    """An unlocker that tells which passphrase it unlocked with (None: it used none)."""

    used_passphrase: bytes | None


class RekeyResult(NamedTuple):
    """What a rekey retired besides the old data key."""

    dropped_ci_keys: tuple[int, ...]  # slot ids: a CI slot cannot be re-wrapped without its key
    sessions_ended: int
    backups_removed: int
    keyring_forgotten: bool


class KeySlotOps:
    """Key-slot changes over `open`, `edit` and `replace_data_key` (see the module doc)."""

    def open(self, unlocker: Unlocker) -> OpenVault:
        """Unlock and decrypt the key slots and settings."""
        raise NotImplementedError

    def edit(
        self, unlocker: Unlocker | None = None, *, data_key: bytes | None = None,
        source: str = "data-key",
    ) -> contextlib.AbstractContextManager[OpenVault]:  # fmt: skip
        """An exclusive change of the slots and settings, committed on exit."""
        raise NotImplementedError

    def replace_data_key(
        self,
        opened: OpenVault,
        passphrase: bytes,
        *,
        kdf: KdfParams | None = None,
        remove: int | None = None,
    ) -> RekeyResult:
        """Re-encrypt everything under a new data key with one passphrase slot."""
        raise NotImplementedError

    def open_for_key_change(self, unlocker: Unlocker, *, allow_ci_key: bool = False) -> OpenVault:
        """Unlock for a key-slot change: the passphrase itself, or a CI key if allowed (4)."""
        opened = self.open(unlocker)
        if opened.source in PASSPHRASE_SOURCES:
            return opened
        if allow_ci_key and opened.source == CI_KEY_SOURCE:
            return opened
        raise VaultLockedError(
            f"changing key slots needs the passphrase itself; the {opened.source!r} "
            "unlock source is not enough",
            hint=PASSPHRASE_HINT,
        )

    def add_ci_key(
        self, unlocker: Unlocker, label: str = "", *, allow_ci_key: bool = False
    ) -> tuple[keys.CiKey, str]:
        """Add a CI key; returns it (shown once, never stored) and the source that allowed it.

        With `allow_ci_key` an existing CI key may add another: it holds the data
        key already, so it gains nothing it could not do to a copy of the file;
        `rekey` drops every CI key, including keys added this way.
        """
        keys.check_label(label)
        opened = self.open_for_key_change(unlocker, allow_ci_key=allow_ci_key)
        with self.edit(data_key=opened.data_key, source=opened.source) as txn:
            key = txn.add_ci_key(label)
        return key, opened.source

    def remove_key_slot(
        self, unlocker: PassphraseUnlocker, slot_id: int, *, rekey: bool = False
    ) -> RekeyResult | None:
        """Remove a slot; with `rekey`, also replace the data key (see `Vault.rekey`).

        Without `rekey` an older copy of the file still opens with the removed
        key, and the data key it gives reads this vault and every later change.
        """
        opened = self.open_for_key_change(unlocker)
        if rekey:
            return self.replace_data_key(opened, passphrase_of(unlocker), remove=slot_id)
        with self.edit(data_key=opened.data_key, source=opened.source) as txn:
            txn.remove_slot(slot_id)
        return None

    def change_passphrase(
        self,
        unlocker: PassphraseUnlocker,
        new_passphrase: bytes | Callable[[], bytes],
        *,
        memory_kib: int | None = None,
        time_cost: int | None = None,
        parallelism: int | None = None,
        rekey: bool = False,
    ) -> RekeyResult | None:
        """Replace every passphrase slot by one for `new_passphrase`; CI keys stay.

        `new_passphrase` may be a function, called once the current passphrase
        has opened the vault (so a prompt never asks for a new one in vain).
        Unset Argon2id settings keep the current ones.  Without `rekey` an older
        copy of the file still opens with the old passphrase, and the data key it
        gives reads this vault and every later change.
        """
        opened = self.open_for_key_change(unlocker)
        new = new_passphrase() if callable(new_passphrase) else new_passphrase
        if not new:
            raise InvalidInput("the new passphrase must not be empty")
        base = opened.passphrase_kdf
        params = KdfParams(memory_kib or base.memory_kib, time_cost or base.time_cost,
                           parallelism or base.parallelism)  # fmt: skip
        params.check_for_init()
        if rekey:
            return self.replace_data_key(opened, new, kdf=params)
        with self.edit(data_key=opened.data_key, source=opened.source) as txn:
            slot = keys.passphrase_slot(txn.vault_id, txn.next_slot_id(), new, params,
                                        txn.data_key)  # fmt: skip
            txn.slots = [s for s in txn.slots if s.slot_type is not SlotType.PASSPHRASE] + [slot]
        return None

    def rekey(
        self,
        unlocker: PassphraseUnlocker,
        new_passphrase: bytes | Callable[[], bytes | None] | None = None,
    ) -> RekeyResult:
        """Re-encrypt everything under a new data key, so no older copy reads it.

        The vault keeps one passphrase slot: `new_passphrase` (a function is
        called after the unlock), else the one used to unlock.  CI keys cannot
        be re-wrapped without their keys and are dropped; sessions end, the
        keyring entry is forgotten and kept backups are deleted.
        """
        opened = self.open_for_key_change(unlocker)
        new = new_passphrase() if callable(new_passphrase) else new_passphrase
        return self.replace_data_key(opened, new or passphrase_of(unlocker))


def passphrase_of(unlocker: PassphraseUnlocker) -> bytes:
    """The passphrase the unlocker used; a rekey that keeps it re-wraps the new key with it."""
    if unlocker.used_passphrase is None:
        raise VaultLockedError("a rekey needs the passphrase itself", hint=PASSPHRASE_HINT)
    return unlocker.used_passphrase


def check_rekey_removal(removed: Any) -> None:
    """`--rekey` keeps only the passphrase used, so it cannot remove a passphrase slot."""
    if removed.slot_type is SlotType.PASSPHRASE:
        raise InvalidInput(
            "--rekey keeps only the passphrase you unlocked with, so it cannot "
            f"remove passphrase slot {removed.slot_id}",
            hint="replace a passphrase with `credctl passwd --rekey`",
        )
