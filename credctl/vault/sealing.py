"""Sealing a body into a vault file and opening it again with the data key.

Each write draws a fresh body key (HKDF of the data key and a random salt) and
nonce; the whole header is the associated data, so no header byte can change
unnoticed.  A short check derived from the data key tells a stale key (the vault
was rekeyed) apart from a damaged body.
"""

from __future__ import annotations

from credctl.errors import VaultCorruptError
from credctl.vault import crypto, keys
from credctl.vault.body import Body
from credctl.vault.format import Header, ParsedFile, Slot, assemble


class StaleDataKeyError(VaultCorruptError):
    """The data key does not belong to the vault's current generation (rekeyed)."""


def seal_vault(
    vault_id: bytes,
    generation: int,
    slots: list[Slot],
    data_key: bytes,
    plaintext: bytes,
    *,
    body_salt: bytes | None = None,
    body_nonce: bytes | None = None,
) -> bytes:
    """Encrypt a body under a fresh body key and assemble the file.

    `body_salt` and `body_nonce` are parameters only so that test vectors can be
    reproduced; real writes always draw them at random.
    """
    header = Header(
        vault_id=vault_id,
        generation=generation,
        body_salt=body_salt or crypto.random_bytes(32),
        body_nonce=body_nonce or crypto.random_bytes(crypto.NONCE_SIZE),
        data_key_check=keys.data_key_check(data_key, vault_id),
        slots=tuple(slots),
    )
    header_bytes = header.encode()
    ciphertext = crypto.seal(
        keys.body_key(data_key, header), header.body_nonce, plaintext, header_bytes
    )
    return assemble(header_bytes, ciphertext)


def decrypt_body(parsed: ParsedFile, data_key: bytes) -> Body:
    """Authenticate and split the body of a parsed file."""
    return Body.decode(decrypt_plaintext(parsed, data_key))


def decrypt_plaintext(parsed: ParsedFile, data_key: bytes) -> bytes:
    """The authenticated body plaintext of a parsed file (6 if damaged or stale)."""
    header = parsed.header
    expected = keys.data_key_check(data_key, header.vault_id)
    if not crypto.checks_equal(expected, header.data_key_check):
        raise StaleDataKeyError(
            "the key does not belong to this generation of the vault",
            hint="the vault was rekeyed meanwhile; unlock again and rerun the command",
        )
    try:
        plaintext = crypto.unseal(
            keys.body_key(data_key, header),
            header.body_nonce,
            parsed.body_ciphertext,
            parsed.header_bytes,
        )
    except crypto.AuthenticationFailed:
        raise VaultCorruptError(
            "the vault's contents failed authentication: the file is damaged or was tampered with"
        ) from None
    return plaintext
