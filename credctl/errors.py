"""The whole credctl error family, each class carrying the exit code of SPEC §3.

Library code raises these; only the command-line edge turns them into exit codes
and one-line messages.  Messages never contain secret values: they name fields,
credentials and files, never what is stored in them.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from credctl.model import InteractiveFlow


@enum.unique
class ExitCode(enum.IntEnum):
    """Exit codes that scripts depend on (SPEC §3)."""

    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    LOCKED = 4
    ACCESS_DENIED = 5
    CORRUPT = 6
    TOKEN = 7
    CONFLICT = 8
    INVALID_INPUT = 9
    NETWORK = 10
    #: ``rotate --due``: a credential is still overdue (or its rotation stuck) afterwards.
    ROTATION_OVERDUE = 11
    INTERRUPTED = 130


class CredentialError(Exception):
    """Base of every error credctl raises on purpose.

    Every subclass carries its `exit_code` (SPEC §3) and whether retrying the same
    call may succeed (`retryable`: a provider or backend that was unreachable, a
    vault busy past the lock timeout), so callers can retry only what is worth it.
    The seed's variants are reachable as attributes too: ``CredentialError.NotFound``.
    """

    exit_code: ExitCode = ExitCode.INTERNAL
    retryable: bool = False

    # The seed's enum variants, as attributes of the family (set below).
    InvalidInput: ClassVar[type[InvalidInput]]
    DuplicateCredential: ClassVar[type[DuplicateCredential]]
    UnsupportedType: ClassVar[type[UnsupportedType]]
    NotFound: ClassVar[type[NotFound]]
    AccessDenied: ClassVar[type[AccessDenied]]
    Expired: ClassVar[type[Expired]]
    NoToken: ClassVar[type[NoToken]]
    InvalidToken: ClassVar[type[InvalidToken]]
    RefreshNotSupported: ClassVar[type[RefreshNotSupported]]
    RefreshFailed: ClassVar[type[RefreshFailed]]
    NoRefreshToken: ClassVar[type[NoRefreshToken]]
    RotationFailed: ClassVar[type[RotationFailed]]
    RotationInProgress: ClassVar[type[RotationInProgress]]
    StorageError: ClassVar[type[StorageError]]
    EncryptionError: ClassVar[type[EncryptionError]]
    InteractionRequired: ClassVar[type[InteractionRequired]]
    FlowExpired: ClassVar[type[FlowExpired]]
    InvalidCallback: ClassVar[type[InvalidCallback]]
    ServiceUnavailable: ClassVar[type[ServiceUnavailable]]
    InternalError: ClassVar[type[InternalError]]

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())
        self.message = str(self.args[0])
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class _AboutCredential(CredentialError):
    """An error about one credential: `credential_id` names it when it is known."""

    def __init__(
        self, message: str = "", *, hint: str | None = None, credential_id: int | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.credential_id = credential_id


class _AboutFlow(CredentialError):
    """An error about one interactive flow: `flow_id` names it when it is known."""

    def __init__(
        self, message: str = "", *, hint: str | None = None, flow_id: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.flow_id = flow_id


# Creation errors ---------------------------------------------------------------


class InvalidInput(CredentialError, ValueError):
    """The input does not satisfy the rules for this operation."""

    exit_code = ExitCode.INVALID_INPUT


class DuplicateCredential(_AboutCredential):
    """A credential with this name or idempotency key already exists."""

    exit_code = ExitCode.CONFLICT


class CredentialInUse(CredentialError):
    """The credential is linked to workflows; unlink them or force the change."""

    exit_code = ExitCode.CONFLICT


class UnsupportedType(CredentialError):
    """The credential type is not known."""

    exit_code = ExitCode.INVALID_INPUT


# Retrieval errors --------------------------------------------------------------


class NotFound(_AboutCredential, LookupError):
    """The credential, field or reference does not exist."""

    exit_code = ExitCode.NOT_FOUND


class AccessDenied(CredentialError):
    """The caller may not do this."""

    exit_code = ExitCode.ACCESS_DENIED


# Token errors ------------------------------------------------------------------


class Expired(_AboutCredential):
    """The token has expired and could not be renewed."""

    exit_code = ExitCode.TOKEN


class NoToken(CredentialError):
    """The credential has no single value to hand out as its token."""

    exit_code = ExitCode.NOT_FOUND


class InvalidToken(CredentialError):
    """The stored token is not usable."""

    exit_code = ExitCode.TOKEN


# Refresh errors ----------------------------------------------------------------


class RefreshNotSupported(CredentialError):
    """This credential type cannot be refreshed."""

    exit_code = ExitCode.TOKEN


class RefreshFailed(CredentialError):
    """The provider refused or failed the refresh."""

    exit_code = ExitCode.TOKEN


class NoRefreshToken(CredentialError):
    """The credential holds no refresh token."""

    exit_code = ExitCode.TOKEN


# Rotation errors ---------------------------------------------------------------


class RotationFailed(CredentialError):
    """The rotation could not be completed."""

    exit_code = ExitCode.INTERNAL


class RotationInProgress(_AboutCredential):
    """Another rotation of this credential is under way."""

    exit_code = ExitCode.CONFLICT


# Storage errors ----------------------------------------------------------------


class StorageError(CredentialError):
    """The storage backend failed."""

    exit_code = ExitCode.INTERNAL


class EncryptionError(CredentialError):
    """Encrypted data could not be authenticated or decrypted."""

    exit_code = ExitCode.CORRUPT


# Interactive flow errors -------------------------------------------------------


class InteractionRequired(_AboutFlow):
    """A person must act (log in, approve) before this can continue."""

    exit_code = ExitCode.LOCKED

    def __init__(
        self,
        message: str = "",
        *,
        hint: str | None = None,
        flow_id: str | None = None,
        flow: InteractiveFlow | None = None,
    ) -> None:
        """When credctl started a login for the person to finish, `flow_id` names it and
        `flow` is the `InteractiveFlow` (``flow.interaction_type.auth_url`` is what to
        open); `complete_interactive_flow` finishes it."""
        super().__init__(message, hint=hint, flow_id=flow_id)
        self.flow = flow


class FlowExpired(_AboutFlow):
    """The interactive flow expired before it was completed."""

    exit_code = ExitCode.TOKEN


class InvalidCallback(CredentialError):
    """The callback does not belong to a pending flow (forged or mismatched)."""

    exit_code = ExitCode.ACCESS_DENIED


# System errors -----------------------------------------------------------------


class ServiceUnavailable(CredentialError):
    """A remote service (provider, database) could not be reached."""

    exit_code = ExitCode.NETWORK
    retryable = True


class InternalError(CredentialError):
    """Something went wrong inside credctl; this is a bug."""

    exit_code = ExitCode.INTERNAL


class OutputFailed(CredentialError):
    """stdout did not take the output: a full disk or a device that refuses writes."""

    exit_code = ExitCode.INTERNAL


# Vault errors (specialisations of the seed's kinds) ----------------------------


class UsageError(CredentialError):
    """The command line is not valid."""

    exit_code = ExitCode.USAGE


class VaultLockedError(InteractionRequired):
    """No unlock source is available and no terminal can ask for one."""

    exit_code = ExitCode.LOCKED


class WrongPassphraseError(AccessDenied):
    """The passphrase or key does not open any key slot of the vault."""


class VaultCorruptError(EncryptionError):
    """The vault file is damaged or has been tampered with."""


class UnsupportedFormatError(VaultCorruptError):
    """The vault file's format version or flags are not supported."""


class KdfDowngradeError(VaultCorruptError):
    """The vault's key-derivation parameters are outside the allowed range."""


class VaultRollbackError(VaultCorruptError):
    """The vault is older than, or a different vault from, the one last seen here."""


class UnsafePathError(VaultCorruptError):
    """A file or folder of the vault is not safely the user's own (SPEC §14)."""


class VaultNotFoundError(NotFound):
    """There is no vault at this path."""


class KdfMemoryError(CredentialError):
    """Argon2id could not get the memory it needs (the machine or a limit is too small)."""

    exit_code = ExitCode.INTERNAL


class VaultExistsError(StorageError):
    """A vault already exists at this path."""

    exit_code = ExitCode.CONFLICT


class VaultBusyError(StorageError):
    """Another process held the vault lock for longer than the timeout."""

    exit_code = ExitCode.CONFLICT
    retryable = True


class AuditUnavailableError(StorageError):
    """The audit trail cannot be written, so the operation was refused (fail closed)."""


class AuditTamperedError(VaultCorruptError):
    """The audit trail does not verify: an entry was edited, removed, inserted or reordered."""


class KeyringUnavailableError(StorageError):
    """No usable OS keyring backend is available."""

    exit_code = ExitCode.LOCKED


for _variant in (
    InvalidInput, DuplicateCredential, UnsupportedType, NotFound, AccessDenied, Expired, NoToken,
    InvalidToken, RefreshNotSupported, RefreshFailed, NoRefreshToken, RotationFailed,
    RotationInProgress, StorageError, EncryptionError, InteractionRequired, FlowExpired,
    InvalidCallback, ServiceUnavailable, InternalError,
):  # fmt: skip
    setattr(CredentialError, _variant.__name__, _variant)
del _variant
