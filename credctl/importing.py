"""Reading credentials to import: REST create bodies (JSON), dotenv files, backup records.

Each parser turns a whole file into `ImportItem`s, one per credential, before
anything is stored: an item that cannot be imported carries its failure and the
others go on; a file that cannot be read or parsed imports nothing.  The items'
requests then go to `CredentialManager.batch_create` in one vault write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from credctl.errors import CredentialError, InvalidInput
from credctl.model import CredentialInput
from credctl.types.names import shown

FORMATS: Final = ("json", "dotenv", "vault")
VAULT_MAGIC: Final = "credctl\x00"
_VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
ITEM_KEYS: Final = ("name", "credential_type", "credential_data", "description", "tags")


@dataclass
class ImportItem:
    """One credential to import, or the reason it cannot be."""

    label: str
    request: CredentialInput | None = None
    failure: CredentialError | None = None
    created: int | None = None
    #: "created", "updated" or "unchanged" (the latter two with `import --update`).
    outcome: str = "created"


def is_vault_file(source: str) -> bool:
    """True when `source` starts with the vault file's magic bytes."""
    try:
        with Path(source).expanduser().open("rb") as handle:
            return handle.read(len(VAULT_MAGIC)) == VAULT_MAGIC.encode()
    except OSError:
        return False  # reading it as text reports the problem with the path


def guess_format(text: str) -> str:
    """json when the first character (after white space) is '[' or '{', else dotenv."""
    return "json" if text.lstrip("\ufeff \t\r\n").startswith(("[", "{")) else "dotenv"


def items_from_json(text: str) -> list[ImportItem]:
    """REST create bodies; a body that is malformed fails alone."""
    import json

    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"the import file is not valid JSON ({exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}); nothing was imported"
        ) from None
    except (ValueError, RecursionError):
        raise InvalidInput("the import file is not valid JSON; nothing was imported") from None
    if not isinstance(document, list):
        raise InvalidInput(
            "the import file must hold a JSON array of credentials; nothing was imported",
            hint='[{"name": "github", "credential_type": "token", '
            '"credential_data": {"token": "…"}}]',
        )
    items = []
    for number, body in enumerate(document, start=1):
        name = body.get("name") if isinstance(body, dict) else None
        label = f"item {number}" + (f" ({shown(name)})" if isinstance(name, str) else "")
        try:
            items.append(ImportItem(label, _json_request(body)))
        except CredentialError as exc:
            items.append(ImportItem(label, failure=exc))
    return items


def _json_request(body: object) -> CredentialInput:
    if not isinstance(body, dict):
        raise InvalidInput("an item must be a JSON object")
    unknown = [key for key in body if key not in ITEM_KEYS]
    if unknown:
        raise InvalidInput(
            f"unknown key {shown(str(unknown[0]))}; an item has {', '.join(ITEM_KEYS)}"
        )
    name, kind = body.get("name"), body.get("credential_type")
    data, description = body.get("credential_data"), body.get("description", "")
    tags = body.get("tags", [])
    if name is not None and not isinstance(name, str):
        raise InvalidInput("'name' must be a string")
    if not isinstance(kind, str):
        raise InvalidInput("'credential_type' is missing or not a string")
    if not isinstance(data, dict):
        raise InvalidInput("'credential_data' is missing or not a JSON object")
    if not isinstance(description, str):
        raise InvalidInput("'description' must be a string")
    if not isinstance(tags, list):
        raise InvalidInput("'tags' must be an array of strings")
    return CredentialInput(kind, data, name, description, tuple(tags))


def items_from_dotenv(text: str) -> list[ImportItem]:
    """One `token` credential per binding, named after its key, which it remembers.

    ``credctl env KEY`` then exports the value as ``KEY`` again (not the derived
    ``KEY_TOKEN``): a round trip gives back the variable that went in.
    """
    from credctl.dotenv_file import parse_dotenv

    items = []
    for binding in parse_dotenv(text):
        label = f"line {binding.line} ({shown(binding.key)})"
        if binding.value is None:
            failure = InvalidInput("the key has no '=' and so no value")
            items.append(ImportItem(label, failure=failure))
            continue
        # A key that is no variable name (`my-key`) keeps the derived MY_KEY_TOKEN.
        remembered = {"token": binding.key} if _VARIABLE.match(binding.key) else None
        request = CredentialInput("token", {"token": binding.value}, binding.key,
                                  env_names=remembered)  # fmt: skip
        items.append(ImportItem(label, request))
    return items


def items_from_records(records: Iterable[tuple[str, dict[str, Any]]]) -> list[ImportItem]:
    """Records of a backup vault (name, record), with their metadata."""
    items = []
    for name, record in records:
        label = shown(name)
        try:
            request = CredentialInput(
                str(record["type"]),
                dict(record["data"]),
                name,
                str(record.get("description", "")),
                tuple(record.get("tags", ())),
                dict(record.get("metadata") or {}),
            )
        except (KeyError, TypeError, ValueError):
            items.append(ImportItem(label, failure=InvalidInput("the record is malformed")))
            continue
        items.append(ImportItem(label, request))
    return items
