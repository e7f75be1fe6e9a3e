"""credctl: a local-first credential manager.

The public API is re-exported here; everything else is internal.
"""

from credctl._version import __version__
from credctl.errors import (
    AccessDenied,
    CredentialError,
    DuplicateCredential,
    EncryptionError,
    ExitCode,
    Expired,
    FlowExpired,
    InteractionRequired,
    InternalError,
    InvalidCallback,
    InvalidInput,
    InvalidToken,
    NoRefreshToken,
    NotFound,
    NoToken,
    RefreshFailed,
    RefreshNotSupported,
    RotationFailed,
    RotationInProgress,
    ServiceUnavailable,
    StorageError,
    UnsupportedType,
)

__all__ = [
    "AccessDenied",
    "CredentialError",
    "DuplicateCredential",
    "EncryptionError",
    "ExitCode",
    "Expired",
    "FlowExpired",
    "InteractionRequired",
    "InternalError",
    "InvalidCallback",
    "InvalidInput",
    "InvalidToken",
    "NoRefreshToken",
    "NoToken",
    "NotFound",
    "RefreshFailed",
    "RefreshNotSupported",
    "RotationFailed",
    "RotationInProgress",
    "ServiceUnavailable",
    "StorageError",
    "UnsupportedType",
    "__version__",
]
