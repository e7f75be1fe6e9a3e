"""`credctl env` through the console script: names, formats, mappings and every failure.

Quoting itself is proven against the real shells and parsers in `test_env_shells.py`;
this file checks what a user sees: which variables come out, under which names,
in which syntax, and the exit code and message of each mistake (SPEC §2, §3, §12).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import RunCli, assert_no_traceback
from tests.env_support import SessionVault

Env = Callable[..., subprocess.CompletedProcess[str]]

# Obviously fake secrets; each is looked for in stderr to prove it never leaks.
GH_TOKEN = "FAKE-gh-token-0001"
SVC_PASSWORD = "FAKE pass'word $(x)"
HOSTILE_VALUE = 'it\'s "$(rm -rf /)" `x` \\ %s !! \n-'
INTERPOLATED = "FAKE-${HOME}-secret"

CREDENTIALS: list[tuple[str, str, dict[str, object]]] = [
    ("token", "gh", {"token": GH_TOKEN}),
    ("api_key", "stripe", {"key": "FAKE-sk-123", "param_name": "Authorization"}),
    ("basic_auth", "svc", {"username": "bob", "password": SVC_PASSWORD}),
    ("basic_auth", "keyonly", {"username": "FAKE-key-as-user", "password": ""}),
    (
        "oauth2",
        "google",
        {
            "client_id": "cid",
            "client_secret": "FAKE-client-secret",
            "access_token": "FAKE-access",
            "refresh_token": "FAKE-refresh",
            "token_expiry": "2999-01-01T00:00:00Z",
        },
    ),
    (
        "oauth2",
        "stale",
        {"access_token": "FAKE-old-access", "token_expiry": "2001-01-01T00:00:00Z"},
    ),
    (
        "smtp",
        "mail",
        {
            "host": "smtp.example.com",
            "username": "mailer",
            "password": "FAKE-smtp-pass",
            "from_email": "ci@example.com",
        },
    ),
    ("custom", "hostile", {"single_quote": HOSTILE_VALUE, "token_field": "single_quote"}),
    ("custom", "multi", {"a": "1", "b-c": "two", "port": 5432, "debug": True}),
    ("custom", "1password", {"token": "FAKE-op-token"}),
    ("custom", "aws-prod", {"access_key_id": "AKIAFAKE", "secret_access_key": "FAKE/secret"}),
    ("custom", "interp", {"value": INTERPOLATED}),
    ("custom", "crlf", {"value": "FAKE-ends-in-cr\r"}),
    # Field names that would derive variables which change how programs run (issue 8).
    ("custom", "ld", {"preload": "FAKE-ld-preload.so"}),
    ("custom", "git", {"ssh_command": "FAKE-ssh-cmd", "token": "FAKE-git-token"}),
    ("custom", "node", {"options": "FAKE--require=x"}),
    ("custom", "bash", {"env": "FAKE-bash-env"}),
    ("custom", "python", {"token": "FAKE-python-token", "path": "FAKE-python-path"}),
    ("custom", "quoted", {"value": 'it\'s "fine" \\ ok'}),
]


@pytest.fixture(scope="module")
def session_vault(tmp_path_factory: pytest.TempPathFactory) -> SessionVault:
    """One vault for the whole file, holding every credential above, with a session."""
    vault = SessionVault(tmp_path_factory.mktemp("env"))
    vault.create(CREDENTIALS)
    return vault


@pytest.fixture
def env(run_cli: RunCli, session_vault: SessionVault) -> Env:
    """Run ``credctl env ARGS`` with the session, as a CI job would."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        session = {"CREDCTL_SESSION": session_vault.env["CREDCTL_SESSION"]}
        return run_cli("env", *args, vault=session_vault.path, env=session)

    return run


def exported(env: Env, *args: str) -> dict[str, str]:
    """The variables ``credctl env --shell json ARGS`` prints."""
    result = env("--shell", "json", *args)
    assert result.returncode == 0, result.stderr
    value: dict[str, str] = json.loads(result.stdout)
    return value


def assert_failed(result: subprocess.CompletedProcess[str], code: int) -> None:
    """Exit `code`, nothing on stdout, no traceback, no secret in the message."""
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert_no_traceback(result)
    for secret in (GH_TOKEN, SVC_PASSWORD, INTERPOLATED, "FAKE-op-token", "FAKE-ends-in-cr"):
        assert secret not in result.stderr


# -- default names per type (SPEC §2) ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gh", {"GH_TOKEN": GH_TOKEN}),
        ("stripe", {"STRIPE_KEY": "FAKE-sk-123"}),
        ("svc", {"SVC_USERNAME": "bob", "SVC_PASSWORD": SVC_PASSWORD}),
        ("keyonly", {"KEYONLY_USERNAME": "FAKE-key-as-user", "KEYONLY_PASSWORD": ""}),
        ("google", {"GOOGLE_ACCESS_TOKEN": "FAKE-access"}),
        (
            "mail",
            {
                "MAIL_HOST": "smtp.example.com",
                "MAIL_PORT": "587",
                "MAIL_USERNAME": "mailer",
                "MAIL_PASSWORD": "FAKE-smtp-pass",
                "MAIL_USE_TLS": "true",
                "MAIL_FROM_EMAIL": "ci@example.com",
            },
        ),
        ("hostile", {"HOSTILE_SINGLE_QUOTE": HOSTILE_VALUE}),
        (
            "multi",
            {"MULTI_A": "1", "MULTI_B_C": "two", "MULTI_DEBUG": "true", "MULTI_PORT": "5432"},
        ),
        (
            "aws-prod",
            {"AWS_PROD_ACCESS_KEY_ID": "AKIAFAKE", "AWS_PROD_SECRET_ACCESS_KEY": "FAKE/secret"},
        ),
    ],
)
def test_default_names_per_type(env: Env, name: str, expected: dict[str, str]) -> None:
    assert exported(env, name) == expected


def test_custom_token_field_is_a_setting_not_exported(env: Env) -> None:
    variables = exported(env, "hostile", "multi")
    assert not any("TOKEN_FIELD" in name for name in variables)
    assert variables["HOSTILE_SINGLE_QUOTE"] == HOSTILE_VALUE


def test_smtp_exports_only_fields_that_are_set(env: Env) -> None:
    assert "MAIL_FROM_NAME" not in exported(env, "mail")


def test_many_credentials_in_one_call_keep_their_order(env: Env) -> None:
    assert list(exported(env, "svc", "gh", "stripe")) == [
        "SVC_USERNAME", "SVC_PASSWORD", "GH_TOKEN", "STRIPE_KEY",
    ]  # fmt: skip


def test_an_id_works_like_the_name(env: Env) -> None:
    assert exported(env, "1") == {"GH_TOKEN": GH_TOKEN}


# -- NAME.FIELD, explicit names and --prefix ---------------------------------------


def test_name_dot_field_is_one_variable_with_the_default_name(env: Env) -> None:
    assert exported(env, "svc.password") == {"SVC_PASSWORD": SVC_PASSWORD}
    assert exported(env, "aws-prod.secret_access_key") == {
        "AWS_PROD_SECRET_ACCESS_KEY": "FAKE/secret"
    }


def test_name_dot_field_reaches_fields_not_exported_by_default(env: Env) -> None:
    assert exported(env, "google.refresh_token") == {"GOOGLE_REFRESH_TOKEN": "FAKE-refresh"}


@pytest.mark.parametrize("word", ["gh.token=GITHUB_TOKEN", "GITHUB_TOKEN=gh.token"])
def test_explicit_variable_names_in_both_orders(env: Env, word: str) -> None:
    assert exported(env, word) == {"GITHUB_TOKEN": GH_TOKEN}


def test_an_explicit_name_rescues_a_credential_whose_name_starts_with_a_digit(
    env: Env,
) -> None:
    assert exported(env, "1password.token=OP_TOKEN") == {"OP_TOKEN": "FAKE-op-token"}


def test_prefix_goes_before_default_names_only(env: Env) -> None:
    variables = exported(env, "--prefix", "TF_VAR_", "gh", "svc.username", "stripe.key=KEY")
    assert variables == {"TF_VAR_GH_TOKEN": GH_TOKEN, "TF_VAR_SVC_USERNAME": "bob",
                         "KEY": "FAKE-sk-123"}  # fmt: skip


def test_prefix_makes_a_digit_name_valid(env: Env) -> None:
    assert exported(env, "1password", "--prefix", "X_") == {"X_1PASSWORD_TOKEN": "FAKE-op-token"}


# -- every format through the CLI ---------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        ("sh", "export SVC_USERNAME='bob'\nexport SVC_PASSWORD='FAKE pass'\\''word $(x)'\n"),
        ("bash", "export SVC_USERNAME='bob'\nexport SVC_PASSWORD='FAKE pass'\\''word $(x)'\n"),
        ("zsh", "export SVC_USERNAME='bob'\nexport SVC_PASSWORD='FAKE pass'\\''word $(x)'\n"),
        ("fish", "set -gx SVC_USERNAME 'bob';\nset -gx SVC_PASSWORD 'FAKE pass\\'word $(x)';\n"),
        (
            "powershell",
            "$env:SVC_USERNAME = 'bob'\n$env:SVC_PASSWORD = 'FAKE pass''word $(x)'\n",
        ),
        ("json", '{"SVC_USERNAME": "bob", "SVC_PASSWORD": "FAKE pass\'word $(x)"}\n'),
    ],
)
def test_each_shell_syntax(env: Env, shell: str, expected: str) -> None:
    result = env("svc", "--shell", shell)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected
    assert result.stderr == ""


def test_dotenv_syntax_single_quotes_or_double_where_needed(env: Env) -> None:
    """Single quotes where both python-dotenv and a shell read them; else double (issue 8)."""
    result = env("gh", "quoted", "--shell", "dotenv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'GH_TOKEN=\'{GH_TOKEN}\'\nQUOTED_VALUE="it\'s \\"fine\\" \\\\ ok"\n'
    refused = env("svc", "--shell", "dotenv")  # ' and $(x): neither quoting is safe for both
    assert_failed(refused, 9)
    assert "SVC_PASSWORD" in refused.stderr


def test_sh_is_the_default(env: Env) -> None:
    assert env("gh").stdout == f"export GH_TOKEN='{GH_TOKEN}'\n"


def test_github_format_uses_a_fresh_random_delimiter(env: Env) -> None:
    first, second = env("-s", "github", "gh").stdout, env("-s", "github", "gh").stdout
    pattern = re.compile(r"GH_TOKEN<<(ghadelimiter_[0-9a-f]{32})\n" + GH_TOKEN + r"\n\1\n\Z")
    first_match, second_match = pattern.match(first), pattern.match(second)
    assert first_match is not None and second_match is not None, (first, second)
    assert first_match.group(1) != second_match.group(1)


def test_powershell_writes_non_ascii_and_line_breaks_as_char_codes(env: Env) -> None:
    result = env("hostile", "--shell", "powershell")
    assert result.returncode == 0, result.stderr
    line = result.stdout
    assert line.count("\n") == 1 and line.isascii()
    assert "[char]0x000A" in line


# -- usage errors (exit 2) -----------------------------------------------------------


def test_no_reference_is_a_usage_error_with_an_example(env: Env) -> None:
    result = env()
    assert_failed(result, 2)
    assert "credctl env NAME" in result.stderr


def test_an_unknown_shell_is_a_usage_error(env: Env) -> None:
    result = env("gh", "--shell", "tcsh")
    assert_failed(result, 2)
    assert "--shell" in result.stderr


# -- not found (exit 3) -------------------------------------------------------------


def test_an_unknown_credential_is_exit_3_and_named(env: Env) -> None:
    result = env("gh", "no-such-thing")
    assert_failed(result, 3)
    assert "'no-such-thing'" in result.stderr


def test_an_unknown_field_is_exit_3_and_named(env: Env) -> None:
    result = env("gh.nope")
    assert_failed(result, 3)
    assert "'nope'" in result.stderr


def test_an_unset_field_is_exit_3(env: Env) -> None:
    assert_failed(env("mail.from_name"), 3)


# -- invalid input (exit 9) -----------------------------------------------------------


def test_the_same_variable_twice_is_exit_9(env: Env) -> None:
    result = env("gh", "gh.token")
    assert_failed(result, 9)
    assert "GH_TOKEN" in result.stderr


def test_two_credentials_mapped_to_one_variable_is_exit_9(env: Env) -> None:
    assert_failed(env("gh.token=TOKEN", "TOKEN=stripe.key"), 9)


def test_a_default_name_starting_with_a_digit_is_exit_9_with_a_way_out(env: Env) -> None:
    result = env("1password")
    assert_failed(result, 9)
    assert "1PASSWORD_TOKEN" in result.stderr
    assert "FIELD=VAR" in result.stderr


@pytest.mark.parametrize("word", ["gh.token=1X", "gh.token=MY-VAR", "gh.token=", "A B=gh.token"])
def test_an_invalid_explicit_variable_is_exit_9(env: Env, word: str) -> None:
    assert_failed(env(word), 9)


@pytest.mark.parametrize("word", ["gh.", ".token", "a=b", "gh.token=X.Y"])
def test_a_malformed_reference_is_exit_9(env: Env, word: str) -> None:
    assert_failed(env(word), 9)


def test_a_prefix_that_makes_an_invalid_name_is_exit_9(env: Env) -> None:
    assert_failed(env("gh", "--prefix", "MY-"), 9)


def test_dotenv_refuses_a_value_python_dotenv_would_expand(env: Env) -> None:
    result = env("interp", "--shell", "dotenv")
    assert_failed(result, 9)
    assert "INTERP_VALUE" in result.stderr
    assert "--shell json" in result.stderr
    assert env("interp", "--shell", "sh").returncode == 0


def test_github_refuses_a_value_ending_in_a_carriage_return(env: Env) -> None:
    result = env("crlf", "--shell", "github")
    assert_failed(result, 9)
    assert "CRLF_VALUE" in result.stderr
    assert exported(env, "crlf") == {"CRLF_VALUE": "FAKE-ends-in-cr\r"}


# -- derived names that change how programs run (issue 8, finding 12) --------------------


@pytest.mark.parametrize(
    ("words", "variable"),
    [
        (["ld"], "LD_PRELOAD"),
        (["ld.preload"], "LD_PRELOAD"),
        (["git"], "GIT_SSH_COMMAND"),
        (["node"], "NODE_OPTIONS"),
        (["bash.env"], "BASH_ENV"),
        (["gh", "--prefix", "LD_"], "LD_GH_TOKEN"),
    ],
)
def test_a_dangerous_derived_variable_is_refused(
    env: Env, words: list[str], variable: str
) -> None:
    result = env(*words)
    assert_failed(result, 9)
    assert variable in result.stderr
    assert "FIELD=" in result.stderr or "--env" in result.stderr
    for secret in ("FAKE-ld-preload.so", "FAKE-ssh-cmd", "FAKE--require=x", "FAKE-bash-env"):
        assert secret not in result.stderr


def test_a_dangerous_variable_named_on_purpose_is_allowed(env: Env) -> None:
    assert exported(env, "ld.preload=LD_PRELOAD", "GIT_SSH_COMMAND=git.ssh_command") == {
        "LD_PRELOAD": "FAKE-ld-preload.so",
        "GIT_SSH_COMMAND": "FAKE-ssh-cmd",
    }


def test_harmless_names_with_the_same_beginnings_are_derived(env: Env) -> None:
    assert exported(env, "git.token", "python") == {
        "GIT_TOKEN": "FAKE-git-token",
        "PYTHON_TOKEN": "FAKE-python-token",
        "PYTHON_PATH": "FAKE-python-path",
    }


def test_exec_refuses_a_dangerous_derived_variable_before_starting(
    run_cli: RunCli, session_vault: SessionVault, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    session = {"CREDCTL_SESSION": session_vault.env["CREDCTL_SESSION"]}
    refused = run_cli("exec", "ld", "--", "touch", str(marker),
                      vault=session_vault.path, env=session)  # fmt: skip
    assert refused.returncode == 9, refused.stderr
    assert "LD_PRELOAD" in refused.stderr
    assert not marker.exists()
    chosen = run_cli("exec", "--env", "GIT_SSH_COMMAND=git.ssh_command", "--",
                     "sh", "-c", 'printf %s "$GIT_SSH_COMMAND"',
                     vault=session_vault.path, env=session)  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout == "FAKE-ssh-cmd"


def test_verbose_lists_the_names_on_stderr_never_the_values(env: Env) -> None:
    result = env("--verbose", "svc", "gh.token=TOKEN")
    assert result.returncode == 0, result.stderr
    assert "exporting SVC_USERNAME, SVC_PASSWORD, TOKEN" in result.stderr
    assert SVC_PASSWORD not in result.stderr and GH_TOKEN not in result.stderr
    assert result.stdout == env("svc", "gh.token=TOKEN").stdout
    assert "exporting" not in env("svc").stderr


def test_powershell_refuses_names_that_differ_only_in_case(env: Env) -> None:
    assert_failed(env("gh.token=Token", "stripe.key=TOKEN", "--shell", "powershell"), 9)


# -- other exits ------------------------------------------------------------------------


def test_an_expired_oauth_access_token_is_exit_7(env: Env) -> None:
    assert_failed(env("stale"), 7)


def test_a_locked_vault_is_exit_4_and_prints_nothing(
    run_cli: RunCli, session_vault: SessionVault
) -> None:
    assert_failed(run_cli("env", "gh", vault=session_vault.path), 4)


def test_a_missing_vault_is_exit_3(run_cli: RunCli, tmp_path: Path) -> None:
    assert_failed(run_cli("env", "gh", vault=tmp_path / "none.credctl"), 3)


# -- side effects ---------------------------------------------------------------------


@pytest.mark.vault_file
def test_each_read_counts_as_a_use_and_the_vault_is_not_rewritten(
    env: Env, session_vault: SessionVault
) -> None:
    before = session_vault.manager.get_credential_metrics("stripe").usage_count
    stamp = session_vault.path.stat().st_mtime_ns
    assert env("stripe", "stripe.param_name").returncode == 0
    after = session_vault.manager.get_credential_metrics("stripe").usage_count
    assert after == before + 1
    assert session_vault.path.stat().st_mtime_ns == stamp
