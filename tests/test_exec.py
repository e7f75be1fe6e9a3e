"""`credctl exec`, through the console script: exit codes, signals, stdin, environment,
masking, and a terminal that stays a terminal (run under a real pseudo-terminal)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from credctl.cli.exec_command import MINIMAL_PATH
from tests.conftest import CHEAP_KDF, PASSPHRASE, credctl_command

GH = "FAKE-exec-gh-token-0123456789"
DB_USER = "dbuser-not-secret"
DB_PASSWORD = "FAKE-db-password-42"
MULTILINE = "FAKE-multi\nline-secret"
PY = sys.executable
MODES = [pytest.param([], id="execve"), pytest.param(["--mask"], id="mask")]


@pytest.fixture(scope="module")
def vault_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One vault for the module and a session on it: the environment that uses it.

    gh (token), db (basic_auth: a plain username, a secret password), multi (custom,
    a two-line secret), short (a 2-byte token), old (oauth2, expired, no refresh).
    """
    folder = tmp_path_factory.mktemp("exec-vault")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")},
        "HOME": str(folder),
        "CREDCTL_VAULT": str(folder / "vault.credctl"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "CREDCTL_PASSPHRASE": PASSPHRASE,
    }
    from tests.peer_backends import lane_server, lane_url

    backend = lane_url(lane_server(), folder / "vault.credctl")  # the PostgreSQL lane
    if backend is not None:
        env["CREDCTL_BACKEND"] = backend
    steps: list[tuple[list[str], str]] = [
        (["init", *CHEAP_KDF], ""),
        (["create", "token", "gh", "--field", "token=@-"], GH),
        (["create", "basic_auth", "db", "--data-file", "-"],
         f'{{"username": "{DB_USER}", "password": "{DB_PASSWORD}"}}'),
        (["create", "custom", "multi", "--data-file", "-"],
         '{"text": "FAKE-multi\\nline-secret"}'),
        (["create", "token", "short", "--field", "token=@-"], "ab"),
        (["create", "oauth2", "old", "--data-file", "-"],
         '{"client_id": "c", "access_token": "FAKE-old", "token_expiry": "2020-01-01T00:00:00Z"}'),
    ]  # fmt: skip
    for args, data in steps:
        done = subprocess.run([*credctl_command(), *args], input=data, env=env,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
    unlocked = subprocess.run([*credctl_command(), "unlock", "--ttl", "1h"], env=env,
                              capture_output=True, text=True, check=True)  # fmt: skip
    del env["CREDCTL_PASSPHRASE"]
    env["CREDCTL_SESSION"] = unlocked.stdout.strip().split("'")[1]
    env["TERM"] = "xterm-256color"
    return env


def run_exec(
    vault_env: dict[str, str], *args: str, input: bytes = b"", timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*credctl_command(), "exec", *args],
        input=input, env=vault_env, capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip


def sh(script: str) -> list[str]:
    return ["--", "sh", "-c", script]


# -- exit status --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", [0, 1, 7])
def test_exit_code_is_passed_through(
    vault_env: dict[str, str], mode: list[str], code: int
) -> None:
    done = run_exec(vault_env, *mode, "gh", *sh(f"exit {code}"))
    assert (code, b"") == (done.returncode, done.stderr)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT])
def test_death_by_signal_is_passed_through(
    vault_env: dict[str, str], mode: list[str], number: int
) -> None:
    """The caller sees "killed by signal N" (a shell's $? = 128+N), as without credctl."""
    done = run_exec(vault_env, *mode, "gh", *sh(f"kill -{int(number)} $$"))
    assert (done.returncode, done.stderr) == (-number, b"")


# -- signals sent to credctl --------------------------------------------------------------

TRAP = """
trap 'echo "got $1" > "$0"; exit 42' {name}
echo ready
i=0
while [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
exit 3
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["TERM", "INT", "HUP"])
def test_signal_sent_to_credctl_reaches_the_command(
    vault_env: dict[str, str], tmp_path: Path, mode: list[str], name: str
) -> None:
    marker = tmp_path / "marker"
    process = subprocess.Popen(
        [*credctl_command(), "exec", *mode, "gh", "--", "sh", "-c", TRAP.format(name=name),
         str(marker), name],
        env=vault_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        process.send_signal(getattr(signal, f"SIG{name}"))
        assert process.wait(timeout=20) == 42
    finally:
        process.kill()
        process.communicate()
    assert marker.read_text() == f"got {name}\n"


# -- stdin, environment, argv -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stdin_passes_through(vault_env: dict[str, str], mode: list[str]) -> None:
    data = b"first line\n" + bytes(range(256)) * 400 + b"\nlast, no newline"
    done = run_exec(vault_env, *mode, "gh", "--", "cat", input=data)
    assert (done.returncode, done.stdout) == (0, data)


def test_stdin_end_of_file_reaches_the_command(vault_env: dict[str, str]) -> None:
    done = run_exec(vault_env, "--mask", "gh", *sh("wc -c"), input=b"12345")
    assert done.stdout.strip() == b"5"


def environment_of(done: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    assert done.returncode == 0, done.stderr
    pairs = [entry.split(b"=", 1) for entry in done.stdout.split(b"\0") if entry]
    return {name.decode(): value.decode() for name, value in pairs}


@pytest.mark.parametrize("mode", MODES)
def test_pristine_environment_is_the_variables_and_path_home_term(
    vault_env: dict[str, str], mode: list[str]
) -> None:
    done = run_exec(vault_env, *mode, "--pristine", "gh", "db", "--env", "ML=multi.text",
                    "--", "env", "-0")  # fmt: skip
    env = environment_of(done)
    expected = {
        "GH_TOKEN": GH, "DB_USERNAME": DB_USER, "DB_PASSWORD": DB_PASSWORD, "ML": MULTILINE,
        "PATH": MINIMAL_PATH, "HOME": vault_env["HOME"], "TERM": "xterm-256color",
    }  # fmt: skip
    if mode:  # masked output: the secret values read as ***
        expected.update(GH_TOKEN="***", DB_PASSWORD="***", ML="***")
    assert expected == env


def test_every_reference_form_and_ids(vault_env: dict[str, str]) -> None:
    """NAME words take every form `env` takes; a decimal is an id; --env is VAR=NAME.FIELD."""
    done = run_exec(vault_env, "--pristine", "1.token", "MINE=db.password", "db.username=WHO",
                    "--env", "X=1.token", "--", "env", "-0")  # fmt: skip
    env = environment_of(done)
    for name in ("PATH", "HOME", "TERM"):
        del env[name]
    assert env == {"GH_TOKEN": GH, "MINE": DB_PASSWORD, "WHO": DB_USER, "X": GH}


def test_without_pristine_the_environment_is_inherited(vault_env: dict[str, str]) -> None:
    env = {**vault_env, "OUTSIDE": "kept", "GH_TOKEN": "replaced"}
    done = subprocess.run([*credctl_command(), "exec", "gh", "--", "env", "-0"], env=env,
                          capture_output=True, check=False)  # fmt: skip
    seen = environment_of(done)
    assert (seen["OUTSIDE"], seen["GH_TOKEN"], seen["CREDCTL_VAULT"]) == (
        "kept", GH, vault_env["CREDCTL_VAULT"])  # fmt: skip


@pytest.mark.parametrize("mode", MODES)
def test_secrets_are_not_in_any_argv(vault_env: dict[str, str], mode: list[str]) -> None:
    """The command's and credctl's own command lines carry no secret, only the environment."""
    script = (
        'tr "\\0" " " < /proc/$$/cmdline; echo; tr "\\0" " " < /proc/$PPID/cmdline; echo; '
        'test "$GH_TOKEN" = "$EXPECTED" && echo env-ok'
    )
    env = {**vault_env, "EXPECTED": GH}
    done = subprocess.run([*credctl_command(), "exec", *mode, "gh", *sh(script)], env=env,
                          capture_output=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[2] == "env-ok"
    for line in lines[:2]:
        assert GH not in line
        assert "***" not in line  # with --mask a leak would show as ***


LIST_FDS = "import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')))"


@pytest.mark.parametrize("mode", MODES)
def test_the_command_inherits_the_descriptors_it_would_without_credctl(
    vault_env: dict[str, str], tmp_path: Path, mode: list[str]
) -> None:
    """Nothing of credctl's (vault, lock, pty, pipes) leaks; what credctl was given passes."""
    extra = tmp_path / "extra.txt"
    with extra.open("wb") as handle:
        given = os.dup(handle.fileno())
        try:

            def run(argv: list[str]) -> bytes:
                return subprocess.run(argv, env=vault_env, capture_output=True,
                                      pass_fds=(given,), check=True).stdout  # fmt: skip

            direct = run([PY, "-c", LIST_FDS])
            through = run([*credctl_command(), "exec", *mode, "gh", "--", PY, "-c", LIST_FDS])
            write = f"import os; os.write({given}, b'via the given fd')"
            run([*credctl_command(), "exec", *mode, "gh", "--", PY, "-c", write])
        finally:
            os.close(given)
    assert through == direct
    assert str(given).encode() in direct
    assert extra.read_bytes() == b"via the given fd"


# -- failures before the command starts -----------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["gh", "nosuch"], 3),
        (["--env", "X=gh.nosuchfield"], 3),
        (["--env", "X=nosuch.token"], 3),
        (["--env", "1X=gh.token"], 9),
        (["--env", "X-Y=gh.token"], 9),
        (["--env", "X=gh"], 9),
        (["gh", "--env", "GH_TOKEN=db.password"], 9),
        (["old"], 7),  # an expired OAuth token that nothing can renew, as get-token
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_bad_reference_fails_before_the_command_starts(
    vault_env: dict[str, str], tmp_path: Path, mode: list[str], args: list[str], code: int
) -> None:
    marker = tmp_path / "started"
    done = run_exec(vault_env, *mode, *args, "--", "touch", str(marker))
    assert (done.returncode, done.stdout) == (code, b"")
    assert not marker.exists()
    assert done.stderr.startswith(b"credctl: error: ")
    for secret in (GH, DB_PASSWORD):
        assert secret.encode() not in done.stderr


@pytest.mark.parametrize("mode", MODES)
def test_command_not_found_is_127(vault_env: dict[str, str], mode: list[str]) -> None:
    done = run_exec(vault_env, *mode, "gh", "--", "credctl-no-such-command")
    assert done.returncode == 127
    assert done.stderr == (
        b"credctl: error: command 'credctl-no-such-command' not found\n"
        b"credctl: hint: check the spelling, or give the path to the program\n"
    )


@pytest.mark.parametrize("mode", MODES)
def test_command_that_cannot_run_is_126(
    vault_env: dict[str, str], tmp_path: Path, mode: list[str]
) -> None:
    plain = tmp_path / "not-executable"
    plain.write_text("echo hi\n")
    no_shebang = tmp_path / "no-shebang"
    no_shebang.write_bytes(b"\x7fELF garbage")
    no_shebang.chmod(0o755)
    for target in (plain, tmp_path, no_shebang):
        done = run_exec(vault_env, *mode, "gh", "--", str(target))
        assert done.returncode == 126, (target, done.stderr)
        assert done.stderr.startswith(b"credctl: error: ")


def test_missing_command_after_dashes_is_a_usage_error(vault_env: dict[str, str]) -> None:
    assert run_exec(vault_env, "gh").returncode == 2
    assert run_exec(vault_env, "gh", "--").returncode == 2


def test_no_credentials_runs_the_command_without_the_vault(tmp_path: Path) -> None:
    env = {**os.environ, "CREDCTL_VAULT": str(tmp_path / "missing.credctl")}
    done = subprocess.run([*credctl_command(), "exec", "--", "sh", "-c", "echo ran"], env=env,
                          capture_output=True, check=False)  # fmt: skip
    assert (done.returncode, done.stdout) == (0, b"ran\n")


# -- masking --------------------------------------------------------------------------------


def python_writer(body: str) -> list[str]:
    return ["--", PY, "-c", "import os, sys, time\n" + body]


def test_mask_hides_a_value_split_across_two_writes(vault_env: dict[str, str]) -> None:
    half = len(GH) // 2
    body = (f"os.write(1, b'token: {GH[:half]}'); time.sleep(0.3); "
            f"os.write(1, b'{GH[half:]} done\\n')")  # fmt: skip
    done = run_exec(vault_env, "--mask", "gh", *python_writer(body))
    assert (done.returncode, done.stdout) == (0, b"token: *** done\n")


def test_mask_hides_a_value_written_one_byte_at_a_time(vault_env: dict[str, str]) -> None:
    body = (f"[os.write(2, bytes([b])) or time.sleep(0.01) for b in b'<{DB_PASSWORD}>']; "
            f"os.write(1, b'{DB_PASSWORD[:-1]}')")  # fmt: skip
    done = run_exec(vault_env, "--mask", "db", *python_writer(body))
    assert done.returncode == 0
    assert done.stderr == b"<***>"
    assert done.stdout == DB_PASSWORD[:-1].encode()  # a prefix that never completes


def test_mask_keeps_non_secret_fields(vault_env: dict[str, str]) -> None:
    done = run_exec(vault_env, "--mask", "db", *sh('echo "$DB_USERNAME:$DB_PASSWORD"'))
    assert done.stdout == f"{DB_USER}:***\n".encode()


@pytest.mark.parametrize("stream", [1, 2])
def test_mask_keeps_up_with_output_faster_than_one_read(
    vault_env: dict[str, str], tmp_path: Path, stream: int
) -> None:
    """10 MB in 1 MB writes: secrets land on every kind of read boundary."""
    rng = random.Random(7)
    secrets = [GH.encode(), DB_PASSWORD.encode()]
    parts, size = [], 0
    while size < 10_000_000:
        part = rng.randbytes(rng.randrange(0, 300)).replace(b"F", b"f") + rng.choice(secrets)
        parts.append(part)
        size += len(part)
    data = b"".join(parts)
    source = tmp_path / "output.bin"
    source.write_bytes(data)
    body = f"""
view = memoryview(open({str(source)!r}, "rb").read())
while view:
    view = view[os.write({stream}, view[:1_000_003]):]
"""
    done = run_exec(vault_env, "--mask", "gh", "db", *python_writer(body), timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    masked = done.stdout if stream == 1 else done.stderr
    assert GH.encode() not in masked
    assert DB_PASSWORD.encode() not in masked
    assert masked == data.replace(secrets[0], b"***").replace(secrets[1], b"***")


def test_mask_on_stdout_and_stderr_separately(vault_env: dict[str, str]) -> None:
    done = run_exec(
        vault_env, "--mask", "gh", *sh('echo "out $GH_TOKEN"; echo "err $GH_TOKEN" >&2')
    )
    assert (done.stdout, done.stderr) == (b"out ***\n", b"err ***\n")


def test_short_secrets_are_masked_with_a_warning(vault_env: dict[str, str]) -> None:
    done = run_exec(vault_env, "--mask", "short", *sh('echo "$SHORT_TOKEN and cab"'))
    assert done.stdout == b"*** and c***\n"
    assert done.stderr == (
        b"credctl: warning: SHORT_TOKEN is shorter than 4 bytes; --mask hides every "
        b"occurrence of it in the output, ordinary text included\n"
    )
    quiet = subprocess.run([*credctl_command(), "--quiet", "exec", "--mask", "short", "--",
                            "true"], env=vault_env, capture_output=True, check=False)  # fmt: skip
    assert (quiet.returncode, quiet.stderr) == (0, b"")


def test_reader_going_away_gives_the_command_sigpipe(vault_env: dict[str, str]) -> None:
    """`credctl exec --mask … -- yes | head -c 5`: `yes` ends as in a plain pipeline."""
    credctl = " ".join(credctl_command())
    pipeline = f'{credctl} exec --mask gh -- yes | head -c 5; echo " ${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", pipeline], env=vault_env, capture_output=True,
                          timeout=20, check=False)  # fmt: skip
    assert done.stdout == f"y\ny\ny {128 + signal.SIGPIPE}\n".encode()


# -- under a terminal -------------------------------------------------------------------------


@contextlib.contextmanager
def in_terminal(
    vault_env: dict[str, str],
    args: list[str],
    *,
    rows: int = 24,
    cols: int = 80,
    stdout_pipe: bool = False,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """credctl on a new pseudo-terminal, its controlling terminal, in the foreground."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def take_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [*credctl_command(), "exec", *args], env=vault_env,
        stdin=slave, stdout=subprocess.PIPE if stdout_pipe else slave, stderr=slave,
        start_new_session=True, preexec_fn=take_terminal,
    )  # fmt: skip
    os.close(slave)
    try:
        yield master, process
    finally:
        process.kill()
        process.wait()
        os.close(master)


def read_until(master: int, needle: bytes, timeout: float = 15) -> bytes:
    """What the terminal shows until `needle` appears (or the end, or the timeout)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


@pytest.mark.parametrize("mode", MODES)
def test_the_command_sees_a_terminal(vault_env: dict[str, str], mode: list[str]) -> None:
    script = 'test -t 0 && echo TTY0; test -t 1 && echo TTY1; test -t 2 && echo TTY2; ' \
             'stty size; echo "token $GH_TOKEN"; echo END'  # fmt: skip
    with in_terminal(vault_env, [*mode, "gh", *sh(script)], rows=33, cols=101) as (master, proc):
        shown = read_until(master, b"END")
        assert proc.wait(timeout=15) == 0
    lines = shown.decode().replace("\r\n", "\n").splitlines()
    assert lines[:4] == ["TTY0", "TTY1", "TTY2", "33 101"], shown
    assert lines[4] == ("token ***" if mode else f"token {GH}")


def test_masked_multiline_secret_on_a_terminal(vault_env: dict[str, str]) -> None:
    """The pty turns \\n into \\r\\n; a multi-line secret is still caught."""
    script = 'printf "%s\\n" "$MULTI_TEXT"; echo END'
    with in_terminal(vault_env, ["--mask", "multi", *sh(script)]) as (master, proc):
        shown = read_until(master, b"END")
        assert proc.wait(timeout=15) == 0
    assert b"FAKE-multi" not in shown and b"line-secret" not in shown
    assert shown.startswith(b"***\r\n")


def test_keys_reach_a_masked_command_on_a_terminal(vault_env: dict[str, str]) -> None:
    script = 'echo ready; read line; echo "got:$line"'
    with in_terminal(vault_env, ["--mask", "gh", *sh(script)]) as (master, proc):
        assert b"ready" in read_until(master, b"ready")
        os.write(master, b"hello\r")
        shown = read_until(master, b"got:hello")
        assert proc.wait(timeout=15) == 0
    assert b"got:hello" in shown


def test_a_resized_terminal_resizes_the_masked_command(vault_env: dict[str, str]) -> None:
    script = (
        "trap 'stty size; exit 0' WINCH; echo ready; "
        "i=0; while [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done; echo no-resize"
    )
    with in_terminal(vault_env, ["--mask", "gh", *sh(script)]) as (master, proc):
        assert b"ready" in read_until(master, b"ready")
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
        shown = read_until(master, b"50 120")
        assert proc.wait(timeout=15) == 0
    assert b"50 120" in shown


# Counts every SIGINT delivered (sigtimedwait dequeues them one by one), until 1 s of quiet.
COUNT_INTERRUPTS = """
import signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
print("ready", flush=True)
count = 0
while signal.sigtimedwait({signal.SIGINT}, 1.0 if count else 10.0) is not None:
    count += 1
print(f"interrupts={count}", flush=True)
"""


@pytest.mark.parametrize("stdout_pipe", [False, True], ids=["pty", "pipes"])
def test_ctrl_c_reaches_a_masked_command_once(
    vault_env: dict[str, str], stdout_pipe: bool
) -> None:
    """Ctrl-C on the terminal: one SIGINT for the command, whether credctl uses a pty or pipes."""
    args = ["--mask", "gh", "--", PY, "-c", COUNT_INTERRUPTS]
    with in_terminal(vault_env, args, stdout_pipe=stdout_pipe) as (master, proc):
        out = proc.stdout if stdout_pipe else None
        if out is not None:
            assert out.readline() == b"ready\n"
        else:
            assert b"ready" in read_until(master, b"ready")
        os.write(master, b"\x03")  # what the Ctrl-C key sends
        if out is not None:
            shown = out.read()
        else:
            shown = read_until(master, b"interrupts=")
            shown += read_until(master, b"\n", timeout=2)
        assert proc.wait(timeout=15) == 0
    assert b"interrupts=1" in shown, shown
