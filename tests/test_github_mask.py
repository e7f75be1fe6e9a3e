"""``env --shell github`` inside GitHub Actions hides the secret values in the job's log.

Issue 8, finding 15: values written to ``$GITHUB_ENV`` reach later steps as plain
environment variables, so a step that prints one showed the secret in the log.
``credctl env --shell github … >> "$GITHUB_ENV"`` now also prints ``::add-mask::``
workflow commands on stderr (stdout is the file).  The runner is modelled here from
its source (actions/runner): ``OutputManager`` reads workflow commands from both
stdout and stderr line by line (a line ends at CR, LF or CRLF, as .NET's
``ReadLine``), ``ActionCommand.TryParseV2`` and ``UnescapeData`` decode the data
(``%0D``, ``%0A``, then ``%25``), and the secret masker replaces every registered
value in every later line with ``***``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pytest

from credctl.shell.github import mask_commands
from tests.env_support import SessionVault
from tests.test_env_shells import read_github_env

TOKEN = "FAKE-gha-token-0123456789"
MULTI = "FAKE-first line of a key\nFAKE-second line\r\nFAKE-third\n"
PERCENT = "FAKE-%0A-%25-%-literal"
USERNAME = "bob-the-builder"  # not secret: exported, not masked
SVC_PASSWORD = "FAKE-svc-password"
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def unescape_data(data: str) -> str:
    """``ActionCommand.UnescapeData``: the replacements in the runner's order."""
    for escaped, plain in (("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        data = data.replace(escaped, plain)
    return data


class Runner:
    """What the runner does with a step's output: commands, masks, and the log."""

    def __init__(self) -> None:
        self.masks: set[str] = set()
        self.log: list[str] = []

    def step_output(self, text: str) -> None:
        for line in LINE_BREAK.split(text):
            stripped = line.lstrip()
            if stripped.startswith("::"):
                end = stripped.find("::", 2)
                if end >= 0 and stripped[2:end].split(" ")[0] == "add-mask":
                    data = unescape_data(stripped[end + 2 :])
                    if data.strip():
                        self.masks.add(data)
                    continue  # OmitEcho: the command line itself is not logged
            for mask in sorted(self.masks, key=len, reverse=True):
                line = line.replace(mask, "***")
            self.log.append(line)


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    made = SessionVault(tmp_path_factory.mktemp("github-mask"))
    made.create(
        [
            ("token", "deploy", {"token": TOKEN}),
            ("custom", "multi", {"key": MULTI}),
            ("custom", "pct", {"value": PERCENT}),
            ("basic_auth", "svc", {"username": USERNAME, "password": SVC_PASSWORD}),
        ]
    )
    return made


WORDS = ("deploy", "multi", "pct", "svc")
SECRET_LINES = [TOKEN, "FAKE-first line of a key", "FAKE-second line", "FAKE-third", PERCENT,
                SVC_PASSWORD]  # fmt: skip


def later_step_prints(runner: Runner, values: Iterable[str]) -> None:
    """A later step that echoes every exported variable into the log."""
    for value in values:
        runner.step_output(value)


def test_a_later_step_printing_the_variables_shows_no_secret(vault: SessionVault) -> None:
    done = vault.run("env", "--shell", "github", *WORDS, extra={"GITHUB_ACTIONS": "true"})
    exported = read_github_env(done.stdout, windows=False)
    assert exported == {"DEPLOY_TOKEN": TOKEN, "MULTI_KEY": MULTI, "PCT_VALUE": PERCENT,
                        "SVC_USERNAME": USERNAME, "SVC_PASSWORD": SVC_PASSWORD}  # fmt: skip
    assert "add-mask" not in done.stdout  # the $GITHUB_ENV file holds variables only
    runner = Runner()
    runner.step_output(done.stderr)  # this step: credctl's stderr, as the runner reads it
    assert runner.log in ([], [""])
    later_step_prints(runner, exported.values())
    log = "\n".join(runner.log)
    for secret in SECRET_LINES:
        assert secret not in log
    assert USERNAME in log  # not secret, not masked


def test_no_mask_commands_outside_github_actions(vault: SessionVault) -> None:
    """Elsewhere nobody reads them, and they would put the secret on a terminal."""
    done = vault.run("env", "--shell", "github", *WORDS)
    assert done.stderr == ""
    done = vault.run("env", "--shell", "sh", "deploy", extra={"GITHUB_ACTIONS": "true"})
    assert done.stderr == ""


def test_quiet_does_not_silence_the_masks(vault: SessionVault) -> None:
    done = vault.run("--quiet", "env", "--shell", "github", "deploy",
                     extra={"GITHUB_ACTIONS": "true"})  # fmt: skip
    assert done.stderr == f"::add-mask::{TOKEN}\n"


def test_mask_commands_register_each_line_once_and_skip_blank_ones() -> None:
    text = mask_commands(["a\r\nb\rc\n\n  \n", "b", "50%"])
    assert text.splitlines() == [
        "::add-mask::a", "::add-mask::b", "::add-mask::c", "::add-mask::50%25",
    ]  # fmt: skip
