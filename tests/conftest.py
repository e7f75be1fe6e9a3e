"""Shared fixtures: an isolated home, a throw-away vault, and the CLI as users run it.

The hooks below sort tests into lanes (`tests.lanes`): ``pytest --fast`` runs the
in-process lane with the network blocked; a full run first checks that the
``credctl`` on PATH is this checkout's console script.
"""

from __future__ import annotations

import os
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import lanes, peers
from tests.peer_backends import backend_lane_fixture  # noqa: F401 - the lane's fixture

pytest.register_assert_rewrite("credctl.testing")

# The cheapest Argon2id settings init accepts (OWASP's floor): tests never pay 256 MiB.
CHEAP_KDF = ["--kdf-memory", "19", "--kdf-time", "2", "--kdf-parallelism", "1"]
PASSPHRASE = "correct horse battery staple (fake)"

RunCli = Callable[..., subprocess.CompletedProcess[str]]


def credctl_command() -> list[str]:
    """The installed console script, as users run it (checked to be this checkout's)."""
    if lanes.Lane.fast:
        pytest.fail(
            "this test starts credctl but runs in the fast lane: tests.lanes did not see it "
            "reach credctl_command; mark it @pytest.mark.cli",
            pytrace=False,
        )
    try:
        return [lanes.console_script()]
    except lanes.ConsoleScriptError as exc:
        pytest.fail(str(exc), pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="the in-process lane: no cli, peers or slow tests; the network is blocked",
    )


def pytest_configure(config: pytest.Config) -> None:
    lanes.Lane.fast = bool(config.getoption("fast"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    lane = "fast (in-process, network blocked)" if lanes.Lane.fast else "full"
    required = "required" if peers.REQUIRED else "optional (missing ones skip loudly)"
    return [f"credctl lane: {lane}; real peers: {required}"]


@pytest.hookimpl(tryfirst=True)  # before -m selects by the marks found here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cli = (credctl_command, lanes.console_script, lanes.check_console_script)
    sentinels = {id(f): lanes.CLI for f in cli}
    sentinels.update(
        {id(f): lanes.PEERS for f in (peers.peer_missing, peers.peer_failed, peers.which_peer)}
    )
    lanes.mark_items(items, sentinels)
    if lanes.Lane.fast:
        lanes.deselect_for_fast_lane(config, items)


def pytest_collection_finish(session: pytest.Session) -> None:
    """A full run fails at once when the console script on PATH is not this checkout's."""
    if session.config.option.collectonly or lanes.Lane.fast:
        return
    if any(item.get_closest_marker(lanes.CLI) for item in session.items):
        try:
            found = lanes.console_script()
        except lanes.ConsoleScriptError as exc:
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        session.config.get_terminal_writer().line(f"credctl console script: {found}")


@pytest.fixture(scope="session", autouse=True)
def fast_lane_guard_for_the_session() -> Iterator[lanes.FastLaneGuard | None]:
    """In the fast lane: no network and no credctl process, for fixtures of any scope."""
    if not lanes.Lane.fast:
        yield None
        return
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield lanes.FastLaneGuard(monkeypatch)


@pytest.fixture(autouse=True)
def fast_lane_guard(
    fast_lane_guard_for_the_session: lanes.FastLaneGuard | None,
) -> Iterator[lanes.FastLaneGuard | None]:
    """A test that tried (itself or through a fixture), even if the error was caught, fails."""
    guard = fast_lane_guard_for_the_session
    if guard is None:
        yield None
        return
    before, guard.attempts[:] = list(guard.attempts), []
    if before:
        pytest.fail("\n".join(before), pytrace=False)
    yield guard
    if guard.attempts:
        tried, guard.attempts[:] = list(guard.attempts), []
        pytest.fail("\n".join(tried), pytrace=False)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In the PostgreSQL lane, a test about the vault file itself has nothing to test."""
    from tests.peer_backends import LANE

    if LANE and item.get_closest_marker("vault_file") is not None:
        pytest.skip(f"about the vault file itself (CREDCTL_TEST_BACKEND={LANE})")


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private HOME and no credctl variables from the developer's shell."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("CREDCTL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    return home


@pytest.fixture
def vault_path(tmp_path: Path) -> Path:
    """Where a test's vault lives (not created)."""
    return tmp_path / "vaults" / "test.credctl"


@pytest.fixture
def run_cli(vault_path: Path, request: pytest.FixtureRequest) -> RunCli:
    """Run the credctl console script in a subprocess with no terminal on stdin.

    In the PostgreSQL lane (``CREDCTL_TEST_BACKEND=postgresql``) the test's vault is
    a space in a PostgreSQL database instead of the file at `vault_path`.
    """
    from tests.peer_backends import LANE, vault_env

    if LANE:
        request.getfixturevalue("backend_lane")

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        vault: Path | None = vault_path,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        if vault is not None:
            full_env.update(vault_env(vault))
        full_env.update(env or {})
        return subprocess.run(
            [*credctl_command(), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def initialized_vault(run_cli: RunCli, vault_path: Path) -> Path:
    """A vault created through `credctl init` with the cheap KDF and PASSPHRASE."""
    result = run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE": PASSPHRASE})
    assert result.returncode == 0, result.stderr
    return vault_path


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def echo_is_off(terminal: int) -> bool:
    """Whether the pseudo-terminal behind `terminal` (either side) has echo off."""
    return not termios.tcgetattr(terminal)[3] & termios.ECHO


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    """Users never see a Python traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout
