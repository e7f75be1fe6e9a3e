"""The key slots and sessions of a vault kept in a shared backend.

The key-slot blob (``keys``) is a vault file of format version 1 (docs/FORMAT.md)
whose body has an empty index: its header holds the vault id, the key slots and
the data-key check, its settings the slot counter and the session limit.  So
the same passphrase, CI keys and sessions unlock the vault from any machine,
with every check of the file format (KDF floors and caps, key checks, the
header authenticated by the data key).  Its generation is recorded in the
sealed root, so a key-slot blob put back from before a `key remove` is refused.

Session records are blobs ``s-<session id>`` with the session file's content:
they open only with the `CREDCTL_SESSION` string, and `lock` deletes them all.
The OS keyring (`unlock --remember`) is kept for vault files only.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

from credctl.errors import (
    InvalidInput,
    KeyringUnavailableError,
    VaultCorruptError,
    VaultExistsError,
    VaultNotFoundError,
)
from credctl.storage.blobs import BlobBackend, Change, closing_reader
from credctl.storage.sealed_commit import Commit, write_session
from credctl.storage.sealed_format import KEYS_KEY, SESSION_PREFIX, SealKeys
from credctl.vault import crypto, keys
from credctl.vault.body import Body
from credctl.vault.crypto import KdfParams
from credctl.vault.file import DEFAULT_BACKUP_COUNT
from credctl.vault.format import Header, ParsedFile, SlotType, parse_file
from credctl.vault.opened import PASSPHRASE_SOURCE, OpenVault, check_max_session_ttl
from credctl.vault.sealing import decrypt_body, seal_vault
from credctl.vault.sessions import SessionFolder
from credctl.vault.slot_ops import KeySlotOps, RekeyResult, Unlocker, check_rekey_removal

_LOCK_TIMEOUT = 10.0


def default_lock_timeout() -> float:
    """``CREDCTL_LOCK_TIMEOUT`` seconds (default 10), as for the vault file."""
    import os

    try:
        value = float(os.environ.get("CREDCTL_LOCK_TIMEOUT", _LOCK_TIMEOUT))
    except ValueError:
        return _LOCK_TIMEOUT
    return value if value >= 0 else _LOCK_TIMEOUT


class BackendSessions:
    """Session records kept as ``s-…`` blobs (a `SessionFolder`)."""

    def __init__(self, backend: BlobBackend) -> None:
        self.backend = backend

    def __enter__(self) -> BackendSessions:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def read_file(self, name: str) -> bytes | None:
        """A session record, None when there is none."""
        key = SESSION_PREFIX + name
        with closing_reader(self.backend.reader()) as reader:
            blob = reader.get_many([key]).get(key)
        return blob.data if blob is not None else None

    def write_file_atomic(self, name: str, data: bytes) -> None:
        """Store a new session record (ids are random: it never replaces one)."""
        with self.backend.transaction() as txn:
            txn.commit([Change(SESSION_PREFIX + name, data, None)])

    def unlink(self, name: str) -> bool:
        """Remove a session record; False when it was already gone."""
        key = SESSION_PREFIX + name
        with self.backend.transaction() as txn:
            blob = txn.get_many([key]).get(key)
            if blob is None:
                return False
            with contextlib.suppress(Exception):  # removed meanwhile by another `lock`
                txn.commit([Change(key, None, blob.token)])
        return True

    def regular_files(self) -> list[str]:
        """The session ids that have records."""
        with closing_reader(self.backend.reader()) as reader:
            return [b.key[len(SESSION_PREFIX) :] for b in reader.list(SESSION_PREFIX)]


class BackendVault(KeySlotOps):
    """Key slots, settings and sessions of a vault kept in a `BlobBackend`."""

    def __init__(self, backend: BlobBackend, *, lock_timeout: float | None = None) -> None:
        self.backend = backend
        self.lock_timeout = lock_timeout if lock_timeout is not None else default_lock_timeout()

    # -- UnlockTarget / GrantTarget ----------------------------------------------------

    @property
    def location(self) -> str:
        """The backend, without credentials."""
        return self.backend.describe()

    def session_host(self) -> BackendVault:
        """Sessions are kept in the backend itself."""
        return self

    def session_folder(self, *, create: bool = False) -> SessionFolder:
        """The ``s-…`` blobs."""
        return BackendSessions(self.backend)

    def has_keyring_marker(self) -> bool:
        """The OS keyring is used for vault files only."""
        return False

    def recall_keyring(self, vault_id: bytes) -> bytes | None:
        """Never consulted (see `has_keyring_marker`)."""
        return None

    def remember_keyring(self, vault_id: bytes, data_key: bytes) -> None:
        """Refused: a shared backend is unlocked by sessions or CI keys."""
        raise KeyringUnavailableError(
            "`unlock --remember` keeps vault files only, not a shared backend",
            hint='start a session instead: eval "$(credctl unlock --ttl 8h)"',
        )

    def forget_keyring(self, vault_id: bytes | None) -> bool:
        """Nothing to forget."""
        return False

    def last_vault_id(self) -> bytes | None:
        """No local record of the vault id is kept."""
        return None

    # -- reading -----------------------------------------------------------------------

    def exists(self) -> bool:
        """True when the backend holds a vault (its key-slot blob)."""
        with closing_reader(self.backend.reader()) as reader:
            return KEYS_KEY in reader.get_many([KEYS_KEY])

    def read_parsed(self) -> ParsedFile:
        """The key-slot blob, parsed and checked like a vault file's header."""
        with closing_reader(self.backend.reader()) as reader:
            blob = reader.get_many([KEYS_KEY]).get(KEYS_KEY)
        if blob is None:
            raise VaultNotFoundError(
                f"no vault in {self.location}",
                hint=f"create one with `credctl --backend {self.location} init`",
            )
        return parse_file(blob.data)

    def open(self, unlocker: Unlocker) -> OpenVault:
        """Unlock and decrypt the key settings (the records are read by `SealedStorage`)."""
        parsed = self.read_parsed()
        data_key, source = unlocker.unlock(self, parsed)
        return _opened(parsed, data_key, source)

    def open_with_key(self, data_key: bytes, source: str = "data-key") -> OpenVault:
        """Decrypt the key settings with a known data key (6 if it is stale)."""
        return _opened(self.read_parsed(), data_key, source)

    # -- writing -----------------------------------------------------------------------

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
        """Create the vault in an empty backend with one passphrase slot (8 if one exists).

        `prepare_settings` is accepted for the file's sake and not needed: a backend's
        activity log keeps its own key across rekeys.
        """
        kdf.check_for_init()
        if self.exists():  # before any Argon2id run
            raise VaultExistsError(
                f"{self.location} already holds a vault; it was left untouched",
                hint="use another database, space, mount or prefix for a second vault",
            )
        if not passphrase:
            raise InvalidInput("the passphrase must not be empty")
        settings: dict[str, Any] = {"last_slot_id": 1}
        if max_session_ttl is not None:
            check_max_session_ttl(max_session_ttl)
            settings["max_session_ttl"] = max_session_ttl
        vault_id = crypto.random_bytes(16)
        data_key = crypto.random_bytes(crypto.KEY_SIZE)
        now = int(time.time())
        slot = keys.passphrase_slot(vault_id, 1, passphrase, kdf, data_key)
        body = Body(settings)
        data = seal_vault(vault_id, 1, [slot], data_key, body.encode())
        with write_session(self.backend, SealKeys(vault_id, data_key), self.lock_timeout) as txn:
            if txn.keys_blob is not None:
                raise VaultExistsError(
                    f"{self.location} already holds a vault; it was left untouched",
                    hint="use another database, mount or prefix for a second vault",
                )
            txn.meta.update({"created": now, "data_key_created": now, **(meta or {})})
            txn.new_keys_blob = (data, 1)
        return _opened(parse_file(data), data_key, PASSPHRASE_SOURCE)

    @contextlib.contextmanager
    def edit(
        self, unlocker: Unlocker | None = None, *, data_key: bytes | None = None,
        source: str = "data-key",
    ) -> Iterator[OpenVault]:  # fmt: skip
        """Change the key slots or settings under the write lock, then commit them."""
        if data_key is None:
            if unlocker is None:
                raise TypeError("edit() needs an unlocker or a data key")
            opened = self.open(unlocker)
            data_key, source = opened.data_key, opened.source
        vault_id = self.read_parsed().header.vault_id
        with write_session(self.backend, SealKeys(vault_id, data_key), self.lock_timeout) as txn:
            current = _current(txn, data_key, source)
            yield current
            if not current.slots:
                raise InvalidInput("a vault must keep at least one key slot")
            generation = current.generation + 1
            data = seal_vault(current.vault_id, generation, current.slots, data_key,
                              current.body.encode())  # fmt: skip
            txn.new_keys_blob = (data, generation)

    def replace_data_key(
        self,
        opened: OpenVault,
        passphrase: bytes,
        *,
        kdf: KdfParams | None = None,
        remove: int | None = None,
    ) -> RekeyResult:
        """Re-seal every record under a new data key, keeping one passphrase slot.

        The key-slot blob is the commit point: on engines without transactions
        the records are written under the new key's names first, and the old
        ones removed after it.
        """
        from credctl.storage.sealed_rekey import rekey_changes

        params = kdf or opened.passphrase_kdf
        old_keys = SealKeys(opened.vault_id, opened.data_key)
        with write_session(self.backend, old_keys, self.lock_timeout) as txn:
            current = _current(txn, opened.data_key, opened.source)
            if remove is not None:
                check_rekey_removal(current.remove_slot(remove))
            dropped = tuple(s.slot_id for s in current.slots if s.slot_type is SlotType.CI_KEY)
            new_key = crypto.random_bytes(crypto.KEY_SIZE)
            current.slots = [keys.passphrase_slot(current.vault_id, current.next_slot_id(),
                                                  passphrase, params, new_key)]  # fmt: skip
            txn.meta["data_key_created"] = int(time.time())
            generation = current.generation + 1
            data = seal_vault(current.vault_id, generation, current.slots, new_key,
                              current.body.encode())  # fmt: skip
            changes = rekey_changes(txn, SealKeys(current.vault_id, new_key), data, generation)
            txn.replace_with(changes)
        from credctl.vault import sessions

        ended = sessions.revoke_all(self)
        return RekeyResult(dropped, ended, 0, False)


def _opened(parsed: ParsedFile, data_key: bytes, source: str) -> OpenVault:
    body = decrypt_body(parsed, data_key)
    if len(body):
        raise VaultCorruptError("the key-slot record holds credential records")
    header: Header = parsed.header
    return OpenVault(header.vault_id, header.generation, data_key, list(header.slots), body,
                     source, header)  # fmt: skip


def _current(txn: Commit, data_key: bytes, source: str) -> OpenVault:
    if txn.keys_blob is None:
        raise VaultNotFoundError("the backend's vault was removed meanwhile")
    return _opened(parse_file(txn.keys_blob.data), data_key, source)
