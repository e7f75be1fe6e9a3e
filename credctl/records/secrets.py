"""What the record layer hands out for secret use: a credential, its type and its data.

`SecretRecord` is the only way secret data leaves the record layer, and the
record layer builds one only after the read was checked (owner, expiry, renewal)
and logged (`RecordStore.read_secrets`).  Front ends then take what they need
from it: the token, one field, the default environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import VaultCorruptError

if TYPE_CHECKING:
    from credctl.records.stored import StoredCredential
    from credctl.types.base import CredentialType

#: What a read wants: the token, the default environment variables, or named fields.
TOKEN: Final = "token"  # noqa: S105 - a name, not a password
ENV_DEFAULTS: Final = "env"
Fields = str | tuple[str, ...]

Ref = int | str


class SecretWant:
    """One credential a read needs, which of its values (`TOKEN`, `ENV_DEFAULTS`, fields),
    and optionally which kept `version` of it (``get-token --version N``)."""

    __slots__ = ("fields", "ref", "version")

    def __init__(self, ref: Ref, fields: Fields = TOKEN, *, version: int | None = None) -> None:
        self.ref = ref
        self.fields = fields
        self.version = version

    def __repr__(self) -> str:
        shown = "" if self.version is None else f", version={self.version!r}"
        return f"SecretWant({self.ref!r}, {self.fields!r}{shown})"


class SecretRecord:
    """A credential ready for secret use: `kind` is its type, `data` re-checked by it."""

    __slots__ = ("credential", "data", "kind")

    def __init__(
        self, credential: StoredCredential, kind: CredentialType, data: dict[str, Any]
    ) -> None:
        self.credential = credential
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:
        return f"SecretRecord({self.credential!r})"

    @classmethod
    def load(cls, credential: StoredCredential) -> SecretRecord:
        """Check the stored data against its type again; a failure is damage (exit 6).

        Records were authenticated when the vault was decrypted, so data that fails
        its type's rules was forged with the key or written by a buggy credctl:
        never an internal error, and never a half-valid token on stdout.
        """
        from credctl import types
        from credctl.errors import CredentialError

        try:
            kind = types.get_type(credential.type)
            return cls(credential, kind, kind.validate(credential.data))
        except CredentialError as exc:
            raise VaultCorruptError(
                f"credential record {credential.id!r} is malformed ({exc})",
                hint="`credctl doctor` lists damaged records; backups are in VAULT.d/backups",
            ) from None

    def field(self, name: str) -> str:
        """One field as text (`NotFound` names the fields there are)."""
        return self.kind.field_value(self.data, name)

    def token(self) -> str:
        """The type's token (SPEC §2), or `NoToken`."""
        return self.kind.token(self.data)

    def header(self) -> str | None:
        """The HTTP header line carrying the token, or None for types without one."""
        return self.kind.header(self.data)

    def env_vars(self) -> list[tuple[str, str]]:
        """The default ``(VARIABLE, field)`` pairs (SPEC §2), remembered names first.

        A credential imported from ``STRIPE_KEY=…`` exports ``STRIPE_KEY`` again,
        not the derived ``STRIPE_KEY_TOKEN``.
        """
        remembered = self.credential.env_names
        return [
            (remembered.get(field, variable), field)
            for variable, field in self.kind.env_vars(self.credential.name, self.data)
        ]

    def env_var(self, field: str) -> str:
        """The default variable of one field: its remembered name, else ``NAME_FIELD``."""
        from credctl.types.names import env_name

        remembered = self.credential.env_names.get(_canonical(self.kind.fields, field))
        return remembered or env_name(self.credential.name, field)

    def secret_values(self) -> set[str]:
        """The text of every secret field that is set (what ``exec --mask`` hides)."""
        return {
            self.kind.field_value(self.data, name)
            for name in self.kind.secret_fields(self.data)
            if self.data.get(name) is not None
        }

    def uses_access_token(self, fields: Fields) -> bool:
        """True when `fields` include an oauth2 access token (which must then be current)."""
        if self.credential.type != "oauth2":
            return False
        if fields in (TOKEN, ENV_DEFAULTS):
            return True
        return any(_canonical(self.kind.fields, name) == "access_token" for name in fields)


def _canonical(fields: Mapping[str, Any], name: str) -> str:
    for spec in fields.values():
        if name == spec.name or name in spec.aliases:
            return str(spec.name)
    return name
