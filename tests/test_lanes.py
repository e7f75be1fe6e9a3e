"""The test lanes themselves: marks found, the fast lane's guards, peers, the console script."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests import lanes, peers
from tests.conftest import RunCli, credctl_command


def starts_the_program() -> list[str]:
    """Never called: the tests below only refer to it."""
    return credctl_command()


def needs_fish() -> str:
    return peers.which_peer("fish", "fish")


# -- the marks ------------------------------------------------------------------------------


def test_a_test_that_runs_credctl_through_a_fixture_is_cli(
    run_cli: RunCli, request: pytest.FixtureRequest
) -> None:
    assert request.node.get_closest_marker("cli") is not None
    assert request.node.get_closest_marker("peers") is None


def test_a_test_that_reaches_credctl_through_a_helper_is_cli(
    request: pytest.FixtureRequest,
) -> None:
    assert callable(starts_the_program)
    assert request.node.get_closest_marker("cli") is not None


def test_a_test_that_reaches_a_peer_is_peers(request: pytest.FixtureRequest) -> None:
    assert callable(needs_fish)
    assert request.node.get_closest_marker("peers") is not None
    assert request.node.get_closest_marker("cli") is None


def test_an_in_process_test_has_no_lane_mark(request: pytest.FixtureRequest) -> None:
    assert not [m.name for m in request.node.iter_markers() if m.name in lanes.NOT_IN_FAST_LANE]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["credctl", "list"], True),
        (["/x/.venv/bin/credctl", "get-token", "gh"], True),
        ([sys.executable, "-X", "importtime", "-m", "credctl"], True),
        ("credctl --version", True),
        ([sys.executable, "-c", "print('credctl')"], False),
        (["bash", "-c", "true"], False),
        ([], False),
    ],
)
def test_starting_credctl_is_recognised(argv: list[str] | str, expected: bool) -> None:
    assert lanes.starts_credctl(argv) is expected


# -- the fast lane's guards -------------------------------------------------------------------


def probe_the_guard(guard: lanes.FastLaneGuard) -> None:
    """Each kind of network use fails loudly; local plumbing still works."""
    attempts = [
        lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM),
        lambda: socket.socket(),
        lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM),
        lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
        lambda: socket.getaddrinfo("example.com", 443),
        lambda: urllib.request.urlopen("http://example.com/", timeout=1),
        lambda: subprocess.run(["credctl", "--version"], check=False),
        lambda: subprocess.run([sys.executable, "-m", "credctl", "--version"], check=False),
    ]
    for attempt in attempts:
        with pytest.raises(lanes.FastLaneError, match="fast lane"):
            attempt()
    assert len(guard.attempts) == len(attempts)
    guard.attempts.clear()  # they were meant: the guard must not fail this test
    left, right = socket.socketpair()  # asyncio's event loop wakes itself with one
    left.close()
    right.close()
    assert asyncio.run(asyncio.sleep(0, result="loop")) == "loop"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.close()
    assert subprocess.run(["true"], check=False).returncode == 0


def test_the_fast_lane_blocks_the_network_and_credctl(
    pytestconfig: pytest.Config, fast_lane_guard: lanes.FastLaneGuard | None
) -> None:
    if fast_lane_guard is not None:
        probe_the_guard(fast_lane_guard)
        return
    # In the full run: this very test, in a `pytest --fast` of its own, must pass there.
    this = f"{Path(__file__).resolve()}::test_the_fast_lane_blocks_the_network_and_credctl"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--fast", "-p", "no:cacheprovider", "-q", this],
        cwd=lanes.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout[-3000:]


def test_credctl_command_refuses_in_the_fast_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test the marking missed fails in the fast lane instead of starting credctl."""
    monkeypatch.setattr(lanes.Lane, "fast", True)
    with pytest.raises(pytest.fail.Exception, match=r"mark it @pytest\.mark\.cli"):
        credctl_command()


# -- peers ------------------------------------------------------------------------------------


def test_a_missing_peer_skips_loudly_unless_peers_are_required(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(peers, "REQUIRED", False)
    with pytest.raises(pytest.skip.Exception, match="NOT TESTED: zsh"):
        peers.peer_missing("zsh", "zsh is not installed")
    assert "NOT TESTED: zsh" in capsys.readouterr().err
    monkeypatch.setattr(peers, "REQUIRED", True)
    with pytest.raises(pytest.fail.Exception, match="PEER MISSING: zsh"):
        peers.peer_missing("zsh", "zsh is not installed")
    with pytest.raises(pytest.skip.Exception, match=r"pwsh.*no Debian package"):
        peers.peer_missing("pwsh", "pwsh is not on PATH")


@pytest.mark.parametrize("required", [False, True])
def test_a_peer_that_does_not_start_always_fails(
    monkeypatch: pytest.MonkeyPatch, required: bool
) -> None:
    monkeypatch.setattr(peers, "REQUIRED", required)
    with pytest.raises(pytest.fail.Exception, match="PEER FAILED: oidc-provider"):
        peers.peer_failed("oidc-provider", "did not start")


def test_which_peer_finds_or_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "REQUIRED", True)
    assert Path(peers.which_peer("sh")).name == "sh"
    with pytest.raises(pytest.fail.Exception, match="apt-get install no-such-package"):
        peers.which_peer("credctl-no-such-program", "no-such-package")


# -- the console script ------------------------------------------------------------------------


def test_the_console_script_on_path_is_this_checkouts() -> None:
    found = lanes.console_script()
    lanes.check_console_script(found)  # raises otherwise
    assert Path(found).name == "credctl"


def test_a_console_script_importing_another_credctl_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "site" / "credctl"
    elsewhere.mkdir(parents=True)
    (elsewhere / "__init__.py").write_text("")
    script = tmp_path / "bin" / "credctl"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\nraise SystemExit(0)\n")
    script.chmod(0o755)
    monkeypatch.setenv("PYTHONPATH", str(elsewhere.parent))
    with pytest.raises(lanes.ConsoleScriptError, match="not from this checkout"):
        lanes.check_console_script(str(script))
    monkeypatch.delenv("PYTHONPATH")
    script.write_text("echo not a console script\n")
    with pytest.raises(lanes.ConsoleScriptError, match="no #! line"):
        lanes.check_console_script(str(script))


def test_pip_sh_trampoline_is_understood(tmp_path: Path) -> None:
    script = tmp_path / "credctl"
    script.write_text(
        "#!/bin/sh\n"
        f"'''exec' '{sys.executable}' \"$0\" \"$@\"\n"
        "' '''\n"
        "from credctl.cli.main import main\n"
    )
    assert os.path.samefile(lanes.interpreter_of(script)[0], sys.executable)
