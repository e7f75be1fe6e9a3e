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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

from credctl.errors import InvalidInput
from credctl.secret import SecretValue
from credctl.types.names import check_derived_variable, shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

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
    before a name the user chose.  The credentials are read through the record
    layer (`CredentialManager.read_secrets`): from one snapshot, an oauth2 access
    token renewed first or refused when expired, each read logged once.
    """
    from credctl.records.secrets import ENV_DEFAULTS, SecretWant

    refs = [parse_ref(word) for word in names]
    refs += [parse_assignment(word) for word in explicit_mappings]
    if not refs:
        return Resolution([], frozenset())
    wants = [
        SecretWant(ref.credential, ENV_DEFAULTS if ref.field is None else (ref.field,))
        for ref in refs
    ]
    variables: list[tuple[str, SecretValue]] = []
    secrets: set[SecretValue] = set()
    set_by: dict[str, str] = {}
    for ref, secret in zip(refs, manager.read_secrets(wants), strict=True):
        assert secret is not None  # no `missing` list: an unknown credential raised
        name = secret.credential.name
        if ref.field is None:
            pairs = [(prefix + variable, field) for variable, field in secret.env_vars()]
        else:
            pairs = [(ref.variable or prefix + secret.env_var(ref.field), ref.field)]
        secret_values = secret.secret_values()
        for variable, field in pairs:
            value = secret.field(field)
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
