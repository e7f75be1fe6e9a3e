"""What credctl takes out of the environment of every process it starts (SPEC §14).

A process credctl starts — ``exec``'s command, the browser of ``oauth login``, a
rotation command — runs with credctl's own environment unless told otherwise, and
that environment may hold what unlocks the whole vault: the passphrase, a CI key,
a session.  With it, the child (terraform, an npm script, a plug-in) could run
``credctl get-token`` for any credential, not only the ones it was given.  So the
*unlock variables* are removed from every child's environment unless the user asks
to keep them (``exec --keep-unlock-env``):

- ``CREDCTL_PASSPHRASE*`` (``CREDCTL_PASSPHRASE``, ``CREDCTL_PASSPHRASE_FILE`` …);
- ``CREDCTL_*_PASSPHRASE*`` (``CREDCTL_NEW_PASSPHRASE``, ``CREDCTL_IMPORT_PASSPHRASE_FILE``,
  ``CREDCTL_EXPORT_PASSPHRASE`` …, and any later ``CREDCTL_<WHAT>_PASSPHRASE…``);
- ``CREDCTL_KEY`` (a CI key) and ``CREDCTL_SESSION`` (a session token).

Names are compared upper-cased: on Windows the environment is case-insensitive,
and elsewhere removing a lower-case look-alike costs nothing.

`scrub` also returns the removed values that *are* unlock material, so that
``exec --mask`` can hide them in case a child finds them some other way.  The
``…_FILE`` variables hold a path, not the secret: they are removed but their
values are not returned (masking a path would hide ordinary output, and the file
itself is not read again: it may be a pipe that was read once).

Standard library only, nothing imported: ``exec`` is on the start-up-bound fast path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, NamedTuple

#: The unlock variables, as shell-style patterns (documentation and messages).
UNLOCK_VARIABLES: Final = (
    "CREDCTL_PASSPHRASE*",
    "CREDCTL_*_PASSPHRASE*",
    "CREDCTL_KEY",
    "CREDCTL_SESSION",
)

_PREFIX: Final = "CREDCTL_"
_EXACT: Final = frozenset({"CREDCTL_KEY", "CREDCTL_SESSION"})


class Scrubbed(NamedTuple):
    """A child's environment without unlock variables, and the secrets taken out of it."""

    environment: dict[str, str]
    #: Values of removed variables that hold unlock material itself (not ``…_FILE`` paths).
    removed_values: list[str]


def is_unlock_variable(name: str) -> bool:
    """True if `name` matches one of `UNLOCK_VARIABLES` (compared upper-cased)."""
    upper = name.upper()
    if upper in _EXACT:
        return True
    if not upper.startswith(_PREFIX):
        return False
    # CREDCTL_PASSPHRASE* and CREDCTL_*_PASSPHRASE*: "_PASSPHRASE" right after the
    # prefix's underscore, or later after another underscore.
    return "_PASSPHRASE" in upper[len(_PREFIX) - 1 :]


def holds_secret(name: str) -> bool:
    """True for an unlock variable whose value is the secret itself, not a file name."""
    return is_unlock_variable(name) and not name.upper().endswith("_FILE")


def unlock_names(env: Mapping[str, str]) -> list[str]:
    """The unlock variables set in `env`, sorted."""
    return sorted(name for name in env if is_unlock_variable(name))


def scrub(env: Mapping[str, str]) -> Scrubbed:
    """`env` without its unlock variables, and the secret values that were removed."""
    clean: dict[str, str] = {}
    removed: list[str] = []
    for name, value in env.items():
        if not is_unlock_variable(name):
            clean[name] = value
        elif value and holds_secret(name):
            removed.append(value)
    return Scrubbed(clean, removed)


def unlock_values(env: Mapping[str, str]) -> list[str]:
    """The secret values of the unlock variables in `env` (for a masker), without removing them."""
    return [value for name, value in env.items() if value and holds_secret(name)]
