"""The readers of a ``.env`` file, for the tests of ``env --shell dotenv`` and ``render``.

A ``.env`` file is read by python-dotenv (``dotenv_values``, with its default
interpolation, from a file opened in text mode as ``load_dotenv`` does) and by
POSIX shells with ``set -a; . ./.env`` (dash, the Debian ``sh``, and bash).  Each
reader must give every value back byte for byte, and the shells must run nothing:
a marker file that a ``$(touch …)`` or a backquote would create must not appear.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

# python-dotenv's `_posix_variable`: what it expands.
EXPANDED = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")
SHELLS = ("dash", "bash")


def dotenv_can_hold(value: str) -> bool:
    """The documented limits of the dotenv rule (`credctl.shell.dotenv`).

    Refused: NUL, CR, ``${…}``, a final backslash, and a value that neither
    single quotes (no ``'``, no ``\\\\``) nor double quotes (no ``$``, no backquote)
    can carry.  Everything else must be written and read back exactly.
    """
    if "\x00" in value or "\r" in value or value.endswith("\\") or EXPANDED.search(value):
        return False
    single = "'" not in value and "\\\\" not in value
    double = "$" not in value and "`" not in value
    return single or double


def read_with_python_dotenv(path: Path) -> dict[str, str | None]:
    from dotenv import dotenv_values

    return dict(dotenv_values(path))


def require_shell(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.skip(f"NOT TESTED: {program} is not installed; `apt-get install {program}`")
    return found


def read_with_shell(
    program: str, path: Path, names: Sequence[str], *, locale: str = "C.UTF-8"
) -> dict[str, bytes]:
    """``set -a; . FILE`` in `program`, then each variable's bytes (``printf %s``).

    The shell runs in a scratch folder (its working directory) with a minimal
    environment; `assert_nothing_ran` checks that folder afterwards.
    """
    shell = require_shell(program)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        out.mkdir()
        prints = "".join(f'printf %s "${name}" > out/{name}\n' for name in names)
        script = f"set -a\n. '{path}' || exit 97\n{prints}"
        done = subprocess.run(
            [shell, "-c", script],
            cwd=scratch,
            env={"PATH": os.environ["PATH"], "LC_ALL": locale, "HOME": scratch},
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, (program, done.stderr)
        assert done.stderr == b"", (program, done.stderr)
        assert sorted(os.listdir(scratch)) == ["out"], f"{program} created files: ran something"
        return {name: (out / name).read_bytes() for name in names}


def assert_read_back(path: Path, expected: dict[str, str], *, locale: str = "C.UTF-8") -> None:
    """python-dotenv, dash and bash all read `path` as exactly `expected`."""
    assert read_with_python_dotenv(path) == expected
    wanted = {name: value.encode("utf-8") for name, value in expected.items()}
    for program in SHELLS:
        assert read_with_shell(program, path, list(expected), locale=locale) == wanted, program
