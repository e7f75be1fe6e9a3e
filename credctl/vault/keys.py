"""Key slots: wrapping the one data key under passphrases and CI keys.

The data key never changes unless the vault is rekeyed; each slot wraps it with
AES-256-GCM under its own key-encryption key (KEK).  A short key check derived
from the KEK tells "wrong passphrase" apart from "damaged slot" without giving
an attacker anything the wrapped key's own tag does not already give.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import NamedTuple

from credctl.errors import InvalidInput, VaultCorruptError, WrongPassphraseError
from credctl.vault import crypto
from credctl.vault.crypto import KdfParams
from credctl.vault.format import MAX_LABEL_BYTES, Header, Slot, SlotType

CI_KEY_PREFIX = "credctl-ci1"
_SLOT_INFO = b"credctl/v1/slot-wrap"
_CI_INFO = b"credctl/v1/ci-key"
_BODY_INFO = b"credctl/v1/body"
_DATA_KEY_CHECK_INFO = b"credctl/v1/data-key-check"


class CiKey(NamedTuple):
    """A parsed CI key: the slot it opens and its 256-bit secret."""

    slot_id: int
    secret: bytes

    def encode(self) -> str:
        """The printable form a user stores as CREDCTL_KEY."""
        encoded = base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode()
        return f"{CI_KEY_PREFIX}-{self.slot_id}-{encoded}"

    @classmethod
    def parse(cls, text: str) -> CiKey:
        """Parse CREDCTL_KEY; a malformed value is a wrong key (exit 5)."""
        parts = text.strip().split("-", 3)
        slot_text = parts[2] if len(parts) == 4 else ""
        if "-".join(parts[:2]) != CI_KEY_PREFIX or not (
            slot_text.isascii() and slot_text.isdigit() and len(slot_text) <= 10
        ):
            raise WrongPassphraseError(
                "CREDCTL_KEY is not a credctl CI key",
                hint="CI keys look like credctl-ci1-<slot>-<key>; create one with "
                "`credctl key add-ci`",
            )
        try:
            secret = base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4))
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != crypto.KEY_SIZE:
            raise WrongPassphraseError("CREDCTL_KEY is not a credctl CI key (bad key length)")
        return cls(int(parts[2]), secret)


def check_label(label: str) -> None:
    """Refuse a slot label that is not plain printable text, or too long (exit 9).

    Labels sit in the unencrypted header and `key list` prints them: a control
    character, a bidirectional override or an invisible one could make one
    slot look like another on the terminal.
    """
    hidden = next((ch for ch in label if not ch.isprintable()), None)
    if hidden is not None:
        raise InvalidInput(
            f"the label contains {hidden!a}, a control or invisible character",
            hint="a label is plain printable text, for example --label deploy-ci",
        )
    if len(label.encode()) > MAX_LABEL_BYTES:
        raise InvalidInput(f"the label is longer than {MAX_LABEL_BYTES} bytes")


def slot_aad(vault_id: bytes, slot: Slot) -> bytes:
    """Associated data of a slot's wrap: binds it to its vault and its own fields."""
    return _SLOT_INFO + vault_id + slot.authenticated_prefix()


def body_key(data_key: bytes, header: Header) -> bytes:
    """A fresh body key for each save, so GCM's nonce limits never matter."""
    return crypto.hkdf(data_key, header.body_salt, _BODY_INFO)


def data_key_check(data_key: bytes, vault_id: bytes) -> bytes:
    """Tells a stale data key (after `rekey`) apart from a damaged body."""
    return crypto.hkdf(data_key, vault_id, _DATA_KEY_CHECK_INFO)[: crypto.CHECK_SIZE]


def ci_kek(secret: bytes, salt: bytes) -> bytes:
    """CI keys are already 256 random bits, so HKDF replaces the costly KDF."""
    return crypto.hkdf(secret, salt, _CI_INFO)


def make_slot(
    vault_id: bytes,
    slot_id: int,
    slot_type: SlotType,
    kek: bytes,
    salt: bytes,
    data_key: bytes,
    *,
    label: str = "",
    kdf: KdfParams | None = None,
    created: int | None = None,
    nonce: bytes | None = None,
) -> Slot:
    """Wrap the data key into a new slot (nonce and clock injectable for vectors)."""
    unsealed = Slot(
        slot_id=slot_id,
        slot_type=slot_type,
        created=int(time.time()) if created is None else created,
        label=label,
        salt=salt,
        check=crypto.key_check(kek),
        nonce=nonce or crypto.random_bytes(crypto.NONCE_SIZE),
        wrapped_key=b"",
        kdf=kdf,
    )
    wrapped = crypto.seal(kek, unsealed.nonce, data_key, slot_aad(vault_id, unsealed))
    return unsealed._replace(wrapped_key=wrapped)


def passphrase_slot(
    vault_id: bytes,
    slot_id: int,
    passphrase: bytes,
    kdf: KdfParams,
    data_key: bytes,
    *,
    label: str = "passphrase",
    salt: bytes | None = None,
    created: int | None = None,
    nonce: bytes | None = None,
) -> Slot:
    """A passphrase slot: Argon2id(passphrase) wraps the data key."""
    salt = salt or crypto.random_bytes(crypto.SALT_SIZE)
    kek = crypto.derive_passphrase_key(passphrase, salt, kdf)
    return make_slot(
        vault_id, slot_id, SlotType.PASSPHRASE, kek, salt, data_key,
        label=label, kdf=kdf, created=created, nonce=nonce,
    )  # fmt: skip


def unwrap(vault_id: bytes, slot: Slot, kek: bytes) -> bytes | None:
    """The data key, None for a wrong key; a damaged slot raises (exit 6)."""
    if not crypto.checks_equal(crypto.key_check(kek), slot.check):
        return None
    try:
        return crypto.unseal(kek, slot.nonce, slot.wrapped_key, slot_aad(vault_id, slot))
    except crypto.AuthenticationFailed:
        raise VaultCorruptError(
            f"key slot {slot.slot_id} is damaged or was moved from another vault"
        ) from None


def unwrap_with_passphrase(header: Header, passphrase: bytes) -> tuple[bytes, Slot]:
    """Try each passphrase slot; exit 5 if none accepts the passphrase."""
    for slot in header.slots:
        if slot.slot_type is SlotType.PASSPHRASE and slot.kdf is not None:
            kek = crypto.derive_passphrase_key(passphrase, slot.salt, slot.kdf)
            data_key = unwrap(header.vault_id, slot, kek)
            if data_key is not None:
                return data_key, slot
    raise WrongPassphraseError("wrong passphrase")


def unwrap_with_ci_key(header: Header, key: CiKey) -> bytes:
    """Open the CI slot the key names; exit 5 if it is gone or does not match."""
    slot = header.slot(key.slot_id)
    if slot is None or slot.slot_type is not SlotType.CI_KEY:
        raise WrongPassphraseError(
            f"CREDCTL_KEY names key slot {key.slot_id}, which this vault does not have",
            hint="the key was removed with `credctl key remove` or belongs to another vault",
        )
    data_key = unwrap(header.vault_id, slot, ci_kek(key.secret, slot.salt))
    if data_key is None:
        raise WrongPassphraseError("CREDCTL_KEY does not open this vault")
    return data_key
