"""`StoredCredential`: one credential record as the record layer sees it, typed.

Backends keep records as JSON objects; this class is the one place that reads
and writes their keys.  A record that lacks a key or holds the wrong kind of
value can only come from a forged body or a buggy writer, so it is damage
(`VaultCorruptError`, exit 6), never an internal error.

Keys other than the core ones (the OAuth state, and what later layers add) are
kept in `extra` and written back unchanged, so an older credctl never drops what
a newer one stored.
"""

from __future__ import annotations

from typing import Any, Final

from credctl.errors import VaultCorruptError

Record = dict[str, Any]

#: The keys `StoredCredential` reads itself; everything else goes to `extra`.
CORE_KEYS: Final = frozenset({
    "id", "name", "type", "data", "description", "tags", "metadata", "owner", "created_at",
    "updated_at", "version",
})  # fmt: skip
#: The key an older version (built from a kept copy, never written back) carries: the
#: id of the credential it is a version of (`credctl.records.versions`).
VERSION_OF: Final = "version_of"
#: The record key of the non-secret OAuth state (grant, lifetime, auth method).
OAUTH_STATE: Final = "oauth"
#: The record key of remembered variable names (field → variable), e.g. from a dotenv
#: import: `credctl env NAME` exports each field under its remembered name.
ENV_NAMES: Final = "env"
DEFAULT_OWNER: Final = "local"


class StoredCredential:
    """A credential record: its secret `data` plus everything that describes it.

    Instances are treated as immutable: `replace` returns a changed copy.
    `repr` never shows `data`.
    """

    __slots__ = (
        "created_at", "data", "description", "extra", "id", "metadata", "name", "owner", "tags",
        "type", "updated_at", "version",
    )  # fmt: skip

    def __init__(
        self,
        *,
        id: int,
        name: str,
        type: str,
        data: dict[str, Any],
        description: str = "",
        tags: tuple[str, ...] = (),
        metadata: dict[str, Any] | None = None,
        owner: str = DEFAULT_OWNER,
        created_at: str = "",
        updated_at: str = "",
        version: int = 1,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.type = type
        self.data = data
        self.description = description
        self.tags = tags
        self.metadata = metadata if metadata is not None else {}
        self.owner = owner
        self.created_at = created_at
        self.updated_at = updated_at
        self.version = version
        self.extra = extra if extra is not None else {}

    def __repr__(self) -> str:
        return (
            f"StoredCredential(id={self.id!r}, name={self.name!r}, type={self.type!r}, "
            f"version={self.version!r}, data=***)"
        )

    @classmethod
    def from_record(cls, record: Record) -> StoredCredential:
        """Read a stored record, or `VaultCorruptError` if it is malformed."""
        try:
            credential_id, name, kind = record["id"], record["name"], record["type"]
            data = record.get("data")
            tags = record.get("tags", [])
            metadata = record.get("metadata", {})
            version = record.get("version", 1)
            texts = (name, kind, record.get("description", ""), record.get("owner", ""),
                     record.get("created_at", ""), record.get("updated_at", ""))  # fmt: skip
            if (
                not _is_int(credential_id)
                or not _is_int(version)
                or not all(isinstance(text, str) for text in texts)
                or not isinstance(data, dict)
                or not isinstance(metadata, dict)
                or not isinstance(tags, list)
                or not all(isinstance(tag, str) for tag in tags)
            ):
                raise TypeError("a key holds the wrong kind of value")
        except (KeyError, TypeError) as exc:
            shown = record.get("id") if isinstance(record, dict) else None
            raise VaultCorruptError(
                f"credential record {shown!r} is malformed",
                hint="`credctl doctor` lists damaged records; backups are in VAULT.d/backups",
            ) from exc
        return cls(
            id=credential_id,
            name=name,
            type=kind,
            data=data,
            description=record.get("description", ""),
            tags=tuple(tags),
            metadata=metadata,
            owner=record.get("owner", DEFAULT_OWNER),
            created_at=record.get("created_at", ""),
            updated_at=record.get("updated_at", ""),
            version=version,
            extra={key: value for key, value in record.items() if key not in CORE_KEYS},
        )

    def to_record(self) -> Record:
        """The JSON object a backend stores."""
        return {
            **self.extra,
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "data": self.data,
            "description": self.description,
            "tags": list(self.tags),
            "metadata": self.metadata,
            "owner": self.owner,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "version": self.version,
        }

    def replace(self, **changes: Any) -> StoredCredential:
        """A copy with some attributes changed."""
        values = {name: getattr(self, name) for name in self.__slots__}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"StoredCredential has no attribute {sorted(unknown)[0]!r}")
        values.update(changes)
        return StoredCredential(**values)

    @property
    def env_names(self) -> dict[str, str]:
        """Remembered variable names by field (empty when none were remembered)."""
        value = self.extra.get(ENV_NAMES)
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    @property
    def is_old_version(self) -> bool:
        """True for an older version read from the kept history (never written back)."""
        return VERSION_OF in self.extra

    @property
    def oauth_state(self) -> dict[str, Any]:
        """The non-secret OAuth state (grant, lifetime, auth method), or an empty dict."""
        value = self.extra.get(OAUTH_STATE)
        return value if isinstance(value, dict) else {}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
