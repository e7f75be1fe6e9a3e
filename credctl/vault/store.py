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
from typing import Any

from credctl.errors import (
    InvalidInput,
    VaultCorruptError,
    VaultExistsError,
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
from credctl.vault.slot_ops import (
    KeySlotOps,
    PassphraseUnlocker,
    RekeyResult,
    Unlocker,
    check_rekey_removal,
)

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


class Vault(KeySlotOps):
    """One vault file and the operations that keep it whole (key slots: `KeySlotOps`)."""

    def __init__(self, path: Path | str, *, lock_timeout: float | None = None) -> None:
        self.file = VaultFile(Path(path), lock_timeout=lock_timeout)

    @property
    def path(self) -> Path:
        """Absolute path of the vault file."""
        return self.file.path

    @property
    def location(self) -> str:
        """The vault's path, for prompts and messages."""
        return str(self.file.path)

    def session_host(self) -> VaultFile:
        """Sessions live in ``VAULT.d/sessions``."""
        return self.file

    def has_keyring_marker(self) -> bool:
        """Whether ``VAULT.d/keyring`` says the OS keyring holds the data key."""
        return self.file.has_keyring_marker()

    def recall_keyring(self, vault_id: bytes) -> bytes | None:
        """The data key kept by `unlock --remember`, if the keyring still has it."""
        from credctl.vault.keyring_store import recall

        return recall(self.file, vault_id)

    def last_vault_id(self) -> bytes | None:
        """The id of the vault last written at this path (from the anchor)."""
        anchor = self.file.read_anchor()
        return anchor[0] if anchor else None

    def remember_keyring(self, vault_id: bytes, data_key: bytes) -> None:
        """Keep the data key in the OS keyring, with its marker in ``VAULT.d``."""
        from credctl.vault import keyring_store

        keyring_store.remember(self.file, vault_id, data_key)

    def forget_keyring(self, vault_id: bytes | None) -> bool:
        """Forget the OS keyring entry and its marker; whether there was one."""
        from credctl.vault import keyring_store

        return keyring_store.forget(self.file, vault_id)

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

    def create_from(self, opened: OpenVault) -> None:
        """Write a first generation holding `opened` as it is: its vault id, data key,
        key slots and body (`credctl migrate` to a file).  Refuses to replace a file."""
        with self.file.locked():
            if self.exists():
                raise VaultExistsError(
                    f"a vault already exists at {self.path}; it was left untouched",
                    hint="migrate to another path, or move the old file away first",
                )
            self._commit(opened, previous_generation=None)

    def create(
        self,
        passphrase: bytes,
        kdf: KdfParams,
        *,
        backup_count: int = DEFAULT_BACKUP_COUNT,
        meta: dict[str, object] | None = None,
        max_session_ttl: int | None = None,
        prepare_settings: Callable[[dict[str, Any], bytes, bytes], None] | None = None,
    ) -> OpenVault:
        """Create a new vault with one passphrase slot; refuses to replace a file.

        `max_session_ttl` (seconds) bounds the sessions `unlock` starts; without
        it the default of 30 days applies.  `prepare_settings(settings, vault_id,
        data_key)` may add settings that depend on the new keys (the audit trail's
        first epoch) to the first generation, which is written once.
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
        settings: dict[str, Any] = {"backup_count": backup_count, "last_slot_id": 1,
                                    "created": now, "data_key_created": now, **meta}  # fmt: skip
        if prepare_settings is not None:
            prepare_settings(settings, vault_id, data_key)
        body = Body(settings)
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

    def replace_data_key(
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
            if remove is not None:
                check_rekey_removal(txn.remove_slot(remove))
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
