"""From credential references to environment variables: shared by `env` and `exec`.

Both commands take the same words (SPEC §2, §3, §12):

* ``NAME`` – every default variable of the credential (``GITHUB_TOKEN`` …);
* ``NAME.FIELD`` – one field under its default name (``NAME_FIELD``);
* ``NAME.FIELD=VAR`` or ``VAR=NAME.FIELD`` – one field under a name you choose.
  The side with the dot is the reference: credential names and variable names
  never contain one, so the two orders cannot be confused.  ``exec --env`` takes
  the ``VAR=NAME.FIELD`` order only.

`resolve` reads every credential from ONE vault snapshot, so a command never
mixes two generations of the vault (an OAuth access token about to expire is
renewed first, as ``get-token`` does), and checks everything before anything is
printed or started: an unknown credential or field is `NotFound` (exit 3); a
variable that is not a POSIX name (``[A-Za-z_][A-Za-z0-9_]*``), a variable set
twice, or a value with a NUL byte (no environment can carry it) is
`InvalidInput` (exit 9).  Messages name credentials, fields and variables,
never values.  Only the standard library and credctl's own fast-path modules
are imported here: `credctl env` and `credctl exec` run on the fast path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

from credctl.errors import InvalidInput
from credctl.secret import SecretValue
from credctl.types.names import check_derived_variable, env_name, shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.storage.base import Record

VARIABLE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_REF_HINT: Final = "write NAME, NAME.FIELD, NAME.FIELD=VAR or VAR=NAME.FIELD"


class EnvRef(NamedTuple):
    """One requested export: a credential (name or id), a field or None, a variable or None.

    ``field=None`` means the credential's default variables; ``variable=None``
    means the default name.  `word` is the text as given, for messages.
    """

    credential: str
    field: str | None
    variable: str | None
    word: str


class Resolution(NamedTuple):
    """The variables to set, in order, and which of their values are secret.

    `secrets` holds the values of secret fields (SPEC §2: ``token``, ``password``,
    every ``custom`` field …) among the exported ones; ``exec --mask`` hides
    exactly these.  Non-secret fields (a username, an SMTP host) are exported but
    not masked.
    """

    variables: list[tuple[str, SecretValue]]
    secrets: frozenset[SecretValue]

    def environment(self) -> dict[str, str]:
        """The variables as a plain mapping, for a child's environment."""
        return {name: value.expose() for name, value in self.variables}


def parse_ref(word: str) -> EnvRef:
    """A word of ``credctl env`` (any form above), or `InvalidInput` saying what to write."""
    left, has_equals, right = word.partition("=")
    if not has_equals:
        return _split_target(word, None, word)
    if "." in left and "." not in right:
        return _split_target(left, _variable(right, word), word)
    if "." in right and "." not in left:
        return _split_target(right, _variable(left, word), word)
    raise InvalidInput(
        f"{shown(word)} is not a reference: one side of '=' must be NAME.FIELD, "
        "the other a variable name",
        hint=_REF_HINT,
    )


def parse_assignment(word: str) -> EnvRef:
    """A ``VAR=NAME.FIELD`` word (``exec --env``), or `InvalidInput` saying what to write."""
    variable, has_equals, target = word.partition("=")
    if not has_equals or "." not in target:
        raise InvalidInput(
            f"--env {shown(word)} is not VAR=NAME.FIELD",
            hint="for example --env GH_TOKEN=github.token",
        )
    return _split_target(target, _variable(variable, word), word)


def resolve(
    manager: CredentialManager,
    names: Sequence[str],
    explicit_mappings: Sequence[str] = (),
    *,
    prefix: str = "",
) -> Resolution:
    """Resolve `names` (`parse_ref` words) then `explicit_mappings` (``VAR=NAME.FIELD``).

    Every word is parsed before the vault is opened, so a typo costs no unlock.
    `prefix` goes before every default variable name (``env --prefix``), never
    before a name the user chose.  Usage is recorded once per credential, like
    ``get-token --field`` (``get_field``).  Nothing is written to the vault,
    except to renew an exported OAuth access token that is about to expire.
    """
    from credctl.manager import current_oauth_record, find_record, load_record

    refs = [parse_ref(word) for word in names]
    refs += [parse_assignment(word) for word in explicit_mappings]
    if not refs:
        return Resolution([], frozenset())
    snapshot = manager.storage.snapshot()
    variables: list[tuple[str, SecretValue]] = []
    secrets: set[SecretValue] = set()
    set_by: dict[str, str] = {}
    used: dict[int, None] = {}  # credential ids, in order, once each
    renewed: dict[int, Record] = {}
    for ref in refs:
        record = find_record(snapshot, ref.credential)
        kind, data = load_record(record)
        name = str(record["name"])
        if ref.field is None:
            pairs = [(prefix + variable, field) for variable, field in kind.env_vars(name, data)]
        else:
            pairs = [(ref.variable or prefix + env_name(name, ref.field), ref.field)]
        if record.get("type") == "oauth2" and any(f == "access_token" for _, f in pairs):
            record = renewed.get(int(record["id"])) or current_oauth_record(manager, record)
            renewed[int(record["id"])] = record
            kind, data = load_record(record)
        secret_values = {
            kind.field_value(data, field)
            for field in kind.secret_fields(data)
            if data.get(field) is not None
        }
        for variable, field in pairs:
            value = kind.field_value(data, field)
            _check_variable(variable, ref, set_by)
            if ref.variable is None:  # derived, not chosen: never LD_PRELOAD & co (issue 8)
                check_derived_variable(variable, name, field)
            if "\x00" in value:
                raise InvalidInput(
                    f"field {shown(field)} of {shown(name)} contains a NUL byte, which an "
                    "environment variable cannot carry"
                )
            set_by[variable] = ref.word
            variables.append((variable, SecretValue(value)))
            if value in secret_values and value:
                secrets.add(SecretValue(value))
        used[int(record["id"])] = None
    _record_usage(manager, used)
    return Resolution(variables, frozenset(secrets))


def secret_bytes(values: Iterable[SecretValue]) -> list[bytes]:
    """Secret values as the UTF-8 bytes a program would print them as."""
    return [value.expose().encode("utf-8", "surrogateescape") for value in values]


# -- helpers ------------------------------------------------------------------------------


def _variable(text: str, word: str) -> str:
    if not VARIABLE.match(text):
        raise InvalidInput(
            f"{shown(text)} in {shown(word)} is not a valid variable name",
            hint="variable names are letters, digits and '_', not starting with a digit",
        )
    return text


def _split_target(target: str, variable: str | None, word: str) -> EnvRef:
    credential, has_dot, field = target.partition(".")
    if not credential or (has_dot and not field):
        raise InvalidInput(f"{shown(word)} is not a reference", hint=_REF_HINT)
    return EnvRef(credential, field if has_dot else None, variable, word)


def _check_variable(variable: str, ref: EnvRef, set_by: dict[str, str]) -> None:
    if not VARIABLE.match(variable):
        raise InvalidInput(
            f"{shown(ref.word)} gives the variable name {shown(variable)}, which is not a "
            "valid environment variable name",
            hint="choose the name yourself: NAME.FIELD=VAR (env), --env VAR=NAME.FIELD (exec)",
        )
    if variable in set_by:
        raise InvalidInput(
            f"variable {shown(variable)} would be set twice, by {shown(set_by[variable])} "
            f"and by {shown(ref.word)}",
            hint="give each variable once; choose another name with NAME.FIELD=VAR",
        )


def _record_usage(manager: CredentialManager, used: dict[int, None]) -> None:
    from credctl.storage.base import UsageEvent

    now = time.time()
    for credential_id in used:
        manager.storage.record_usage(UsageEvent(credential_id, "get_field", now))
