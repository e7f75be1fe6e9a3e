"""What a new user tripped over in the first ten minutes and in everyday pipes.

Each test runs the console script as a person or a script would: in a pipe (no
terminal), or on a real pseudo-terminal where a terminal matters, including one
whose stdin is a pipe carrying data (`pass show x | credctl create …`).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback, credctl_command
from tests.pty_support import run_on_pty

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
TOKEN = "FAKE-first-ten-token"
NEW_TOKEN = "FAKE-first-ten-new-token"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    return result


def on_pty(
    vault: Path, args: list[str], answers: list[str], *, stdin_data: bytes | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str, int]:  # fmt: skip
    full = {**os.environ, "CREDCTL_VAULT": str(vault), **(env or {})}
    return run_on_pty([*credctl_command(), *args], answers, full, stdin_data=stdin_data)


@pytest.fixture
def github(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> Path:
    """The vault with a token credential `github`."""
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN)
    ok(run_cli("create", "token", "github", "--field", f"token=@{token_file}", env=PASS_ENV))
    return initialized_vault


def session(run_cli: RunCli) -> str:
    line = ok(run_cli("unlock", env=PASS_ENV)).stdout.strip()
    return line.split("'")[1]


# -- 1. data on stdin, passphrase on the terminal ------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["create", "api_key", "sendgrid", "--field", "key=@-", "--tag", "mail"],
        ["update", "github", "--data-file", "-"],
        ["update", "github", "--field", "token=@-"],
        ["import", "-"],
    ],
    ids=" ".join,
)
def test_piped_data_asks_the_passphrase_on_the_terminal(github: Path, args: list[str]) -> None:
    data = {
        "create": TOKEN,
        "update": json.dumps({"token": NEW_TOKEN}) if "--data-file" in args else NEW_TOKEN,
        "import": "PIPED_KEY=" + TOKEN,
    }[args[0]]
    code, screen, prompts = on_pty(github, args, [PASSPHRASE], stdin_data=data.encode())
    assert code == 0, screen
    assert prompts == 1 and "Passphrase for" in screen, screen
    assert PASSPHRASE not in screen and TOKEN not in screen and NEW_TOKEN not in screen


def test_piped_data_without_a_terminal_says_why_and_what_to_do(
    run_cli: RunCli, github: Path
) -> None:
    result = run_cli("create", "api_key", "sendgrid", "--field", "key=@-", input=TOKEN)
    assert result.returncode == 4, result.stderr
    assert "stdin carries the data (--field key=@-)" in result.stderr
    assert 'eval "$(credctl unlock)"' in result.stderr
    assert "CREDCTL_KEY" in result.stderr
    assert "run in a terminal" not in result.stderr
    assert TOKEN not in result.stderr


def test_a_session_then_the_pipe_needs_no_terminal(run_cli: RunCli, github: Path) -> None:
    env = {"CREDCTL_SESSION": session(run_cli)}
    ok(run_cli("update", "github", "--field", "token=@-", input=NEW_TOKEN + "\n", env=env))
    assert ok(run_cli("get-token", "github", env=env)).stdout == NEW_TOKEN + "\n"


# -- 3. list in a pipe -----------------------------------------------------------------------


def test_list_in_a_pipe_is_one_tab_separated_line_per_credential(
    run_cli: RunCli, github: Path, tmp_path: Path
) -> None:
    long_name = "a-credential-name-far-longer-than-any-table-column-would-show-whole-x"
    token_file = tmp_path / "t"
    token_file.write_text(TOKEN)
    ok(run_cli("create", "token", long_name, "--field", f"token=@{token_file}",
               "--tag", "ci", "--tag", "prod", "-d", "two\tparts", env=PASS_ENV))  # fmt: skip
    lines = ok(run_cli("list", env=PASS_ENV)).stdout.splitlines()
    assert len(lines) == 2
    cells = lines[1].split("\t")
    assert cells[:5] == ["2", long_name, "token", "ci,prod", "two\\tparts"]
    assert len(cells) == 6 and cells[5].endswith("Z")
    assert not any(ch in lines[1] for ch in "│┃━")
    pipeline = f"{' '.join(credctl_command())} list | grep {long_name}"
    grepped = subprocess.run(
        ["sh", "-c", pipeline], capture_output=True, text=True, check=False,
        env={**os.environ, "CREDCTL_VAULT": str(github), **PASS_ENV},
    )  # fmt: skip
    assert grepped.returncode == 0 and long_name in grepped.stdout


def test_list_formats(run_cli: RunCli, github: Path) -> None:
    for args in (["--json"], ["--format", "json"]):
        listed = json.loads(ok(run_cli("list", *args, env=PASS_ENV)).stdout)
        assert [c["name"] for c in listed] == ["github"]
        assert listed[0]["fields"] == ["token"]
    assert "┃" in ok(run_cli("list", "--format", "table", env=PASS_ENV)).stdout
    assert ok(run_cli("list", "--format", "tsv", env=PASS_ENV)).stdout.startswith("1\tgithub\t")
    assert run_cli("list", "--json", "--format", "tsv", env=PASS_ENV).returncode == 2
    assert run_cli("list", "--format", "xml", env=PASS_ENV).returncode == 2


def test_list_on_a_terminal_is_still_a_table(github: Path) -> None:
    code, screen, _ = on_pty(github, ["list"], [], env=PASS_ENV)
    assert code == 0, screen
    assert "┏" in screen and "github" in screen


# -- 5. waits and slow failures --------------------------------------------------------------


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_limited(
    args: list[str], env: dict[str, str], megabytes: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*credctl_command(), *args], env={**os.environ, **env}, capture_output=True, text=True,
        preexec_fn=lambda: _limit_memory(megabytes), timeout=120, check=False,
    )  # fmt: skip


def test_init_over_a_vault_fails_before_running_argon2(initialized_vault: Path) -> None:
    """With 1 GiB of Argon2id and 600 MiB of address space, only a check that comes first
    can answer 8: a derivation would run out of memory."""
    env = {**PASS_ENV, "CREDCTL_VAULT": str(initialized_vault)}
    done = run_limited(["init", "--kdf-memory", "1024"], env, 600)
    assert done.returncode == 8, done.stderr
    assert "already exists" in done.stderr


def test_argon2_out_of_memory_says_what_it_needs(vault_path: Path) -> None:
    env = {**PASS_ENV, "CREDCTL_VAULT": str(vault_path)}
    done = run_limited(["init", "--kdf-memory", "1024"], env, 600)
    assert done.returncode == 1, done.stderr
    assert "Argon2id needs 1024 MiB of memory" in done.stderr
    assert "CREDCTL_KEY" in done.stderr and "--kdf-memory" in done.stderr
    assert "bug" not in done.stderr
    assert_no_traceback(done)
    assert not vault_path.exists()


def test_a_spinner_shows_while_argon2_runs_on_a_terminal(run_cli: RunCli, github: Path) -> None:
    code, screen, _ = on_pty(github, ["show", "github"], [], env=PASS_ENV)
    assert code == 0, screen
    assert "deriving the key (Argon2id, 19 MiB)" in screen
    env = {"CREDCTL_SESSION": session(run_cli)}
    code, screen, _ = on_pty(github, ["get-token", "github"], [], env=env)
    assert code == 0, screen
    assert "deriving" not in screen  # a session derives nothing
    piped = run_cli("show", "github", env=PASS_ENV)
    assert "deriving" not in piped.stderr  # and nothing is drawn off a terminal


def test_init_says_how_long_an_unlock_takes_and_doctor_does_not_ask(vault_path: Path) -> None:
    code, screen, prompts = on_pty(
        vault_path, ["init", *CHEAP_KDF], ["fake-pass-1", "fake-pass-1"]
    )
    assert code == 0, screen
    assert "each unlock with the passphrase takes about" in screen
    code, screen, prompts = on_pty(vault_path, ["doctor"], ["fake-pass-1"])
    assert code == 0, screen
    assert prompts == 0, screen
    assert "doctor --unlock" in screen
    code, screen, prompts = on_pty(vault_path, ["doctor", "--unlock"], ["fake-pass-1"])
    assert code == 0 and prompts == 1, screen
    assert "decrypted and authenticated" in screen


# -- 6. round trips ---------------------------------------------------------------------------


def test_import_dotenv_then_env_gives_back_the_same_variable(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"STRIPE_KEY={TOKEN}\nexport DB_URL=FAKE-db\n")
    ok(run_cli("import", str(dotenv), env=PASS_ENV))
    exported = ok(run_cli("env", "STRIPE_KEY", "DB_URL", env=PASS_ENV)).stdout
    assert exported == f"export STRIPE_KEY='{TOKEN}'\nexport DB_URL='FAKE-db'\n"
    single = ok(run_cli("env", "STRIPE_KEY.token", "--shell", "json", env=PASS_ENV)).stdout
    assert json.loads(single) == {"STRIPE_KEY": TOKEN}
    child = ok(run_cli("exec", "STRIPE_KEY", "--", "sh", "-c", 'test "$STRIPE_KEY" = "$X"',
                       env={**PASS_ENV, "X": TOKEN}))  # fmt: skip
    assert child.returncode == 0


def test_an_imported_key_that_is_no_variable_name_keeps_the_derived_name(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    ok(run_cli("import", "-", input=f"my-key={TOKEN}\n", env=PASS_ENV))
    assert ok(run_cli("env", "my-key", env=PASS_ENV)).stdout == f"export MY_KEY_TOKEN='{TOKEN}'\n"


def test_an_imported_name_that_changes_how_programs_run_is_still_refused(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("LD_PRELOAD=/tmp/FAKE.so\n")
    ok(run_cli("import", str(dotenv), env=PASS_ENV))
    refused = run_cli("env", "LD_PRELOAD", env=PASS_ENV)
    assert refused.returncode == 9
    assert "LD_PRELOAD.token=LD_PRELOAD" in refused.stderr


def test_import_update_upserts_in_one_vault_write(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"STRIPE_KEY={TOKEN}\nSTAYS=FAKE-same\n")
    ok(run_cli("import", str(dotenv), env=PASS_ENV))
    again = run_cli("import", str(dotenv), env=PASS_ENV)
    assert again.returncode == 8
    assert "--update" in again.stderr
    generation = _generation(run_cli)
    dotenv.write_text(f"STRIPE_KEY={NEW_TOKEN}\nSTAYS=FAKE-same\nADDED=FAKE-added\n")
    done = ok(run_cli("import", str(dotenv), "--update", "--json", env=PASS_ENV))
    outcomes = [row["outcome"] for row in json.loads(done.stdout)]
    assert outcomes == ["updated", "unchanged", "created"]
    assert _generation(run_cli) == generation + 1
    assert ok(run_cli("get-token", "STRIPE_KEY", env=PASS_ENV)).stdout == NEW_TOKEN + "\n"
    shown = json.loads(ok(run_cli("show", "STRIPE_KEY", "--json", env=PASS_ENV)).stdout)
    assert shown["version"] == 2
    assert NEW_TOKEN not in done.stdout + done.stderr


def test_import_update_refuses_another_type_under_the_name(
    run_cli: RunCli, github: Path, tmp_path: Path
) -> None:
    items = tmp_path / "items.json"
    items.write_text(json.dumps([{"name": "github", "credential_type": "api_key",
                                  "credential_data": {"key": TOKEN}}]))  # fmt: skip
    result = run_cli("import", str(items), "--update", env=PASS_ENV)
    assert result.returncode == 8
    assert "cannot become api_key" in result.stderr


def _generation(run_cli: RunCli) -> int:
    report = json.loads(run_cli("doctor", "--json", env=PASS_ENV).stdout)
    detail = next(c["detail"] for c in report["checks"] if c["name"] == "format")
    return int(detail.rsplit(" ", 1)[1])


def test_update_field_sets_one_field_and_keeps_the_others(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(TOKEN + "\n")
    ok(run_cli("create", "api_key", "mail", "--field", f"key=@{key_file}",
               "--field", "param_name=X-Mail-Key", env=PASS_ENV))  # fmt: skip
    ok(run_cli("update", "mail", "--field", "key=@-", input=NEW_TOKEN + "\n", env=PASS_ENV))
    header = ok(run_cli("get-token", "mail", "--format", "header", env=PASS_ENV)).stdout
    assert header == f"X-Mail-Key: {NEW_TOKEN}\n"
    ok(run_cli("update", "mail", "-f", "param_name=X-Other", env=PASS_ENV))
    header = ok(run_cli("get-token", "mail", "--format", "header", env=PASS_ENV)).stdout
    assert header == f"X-Other: {NEW_TOKEN}\n"
    literal = run_cli("update", "mail", "--field", f"key={TOKEN}", env=PASS_ENV)
    assert literal.returncode == 9 and TOKEN not in literal.stderr
    assert "key=env:VAR" in literal.stderr and "leave it out" not in literal.stderr
    unknown = run_cli("update", "mail", "--field", "nope=@-", input="x", env=PASS_ENV)
    assert unknown.returncode == 9 and "unknown field" in unknown.stderr


# -- 7. discovery ------------------------------------------------------------------------------


def complete(words: list[str], env: dict[str, str]) -> list[str]:
    """What the shipped bash script offers for `words`, asking this credctl at the TAB."""
    script = Path(__file__).resolve().parent.parent / "completions" / "credctl.bash"
    bin_dir = Path(env["HOME"]) / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "credctl").write_text(f'#!/bin/sh\nexec {" ".join(credctl_command())} "$@"\n')
    (bin_dir / "credctl").chmod(0o755)
    program = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); '
               '_credctl_completion credctl; printf "%s\\n" "${COMPREPLY[@]}"')  # fmt: skip
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program, "bash", str(script), *words],
        env={**env, "PATH": f"{bin_dir}:{env['PATH']}"}, capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


def test_completion_offers_names_from_an_open_session_only(run_cli: RunCli, github: Path) -> None:
    base = {**os.environ, "CREDCTL_VAULT": str(github)}
    with_session = {**base, "CREDCTL_SESSION": session(run_cli)}
    for command in ("get-token", "show", "env", "exec", "delete"):
        assert complete(["credctl", command, "g"], with_session) == ["github"], command
    assert complete(["credctl", "create", "b"], base) == ["basic_auth"]
    # A passphrase in the environment is never used to complete: no unlock, no Argon2id.
    assert complete(["credctl", "get-token", ""], {**base, **PASS_ENV}) == []
    ok(run_cli("lock"))
    assert complete(["credctl", "get-token", ""], with_session) == []


def test_completion_command_prints_the_shipped_scripts(run_cli: RunCli) -> None:
    shipped = Path(__file__).resolve().parent.parent / "completions"
    for shell, name in (("bash", "credctl.bash"), ("zsh", "_credctl"), ("fish", "credctl.fish")):
        printed = ok(run_cli("completion", shell, vault=None)).stdout
        body = printed.split("\n", 1)[1] if shell == "zsh" else printed
        assert (shipped / name).read_text().endswith(body), shell
    assert run_cli("completion", "tcsh", vault=None).returncode == 2


@pytest.mark.parametrize(
    ("typed", "meant"),
    [("rm", "delete"), ("get", "get-token"), ("add", "create"), ("lsit", "list"),
     ("craete", "create")],
)  # fmt: skip
def test_a_mistyped_command_gets_a_fitting_suggestion(
    run_cli: RunCli, typed: str, meant: str
) -> None:
    result = run_cli(typed, "x", vault=None)
    assert result.returncode == 2
    assert f"did you mean `credctl {meant}`" in result.stderr


def test_a_different_word_gets_no_suggestion(run_cli: RunCli) -> None:
    result = run_cli("rotatte", vault=None)
    assert result.returncode == 2
    assert "create" not in result.stderr


def test_a_mistyped_credential_name_gets_a_suggestion(run_cli: RunCli, github: Path) -> None:
    result = run_cli("get-token", "githb", env=PASS_ENV)
    assert result.returncode == 3
    assert "did you mean 'github'?" in result.stderr


def test_show_lists_field_names_never_values(run_cli: RunCli, github: Path) -> None:
    shown = ok(run_cli("show", "github", env=PASS_ENV)).stdout
    assert "fields:       token (secret)" in shown
    assert TOKEN not in shown


# -- 8. small things ---------------------------------------------------------------------------


def test_flags_show_no_bool_metavar(run_cli: RunCli) -> None:
    for command in (["list", "--help"], ["get-token", "--help"], ["doctor", "--help"]):
        result = ok(run_cli(*command, vault=None, env={"COLUMNS": "120"}))
        assert "<bool>" not in result.stdout, command


def test_get_token_json_is_format_json(run_cli: RunCli, github: Path) -> None:
    shown = json.loads(ok(run_cli("get-token", "github", "--json", env=PASS_ENV)).stdout)
    assert shown["value"] == TOKEN and shown["type"] == "token"
    assert run_cli("get-token", "github", "--json", "--format", "header", env=PASS_ENV
                   ).returncode == 2  # fmt: skip


def test_ttl_takes_hours_and_minutes(run_cli: RunCli, initialized_vault: Path) -> None:
    result = ok(run_cli("unlock", "--ttl", "1h30m", env=PASS_ENV))
    assert "session started for 90m" in result.stderr
    assert run_cli("unlock", "--ttl", "30m1h", env=PASS_ENV).returncode == 9


def test_a_passphrase_file_others_can_read_is_warned_about(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    secret_file = tmp_path / "pass"
    secret_file.write_text(PASSPHRASE + "\n")
    secret_file.chmod(0o644)
    loose = ok(run_cli("list", env={"CREDCTL_PASSPHRASE_FILE": str(secret_file)}))
    assert f"passphrase file {secret_file} has mode 0644" in loose.stderr
    secret_file.chmod(0o600)
    tight = ok(run_cli("list", env={"CREDCTL_PASSPHRASE_FILE": str(secret_file)}))
    assert "mode" not in tight.stderr


def test_bare_unlock_on_a_terminal_says_to_eval_it(initialized_vault: Path) -> None:
    code, screen, _ = on_pty(initialized_vault, ["unlock"], [], env=PASS_ENV)
    assert code == 0, screen
    assert 'eval "$(credctl unlock)"' in screen


@pytest.mark.parametrize(
    ("env", "source"),
    [({"CREDCTL_PASSPHRASE": "fake-wrong"}, "from CREDCTL_PASSPHRASE)"),
     ({"CREDCTL_PASSPHRASE_FILE": "FILE"}, "from CREDCTL_PASSPHRASE_FILE=")],
)  # fmt: skip
def test_a_wrong_passphrase_names_its_source(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, env: dict[str, str], source: str
) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("fake-wrong\n")
    wrong.chmod(0o600)
    env = {k: str(wrong) if v == "FILE" else v for k, v in env.items()}
    result = run_cli("list", env=env)
    assert result.returncode == 5
    assert source in result.stderr


def test_a_wrong_passphrase_at_the_prompt_says_so(initialized_vault: Path) -> None:
    code, screen, _ = on_pty(initialized_vault, ["list"], ["fake-1", "fake-2", "fake-3"])
    assert code == 5, screen
    assert "wrong passphrase (typed at the prompt, 3 times)" in screen


def test_a_missing_vault_named_with_vault_hints_its_init(run_cli: RunCli, tmp_path: Path) -> None:
    other = tmp_path / "other.credctl"
    result = run_cli("--vault", str(other), "list", vault=None)
    assert result.returncode == 3
    assert f"credctl --vault {other} init" in result.stderr


def test_a_damaged_vault_points_at_its_backups(run_cli: RunCli, github: Path) -> None:
    data = bytearray(github.read_bytes())
    data[-20] ^= 0x01
    github.write_bytes(bytes(data))
    result = run_cli("list", env=PASS_ENV)
    assert result.returncode == 6
    assert f"{github}.d/backups" in result.stderr


def test_doctor_accepts_a_git_checkout_vault_and_still_flags_others_writing(
    run_cli: RunCli, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    vault = repo / "ci" / "vault.credctl"
    ok(run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=vault))
    vault.chmod(0o644)
    outside = run_cli("doctor", env=PASS_ENV, vault=vault)
    assert outside.returncode == 1  # not in a git work tree: others reading it is news
    (repo / ".git").mkdir()
    inside = run_cli("doctor", env=PASS_ENV, vault=vault)
    assert inside.returncode == 0, inside.stdout
    assert "checked out of git" in inside.stdout
    vault.chmod(0o666)
    assert run_cli("doctor", env=PASS_ENV, vault=vault).returncode == 1


def test_doctor_reports_its_own_failure_as_unhealthy_not_as_degraded(
    initialized_vault: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 from doctor means "degraded" only: a crash inside it is exit 2, with a report."""
    from credctl.cli import doctor, main

    def broken(*_args: object) -> object:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(doctor, "examine", broken)
    monkeypatch.setenv("CREDCTL_VAULT", str(initialized_vault))
    code = main.run(["doctor"])
    out = capsys.readouterr().out
    assert code == 2
    assert "internal error (RuntimeError)" in out and out.rstrip().endswith("unhealthy")
