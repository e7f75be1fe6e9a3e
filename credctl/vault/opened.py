"""An unlocked generation of the vault, and what may be changed in it before a write.

`Vault.open` and `Vault.edit` (store.py) hand out `OpenVault`s; their slots and
body are plain data until `Vault` seals and commits them.
"""

from __future__ import annotations

from credctl.durations import format_duration
from credctl.errors import InvalidInput, NotFound, VaultCorruptError
from credctl.vault import crypto, keys
from credctl.vault.body import Body
from credctl.vault.crypto import KdfParams
from credctl.vault.file import DEFAULT_BACKUP_COUNT
from credctl.vault.format import Header, Slot, SlotType

# Names of unlock sources (`OpenVault.source`, `EnvironmentUnlocker(sources=...)`).
SESSION_SOURCE = "session"
CI_KEY_SOURCE = "ci-key"
KEYRING_SOURCE = "keyring"
PASSPHRASE_SOURCE = "passphrase"  # noqa: S105 (a source name, not a password)
# `OpenVault.source` values that mean the passphrase itself was given.
PASSPHRASE_SOURCES = frozenset({PASSPHRASE_SOURCE, "passphrase-file", "passphrase-env", "prompt"})
DEFAULT_MAX_SESSION_TTL = 30 * 86400
MAX_SESSION_TTL_LIMIT = 365 * 86400
# Vault settings that belong to one vault file and are not copied into an export.
OWN_SETTINGS = frozenset({"created", "data_key_created", "last_slot_id"})


def check_max_session_ttl(seconds: int) -> None:
    """Refuse a session limit outside 1 s .. 365 days (exit 9)."""
    if not 0 < seconds <= MAX_SESSION_TTL_LIMIT:
        raise InvalidInput(
            f"the session limit must be between 1s and {format_duration(MAX_SESSION_TTL_LIMIT)}"
        )


class OpenVault:
    """An unlocked generation; inside `Vault.edit` its fields may be changed."""

    def __init__(
        self,
        vault_id: bytes,
        generation: int,
        data_key: bytes,
        slots: list[Slot],
        body: Body,
        source: str,
        header: Header,
    ) -> None:
        self.vault_id = vault_id
        self.generation = generation
        self.data_key = data_key
        self.slots = slots
        self.body = body
        self.source = source
        self.header = header

    def __repr__(self) -> str:  # never the data key
        return f"OpenVault(generation={self.generation}, source={self.source!r})"

    def add_ci_key(self, label: str = "") -> keys.CiKey:
        """Add a CI-key slot wrapping the data key; the key is returned, never stored."""
        keys.check_label(label)
        secret = crypto.random_bytes(crypto.KEY_SIZE)
        salt = crypto.random_bytes(crypto.SALT_SIZE)
        slot_id = self.next_slot_id()
        kek = keys.ci_kek(secret, salt)
        self.slots.append(
            keys.make_slot(
                self.vault_id, slot_id, SlotType.CI_KEY, kek, salt, self.data_key, label=label
            )
        )
        return keys.CiKey(slot_id, secret)

    def next_slot_id(self) -> int:
        """Slot ids are never reused within a vault."""
        stored = self.body.meta.get("last_slot_id", 0)
        if not isinstance(stored, int) or isinstance(stored, bool) or not 0 <= stored < 2**32:
            raise VaultCorruptError("the vault's settings hold an invalid last_slot_id")
        highest = max([stored, *(s.slot_id for s in self.slots)])
        if highest + 1 >= 2**32:
            raise VaultCorruptError("the vault has no key slot ids left")
        self.body.meta["last_slot_id"] = highest + 1
        return highest + 1

    def remove_slot(self, slot_id: int) -> Slot:
        """Drop one slot (3 if absent); the last passphrase slot stays (9)."""
        slot = next((s for s in self.slots if s.slot_id == slot_id), None)
        if slot is None:
            raise NotFound(f"no key slot {slot_id}", hint="see `credctl key list`")
        remaining = [s for s in self.slots if s.slot_id != slot_id]
        if not any(s.slot_type is SlotType.PASSPHRASE for s in remaining):
            raise InvalidInput(
                "refusing to remove the last passphrase slot",
                hint="change the passphrase with `credctl passwd` instead",
            )
        self.slots = remaining
        return slot

    @property
    def backup_count(self) -> int:
        """How many previous generations each write keeps."""
        value = self.body.meta.get("backup_count", DEFAULT_BACKUP_COUNT)
        return value if isinstance(value, int) and 0 <= value <= 100 else DEFAULT_BACKUP_COUNT

    @property
    def passphrase_kdf(self) -> KdfParams:
        """The Argon2id settings of the first passphrase slot (the defaults if none)."""
        slots = passphrase_slots(self)
        return slots[0].kdf if slots and slots[0].kdf else KdfParams()

    @property
    def max_session_ttl(self) -> int:
        """The longest session (seconds) that `unlock` may start on this vault."""
        value = self.body.meta.get("max_session_ttl", DEFAULT_MAX_SESSION_TTL)
        if isinstance(value, bool) or not isinstance(value, int):
            return DEFAULT_MAX_SESSION_TTL
        return value if 0 < value <= MAX_SESSION_TTL_LIMIT else DEFAULT_MAX_SESSION_TTL

    def check_session_ttl(self, seconds: int) -> None:
        """Refuse a session longer than this vault allows (exit 9)."""
        cap = self.max_session_ttl
        if seconds > cap:
            raise InvalidInput(
                f"a session of {format_duration(seconds)} is longer than this vault allows "
                f"({format_duration(cap)} at most)",
                hint=f"ask for --ttl {format_duration(cap)} or less; the limit is chosen with "
                "`credctl init --max-session-ttl`",
            )


def passphrase_slots(opened: OpenVault) -> list[Slot]:
    """The passphrase slots of an open vault."""
    return [s for s in opened.slots if s.slot_type is SlotType.PASSPHRASE]
