"""``awssm://REGION/PREFIX``: sealed records in AWS Secrets Manager (boto3).

Each blob is one secret ``PREFIX/KEY`` whose ``SecretBinary`` is the sealed blob;
the version id holding the ``AWSCURRENT`` staging label is the revision token,
and reads always ask for ``AWSCURRENT``.  A write adds a new version without
moving any label, then moves ``AWSCURRENT`` to it with ``RemoveFromVersionId`` =
the version read: Secrets Manager refuses that move when ``AWSCURRENT`` has moved
on meanwhile, which makes the label move the compare-and-swap.  A new key is
``CreateSecret``, which fails when the name exists.  Deletes cannot be
conditional: credctl checks the version first and deletes without a recovery
window (documented best effort, under the write lease).  Credentials come from
boto3's usual chain (environment, profile, instance role); ``?endpoint=URL``
points at another endpoint (tests use moto's server).
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from credctl.errors import AccessDenied, InvalidInput
from credctl.storage.blobs import (
    BackendUnavailableError,
    Blob,
    BlobConflictError,
    Capabilities,
    MissingExtraError,
)
from credctl.storage.kv import KvBackend

try:
    import boto3
    from botocore import exceptions as aws_errors
    from botocore.config import Config
except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test
    raise MissingExtraError("AWS Secrets Manager", "aws", exc.name or "boto3") from None

_PENDING = "credctl-pending"


class AwsBackend(KvBackend):
    """A `BlobBackend` in AWS Secrets Manager."""

    capabilities = Capabilities(cas="exact", atomic_commit=False, consistent_reads=False,
                                max_blob=64 * 1024)  # fmt: skip

    def __init__(self, region: str, prefix: str, endpoint: str | None = None) -> None:
        self.region = region
        self.prefix = prefix.strip("/")
        self.endpoint = endpoint
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10,
                        read_timeout=10)  # fmt: skip
        self.client: Any = boto3.client("secretsmanager", region_name=region,
                                        endpoint_url=endpoint, config=config)  # fmt: skip

    @classmethod
    def from_url(cls, url: str) -> AwsBackend:
        """Parse ``awssm://REGION/PREFIX[?endpoint=URL]``."""
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        if not parts.netloc:
            raise InvalidInput(f"an AWS Secrets Manager URL is awssm://REGION/PREFIX, not {url!r}")
        return cls(parts.netloc, parts.path.strip("/") or "credctl", query.get("endpoint"))

    def describe(self) -> str:
        """``awssm://REGION/PREFIX``."""
        return f"awssm://{self.region}/{self.prefix}"

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}"

    def _call(self, name: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, name)(**kwargs)
        except aws_errors.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise AccessDenied(
                    f"{self.describe()} refused the AWS credentials ({code})",
                    hint="the role needs secretsmanager Get/Put/Create/Delete/List/"
                    f"UpdateSecretVersionStage on {self.prefix}/*",
                ) from None
            raise
        except (aws_errors.EndpointConnectionError, aws_errors.ConnectTimeoutError,
                aws_errors.ReadTimeoutError) as exc:  # fmt: skip
            raise BackendUnavailableError(
                f"cannot reach {self.describe()} ({type(exc).__name__})"
            ) from None
        except aws_errors.NoCredentialsError:
            raise AccessDenied(
                "no AWS credentials found", hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID/…"
            ) from None

    @staticmethod
    def _code(exc: aws_errors.ClientError) -> str:
        return str(exc.response.get("Error", {}).get("Code", ""))

    def kv_get(self, key: str) -> Blob | None:
        """The ``AWSCURRENT`` version, or None."""
        try:
            answer = self._call("get_secret_value", SecretId=self._name(key),
                                VersionStage="AWSCURRENT")  # fmt: skip
        except aws_errors.ClientError as exc:
            if self._code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None  # absent, or deleted and not yet gone
            raise
        return Blob(key, bytes(answer["SecretBinary"]), str(answer["VersionId"]))

    def kv_put(self, key: str, data: bytes, expected: Hashable | None) -> Hashable:
        """Create (fails if it exists), or add a version and move ``AWSCURRENT`` by CAS."""
        version = str(uuid.uuid4())
        name = self._name(key)
        if expected is None:
            try:
                self._call("create_secret", Name=name, SecretBinary=data,
                           ClientRequestToken=version)  # fmt: skip
            except aws_errors.ClientError as exc:
                if self._code(exc) == "ResourceExistsException":
                    raise BlobConflictError(f"{key} was created meanwhile") from None
                raise
            return version
        try:
            self._call("put_secret_value", SecretId=name, SecretBinary=data,
                       ClientRequestToken=version, VersionStages=[_PENDING])  # fmt: skip
            self._call("update_secret_version_stage", SecretId=name, VersionStage="AWSCURRENT",
                       MoveToVersionId=version, RemoveFromVersionId=str(expected))  # fmt: skip
        except aws_errors.ClientError as exc:
            if self._code(exc) in ("InvalidParameterException", "ResourceNotFoundException",
                                   "InvalidRequestException"):  # fmt: skip
                raise BlobConflictError(f"{key} changed since it was read") from None
            raise
        return version

    def kv_delete(self, key: str, expected: Hashable) -> None:
        """Delete without recovery if ``AWSCURRENT`` is still the version read."""
        current = self.kv_get(key)
        if current is None or current.token != expected:
            raise BlobConflictError(f"{key} changed since it was read")
        self._call("delete_secret", SecretId=self._name(key), ForceDeleteWithoutRecovery=True)

    def kv_list(self, prefix: str) -> list[str]:
        """Names under ``PREFIX/`` that start with `prefix`."""
        start = self._name(prefix)
        names: list[str] = []
        paginator = self.client.get_paginator("list_secrets")
        try:
            pages = paginator.paginate(Filters=[{"Key": "name", "Values": [start]}])
            for page in pages:
                for entry in page.get("SecretList", []):
                    name = str(entry["Name"])
                    if name.startswith(start) and "DeletedDate" not in entry:
                        names.append(name[len(self.prefix) + 1 :])
        except aws_errors.EndpointConnectionError as exc:
            raise BackendUnavailableError(f"cannot reach {self.describe()} ({exc})") from None
        return names

    def check(self) -> list[str]:
        """Reachable and allowed to list."""
        try:
            self.kv_list("keys")
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return [f"{self.describe()}: {exc}"]
        return []
