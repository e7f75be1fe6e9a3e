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
    from credctl.audit.model import AuditAction, AuditEntry, AuditFilter, ExportFormat
    from credctl.audit.service import AuditVerification
    from credctl.manager import CredentialManager, CredentialManagerBuilder
    from credctl.model import (
        AuditConfig,
        BrowserAuth,
        CacheConfig,
        CacheStrategy,
        CallbackData,
        Credential,
        CredentialContext,
        CredentialId,
        CredentialInput,
        CredentialMetrics,
        CredentialUpdate,
        DeviceCode,
        EncryptionAlgorithm,
        EncryptionConfig,
        FlowId,
        HealthState,
        HealthStatus,
        InteractionType,
        InteractiveFlow,
        KeyDerivation,
        ManagerConfig,
        Metrics,
        PerformanceConfig,
        RotationConfig,
        SecurityConfig,
        StorageBackend,
        StorageKind,
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
    "AuditAction": "credctl.audit.model",
    "AuditEntry": "credctl.audit.model",
    "AuditFilter": "credctl.audit.model",
    "ExportFormat": "credctl.audit.model",
    "AuditVerification": "credctl.audit.service",
    **{
        name: "credctl.model"
        for name in (
            "AuditConfig", "BrowserAuth", "CacheConfig", "CacheStrategy", "CallbackData",
            "Credential", "CredentialContext", "CredentialId", "CredentialInput",
            "CredentialMetrics", "CredentialUpdate", "DeviceCode", "EncryptionAlgorithm",
            "EncryptionConfig", "FlowId", "HealthState", "HealthStatus", "InteractionType",
            "InteractiveFlow", "KeyDerivation", "ManagerConfig", "Metrics", "PerformanceConfig",
            "RotationConfig", "SecurityConfig", "StorageBackend", "StorageKind", "Token",
            "UserContext",
        )
    },
}  # fmt: skip


# Hidden from type checkers, which see the imports above instead: a module-level
# __getattr__ would make them accept any name at all from `credctl`.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'credctl' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value


__all__ = [
    "AccessDenied",
    "AuditAction",
    "AuditConfig",
    "AuditEntry",
    "AuditFilter",
    "AuditVerification",
    "BrowserAuth",
    "CacheConfig",
    "CacheStrategy",
    "CallbackData",
    "CircuitBreaker",
    "Credential",
    "CredentialContext",
    "CredentialError",
    "CredentialId",
    "CredentialInput",
    "CredentialManager",
    "CredentialManagerBuilder",
    "CredentialMetrics",
    "CredentialStorage",
    "CredentialUpdate",
    "CredentialVersion",
    "DeviceCode",
    "DuplicateCredential",
    "EncryptionAlgorithm",
    "EncryptionConfig",
    "EncryptionError",
    "ExitCode",
    "Expired",
    "ExportFormat",
    "FlowExpired",
    "FlowId",
    "GenerateSpec",
    "HealthState",
    "HealthStatus",
    "InteractionRequired",
    "InteractionType",
    "InteractiveFlow",
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
    "PerformanceConfig",
    "RefreshFailed",
    "RefreshNotSupported",
    "RotationConfig",
    "RotationFailed",
    "RotationInProgress",
    "RotationPolicy",
    "RotationStatus",
    "RotationStrategy",
    "SecretValue",
    "SecurityConfig",
    "ServiceUnavailable",
    "StorageBackend",
    "StorageError",
    "StorageKind",
    "Token",
    "UnsupportedType",
    "UserContext",
    "__version__",
    "retry",
]
