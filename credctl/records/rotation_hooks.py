"""The rotation hooks of one credential: its environment, the rotation command, the test.

`credctl.rotation.hooks` runs a shell command; this module gives it the
credential (its default variables, plus ``CREDCTL_ROTATION_NAME``, ``_ID`` and
``_STEP``) in credctl's environment without the unlock variables (SPEC §14),
and says which values to mask in what it prints.  Never called with the vault
lock held.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from credctl.records.stored import StoredCredential


def hook_environment(credential: StoredCredential, data: Mapping[str, Any], step: str) -> tuple[
    dict[str, str], list[bytes]
]:  # fmt: skip
    """A hook's environment: credctl's without unlock variables, plus the credential's
    default variables holding `data`; and the secret values to mask in its stderr."""
    from credctl import types
    from credctl.child_env import scrub
    from credctl.records.secrets import SecretRecord
    from credctl.types.names import check_derived_variable

    kind = types.get_type(credential.type)
    secret = SecretRecord(credential.replace(data=dict(data)), kind, dict(data))
    env = scrub(os.environ).environment
    for variable, field in secret.env_vars():
        check_derived_variable(variable, credential.name, field)
        env[variable] = secret.field(field)
    env["CREDCTL_ROTATION_NAME"] = credential.name
    env["CREDCTL_ROTATION_ID"] = str(credential.id)
    env["CREDCTL_ROTATION_STEP"] = step
    masked = [value.encode("utf-8", "surrogateescape") for value in secret.secret_values()]
    return env, masked


def run_command(
    credential: StoredCredential, command: str, entry: Mapping[str, Any]
) -> dict[str, Any]:
    """Run the rotation command with the current credential; the JSON object it printed."""
    from credctl.rotation import hooks

    env, masked = hook_environment(credential, credential.data, "create")
    raw = hooks.run(command, env, timeout=float(entry["timeout"]), secrets=masked,
                    what="the rotation command",
                    late_secrets=lambda out: printed_secrets(credential, out))  # fmt: skip
    return hooks.parse_output(raw, "the rotation command")


def printed_secrets(credential: StoredCredential, stdout: bytes) -> list[bytes]:
    """The secret values a rotation command printed (to mask them in its stderr)."""
    import json

    from credctl import types

    given = json.loads(stdout.decode("utf-8", "replace"))
    if not isinstance(given, dict):
        return []
    secret = types.get_type(credential.type).secret_fields(given)
    return [
        str(value).encode("utf-8", "surrogateescape")
        for key, value in given.items()
        if key in secret and isinstance(value, str | int) and str(value)
    ]


def run_test(credential: StoredCredential, entry: Mapping[str, Any]) -> None:
    """Run the pending rotation's test command with the NEW data; `RotationFailed` if it fails."""
    from credctl.rotation import hooks

    env, masked = hook_environment(credential, entry["data"], "test")
    hooks.run(str(entry["test_command"]), env, timeout=float(entry.get("timeout", 300)),
              secrets=masked, what="the test command")  # fmt: skip
