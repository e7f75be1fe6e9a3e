"""credctl: a local-first credential manager.

The public API is re-exported here.  The manager and model are loaded on first
use (PEP 562), so ``import credctl`` stays cheap for the command-line fast path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from credctl.manager import CredentialManager, CredentialManagerBuilder
    from credctl.model import (
        CacheConfig,
        CacheStrategy,
        Credential,
        CredentialContext,
        CredentialInput,
        CredentialMetrics,
        CredentialUpdate,
        EncryptionAlgorithm,
        EncryptionConfig,
        HealthState,
        HealthStatus,
        KeyDerivation,
        ManagerConfig,
        Metrics,
        StorageBackend,
        Token,
        UserContext,
    )
    from credctl.records.versions import CredentialVersion
    from credctl.recovery import CircuitBreaker, retry
    from credctl.rotation.due import RotationStatus
    from credctl.rotation.policy import GenerateSpec, RotationPolicy, RotationStrategy
    from credctl.secret import SecretValue
    from credctl.storage import CredentialStorage

_LAZY = {
    "CredentialManager": "credctl.manager",
    "CredentialManagerBuilder": "credctl.manager",
    "CircuitBreaker": "credctl.recovery",
    "retry": "credctl.recovery",
    "SecretValue": "credctl.secret",
    "CredentialStorage": "credctl.storage",
    "CredentialVersion": "credctl.records.versions",
    "RotationStatus": "credctl.rotation.due",
    "GenerateSpec": "credctl.rotation.policy",
    "RotationPolicy": "credctl.rotation.policy",
    "RotationStrategy": "credctl.rotation.policy",
    **{
        name: "credctl.model"
        for name in (
            "CacheConfig", "CacheStrategy", "Credential", "CredentialContext", "CredentialInput",
            "CredentialMetrics", "CredentialUpdate", "EncryptionAlgorithm", "EncryptionConfig",
            "HealthState", "HealthStatus", "KeyDerivation", "ManagerConfig", "Metrics",
            "StorageBackend", "Token", "UserContext",
        )
    },
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'credctl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AccessDenied",
    "CacheConfig",
    "CacheStrategy",
    "CircuitBreaker",
    "Credential",
    "CredentialContext",
    "CredentialError",
    "CredentialInput",
    "CredentialManager",
    "CredentialManagerBuilder",
    "CredentialMetrics",
    "CredentialStorage",
    "CredentialUpdate",
    "CredentialVersion",
    "DuplicateCredential",
    "EncryptionAlgorithm",
    "EncryptionConfig",
    "EncryptionError",
    "ExitCode",
    "Expired",
    "FlowExpired",
    "GenerateSpec",
    "HealthState",
    "HealthStatus",
    "InteractionRequired",
    "InternalError",
    "InvalidCallback",
    "InvalidInput",
    "InvalidToken",
    "KeyDerivation",
    "ManagerConfig",
    "Metrics",
    "NoRefreshToken",
    "NoToken",
    "NotFound",
    "RefreshFailed",
    "RefreshNotSupported",
    "RotationFailed",
    "RotationInProgress",
    "RotationPolicy",
    "RotationStatus",
    "RotationStrategy",
    "SecretValue",
    "ServiceUnavailable",
    "StorageBackend",
    "StorageError",
    "Token",
    "UnsupportedType",
    "UserContext",
    "__version__",
    "retry",
]
