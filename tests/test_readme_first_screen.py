"""The README from the top, as a new user on a fresh Debian 12 follows it.

The checkout is copied to a throw-away folder (a fresh clone), HOME is empty,
PATH is the system's (`/usr/bin:/bin`), and `python3` is Debian's own, with its
PEP 668 marker: `pip install` into it is refused, which is why the README's
first line is `scripts/install`.  Its lines then run as written in bash, on a
real pseudo-terminal where the README says a person types (the passphrase, a
hidden token): the first screen, the "First ten minutes" section, the README's
piped `create` and the library example after it.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pty_support import run_on_pty

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
SYSTEM_PYTHON = "/usr/bin/python3"
PASSPHRASE = "fake first-screen passphrase"
DEMO_TOKEN = "FAKE-demo-token-typed-at-the-prompt"
SENDGRID_KEY = "FAKE-sendgrid-key-from-pass"
BACKUP_KEY = "FAKE-backup-mail-key"


def section(title: str) -> str:
    """The README's text from `title` to the next heading of any level."""
    start = README.index(title)
    rest = README[start + len(title) :]
    end = re.search(r"\n#{1,4} ", rest)
    return rest[: end.start()] if end else rest


def first_block(text: str, language: str = "sh") -> str:
    match = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert match, f"no ```{language} block in:\n{text[:300]}"
    return match.group(1)


def first_screen() -> str:
    return first_block(README[README.index("**Install and start using it**") :])


def pep668_python() -> str:
    """Debian's python3 with its EXTERNALLY-MANAGED marker, or a loud skip."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: the README's Debian install was NOT checked")
    stdlib = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not Path(stdlib, "EXTERNALLY-MANAGED").exists():
        pytest.skip(
            f"{SYSTEM_PYTHON} has no EXTERNALLY-MANAGED marker (not a Debian-like system "
            "Python): the README's PEP 668 install was NOT checked"
        )
    venv_ok = subprocess.run([SYSTEM_PYTHON, "-c", "import ensurepip, venv"], check=False)
    if venv_ok.returncode != 0:
        pytest.skip(
            "python3-venv is not installed (apt-get install python3-venv, as the README "
            "says): the README's install was NOT checked"
        )
    return SYSTEM_PYTHON


def user_env(home: Path) -> dict[str, str]:
    """A login on this machine: an empty HOME, the system PATH, the machine's pip settings."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    env.update(
        HOME=str(home),
        PATH="/usr/bin:/bin",
        LANG="C.UTF-8",
        TERM="xterm",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    """The README's first screen run at a terminal: (checkout, HOME, environment after it)."""
    python = pep668_python()
    checkout = tmp_path_factory.mktemp("clone") / "credctl"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "node_modules", ".*_cache", "__pycache__"))  # fmt: skip
    home = tmp_path_factory.mktemp("home")
    env = user_env(home)
    refused = subprocess.run(
        [python, "-m", "pip", "install", "--dry-run", "."], cwd=checkout, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert refused.returncode != 0, "the system python3 took `pip install .`: not PEP 668?"
    code, screen, prompts = run_on_pty(
        ["bash", "-e", "-c", first_screen()], [PASSPHRASE, PASSPHRASE], env,
        cwd=str(checkout), timeout=900,
    )  # fmt: skip
    assert code == 0, screen
    assert prompts == 2, f"the first screen asked {prompts} times:\n{screen}"
    assert "each unlock with the passphrase takes about" in screen
    assert re.search(r"vault .*: healthy", screen), screen
    assert PASSPHRASE not in screen
    env["PATH"] = f"{home}/.local/bin:{env['PATH']}"
    return checkout, home, env


def test_the_first_screen_installs_with_the_system_python_and_asks_twice(
    installed: tuple[Path, Path, dict[str, str]],
) -> None:
    _checkout, home, env = installed
    credctl = home / ".local/bin/credctl"
    assert credctl.is_symlink()
    assert Path(os.readlink(credctl)).parent == home / ".local/share/credctl-venv/bin"
    done = subprocess.run(["credctl", "--version"], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith("credctl "), done.stderr
    assert (
        (home / ".local/share/bash-completion/completions/credctl")
        .read_text()
        .startswith("_credctl_completion()")
    )
    assert glob.glob(str(home / ".local/share/credctl/vault.credctl"))


def test_first_ten_minutes_runs_as_written(
    installed: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    _checkout, _home, env = installed
    block = first_block(section("## First ten minutes"))
    code, screen, prompts = run_on_pty(
        ["bash", "-e", "-c", block], [PASSPHRASE, DEMO_TOKEN], env, cwd=str(tmp_path)
    )
    assert code == 0, screen
    assert prompts == 2, screen  # the passphrase once, the token once: nothing else asks
    assert "DEMO_TOKEN is set" in screen
    assert "export DEMO_KEY='not-a-real-key'" in screen
    assert "token (secret)" in screen  # show lists field names
    assert DEMO_TOKEN not in screen and PASSPHRASE not in screen
    assert not (tmp_path / "demo.env").exists()


def test_the_readme_pipe_into_create_asks_on_the_terminal_then_the_library_runs(
    installed: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """`pass show sendgrid | credctl create …` at a terminal, then the library section."""
    _checkout, home, env = installed
    line = next(
        line.split("  #")[0].strip()
        for line in first_block(section("## Credentials")).splitlines()
        if line.startswith("pass show sendgrid |")
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pass").write_text(f"#!/bin/sh\necho '{SENDGRID_KEY}'\n")
    (bin_dir / "pass").chmod(0o755)
    env = {**env, "PATH": f"{bin_dir}:{env['PATH']}"}
    code, screen, prompts = run_on_pty(["bash", "-e", "-o", "pipefail", "-c", line],
                                       [PASSPHRASE], env)  # fmt: skip
    assert code == 0, screen
    assert prompts == 1 and "Passphrase for" in screen, screen

    program = first_block(section("### The Python library"), "python")
    sent = tmp_path / "sent"
    prelude = f"def send(value):\n    open({str(sent)!r}, 'w').write(value)\n"
    python = home / ".local/share/credctl-venv/bin/python"
    done = subprocess.run(
        [str(python), "-c", prelude + program],
        env={**env, "CREDCTL_PASSPHRASE": PASSPHRASE, "BACKUP_MAIL_KEY": BACKUP_KEY},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sent.read_text() == SENDGRID_KEY
    shown = subprocess.run(
        ["credctl", "get-token", "sendgrid-backup"],
        env={**env, "CREDCTL_PASSPHRASE": PASSPHRASE},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert shown.stdout == BACKUP_KEY + "\n", shown.stderr


def test_every_name_the_library_example_imports_comes_from_credctl() -> None:
    program = first_block(section("### The Python library"), "python")
    names = re.findall(r"from credctl import ([^\n]+)", program)
    assert names
    imported = [name.strip() for group in names for name in group.split(",")]
    assert "StorageBackend" in imported
    done = subprocess.run(
        [sys.executable, "-c", f"from credctl import {', '.join(imported)}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
