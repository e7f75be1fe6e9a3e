"""Opening, changing and creating a vault: the layer commands talk to.

`Vault.open` unlocks without taking the lock (readers never wait on writers).
`Vault.edit` unlocks first, then takes the lock, re-reads the file under it,
decrypts that copy with the data key (no second Argon2 run), lets the caller
change it, and commits a new generation.  Nothing is written unless the whole
vault was read and authenticated first.

Key slots change only with the passphrase itself (`Vault.add_ci_key` may also
take a CI key when the caller allows it): a session or the keyring entry is a
grant that a TTL or `lock` ends, and a slot made with one would outlive it.
Removing a slot or a passphrase leaves older copies of the file openable with
it, and the data key they give reads every later generation too; only a new
data key (`rekey=True`, `Vault.rekey`) retires them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from credctl.errors import (
    InvalidInput,
    VaultCorruptError,
    VaultExistsError,
    VaultLockedError,
    VaultRollbackError,
)
from credctl.vault import crypto, keys
from credctl.vault.body import Body
from credctl.vault.crypto import KdfParams
from credctl.vault.file import DEFAULT_BACKUP_COUNT, VaultFile
from credctl.vault.format import Header, ParsedFile, SlotType, parse_file
from credctl.vault.opened import (
    CI_KEY_SOURCE,
    DEFAULT_MAX_SESSION_TTL,
    KEYRING_SOURCE,
    MAX_SESSION_TTL_LIMIT,
    OWN_SETTINGS,
    PASSPHRASE_SOURCE,
    PASSPHRASE_SOURCES,
    SESSION_SOURCE,
    OpenVault,
    check_max_session_ttl,
    passphrase_slots,
)
from credctl.vault.sealing import StaleDataKeyError, decrypt_body, decrypt_plaintext, seal_vault

__all__ = [  # the names other modules import from here, wherever they now live
    "CI_KEY_SOURCE",
    "DEFAULT_MAX_SESSION_TTL",
    "KEYRING_SOURCE",
    "MAX_SESSION_TTL_LIMIT",
    "OWN_SETTINGS",
    "PASSPHRASE_SOURCE",
    "PASSPHRASE_SOURCES",
    "SESSION_SOURCE",
    "OpenVault",
    "PassphraseUnlocker",
    "RekeyResult",
    "StaleDataKeyError",
    "Unlocker",
    "Vault",
    "check_max_session_ttl",
    "decrypt_body",
    "passphrase_slots",
    "seal_vault",
]
_PASSPHRASE_HINT = "set CREDCTL_PASSPHRASE_FILE or CREDCTL_PASSPHRASE, or run in a terminal"  # noqa: S105


class Unlocker(Protocol):
    """Finds the data key for a parsed vault, from whatever source it knows."""

    def unlock(self, vault: Vault, parsed: ParsedFile) -> tuple[bytes, str]:
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


class Vault:
    """One vault file and the operations that keep it whole."""

    def __init__(self, path: Path | str, *, lock_timeout: float | None = None) -> None:
        self.file = VaultFile(Path(path), lock_timeout=lock_timeout)

    @property
    def path(self) -> Path:
        """Absolute path of the vault file."""
        return self.file.path

    def exists(self) -> bool:
        """True if a file (or anything) is at the vault path."""
        return self.file.exists()

    def read_parsed(self) -> ParsedFile:
        """Read and validate the current file, checking it against the rollback anchor."""
        anchor = self.file.read_anchor()  # before the file: see docs/FORMAT.md §Rollback
        with self._damage_hinted():
            parsed = parse_file(self.file.read())
        if anchor is not None:
            anchor_id, anchor_generation = anchor
            hint = (
                f"if you put this file there on purpose, delete {self.file.anchor_path} "
                "and run the command again"
            )
            if anchor_id != parsed.header.vault_id:
                raise VaultRollbackError(
                    f"{self.path} is not the vault that was last written at this path",
                    hint=hint,
                )
            if parsed.header.generation < anchor_generation:
                raise VaultRollbackError(
                    f"{self.path} is an older copy (generation {parsed.header.generation}) "
                    f"than the one last written here (generation {anchor_generation})",
                    hint=hint,
                )
        return parsed

    def open(self, unlocker: Unlocker) -> OpenVault:
        """Unlock and decrypt the current generation without taking the lock."""
        parsed = self.read_parsed()
        data_key, source = unlocker.unlock(self, parsed)
        return self._open_parsed(parsed, data_key, source)

    def open_with_key(self, data_key: bytes, source: str = "data-key") -> OpenVault:
        """Decrypt the current generation with a known data key."""
        return self._open_parsed(self.read_parsed(), data_key, source)

    @contextlib.contextmanager
    def edit(self, unlocker: Unlocker | None = None, *, data_key: bytes | None = None,
             source: str = "data-key") -> Iterator[OpenVault]:  # fmt: skip
        """Unlock, lock, re-read, yield the open vault, and commit what changed."""
        if data_key is None:
            if unlocker is None:
                raise TypeError("edit() needs an unlocker or a data key")
            opened = self.open(unlocker)
            data_key, source = opened.data_key, opened.source
        with self.file.locked():
            parsed = self.read_parsed()
            current = self._open_parsed(parsed, data_key, source)
            current.body.names()  # structural check of the whole index before any write
            yield current
            self._commit(current, previous_generation=parsed.header.generation)

    @contextlib.contextmanager
    def _damage_hinted(self) -> Iterator[None]:
        """Damage (exit 6) without a fix of its own points at the kept generations."""
        try:
            yield
        except VaultCorruptError as exc:
            if type(exc) is VaultCorruptError and exc.hint is None:
                exc.hint = (
                    f"earlier generations are kept in {self.file.backup_dir} (newest last); "
                    f"to go back to one, keep a copy of {self.path.name}, copy the backup over "
                    f"it and delete {self.file.anchor_path}"
                )
            raise

    def _open_parsed(self, parsed: ParsedFile, data_key: bytes, source: str) -> OpenVault:
        with self._damage_hinted():
            body = decrypt_body(parsed, data_key)
        header = parsed.header
        return OpenVault(
            header.vault_id, header.generation, data_key, list(header.slots), body, source, header
        )

    def _commit(
        self,
        opened: OpenVault,
        *,
        previous_generation: int | None,
        backup_count: int | None = None,
    ) -> None:
        """Seal and write `opened`; `backup_count` overrides the vault's setting once."""
        if not opened.slots:
            raise InvalidInput("a vault must keep at least one key slot")
        generation = (previous_generation or 0) + 1
        plaintext = opened.body.encode()
        data = seal_vault(opened.vault_id, generation, opened.slots, opened.data_key, plaintext)

        def verify(written: bytes) -> None:
            # Decrypting what reached the disk and finding exactly the body we sealed
            # proves the file whole; Body.decode also re-checks its framing.
            parsed = parse_file(written)
            if decrypt_plaintext(parsed, opened.data_key) != plaintext:
                raise VaultCorruptError("the vault written to disk does not read back")

        self.file.commit(
            data,
            opened.vault_id,
            generation,
            verify,
            previous_generation=previous_generation,
            backup_count=opened.backup_count if backup_count is None else backup_count,
        )
        opened.generation = generation

    def create(
        self,
        passphrase: bytes,
        kdf: KdfParams,
        *,
        backup_count: int = DEFAULT_BACKUP_COUNT,
        meta: dict[str, object] | None = None,
        max_session_ttl: int | None = None,
    ) -> OpenVault:
        """Create a new vault with one passphrase slot; refuses to replace a file.

        `max_session_ttl` (seconds) bounds the sessions `unlock` starts; without
        it the default of 30 days applies.
        """
        kdf.check_for_init()
        if not passphrase:
            raise InvalidInput("the passphrase must not be empty")
        if not 0 <= backup_count <= 100:
            raise InvalidInput("the backup count must be between 0 and 100")
        meta = dict(meta or {})
        if max_session_ttl is not None:
            check_max_session_ttl(max_session_ttl)
            meta["max_session_ttl"] = max_session_ttl
        if self.exists():  # before Argon2id: refusing must not cost seconds (checked again below)
            raise self._exists_error()
        vault_id = crypto.random_bytes(16)
        data_key = crypto.random_bytes(crypto.KEY_SIZE)
        slot = keys.passphrase_slot(vault_id, 1, passphrase, kdf, data_key)
        now = int(time.time())
        body = Body({"backup_count": backup_count, "last_slot_id": 1, "created": now,
                     "data_key_created": now,
                     **meta})  # fmt: skip
        with self.file.locked():
            if self.exists():
                raise self._exists_error()
            opened = OpenVault(vault_id, 0, data_key, [slot], body, "passphrase", header=_EMPTY)
            self._commit(opened, previous_generation=None)
        return opened

    def _exists_error(self) -> VaultExistsError:
        return VaultExistsError(
            f"a vault already exists at {self.path}; it was left untouched",
            hint="use --vault PATH for another vault, or `credctl passwd` to change "
            "the passphrase",
        )

    # -- key slots ----------------------------------------------------------------

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
            hint=_PASSPHRASE_HINT,
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
            return self._rekey(opened, _passphrase_of(unlocker), remove=slot_id)
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
            return self._rekey(opened, new, kdf=params)
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
        return self._rekey(opened, new or _passphrase_of(unlocker))

    def _rekey(
        self,
        opened: OpenVault,
        passphrase: bytes,
        *,
        kdf: KdfParams | None = None,
        remove: int | None = None,
    ) -> RekeyResult:
        params = kdf or opened.passphrase_kdf
        with self.file.locked():
            parsed = self.read_parsed()
            txn = self._open_parsed(parsed, opened.data_key, opened.source)
            txn.body.names()  # structural check of the whole index before any write
            if remove is not None and txn.remove_slot(remove).slot_type is SlotType.PASSPHRASE:
                raise InvalidInput(
                    "--rekey keeps only the passphrase you unlocked with, so it cannot "
                    f"remove passphrase slot {remove}",
                    hint="replace a passphrase with `credctl passwd --rekey`",
                )
            dropped = tuple(s.slot_id for s in txn.slots if s.slot_type is SlotType.CI_KEY)
            txn.data_key = crypto.random_bytes(crypto.KEY_SIZE)
            txn.body.meta["data_key_created"] = int(time.time())
            txn.slots = [keys.passphrase_slot(txn.vault_id, txn.next_slot_id(), passphrase,
                                              params, txn.data_key)]  # fmt: skip
            kept = len(self.file.backups())
            # No backup of the old generation, and every kept one pruned: each opens
            # with an old key.
            self._commit(txn, previous_generation=parsed.header.generation, backup_count=0)
            self.file.remove_backups()
            removed = kept - len(self.file.backups())
        from credctl.vault import keyring_store, sessions

        ended = sessions.revoke_all(self.file)
        forgot = keyring_store.forget(self.file, txn.vault_id)
        return RekeyResult(dropped, ended, removed, forgot)


def _passphrase_of(unlocker: PassphraseUnlocker) -> bytes:
    """The passphrase the unlocker used; a rekey that keeps it re-wraps the new key with it."""
    if unlocker.used_passphrase is None:
        raise VaultLockedError("a rekey needs the passphrase itself", hint=_PASSPHRASE_HINT)
    return unlocker.used_passphrase


_EMPTY = Header(b"\0" * 16, 0, b"\0" * 32, b"\0" * 12, b"\0" * 16)


def export_copy(
    opened: OpenVault, target_path: Path | str, passphrase: bytes, kdf: KdfParams | None = None
) -> int:
    """Write a new vault at `target_path` holding a copy of every record of `opened`; the count.

    The copy has its own passphrase, its own data key and id, and this vault's
    settings except those that belong to one file (`OWN_SETTINGS`); `kdf`
    defaults to this vault's passphrase settings.  An existing file is never
    replaced (exit 8).
    """
    target = Vault(target_path)
    if target.exists():
        raise VaultExistsError(
            f"{target.path} already exists; an export never replaces a file",
            hint="choose another file, or move the old one away first",
        )
    settings = {k: v for k, v in opened.body.meta.items() if k not in OWN_SETTINGS}
    created = target.create(
        passphrase, kdf or opened.passphrase_kdf, backup_count=opened.backup_count, meta=settings
    )
    count = 0
    with target.edit(data_key=created.data_key, source=PASSPHRASE_SOURCE) as txn:
        for credential_id, name, record in opened.body.entries():
            txn.body.put(credential_id, name, record)
            count += 1
    target.file.remove_backups()  # the empty first generation is no backup worth keeping
    return count
