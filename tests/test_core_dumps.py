"""credctl writes no core file and is not dumpable; the command ``exec`` runs is (SPEC §14).

Issue 8, finding 6: a SIGQUIT at a prompt or during ``oauth login`` dumped the
passphrase and the data key.  A running credctl is looked at from outside, through
``/proc``: its soft core limit must be 0, and, not being dumpable, its
``/proc/PID/environ`` must be closed to other processes of the same user, while the
command it runs has the user's core limit and is dumpable again.
"""

from __future__ import annotations

import os
import resource
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command

# The soft core limit the user starts credctl with (within any hard limit).
_, HARD = resource.getrlimit(resource.RLIMIT_CORE)
USER_LIMIT = 1 << 20 if HARD == resource.RLIM_INFINITY else HARD
SHOW_LIMIT = "import resource; print(*resource.getrlimit(resource.RLIMIT_CORE))"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def with_core_limit() -> None:
    """(preexec) The user's own core limit, not 0, as credctl finds it when started."""
    resource.setrlimit(resource.RLIMIT_CORE, (USER_LIMIT, HARD))


def core_limit_of(pid: int) -> int:
    """The soft ``Max core file size`` of process `pid`, from /proc/PID/limits (bytes)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft = line.split()[4]
            return -1 if soft == "unlimited" else int(soft)
    raise AssertionError("no core limit in /proc/PID/limits")


def test_disable_core_dumps_in_a_fresh_process() -> None:
    script = (
        "from credctl._process import disable_core_dumps, is_dumpable, original_core_limit\n"
        "import resource\n"
        "assert is_dumpable() is True\n"
        "disable_core_dumps(); disable_core_dumps()\n"
        "print(is_dumpable(), resource.getrlimit(resource.RLIMIT_CORE)[0], original_core_limit())"
    )
    done = subprocess.run([sys.executable, "-c", script], preexec_fn=with_core_limit,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split(maxsplit=2) == ["False", "0", f"({USER_LIMIT}, {HARD})\n"]


@pytest.mark.parametrize("mode", [[], ["--mask"], ["--mask", "--pristine"]], ids=str)
def test_the_command_exec_runs_gets_the_users_core_limit(mode: list[str]) -> None:
    done = subprocess.run(
        [*credctl_command(), "exec", *mode, "--", sys.executable, "-c", SHOW_LIMIT],
        preexec_fn=with_core_limit, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(USER_LIMIT), str(HARD)]


def without_capabilities() -> list[str]:
    """A command prefix that drops every capability (as root), or nothing (not root).

    Reading ``/proc/PID/environ`` takes ptrace read access (proc(5)): a process
    of the same user may read it only while the target is dumpable, unless it has
    CAP_SYS_PTRACE, and only with at least the target's capabilities.  Root has
    every capability, so as root both credctl and the reader run with none.
    """
    if os.getuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("NOT TESTED: running as root without setpriv (util-linux) to drop caps")
    return [setpriv, "--bounding-set=-all", "--inh-caps=-all"]


def readable_environ(pid: int, prefix: list[str]) -> bool:
    """Whether another process of the same user may read /proc/PID/environ."""
    done = subprocess.run([*prefix, "cat", f"/proc/{pid}/environ"],
                          capture_output=True, timeout=30, check=False)  # fmt: skip
    return done.returncode == 0


def test_a_running_credctl_has_no_core_limit_and_is_not_dumpable() -> None:
    prefix = without_capabilities()
    credctl = subprocess.Popen(
        [*prefix, *credctl_command(), "exec", "--mask", "--", "sleep", "30"],
        preexec_fn=with_core_limit, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        children = Path(f"/proc/{credctl.pid}/task/{credctl.pid}/children")
        deadline = time.monotonic() + 30
        while not children.read_text().split():
            assert credctl.poll() is None, credctl.communicate()
            assert time.monotonic() < deadline, "exec did not start its command"
            time.sleep(0.05)
        command = int(children.read_text().split()[0])
        assert core_limit_of(credctl.pid) == 0
        assert core_limit_of(command) == USER_LIMIT
        assert not readable_environ(credctl.pid, prefix)  # not dumpable
        assert readable_environ(command, prefix)  # execve made the command dumpable
    finally:
        credctl.terminate()
        credctl.communicate(timeout=30)


def test_credctl_waiting_for_a_browser_login_is_not_dumpable(tmp_path: Path) -> None:
    """The reported case: Ctrl-\\ during ``oauth login``, with the vault unlocked."""
    prefix = without_capabilities()
    env = {**os.environ, "CREDCTL_VAULT": str(tmp_path / "v.credctl"),
           "CREDCTL_PASSPHRASE": PASSPHRASE}  # fmt: skip
    made = subprocess.run([*credctl_command(), "init", *CHEAP_KDF], env=env,
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert made.returncode == 0, made.stderr
    login = subprocess.Popen(
        [*prefix, *credctl_command(), "oauth", "login", "corp", "--no-browser",
         "--client-id", "c", "--auth-url", "http://127.0.0.1:9/a",
         "--token-url", "http://127.0.0.1:9/t", "--timeout", "60s"],
        env=env, preexec_fn=with_core_limit, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert login.stderr is not None
        seen = b""
        deadline = time.monotonic() + 60
        while b"waiting for the browser" not in seen:
            assert time.monotonic() < deadline, seen
            ready, _, _ = select.select([login.stderr], [], [], deadline - time.monotonic())
            chunk = os.read(login.stderr.fileno(), 4096) if ready else b""
            assert chunk or login.poll() is None, seen
            seen += chunk
        assert core_limit_of(login.pid) == 0
        assert not readable_environ(login.pid, prefix)
    finally:
        login.kill()
        login.communicate(timeout=30)
