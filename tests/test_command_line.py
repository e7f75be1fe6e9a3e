"""The command-line parser of the startup-bound commands (credctl.cli.argv), table-driven.

Every spelling of every option of every spec'd command, options before and after
arguments, ``--``, ``-``, repeated options, clusters, and every usage error with its
message: through `argv.parse` in-process, which runs nothing (each case names what it
shows, in the style of gh's ``login_test.go``).  `main.run` takes a runner, like gh's
``runF``, so dispatch is checked without a vault.  A handful of cases go through the
console script, where a user meets them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from credctl.cli import argv
from credctl.cli.argv import Handover, Invocation, ShowVersion
from credctl.cli.context import CliContext
from credctl.cli.main import run
from credctl.cli.spec import (
    CREATE,
    ENV,
    EXEC,
    FAST_COMMANDS,
    GET_TOKEN,
    ArgumentSpec,
    CommandSpec,
    CreateRequest,
    EnvRequest,
    ExecRequest,
    GetTokenRequest,
    GlobalOptions,
    OptionSpec,
)
from credctl.errors import ExitCode, UsageError
from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback

NO_GLOBALS = GlobalOptions()


class Case(NamedTuple):
    """A command line and the request it must give."""

    name: str
    args: list[str]
    want: Any
    options: GlobalOptions = NO_GLOBALS


def ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


# -- every spelling of every option, generated from the spec ---------------------------

#: The smallest valid line of each command, and its request.
MINIMAL: dict[str, tuple[list[str], Any]] = {
    "get-token": (["gh"], GetTokenRequest("gh")),
    "env": (["gh"], EnvRequest(("gh",))),
    "exec": (["gh", "--", "cmd", "-x"], ExecRequest(("gh",), ("cmd", "-x"))),
    "create": (["token", "gh"], CreateRequest("token", "gh")),
}


def sample(option: OptionSpec) -> str:
    """A valid value for `option` that differs from its default."""
    choices = [c for c in option.choices if c != option.default]
    return choices[-1] if choices else f"V-{option.dest}=x.y"


def spellings(option: OptionSpec, value: str) -> list[tuple[str, list[str]]]:
    """(label, words) for each way of writing `option` with `value`."""
    found = []
    for flag in option.flags:
        if option.is_flag:
            found.append((flag, [flag]))
        elif flag.startswith("--"):
            found += [(f"{flag} X", [flag, value]), (f"{flag}=X", [f"{flag}={value}"])]
        else:
            found += [(f"{flag} X", [flag, value]), (f"{flag}X", [flag + value])]
    return found


def spelling_cases() -> list[Case]:
    cases = []
    for spec in FAST_COMMANDS.values():
        words, base = MINIMAL[spec.name]
        dashes = words.index("--") if "--" in words else len(words)
        head, tail = words[:dashes], words[dashes:]
        for option in spec.options:
            value = sample(option)
            stored: Any = True if option.is_flag else value
            if option.multiple:
                stored = (value,)
            want = base._replace(**{option.dest: stored})
            for label, spelled in spellings(option, value):
                cases.append(
                    Case(f"{spec.name} {label} before args", [spec.name, *spelled, *words], want)
                )
                cases.append(
                    Case(
                        f"{spec.name} {label} after args",
                        [spec.name, *head, *spelled, *tail],
                        want,
                    )
                )
    return cases


SPELLINGS = spelling_cases()


def test_every_option_of_every_command_is_spelled() -> None:
    """The generated table covers each flag of each command, both sides of the arguments."""
    for spec in FAST_COMMANDS.values():
        for option in spec.options:
            for flag in option.flags:
                assert any(
                    flag in " ".join(case.args) for case in SPELLINGS if case.args[0] == spec.name
                )
    assert len(SPELLINGS) >= 2 * 30


@pytest.mark.parametrize("case", SPELLINGS, ids=ids(SPELLINGS))
def test_each_spelling(case: Case) -> None:
    assert argv.parse(case.args) == Invocation(
        case.options, FAST_COMMANDS[case.args[0]], case.want
    )


# -- hand-written cases: positions, --, -, repetition, the reported bugs -------------------

G = GetTokenRequest
E = EnvRequest
X = ExecRequest
C = CreateRequest

CASES = [
    # the two reported bugs (issue 9)
    Case(
        "exec -eVAR=NAME.FIELD then -- CMD",
        ["exec", "-eT=github.token", "--", "CMD"],
        X(env=("T=github.token",), command=("CMD",)),
    ),
    Case("get-token -fFIELD attached", ["get-token", "gh", "-ftoken"], G("gh", field="token")),
    # get-token
    Case("get-token id", ["get-token", "42"], G("42")),
    Case(
        "get-token every option",
        ["get-token", "--format=json", "gh", "-f", "x", "--min-valid", "5m", "--no-refresh"],
        G("gh", "x", "json", "5m", True),
    ),
    Case(
        "get-token -- then a name with a dash", ["get-token", "--", "-dash-name"], G("-dash-name")
    ),
    Case("get-token options before --", ["get-token", "-fx", "--", "-n"], G("-n", field="x")),
    Case("get-token - is a name", ["get-token", "-"], G("-")),
    Case(
        "get-token a value may start with a dash",
        ["get-token", "gh", "--field", "-x"],
        G("gh", "-x"),
    ),
    Case(
        "get-token a value may look like an option",
        ["get-token", "gh", "-f", "--format"],
        G("gh", "--format"),
    ),
    Case("get-token a value may be -h", ["get-token", "gh", "-f", "-h"], G("gh", "-h")),
    Case("get-token an empty value", ["get-token", "gh", "--field="], G("gh", "")),
    Case(
        "get-token the last of a repeated option wins",
        ["get-token", "gh", "--format", "json", "--format=header"],
        G("gh", format="header"),
    ),
    Case(
        "get-token a repeated flag",
        ["get-token", "gh", "--no-refresh", "--no-refresh"],
        G("gh", no_refresh=True),
    ),
    # env
    Case("env with no word (the runner says what is missing)", ["env"], E()),
    Case(
        "env words keep their order around options",
        ["env", "b", "-sfish", "a", "--prefix", "P_", "c"],
        E(("b", "a", "c"), "fish", "P_"),
    ),
    Case(
        "env every word form",
        ["env", "gh", "gh.token", "T=gh.token", "gh.token=T"],
        E(("gh", "gh.token", "T=gh.token", "gh.token=T")),
    ),
    Case("env -- then words", ["env", "--", "-s", "x"], E(("-s", "x"))),
    Case("env an empty prefix", ["env", "--prefix=", "gh"], E(("gh",), prefix="")),
    # exec
    Case(
        "exec names and mappings",
        ["exec", "a", "-e", "T=a.b", "b", "--env=U=c.d", "--", "cmd"],
        X(("a", "b"), ("cmd",), ("T=a.b", "U=c.d")),
    ),
    Case(
        "exec -e repeated keeps every value in order",
        ["exec", "-eA=x.y", "-e", "B=x.z", "--env", "C=x.w", "--", "c"],
        X(env=("A=x.y", "B=x.z", "C=x.w"), command=("c",)),
    ),
    Case(
        "exec the command keeps its own options and --",
        ["exec", "--mask", "gh", "--", "sh", "-c", "x", "--", "--help", "-h"],
        X(("gh",), ("sh", "-c", "x", "--", "--help", "-h"), mask=True),
    ),
    Case(
        "exec the command may start with a dash", ["exec", "--", "-weird"], X(command=("-weird",))
    ),
    Case("exec a name - ", ["exec", "-", "--", "c"], X(("-",), ("c",))),
    Case(
        "exec every flag",
        ["exec", "--pristine", "--mask", "--", "c"],
        X(command=("c",), pristine=True, mask=True),
    ),
    # create
    Case(
        "create fields in order",
        ["create", "token", "gh", "-f", "a=1", "--field=b=@-", "-fc=env:V"],
        C("token", "gh", field=("a=1", "b=@-", "c=env:V")),
    ),
    Case(
        "create --data-file - reads stdin",
        ["create", "--data-file", "-", "api_key", "k"],
        C("api_key", "k", data_file="-"),
    ),
    Case(
        "create tags and metadata repeat",
        ["create", "token", "t", "-tA", "--tag", "B", "--meta", "k=v", "--meta=l=w"],
        C("token", "t", tag=("A", "B"), meta=("k=v", "l=w")),
    ),
    Case(
        "create -dTEXT and an idempotency key",
        ["create", "-dfor CI", "token", "t", "--idempotency-key=run-42"],
        C("token", "t", description="for CI", idempotency_key="run-42"),
    ),
    Case("create -- then a name with a dash", ["create", "token", "--", "-x"], C("token", "-x")),
    # global options
    Case(
        "--vault PATH",
        ["--vault", "/v.credctl", "get-token", "gh"],
        G("gh"),
        GlobalOptions("/v.credctl"),
    ),
    Case(
        "--vault=PATH",
        ["--vault=/v.credctl", "env", "gh"],
        E(("gh",)),
        GlobalOptions("/v.credctl"),
    ),
    Case("-q", ["-q", "get-token", "gh"], G("gh"), GlobalOptions(quiet=True)),
    Case(
        "--quiet --no-color",
        ["--quiet", "--no-color", "get-token", "gh"],
        G("gh"),
        GlobalOptions(quiet=True, no_color=True),
    ),
    Case("-qq cluster", ["-qq", "get-token", "gh"], G("gh"), GlobalOptions(quiet=True)),
    Case(
        "every global option",
        ["-q", "--vault", "/v", "--no-color", "exec", "--", "c"],
        X(command=("c",)),
        GlobalOptions("/v", True, True),
    ),
    Case(
        "-- ends the global options",
        ["-q", "--", "get-token", "gh"],
        G("gh"),
        GlobalOptions(quiet=True),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_command_lines(case: Case) -> None:
    parsed = argv.parse(case.args)
    assert isinstance(parsed, Invocation), parsed
    assert parsed.request == case.want
    assert parsed.options == case.options
    assert isinstance(parsed.request, parsed.command.request)


# -- what is not a fast command: help, version, completion, the other commands ----------


class Other(NamedTuple):
    name: str
    args: list[str]
    want: Handover | ShowVersion


OTHERS = [
    Other("no words: Typer prints the overview", [], Handover(NO_GLOBALS, [])),
    Other("--help", ["--help"], Handover(NO_GLOBALS, ["--help"])),
    Other("-h", ["-h"], Handover(NO_GLOBALS, ["--help"])),
    Other("-qh cluster", ["-qh"], Handover(GlobalOptions(quiet=True), ["--help"])),
    Other(
        "--help before a command", ["--help", "get-token", "gh"], Handover(NO_GLOBALS, ["--help"])
    ),
    Other("--version", ["--version"], ShowVersion(NO_GLOBALS)),
    Other(
        "--version before a command",
        ["-q", "--version", "list"],
        ShowVersion(GlobalOptions(quiet=True)),
    ),
    Other(
        "--show-completion: the whole line",
        ["--vault", "v", "--show-completion"],
        Handover(None, ["--vault", "v", "--show-completion"]),
    ),
    Other(
        "--install-completion", ["--install-completion"], Handover(None, ["--install-completion"])
    ),
    Other(
        "list, without the global options",
        ["--vault=/v", "list", "-t", "x", "--json"],
        Handover(GlobalOptions("/v"), ["list", "-t", "x", "--json"]),
    ),
    Other("a subgroup", ["key", "list"], Handover(NO_GLOBALS, ["key", "list"])),
    Other(
        "an unknown command: Typer says so",
        ["get-tokn", "gh"],
        Handover(NO_GLOBALS, ["get-tokn", "gh"]),
    ),
    Other(
        "get-token --help", ["get-token", "--help"], Handover(NO_GLOBALS, ["get-token", "--help"])
    ),
    Other(
        "get-token -h after the name",
        ["get-token", "gh", "-h"],
        Handover(NO_GLOBALS, ["get-token", "--help"]),
    ),
    Other(
        "get-token -h in a cluster",
        ["get-token", "-hfx"],
        Handover(NO_GLOBALS, ["get-token", "--help"]),
    ),
    Other(
        "help wins over a mistake",
        ["get-token", "--feild", "x", "--help"],
        Handover(NO_GLOBALS, ["get-token", "--help"]),
    ),
    Other(
        "help wins over a missing argument",
        ["create", "-h"],
        Handover(NO_GLOBALS, ["create", "--help"]),
    ),
    Other(
        "env --help with global options",
        ["-q", "env", "gh", "--help"],
        Handover(GlobalOptions(quiet=True), ["env", "--help"]),
    ),
    Other(
        "exec -h before --",
        ["exec", "gh", "-h", "--", "c"],
        Handover(NO_GLOBALS, ["exec", "--help"]),
    ),
    Other(
        "exec --help without a command",
        ["exec", "--help"],
        Handover(NO_GLOBALS, ["exec", "--help"]),
    ),
]


@pytest.mark.parametrize("case", OTHERS, ids=[o.name for o in OTHERS])
def test_help_version_completion_and_other_commands(case: Other) -> None:
    assert argv.parse(case.args) == case.want


# -- usage errors: exit 2, a message naming the option, a hint naming the help -----------


class Bad(NamedTuple):
    name: str
    args: list[str]
    message: str
    hint: str = ""


BAD = [
    Bad(
        "unknown long option, did you mean",
        ["get-token", "gh", "--feild", "x"],
        "no such option '--feild' for get-token (did you mean --field?)",
    ),
    Bad(
        "no abbreviations",
        ["get-token", "gh", "--form", "json"],
        "no such option '--form' for get-token (did you mean --format?)",
    ),
    Bad("unknown short option", ["get-token", "gh", "-x"], "no such option '-x' for get-token"),
    Bad(
        "unknown option with a value shows only the name",
        ["env", "--token=FAKE-SECRET-1", "gh"],
        "no such option '--token' for env",
    ),
    Bad(
        "unknown short option with a value attached",
        ["create", "token", "t", "-FFAKE-SECRET-2"],
        "no such option '-F' for create",
    ),
    Bad(
        "missing value at the end, long",
        ["get-token", "gh", "--field"],
        "option --field needs a value (FIELD)",
    ),
    Bad(
        "missing value at the end, short",
        ["get-token", "gh", "-f"],
        "option -f needs a value (FIELD)",
    ),
    Bad(
        "-- is not a value",
        ["exec", "-e", "--", "cmd"],
        "option -e needs a value (VAR=NAME.FIELD)",
    ),
    Bad(
        "a flag takes no value",
        ["get-token", "gh", "--no-refresh=yes"],
        "option --no-refresh takes no value",
    ),
    Bad(
        "exec flag with a value",
        ["exec", "--mask=FAKE-SECRET-3", "--", "c"],
        "option --mask takes no value",
    ),
    Bad(
        "bad choice",
        ["get-token", "gh", "--format", "yaml"],
        "invalid value for --format: choose from raw, header, json",
    ),
    Bad(
        "bad choice attached, did you mean",
        ["env", "-sbsh", "gh"],
        "invalid value for -s: choose from sh, bash, zsh, fish, powershell, dotenv, json, github "
        "(did you mean 'bash'?)",
    ),
    Bad(
        "bad choice with =",
        ["env", "--shell=tcsh", "gh"],
        "invalid value for --shell: choose from",
    ),
    Bad("missing argument", ["get-token"], "get-token: missing NAME|ID"),
    Bad(
        "missing argument after options",
        ["get-token", "--format", "json"],
        "get-token: missing NAME|ID",
    ),
    Bad("create missing TYPE", ["create"], "create: missing TYPE"),
    Bad("create missing NAME", ["create", "token", "-f", "a=@f"], "create: missing NAME"),
    Bad(
        "extra argument is counted, not shown",
        ["get-token", "gh", "FAKE-SECRET-4"],
        "get-token takes 1 argument (NAME|ID), not 2",
    ),
    Bad(
        "extra argument after --",
        ["create", "token", "t", "--", "FAKE-SECRET-5"],
        "create takes 2 arguments (TYPE NAME), not 3",
    ),
    Bad("exec without --", ["exec", "gh"], "exec needs the command to run after `--`"),
    Bad(
        "exec with nothing after --",
        ["exec", "gh", "--"],
        "exec needs the command to run after `--`",
    ),
    Bad(
        "exec -e without --", ["exec", "-eT=gh.token"], "exec needs the command to run after `--`"
    ),
    Bad(
        "exec command options without --",
        ["exec", "gh", "ls", "-la"],
        "no such option '-l' for exec; the command to run goes after `--`",
    ),
    Bad(
        "global option after the command",
        ["get-token", "gh", "--vault", "v"],
        "--vault is a global option: put it before the command (credctl --vault … get-token …)",
    ),
    Bad("-q after the command", ["env", "gh", "-q"], "-q is a global option"),
    Bad(
        "unknown global option",
        ["--bogus", "list"],
        "no such option '--bogus'",
        "see 'credctl --help'",
    ),
    Bad(
        "misspelled global option",
        ["--vaults", "v", "list"],
        "no such option '--vaults' (did you mean --vault?)",
        "see 'credctl --help'",
    ),
    Bad(
        "--vault without a value",
        ["--vault"],
        "option --vault needs a value (PATH)",
        "see 'credctl --help'",
    ),
    Bad(
        "--vault with an empty value",
        ["--vault=", "get-token", "gh"],
        "--vault needs a path, not an empty word",
        "see 'credctl --help'",
    ),
    Bad("global options without a command", ["-q"], "missing command", "see 'credctl --help'"),
    Bad("--version takes no value", ["--version=2"], "option --version takes no value"),
]


@pytest.mark.parametrize("case", BAD, ids=[b.name for b in BAD])
def test_usage_errors(case: Bad) -> None:
    with pytest.raises(UsageError) as caught:
        argv.parse(case.args)
    error = caught.value
    assert error.exit_code == ExitCode.USAGE == 2
    assert case.message in str(error)
    command = next((word for word in case.args if word in FAST_COMMANDS), None)
    hint = case.hint or (f"see 'credctl {command} --help'" if command else "see 'credctl --help'")
    assert error.hint == hint
    assert "FAKE-SECRET" not in str(error) + str(error.hint)


# -- rules no current command exercises: a made-up command with short flags ---------------


class ToyRequest(NamedTuple):
    path: str
    verbose: bool = False
    extra: bool = False
    output: str | None = None


TOY = CommandSpec(
    name="toy",
    summary="",
    help="",
    runner="",
    request=ToyRequest,
    arguments=(ArgumentSpec("path", "PATH", ""),),
    options=(
        OptionSpec("verbose", ("--verbose", "-v"), ""),
        OptionSpec("extra", ("--extra", "-x"), ""),
        OptionSpec("output", ("--output", "-o"), "", metavar="OUT"),
    ),
)

CLUSTERS = [
    Case("-vx: two flags", ["toy", "-vx", "p"], ToyRequest("p", True, True)),
    Case("-xv: any order", ["toy", "p", "-xv"], ToyRequest("p", True, True)),
    Case(
        "-vxoOUT: a value ends the cluster",
        ["toy", "-vxoOUT", "p"],
        ToyRequest("p", True, True, "OUT"),
    ),
    Case(
        "-vo OUT: value in the next word",
        ["toy", "-vo", "OUT", "p"],
        ToyRequest("p", True, False, "OUT"),
    ),
    Case("-ov: v is the value, not a flag", ["toy", "-ov", "p"], ToyRequest("p", output="v")),
]


@pytest.mark.parametrize("case", CLUSTERS, ids=ids(CLUSTERS))
def test_clusters(case: Case) -> None:
    parsed = argv.parse(case.args, {"toy": TOY})
    assert isinstance(parsed, Invocation)
    assert parsed.request == case.want


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["toy", "-vz", "p"], "no such option '-z' for toy"),
        (["toy", "p", "-vo"], "option -o needs a value (OUT)"),
        (["toy", "p", "--verbose=1"], "option --verbose takes no value"),
    ],
)
def test_cluster_errors(args: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        argv.parse(args, {"toy": TOY})


# -- the spec and the requests agree ----------------------------------------------------


@pytest.mark.parametrize("spec", list(FAST_COMMANDS.values()), ids=list(FAST_COMMANDS))
def test_each_request_has_one_field_per_argument_and_option(spec: CommandSpec) -> None:
    """Adding an OptionSpec needs the same name, and default, in the request class."""
    dests = [a.dest for a in spec.arguments] + [o.dest for o in spec.options]
    assert sorted(spec.request._fields) == sorted(dests)
    for option in spec.options:
        default = () if option.multiple else (False if option.is_flag else option.default)
        assert spec.request._field_defaults.get(option.dest) == default, option.dest


def test_usage_line_comes_from_the_spec() -> None:
    assert argv.usage(EXEC) == "credctl exec [OPTIONS] [NAME]... -- CMD…"
    assert argv.usage(CREATE) == "credctl create [OPTIONS] TYPE NAME"
    assert argv.usage(GET_TOKEN) == "credctl get-token [OPTIONS] NAME|ID"
    assert argv.usage(ENV).startswith("credctl env [OPTIONS] [NAME")


# -- dispatch: main.run with an injected runner (gh's runF) -------------------------------


def test_run_hands_the_request_and_global_options_to_the_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    seen: list[tuple[CliContext, Any]] = []

    def runner(cli: CliContext, request: Any) -> int:
        seen.append((cli, request))
        return 7

    code = run(
        ["-q", "--vault", "~/v.credctl", "exec", "-eT=github.token", "--", "CMD"], runner=runner
    )
    assert code == 7
    [(cli, request)] = seen
    assert request == ExecRequest(env=("T=github.token",), command=("CMD",))
    assert cli.vault_path == Path("~/v.credctl").expanduser()
    assert cli.quiet is True
    assert cli.color is True
    run(["--no-color", "get-token", "gh", "-ftoken"], runner=runner)
    assert seen[-1][1] == GetTokenRequest("gh", field="token")
    assert seen[-1][0].color is False


def test_run_reports_usage_errors_itself(capsys: pytest.CaptureFixture[str]) -> None:
    def runner(cli: CliContext, request: Any) -> int:
        raise AssertionError("a bad line must not run")

    assert run(["get-token", "gh", "--feild", "x"], runner=runner) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "credctl: error: no such option '--feild' for get-token (did you mean --field?)\n"
        "credctl: hint: see 'credctl get-token --help'\n"
    )


def test_typer_refuses_to_run_a_spec_command() -> None:
    """Typer knows the spec'd commands for help only; running one is a bug, said loudly."""
    from credctl.cli.app import app
    from credctl.errors import InternalError

    for name, (words, _) in MINIMAL.items():
        with pytest.raises(InternalError, match=f"asked to run {name}"):
            app(args=[name, *words], prog_name="credctl", standalone_mode=False, obj=object())


# -- through the console script ----------------------------------------------------------

SCRIPT = """
import atexit, json, sys
out = sys.argv[1]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["credctl", *sys.argv[2:]]
from credctl.cli.main import main
main(sys.argv[1:])  # with argv, main() exits through the teardown: atexit runs
"""


def modules_after(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Run credctl ARGS in a fresh interpreter: every module it had imported at exit."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return set(json.loads(out.read_text())), done


TYPER_AND_FRIENDS = ("typer", "click", "rich")
VAULT_CODE = ("credctl.manager", "credctl.vault", "credctl.cli.context", "cryptography", "argon2")


def test_version_imports_neither_typer_nor_the_vault(tmp_path: Path) -> None:
    modules, done = modules_after(tmp_path, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("credctl ")
    heavy = sorted(
        m
        for m in modules
        if m.split(".")[0] in TYPER_AND_FRIENDS
        or any(m == v or m.startswith(v + ".") for v in VAULT_CODE)
    )
    assert heavy == []


def test_the_import_check_sees_typer_when_it_is_there(tmp_path: Path) -> None:
    modules, done = modules_after(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "typer" in modules


def test_usage_error_through_the_console_script(run_cli: RunCli) -> None:
    result = run_cli("get-token", "gh", "--feild", "token")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "credctl: error: no such option '--feild' for get-token (did you mean --field?)\n"
        "credctl: hint: see 'credctl get-token --help'\n"
    )


def test_secret_in_a_misplaced_option_never_reaches_stderr(run_cli: RunCli) -> None:
    for args in (
        ["create", "token", "gh", "--token=FAKE-SECRET-cli"],
        ["get-token", "gh", "FAKE-SECRET-cli"],
        ["env", "--shell=FAKE-SECRET-cli", "gh"],
    ):
        result = run_cli(*args)
        assert result.returncode == 2, args
        assert "FAKE-SECRET" not in result.stderr + result.stdout
        assert_no_traceback(result)


@pytest.mark.parametrize(
    "args", [["get-token", "--help"], ["get-token", "gh", "-h"], ["get-token", "--bogus", "-h"]]
)
def test_help_of_a_fast_command_comes_from_typer(run_cli: RunCli, args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert "Usage: credctl get-token [OPTIONS]" in result.stdout
    assert "--min-valid" in result.stdout


def test_exec_help_shows_the_command_after_double_dash(run_cli: RunCli) -> None:
    result = run_cli("exec", "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: credctl exec [OPTIONS] [NAME]... -- CMD…" in result.stdout


@pytest.fixture
def token_vault(run_cli: RunCli, vault_path: Path) -> dict[str, str]:
    """A vault with the token credential `github`, and the environment that unlocks it."""
    env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
    assert run_cli("init", *CHEAP_KDF, env=env).returncode == 0
    created = run_cli(
        "create", "token", "github", "--field", "token=@-", env=env, input="FAKE-parser-token"
    )
    assert created.returncode == 0, created.stderr
    return env


def test_exec_with_attached_env_mapping_runs_the_command(
    run_cli: RunCli, token_vault: dict[str, str]
) -> None:
    """Issue 9: `credctl exec -eT=github.token -- CMD` exited 2."""
    result = run_cli(
        "exec",
        "-eT=github.token",
        "--",
        sys.executable,
        "-c",
        "import os; print(len(os.environ['T']))",
        env=token_vault,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{len('FAKE-parser-token')}\n"


def test_get_token_with_attached_field_stays_on_the_fast_path(
    tmp_path: Path, token_vault: dict[str, str], vault_path: Path
) -> None:
    """Issue 9: `get-token gh -ftoken` fell back to Typer (4× slower)."""
    env = {**token_vault, "CREDCTL_VAULT": str(vault_path)}
    modules, done = modules_after(tmp_path, "get-token", "github", "-ftoken", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "FAKE-parser-token\n"
    assert not any(m.split(".")[0] in TYPER_AND_FRIENDS for m in modules)


# -- the rest of the Typer app loads command modules lazily ------------------------------

COMMAND_MODULES = {
    "credctl.cli.vault_commands",
    "credctl.cli.credential_commands",
    "credctl.cli.credential_edit",
    "credctl.cli.import_export",
    "credctl.cli.metrics_command",
    "credctl.cli.oauth_commands",
    "credctl.cli.doctor",
    "credctl.cli.render_command",
    "credctl.cli.key_commands",
    "credctl.cli.get_token",
    "credctl.cli.env_command",
    "credctl.cli.exec_command",
    "credctl.cli.create_command",
}


@pytest.mark.parametrize(
    ("args", "own"),
    [
        (["list", "--help"], {"credctl.cli.credential_commands"}),
        (["show", "x"], {"credctl.cli.credential_commands"}),
        (["key", "--help"], {"credctl.cli.key_commands"}),
        (["render", "--help"], {"credctl.cli.render_command"}),
        (["get-token", "--help"], set()),
        (["--help"], set()),
        ([], set()),
    ],
    ids=" ".join,
)
def test_a_command_imports_only_its_own_module(
    tmp_path: Path, args: list[str], own: set[str]
) -> None:
    modules, done = modules_after(tmp_path, *args)
    assert_no_traceback(done)
    assert modules & COMMAND_MODULES == own, done.stderr


def test_help_lists_every_command_with_its_summary(run_cli: RunCli) -> None:
    from credctl.cli.app import COMMANDS

    result = run_cli("--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    for name, entry in COMMANDS.items():
        assert f" {name} " in result.stdout
        assert entry.summary in result.stdout, name


def test_the_command_table_matches_what_the_modules_register() -> None:
    """COMMANDS names every command any module registers, with the line its module gives it."""
    import importlib
    import inspect as inspect_module
    import pkgutil

    import typer

    import credctl.cli
    from credctl.cli.app import COMMANDS, load_command

    scratch = typer.Typer()
    for info in pkgutil.iter_modules(credctl.cli.__path__):
        module = importlib.import_module(f"credctl.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None and info.name != "spec_commands":
            register(scratch)
    registered = typer.main.get_group(scratch).commands
    assert set(COMMANDS) == set(registered) | set(FAST_COMMANDS)
    for name, command in registered.items():
        own = command.short_help or inspect_module.cleandoc(command.help or "").split("\n\n")[0]
        assert COMMANDS[name].summary.split() == own.split(), name
        assert type(load_command(name)) is type(command)
