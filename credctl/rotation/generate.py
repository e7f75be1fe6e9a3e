"""Random secret values for ``rotate --generate`` and policies that generate.

Values come from `secrets` (the OS's CSPRNG), drawn uniformly from one of a few
alphabets that survive shells, URLs and config files: ``alnum`` (62
characters, the default), ``hex``, ``base64url`` and ``symbols`` (printable
ASCII without space, quotes, backslash or backtick).  32 alnum characters carry
about 190 bits.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from credctl.errors import InvalidInput
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.rotation.policy import GenerateSpec
    from credctl.types.base import CredentialType

CHARACTERS: Final = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "base64url": string.ascii_letters + string.digits + "-_",
    "symbols": string.ascii_letters + string.digits + "!#$%&()*+,-./:;<=>?@[]^_{|}~",
}


def random_value(length: int, alphabet: str) -> str:
    """`length` characters drawn uniformly from `alphabet`'s characters."""
    characters = CHARACTERS[alphabet]
    return "".join(secrets.choice(characters) for _ in range(length))


def target_fields(kind: CredentialType, data: Mapping[str, Any], spec: GenerateSpec) -> list[str]:
    """The fields `spec` regenerates in a credential of `kind` holding `data`."""
    if kind.name == "oauth2":
        raise InvalidInput(
            "oauth2 credentials cannot be generated locally",
            hint="rotate them without --generate: credctl uses the refresh grant",
        )
    secret = kind.secret_fields(data)
    if spec.fields:
        for name in spec.fields:
            if name not in secret:
                raise InvalidInput(
                    f"field {shown(name)} is not a secret field of this {kind.name} credential",
                    hint=f"secret fields: {', '.join(sorted(secret)) or 'none'}",
                )
        return list(spec.fields)
    present = sorted(name for name in secret if data.get(name) is not None)
    if kind.name == "custom" and len(present) > 1:
        raise InvalidInput(
            f"this custom credential has {len(present)} secret fields",
            hint="name the ones to generate with --generate-field FIELD",
        )
    if not present:
        raise InvalidInput(f"this {kind.name} credential has no secret field to generate")
    return present


def generated_data(
    kind: CredentialType, data: Mapping[str, Any], spec: GenerateSpec
) -> dict[str, Any]:
    """`data` with fresh random values in the fields `spec` names."""
    fields = target_fields(kind, data, spec)
    fresh = dict(data)
    for name in fields:
        fresh[name] = random_value(spec.length, spec.alphabet)
    return fresh
