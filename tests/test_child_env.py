"""What the processes credctl starts receive: never the material that unlocks the vault.

Issue 8, finding 1 (SPEC §14): ``exec``'s command and the browser of ``oauth login``
used to inherit ``CREDCTL_PASSPHRASE``, ``CREDCTL_KEY`` and ``CREDCTL_SESSION``, so
the command could read every credential with ``credctl get-token``.  Every unlock
variable is set here at once, with working values, and the child's environment is
dumped and searched for names and values.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from credctl.child_env import is_unlock_variable, scrub
from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command

GH = "FAKE-child-env-gh-token-0123456789"
NEW_PASSPHRASE = "FAKE-new-passphrase-for-passwd"
IMPORT_PASSPHRASE = "FAKE-import-passphrase-of-a-backup"
EXPORT_PASSPHRASE = "FAKE-export-passphrase-of-a-backup"
MODES = [
    pytest.param([], id="execve"),
    pytest.param(["--mask"], id="mask"),
    pytest.param(["--pristine"], id="pristine"),
    pytest.param(["--mask", "--pristine"], id="mask-pristine"),
]


def credctl(
    env: dict[str, str], *args: str, input: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*credctl_command(), *args],
        input=input, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def unlocked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment holding every unlock variable credctl knows, each one working."""
    folder = tmp_path_factory.mktemp("child-env")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")},
        "HOME": str(folder),
        "CREDCTL_VAULT": str(folder / "vault.credctl"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "CREDCTL_PASSPHRASE": PASSPHRASE,
    }
    assert credctl(env, "init", *CHEAP_KDF).returncode == 0
    made = credctl(env, "create", "token", "gh", "--field", "token=@-", input=GH)
    assert made.returncode == 0, made.stderr
    key = credctl(env, "key", "add-ci", "--label", "child-env").stdout.strip()
    session = credctl(env, "unlock", "--ttl", "1h").stdout.strip().split("'")[1]
    secrets = folder / "secrets"
    secrets.mkdir()
    files = {}
    for name, value in (("pass", PASSPHRASE), ("new", NEW_PASSPHRASE),
                        ("import", IMPORT_PASSPHRASE), ("export", EXPORT_PASSPHRASE)):  # fmt: skip
        (secrets / name).write_text(value)
        files[name] = str(secrets / name)
    env.update(
        CREDCTL_KEY=key,
        CREDCTL_SESSION=session,
        CREDCTL_PASSPHRASE_FILE=files["pass"],
        CREDCTL_NEW_PASSPHRASE=NEW_PASSPHRASE,
        CREDCTL_NEW_PASSPHRASE_FILE=files["new"],
        CREDCTL_IMPORT_PASSPHRASE=IMPORT_PASSPHRASE,
        CREDCTL_IMPORT_PASSPHRASE_FILE=files["import"],
        CREDCTL_EXPORT_PASSPHRASE=EXPORT_PASSPHRASE,
        CREDCTL_EXPORT_PASSPHRASE_FILE=files["export"],
    )
    return env


UNLOCK_NAMES = [
    "CREDCTL_PASSPHRASE", "CREDCTL_PASSPHRASE_FILE", "CREDCTL_KEY", "CREDCTL_SESSION",
    "CREDCTL_NEW_PASSPHRASE", "CREDCTL_NEW_PASSPHRASE_FILE", "CREDCTL_IMPORT_PASSPHRASE",
    "CREDCTL_IMPORT_PASSPHRASE_FILE", "CREDCTL_EXPORT_PASSPHRASE",
    "CREDCTL_EXPORT_PASSPHRASE_FILE",
]  # fmt: skip


def unlock_values(env: dict[str, str]) -> list[str]:
    return [env[name] for name in UNLOCK_NAMES]


def environment_of(stdout: str) -> dict[str, str]:
    """The output of ``env -0``."""
    pairs = (entry.partition("=") for entry in stdout.split("\0") if entry)
    return {name: value for name, _, value in pairs}


# -- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [*UNLOCK_NAMES, "CREDCTL_PASSPHRASE_NEXT", "credctl_key", "CREDCTL_ROTATE_PASSPHRASE",
     "CREDCTL_X_Y_PASSPHRASE_FILE"],
)  # fmt: skip
def test_unlock_variables_are_recognised(name: str) -> None:
    assert is_unlock_variable(name)


@pytest.mark.parametrize("name", ["CREDCTL_VAULT", "CREDCTL_DEBUG", "CREDCTL_LOCK_TIMEOUT",
                                  "CREDCTL_KEYRING", "PASSPHRASE", "MY_CREDCTL_KEY", "PATH",
                                  "CREDCTL_SESSION_TTL", "CREDCTL_PASSWORD"])  # fmt: skip
def test_other_variables_are_kept(name: str) -> None:
    assert not is_unlock_variable(name)


def test_scrub_returns_the_secret_values_but_not_file_names() -> None:
    clean, removed = scrub(
        {"PATH": "/bin", "CREDCTL_KEY": "k" * 20, "CREDCTL_PASSPHRASE_FILE": "/run/pw",
         "CREDCTL_SESSION": "", "CREDCTL_VAULT": "v"}
    )  # fmt: skip
    assert clean == {"PATH": "/bin", "CREDCTL_VAULT": "v"}
    assert removed == ["k" * 20]


# -- exec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_exec_command_gets_no_unlock_variable(unlocked: dict[str, str], mode: list[str]) -> None:
    done = credctl(unlocked, "exec", *mode, "gh", "--", "env", "-0")
    assert done.returncode == 0, done.stderr
    child = environment_of(done.stdout)
    assert child["GH_TOKEN"] == (GH if "--mask" not in mode else "***")
    assert not [name for name in child if name.startswith("CREDCTL_") and name != "CREDCTL_VAULT"]
    for value in unlock_values(unlocked):
        assert value not in done.stdout


@pytest.mark.parametrize("mode", MODES[:2])
def test_the_command_cannot_read_other_credentials(
    unlocked: dict[str, str], mode: list[str]
) -> None:
    done = credctl(unlocked, "exec", *mode, "--", *credctl_command(), "get-token", "gh")
    assert done.returncode == 4, done.stderr
    assert GH not in done.stdout
    assert "locked" in done.stderr


@pytest.mark.parametrize("mode", MODES)
def test_keep_unlock_env_passes_them_on_with_a_warning(
    unlocked: dict[str, str], mode: list[str]
) -> None:
    done = credctl(
        unlocked, "exec", "--keep-unlock-env", *mode, "gh", "--",
        *credctl_command(), "--vault", unlocked["CREDCTL_VAULT"], "get-token", "gh",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"{GH}\n" if "--mask" not in mode else "***\n")
    assert "warning: --keep-unlock-env" in done.stderr
    for name in ("CREDCTL_KEY", "CREDCTL_SESSION", "CREDCTL_PASSPHRASE"):
        assert name in done.stderr
    for value in unlock_values(unlocked):
        assert value not in done.stderr


def test_mask_hides_unlock_values_the_command_prints(unlocked: dict[str, str]) -> None:
    """Kept on purpose, or read from elsewhere: the masker knows credctl's unlock values."""
    printed = credctl(
        unlocked, "exec", "--mask", "--keep-unlock-env", "--",
        "sh", "-c", 'printf "%s|%s|%s\\n" "$CREDCTL_KEY" "$CREDCTL_SESSION" "$CREDCTL_PASSPHRASE"',
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == "***|***|***\n"
    from_a_file = credctl(
        unlocked, "exec", "--mask", "--", "cat", unlocked["CREDCTL_PASSPHRASE_FILE"]
    )
    assert from_a_file.returncode == 0, from_a_file.stderr
    assert from_a_file.stdout == "***"


def test_an_explicit_mapping_to_an_unlock_name_is_a_credential(unlocked: dict[str, str]) -> None:
    """``--env CREDCTL_KEY=gh.token`` is the user's choice of a value, not inherited material."""
    done = credctl(unlocked, "exec", "--env", "CREDCTL_KEY=gh.token", "--", "env", "-0")
    assert done.returncode == 0, done.stderr
    child = environment_of(done.stdout)
    assert child["CREDCTL_KEY"] == GH
    assert "CREDCTL_SESSION" not in child


def test_verbose_names_what_the_command_gets_and_what_it_does_not(
    unlocked: dict[str, str],
) -> None:
    done = credctl(unlocked, "exec", "--verbose", "gh", "--", "true")
    assert done.returncode == 0, done.stderr
    assert "exporting GH_TOKEN" in done.stderr
    assert "CREDCTL_SESSION" in done.stderr and "CREDCTL_KEY" in done.stderr
    for value in [GH, *unlock_values(unlocked)]:
        assert value not in done.stderr


# -- the browser of oauth login ------------------------------------------------------------

FAKE_BROWSER = """#!/bin/sh
# A $BROWSER that records what it was given: its environment and the URL.
env -0 > "$DUMP.tmp" && mv "$DUMP.tmp" "$DUMP"
printf '%s' "$1" > "$DUMP.url"
"""


def test_the_browser_gets_no_unlock_variable(unlocked: dict[str, str], tmp_path: Path) -> None:
    browser = tmp_path / "browser"
    browser.write_text(FAKE_BROWSER)
    browser.chmod(0o700)
    dump = tmp_path / "browser.env"
    env = {**unlocked, "BROWSER": str(browser), "DUMP": str(dump)}
    login = subprocess.Popen(
        [*credctl_command(), "oauth", "login", "corp", "--client-id", "credctl-test",
         "--auth-url", "http://127.0.0.1:9/authorize", "--token-url", "http://127.0.0.1:9/token",
         "--timeout", "60s"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (dump.exists() and Path(f"{dump}.url").exists()):
            assert login.poll() is None, login.communicate()
            assert time.monotonic() < deadline, "the browser was not started"
            time.sleep(0.05)
        seen = environment_of(dump.read_text())
        # Finish the login the way a user who clicks "deny" would: exit 5.
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(Path(f"{dump}.url").read_text()).query)
        denied = urllib.parse.urlencode({"error": "access_denied", "state": query["state"][0]})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{query['redirect_uri'][0]}?{denied}", timeout=30)  # noqa: S310
        _, err = login.communicate(timeout=60)
    finally:
        if login.poll() is None:
            login.kill()
            login.communicate()
    assert login.returncode == 5, err
    assert seen["DUMP"] == str(dump)  # the browser ran with the user's other variables
    assert not [name for name in seen if is_unlock_variable(name)]
    for value in unlock_values(unlocked):
        assert value not in dump.read_text()
