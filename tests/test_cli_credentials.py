"""The everyday credential commands through the installed console script.

create, list, show, update, delete, import, export, metrics and the doctor's
credential checks, with their error paths and exit codes (SPEC §3, §12).
"""

from __future__ import annotations

import base64
import io
import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from credctl.dotenv_file import parse_dotenv
from credctl.errors import InvalidInput
from tests.conftest import (
    PASSPHRASE,
    RunCli,
    assert_no_traceback,
    credctl_command,
    echo_is_off,
    wait_until,
)

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
BACKUP_PASSPHRASE = "backup passphrase (fake)"
TIMESTAMP_KEYS = ("created_at", "updated_at")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert_no_traceback(result)
    return result


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert the exit code, an empty stdout and no traceback; return stderr."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stdout == ""
    assert_no_traceback(result)
    assert result.stderr.startswith("credctl: error: ") or code == 2, result.stderr
    return result.stderr


def create_token(run_cli: RunCli, name: str, value: str, *extra: str) -> int:
    result = ok(
        run_cli(
            "create",
            "token",
            name,
            "--field",
            "token=@-",
            *extra,
            input=value + "\n",
            env=PASS_ENV,
        )
    )
    return int(result.stdout)


def token_of(run_cli: RunCli, ref: str, *extra: str, vault: Path | None = None) -> str:
    kwargs = {"vault": vault} if vault is not None else {}
    result = ok(run_cli("get-token", ref, *extra, env=PASS_ENV, **kwargs))
    assert result.stdout.endswith("\n")
    return result.stdout[:-1]


def listed(run_cli: RunCli, *extra: str) -> list[dict[str, object]]:
    value = json.loads(ok(run_cli("list", "--json", *extra, env=PASS_ENV)).stdout)
    assert isinstance(value, list)
    return value


def generation(vault: Path) -> int:
    """How many writes the vault has seen (in either lane)."""
    from tests.backend_support import commits

    return commits(vault, PASS_ENV)


# -- create --------------------------------------------------------------------------


def test_create_prints_the_new_id_alone(run_cli: RunCli, initialized_vault: Path) -> None:
    assert create_token(run_cli, "github", "tok-1") == 1
    assert create_token(run_cli, "gitlab", "tok-2") == 2
    assert token_of(run_cli, "github") == "tok-1"
    assert token_of(run_cli, "2") == "tok-2"


def test_create_duplicate_name_is_conflict(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "github", "tok-1")
    result = run_cli("create", "token", "github", "--field", "token=@-", input="x", env=PASS_ENV)
    assert "already exists" in fails(result, 8)
    assert token_of(run_cli, "github") == "tok-1"


def test_create_unknown_type_is_invalid_input(run_cli: RunCli, initialized_vault: Path) -> None:
    stderr = fails(run_cli("create", "password", "x", env=PASS_ENV), 9)
    assert "unknown credential type 'password'" in stderr
    assert "api_key, token, basic_auth, oauth2, smtp, custom" in stderr


@pytest.mark.parametrize(
    ("name", "reason"),
    [("1234", "all digits"), ("a.b", "contains a dot"), ("_x", "must start"), ("a b", "' '")],
)
def test_create_invalid_name_is_invalid_input(
    run_cli: RunCli, initialized_vault: Path, name: str, reason: str
) -> None:
    result = run_cli("create", "token", name, "--field", "token=@-", input="t", env=PASS_ENV)
    assert reason in fails(result, 9)


def test_create_missing_required_field(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli(
        "create", "basic_auth", "jenkins", "--field", "password=@-", input="pw", env=PASS_ENV
    )
    stderr = fails(result, 9)
    assert "missing required field 'username'" in stderr
    assert "--field username=VALUE" in stderr


def test_create_missing_secret_without_terminal_is_exit_9(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    result = run_cli("create", "basic_auth", "jenkins", "--field", "username=admin", env=PASS_ENV)
    stderr = fails(result, 9)
    assert "missing secret field 'password'" in stderr
    assert "no terminal" in stderr
    assert "password=@FILE" in stderr and "--data-file" in stderr
    assert listed(run_cli) == []


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("token", "token"),
        ("api_key", "key"),
        ("api_key", "api_key"),
        ("basic_auth", "password"),
        ("oauth2", "refresh_token"),
        ("custom", "anything"),
    ],
)
def test_literal_secret_on_argv_is_refused_with_teaching(
    run_cli: RunCli, initialized_vault: Path, kind: str, field: str
) -> None:
    secret = "LITERAL-SECRET-ON-ARGV"
    result = run_cli("create", kind, "leaky", "--field", f"{field}={secret}", env=PASS_ENV)
    stderr = fails(result, 9)
    assert f"secret field '{field}'" in stderr
    for form in (
        f"{field}=@FILE",
        f"{field}=@-",
        f"{field}=env:VAR",
        "hidden prompt",
        "--data-file",
    ):
        assert form in stderr, form
    assert secret not in stderr
    assert listed(run_cli) == []


def test_literal_secret_refused_before_anything_is_read(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    # The refused literal comes first even though the other field reads stdin.
    result = run_cli(
        "create",
        "basic_auth",
        "b",
        "--field",
        "username=@-",
        "--field",
        "password=hunter2",
        input="admin",
        env=PASS_ENV,
    )
    assert "secret field 'password'" in fails(result, 9)


def test_escaped_literal_for_a_plain_field(run_cli: RunCli, initialized_vault: Path) -> None:
    ok(
        run_cli(
            "create",
            "smtp",
            "mail",
            "--field",
            "host=smtp.example.com",
            "--field",
            "username=me",
            "--field",
            r"from_name=\@team",
            "--field",
            r"from_email=\env:NOT_A_VARIABLE",
            "--field",
            "password=@-",
            input="pw",
            env=PASS_ENV,
        )
    )
    assert token_of(run_cli, "mail", "--field", "from_name") == "@team"
    assert token_of(run_cli, "mail", "--field", "from_email") == "env:NOT_A_VARIABLE"
    assert token_of(run_cli, "mail", "--field", "port") == "587"


def test_escaped_literal_is_still_refused_for_a_secret(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    result = run_cli("create", "token", "t", "--field", r"token=\@file", env=PASS_ENV)
    assert "secret field 'token'" in fails(result, 9)


def test_field_from_file_strips_exactly_one_newline(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    (tmp_path / "lf").write_bytes(b"value-1\n\n")
    (tmp_path / "crlf").write_bytes(b"value-2\r\n")
    (tmp_path / "none").write_bytes(b"value-3")
    for name in ("lf", "crlf", "none"):
        ok(
            run_cli(
                "create", "custom", f"c-{name}", "--field", f"v=@{tmp_path / name}", env=PASS_ENV
            )
        )
    assert token_of(run_cli, "c-lf") == "value-1\n"
    assert token_of(run_cli, "c-crlf") == "value-2"
    assert token_of(run_cli, "c-none") == "value-3"


def test_field_from_file_expands_home(
    run_cli: RunCli, initialized_vault: Path, isolated_env: Path
) -> None:
    (isolated_env / "gh.txt").write_text("from-home\n")
    ok(run_cli("create", "token", "gh", "--field", "token=@~/gh.txt", env=PASS_ENV))
    assert token_of(run_cli, "gh") == "from-home"


def test_unreadable_field_file_names_the_path(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.txt"
    stderr = fails(
        run_cli("create", "token", "t", "--field", f"token=@{missing}", env=PASS_ENV), 9
    )
    assert str(missing) in stderr and "no such file" in stderr
    stderr = fails(
        run_cli("create", "token", "t", "--field", f"token=@{tmp_path}", env=PASS_ENV), 9
    )
    assert "folder" in stderr
    locked = tmp_path / "locked.txt"
    locked.write_text("x")
    locked.chmod(0)
    if os.geteuid() != 0:  # root reads anything
        stderr = fails(
            run_cli("create", "token", "t", "--field", f"token=@{locked}", env=PASS_ENV), 9
        )
        assert str(locked) in stderr


def test_field_from_stdin(run_cli: RunCli, initialized_vault: Path) -> None:
    ok(
        run_cli(
            "create",
            "api_key",
            "sendgrid",
            "--field",
            "key=@-",
            "--field",
            "param_name=Authorization",
            input="SG.key\n",
            env=PASS_ENV,
        )
    )
    result = ok(run_cli("get-token", "sendgrid", "--format", "header", env=PASS_ENV))
    assert result.stdout == "Authorization: SG.key\n"


def test_only_one_input_may_read_stdin(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli(
        "create",
        "basic_auth",
        "b",
        "--field",
        "username=@-",
        "--field",
        "password=@-",
        input="x",
        env=PASS_ENV,
    )
    assert "only one input can read stdin" in fails(result, 2)
    result = run_cli(
        "create", "token", "t", "--field", "token=@-", "--data-file", "-", input="x", env=PASS_ENV
    )
    assert "only one input can read stdin" in fails(result, 2)


def test_field_from_environment(run_cli: RunCli, initialized_vault: Path) -> None:
    env = {**PASS_ENV, "MY_TOKEN": "from-env"}
    ok(run_cli("create", "token", "t", "--field", "token=env:MY_TOKEN", env=env))
    assert token_of(run_cli, "t") == "from-env"


def test_unset_environment_variable_is_exit_9(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("create", "token", "t", "--field", "token=env:NOT_SET_ANYWHERE", env=PASS_ENV)
    assert "NOT_SET_ANYWHERE is not set" in fails(result, 9)


def test_field_without_equals_is_usage_error(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("create", "token", "t", "--field", "ghp_probably_a_secret", env=PASS_ENV)
    assert result.returncode == 2
    assert "ghp_probably_a_secret" not in result.stderr


def test_unknown_field_names_the_fields(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("create", "token", "t", "--field", "tokn=@-", input="x", env=PASS_ENV)
    stderr = fails(result, 9)
    assert "unknown field 'tokn'" in stderr and "token fields: token" in stderr


def test_data_file_from_file_and_stdin(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"username": "admin", "password": "pw-file"}))
    ok(run_cli("create", "basic_auth", "from-file", "--data-file", str(data), env=PASS_ENV))
    ok(
        run_cli(
            "create",
            "custom",
            "from-stdin",
            "--data-file",
            "-",
            input='{"a": "1", "b": 2, "token_field": "a"}',
            env=PASS_ENV,
        )
    )
    assert base64.b64decode(token_of(run_cli, "from-file")) == b"admin:pw-file"
    assert token_of(run_cli, "from-stdin") == "1"
    assert token_of(run_cli, "from-stdin", "--field", "b") == "2"


def test_data_file_combined_with_fields(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"password": "pw"}))
    ok(
        run_cli(
            "create",
            "basic_auth",
            "b",
            "--data-file",
            str(data),
            "--field",
            "username=admin",
            env=PASS_ENV,
        )
    )
    assert base64.b64decode(token_of(run_cli, "b")) == b"admin:pw"
    result = run_cli(
        "create",
        "basic_auth",
        "c",
        "--data-file",
        str(data),
        "--field",
        "password=@-",
        "--field",
        "username=u",
        input="x",
        env=PASS_ENV,
    )
    assert "given both in --data-file and with --field" in fails(result, 9)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"token": "abc"', "is not valid JSON"),
        ('["token"]', "must hold a JSON object"),
        ('{"token": NaN}', "is not valid JSON"),
        ('{"token": 5}', "must be a string"),
    ],
)
def test_bad_data_file_is_invalid_input(
    run_cli: RunCli, initialized_vault: Path, content: str, message: str
) -> None:
    result = run_cli("create", "token", "t", "--data-file", "-", input=content, env=PASS_ENV)
    assert message in fails(result, 9)
    assert listed(run_cli) == []


def test_create_with_description_tags_and_metadata(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    create_token(
        run_cli,
        "gh",
        "t",
        "--description",
        "CI token",
        "--tag",
        "ci",
        "--tag",
        "prod",
        "--meta",
        "owner=platform",
        "--meta",
        "ticket=OPS-1",
    )
    shown = json.loads(ok(run_cli("show", "gh", "--json", env=PASS_ENV)).stdout)
    assert shown["description"] == "CI token"
    assert shown["tags"] == ["ci", "prod"]
    assert shown["metadata"] == {"owner": "platform", "ticket": "OPS-1"}


def test_idempotency_key(run_cli: RunCli, initialized_vault: Path) -> None:
    first = create_token(run_cli, "gh", "t", "--idempotency-key", "run-42")
    again = create_token(run_cli, "gh", "t", "--idempotency-key", "run-42")
    assert first == again
    assert len(listed(run_cli)) == 1
    result = run_cli(
        "create",
        "token",
        "gh",
        "--field",
        "token=@-",
        "--idempotency-key",
        "run-42",
        input="other",
        env=PASS_ENV,
    )
    assert "idempotency key" in fails(result, 8)
    assert token_of(run_cli, "gh") == "t"


def test_options_may_follow_arguments(run_cli: RunCli, initialized_vault: Path) -> None:
    ok(run_cli("create", "--field", "token=@-", "token", "gh", input="t", env=PASS_ENV))
    assert token_of(run_cli, "gh") == "t"


def test_locked_vault_fails_before_reading_input(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("create", "token", "gh", "--field", "token=@-", input="t")
    assert fails(result, 4)


# -- list and show -------------------------------------------------------------------


def test_list_json_shape_and_filters(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t", "--tag", "ci")
    ok(
        run_cli(
            "create",
            "basic_auth",
            "jenkins",
            "--field",
            "username=u",
            "--field",
            "password=@-",
            input="p",
            env=PASS_ENV,
        )
    )
    everything = listed(run_cli)
    assert [c["name"] for c in everything] == ["gh", "jenkins"]
    first = everything[0]
    assert first["id"] == 1 and isinstance(first["id"], int)
    assert first["credential_type"] == "token"
    assert first["tags"] == ["ci"]
    for key in TIMESTAMP_KEYS:
        assert isinstance(first[key], str) and str(first[key]).endswith("Z")
    assert "data" not in first and "credential_data" not in first
    assert [c["name"] for c in listed(run_cli, "--type", "basic_auth")] == ["jenkins"]
    assert [c["name"] for c in listed(run_cli, "--tag", "ci")] == ["gh"]
    assert listed(run_cli, "--tag", "nothing") == []
    assert fails(run_cli("list", "--type", "nope", env=PASS_ENV), 9)


def test_list_table(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "github-ci", "SECRET-VALUE-IN-TABLE", "--description", "for CI")
    result = ok(run_cli("list", env=PASS_ENV))
    assert "github-ci" in result.stdout and "for CI" in result.stdout
    assert "SECRET-VALUE-IN-TABLE" not in result.stdout
    assert "\x1b[" not in result.stdout  # NO_COLOR and no terminal: plain text


def test_list_empty(run_cli: RunCli, initialized_vault: Path) -> None:
    assert listed(run_cli) == []
    result = ok(run_cli("list", env=PASS_ENV))
    assert result.stdout == ""
    assert "no credentials" in result.stderr


def test_show_json_object(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t", "--description", "d")
    shown = json.loads(ok(run_cli("show", "gh", "--json", env=PASS_ENV)).stdout)
    assert shown["id"] == 1
    assert shown["name"] == "gh"
    assert shown["credential_type"] == "token"
    assert shown["description"] == "d"
    assert shown["tags"] == []
    assert shown["metadata"] == {}
    assert "token_expiry" not in shown
    assert json.loads(ok(run_cli("show", "1", "--json", env=PASS_ENV)).stdout) == shown


def test_show_oauth2_has_token_expiry(run_cli: RunCli, initialized_vault: Path) -> None:
    ok(
        run_cli(
            "create",
            "oauth2",
            "google",
            "--field",
            "client_id=abc",
            "--field",
            "token_expiry=2030-01-01T10:00:00+02:00",
            "--field",
            "access_token=@-",
            input="at",
            env=PASS_ENV,
        )
    )
    shown = json.loads(ok(run_cli("show", "google", "--json", env=PASS_ENV)).stdout)
    assert shown["token_expiry"] == "2030-01-01T08:00:00Z"
    text = ok(run_cli("show", "google", env=PASS_ENV)).stdout
    assert "token expiry:" in text and "2030-01-01T08:00:00Z" in text


def test_show_human(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "SHOW-SECRET", "--tag", "a")
    text = ok(run_cli("show", "gh", env=PASS_ENV)).stdout
    assert "name:" in text and "gh" in text and "type:" in text and "token" in text
    assert "SHOW-SECRET" not in text


@pytest.mark.parametrize(
    "command",
    [
        ["show", "nope"],
        ["show", "99"],
        ["metrics", "nope"],
        ["update", "nope", "--description", "x"],
    ],
)
def test_not_found_is_exit_3(run_cli: RunCli, initialized_vault: Path, command: list[str]) -> None:
    assert "no credential" in fails(run_cli(*command, env=PASS_ENV), 3)


# -- update --------------------------------------------------------------------------


def test_update_metadata_fields(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t", "--tag", "old", "--meta", "keep=1")
    ok(
        run_cli(
            "update",
            "gh",
            "--description",
            "new",
            "--tag",
            "a",
            "--tag",
            "b",
            "--meta",
            "owner=me",
            env=PASS_ENV,
        )
    )
    shown = json.loads(ok(run_cli("show", "gh", "--json", env=PASS_ENV)).stdout)
    assert shown["description"] == "new"
    assert shown["tags"] == ["a", "b"]
    assert shown["metadata"] == {"keep": "1", "owner": "me"}
    assert shown["version"] == 1
    ok(run_cli("update", "1", "--clear-tags", "--clear-meta", "--name", "github", env=PASS_ENV))
    shown = json.loads(ok(run_cli("show", "github", "--json", env=PASS_ENV)).stdout)
    assert shown["tags"] == [] and shown["metadata"] == {}
    assert token_of(run_cli, "github") == "t"


def test_update_replaces_data(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> None:
    ok(
        run_cli(
            "create",
            "basic_auth",
            "b",
            "--field",
            "username=u",
            "--field",
            "password=@-",
            input="old",
            env=PASS_ENV,
        )
    )
    result = ok(
        run_cli(
            "update",
            "b",
            "--data-file",
            "-",
            input='{"username": "u2", "password": "new"}',
            env=PASS_ENV,
        )
    )
    assert result.stdout == ""
    assert base64.b64decode(token_of(run_cli, "b")) == b"u2:new"
    shown = json.loads(ok(run_cli("show", "b", "--json", env=PASS_ENV)).stdout)
    assert shown["version"] == 2


def test_update_invalid_data_changes_nothing(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t")
    result = run_cli("update", "gh", "--data-file", "-", input='{"password": "x"}', env=PASS_ENV)
    assert "unknown field 'password'" in fails(result, 9)
    assert token_of(run_cli, "gh") == "t"


def test_update_errors(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t")
    create_token(run_cli, "gl", "t")
    assert "nothing to update" in fails(run_cli("update", "gh", env=PASS_ENV), 2)
    assert "already exists" in fails(run_cli("update", "gh", "--name", "gl", env=PASS_ENV), 8)
    assert "all digits" in fails(run_cli("update", "gh", "--name", "42", env=PASS_ENV), 9)
    assert fails(run_cli("update", "gh", "--tag", "a", "--clear-tags", env=PASS_ENV), 2)
    assert fails(run_cli("update", "gh", "--tag", "has space", env=PASS_ENV), 9)


# -- delete --------------------------------------------------------------------------


@pytest.mark.vault_file
def test_delete_several_with_one_missing(run_cli: RunCli, initialized_vault: Path) -> None:
    for name in ("a", "b", "c"):
        create_token(run_cli, name, "t")
    before = generation(initialized_vault)
    result = run_cli("delete", "a", "missing", "3", env=PASS_ENV)
    assert result.returncode == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines == [
        "credctl: deleted 'a'",
        "credctl: error: no credential 'missing'",
        "credctl: deleted '3'",
        "credctl: every kept version went with it; older copies of the vault file (VAULT.d/"
        "backups, sync folders, other machines) still hold them until `credctl rekey`",
    ]
    assert [c["name"] for c in listed(run_cli)] == ["b"]
    assert generation(initialized_vault) == before + 1  # one write


def test_delete_all_ok_exits_0_without_asking(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "a", "t")
    result = ok(run_cli("delete", "a", env=PASS_ENV))
    assert result.stdout == ""
    assert listed(run_cli) == []
    assert "no credential" in fails(run_cli("delete", "a", env=PASS_ENV), 3)


def test_deleted_ids_are_not_reused(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "a", "t")
    ok(run_cli("delete", "a", "--yes", env=PASS_ENV))
    assert create_token(run_cli, "a", "t") == 2


# -- import --------------------------------------------------------------------------


def test_import_json_with_per_item_results(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    create_token(run_cli, "taken", "t")
    bodies = [
        {
            "name": "gh",
            "credential_type": "token",
            "credential_data": {"token": "t1"},
            "description": "d",
            "tags": ["x"],
        },
        {"name": "taken", "credential_type": "token", "credential_data": {"token": "t2"}},
        {"name": "sg", "credential_type": "api_key", "credential_data": {"key": "k"}},
        {"name": "bad.name", "credential_type": "token", "credential_data": {"token": "t"}},
        {"name": "nt", "credential_type": "nope", "credential_data": {}},
        "not an object",
        {"name": "x", "credential_type": "token", "credential_data": {"token": "t"}, "id": 3},
    ]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(bodies))
    before = generation(initialized_vault)
    result = run_cli("import", str(path), env=PASS_ENV)
    assert result.returncode == 8  # the first failure: a taken name
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(bodies)
    assert lines[0] == "credctl: item 1 ('gh'): created (id 2)"
    assert lines[1].startswith("credctl: error: item 2 ('taken'): a credential named")
    assert lines[2] == "credctl: item 3 ('sg'): created (id 3)"
    assert "contains a dot" in lines[3]
    assert "unknown credential type" in lines[4]
    assert "must be a JSON object" in lines[5]
    assert "unknown key 'id'" in lines[6]
    assert generation(initialized_vault) == before + 1
    shown = json.loads(ok(run_cli("show", "gh", "--json", env=PASS_ENV)).stdout)
    assert shown["description"] == "d" and shown["tags"] == ["x"]
    assert token_of(run_cli, "sg") == "k"


def test_import_json_results_as_json(run_cli: RunCli, initialized_vault: Path) -> None:
    bodies = [
        {"name": "gh", "credential_type": "token", "credential_data": {"token": "t"}},
        {"name": "gh", "credential_type": "token", "credential_data": {"token": "t"}},
    ]
    result = run_cli("import", "-", "--json", input=json.dumps(bodies), env=PASS_ENV)
    assert result.returncode == 8
    rows = json.loads(result.stdout)
    assert [(r["item"], r["name"], r["id"], r["ok"], r["exit_code"]) for r in rows] == [
        (1, "gh", 1, True, 0),
        (2, "gh", None, False, 8),
    ]


def test_import_all_ok_exits_0(run_cli: RunCli, initialized_vault: Path) -> None:
    bodies = [
        {"name": f"t{i}", "credential_type": "token", "credential_data": {"token": "v"}}
        for i in range(5)
    ]
    ok(run_cli("import", "-", input=json.dumps(bodies), env=PASS_ENV))
    assert len(listed(run_cli)) == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"name": "a"', "not valid JSON"),
        ('{"name": "a"}', "JSON array"),
    ],
)
def test_import_malformed_json_imports_nothing(
    run_cli: RunCli, initialized_vault: Path, content: str, message: str
) -> None:
    before = generation(initialized_vault)
    assert message in fails(run_cli("import", "-", input=content, env=PASS_ENV), 9)
    assert generation(initialized_vault) == before


DOTENV = """\
# tokens for local development
export GITHUB_TOKEN=ghp_plain   # trailing comment
NPM_TOKEN='single # not a comment'
quoted-double="a\\tb \\"q\\""
SPACED = spaced value
url=https://example.com/a#fragment
_PRIVATE=x
EMPTY=
"""


def test_import_dotenv(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(DOTENV)
    result = run_cli("import", str(path), env=PASS_ENV)
    assert result.returncode == 9  # _PRIVATE is no valid name, EMPTY has no value
    lines = result.stderr.splitlines()
    assert len(lines) == 7
    assert lines[0] == "credctl: line 2 ('GITHUB_TOKEN'): created (id 1)"
    assert "must start with a letter or digit" in lines[5]
    assert "must not be empty" in lines[6]
    assert token_of(run_cli, "GITHUB_TOKEN") == "ghp_plain"
    assert token_of(run_cli, "NPM_TOKEN") == "single # not a comment"
    assert [c["name"] for c in listed(run_cli)] == [
        "GITHUB_TOKEN",
        "NPM_TOKEN",
        "quoted-double",
        "SPACED",
        "url",
    ]
    assert token_of(run_cli, "SPACED") == "spaced value"
    assert token_of(run_cli, "url") == "https://example.com/a#fragment"
    assert token_of(run_cli, "quoted-double") == 'a\tb "q"'


def test_import_dotenv_that_does_not_parse_imports_nothing(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    before = generation(initialized_vault)
    result = run_cli(
        "import", "-", "--format", "dotenv", input="A=1\nB='unclosed\nC=3\n", env=PASS_ENV
    )
    stderr = fails(result, 9)
    assert "line 2" in stderr and "nothing was imported" in stderr
    assert generation(initialized_vault) == before


def test_import_unknown_format_is_usage_error(run_cli: RunCli, initialized_vault: Path) -> None:
    assert fails(run_cli("import", "-", "--format", "yaml", input="", env=PASS_ENV), 2)


def test_import_missing_file(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> None:
    stderr = fails(run_cli("import", str(tmp_path / "none.json"), env=PASS_ENV), 9)
    assert "none.json" in stderr


DOTENV_CASES = [
    "A=1\n",
    "export A=1\nB = 2 \n",
    "A='x # y'\nB=\"a\\tb\\\\c\\'d\"\n",
    "A=unquoted # comment\nB=no#comment\n",
    "# only a comment\n\n\nA=1",
    "A=\"multi\nline\"\nB='multi\nline'\n",
    "'quoted key'=v\n",
    "A\nB=\n",
    "A=1\r\nB=2\r\n",
    "A='it\\'s'\n",
    "A=${HOME}\n",
    "A='open\nB=2\n",
]


@pytest.mark.parametrize("text", DOTENV_CASES)
def test_dotenv_parser_agrees_with_python_dotenv(text: str) -> None:
    from dotenv import parser as dotenv_parser  # a dev dependency: never skipped

    theirs = list(dotenv_parser.parse_stream(io.StringIO(text)))
    if any(binding.error for binding in theirs):
        with pytest.raises(InvalidInput):
            parse_dotenv(text)
        return
    expected = [(b.key, b.value) for b in theirs if b.key is not None]
    assert [(b.key, b.value) for b in parse_dotenv(text)] == expected


# -- export --------------------------------------------------------------------------


@pytest.mark.vault_file
def test_export_then_open_the_backup(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    create_token(run_cli, "gh", "tok-gh", "--tag", "ci", "--meta", "k=v")
    ok(
        run_cli(
            "create",
            "basic_auth",
            "b",
            "--field",
            "username=u",
            "--field",
            "password=@-",
            input="pw",
            env=PASS_ENV,
        )
    )
    backup = tmp_path / "backup.credctl"
    result = ok(
        run_cli(
            "export",
            "-o",
            str(backup),
            env={**PASS_ENV, "CREDCTL_EXPORT_PASSPHRASE": BACKUP_PASSPHRASE},
        )
    )
    assert result.stdout == ""
    assert (backup.stat().st_mode & 0o777) == 0o600
    backup_env = {"CREDCTL_PASSPHRASE": BACKUP_PASSPHRASE}
    originals = listed(run_cli)
    copies = json.loads(ok(run_cli("list", "--json", vault=backup, env=backup_env)).stdout)
    assert copies == originals
    copy = ok(run_cli("get-token", "gh", vault=backup, env=backup_env)).stdout
    assert copy == "tok-gh\n"
    # The vault's own passphrase does not open the backup.
    assert fails(run_cli("list", vault=backup, env=PASS_ENV), 5)
    # The backup is a vault like any other: new ids continue after the copied ones.
    result = ok(
        run_cli(
            "create",
            "token",
            "new",
            "--field",
            "token=@-",
            input="x",
            vault=backup,
            env=backup_env,
        )
    )
    assert result.stdout == "3\n"


@pytest.mark.vault_file
def test_export_passphrase_file_option(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    create_token(run_cli, "gh", "t")
    secret_file = tmp_path / "pass"
    secret_file.write_text(BACKUP_PASSPHRASE + "\n")
    backup = tmp_path / "b.credctl"
    ok(
        run_cli(
            "export", "--output", str(backup), "--passphrase-file", str(secret_file), env=PASS_ENV
        )
    )
    env = {"CREDCTL_PASSPHRASE": BACKUP_PASSPHRASE}
    assert [
        c["name"] for c in json.loads(ok(run_cli("list", "--json", vault=backup, env=env)).stdout)
    ] == ["gh"]


@pytest.mark.vault_file
def test_export_refuses_to_overwrite(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    target = tmp_path / "exists.credctl"
    target.write_bytes(b"precious")
    env = {**PASS_ENV, "CREDCTL_EXPORT_PASSPHRASE": BACKUP_PASSPHRASE}
    assert "already exists" in fails(run_cli("export", "-o", str(target), env=env), 8)
    assert target.read_bytes() == b"precious"
    assert fails(run_cli("export", "-o", str(initialized_vault), env=env), 8)


def test_export_without_passphrase_is_exit_4(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    target = tmp_path / "b.credctl"
    stderr = fails(run_cli("export", "-o", str(target), env=PASS_ENV), 4)
    assert "CREDCTL_EXPORT_PASSPHRASE" in stderr
    assert not target.exists()


def test_export_requires_output(run_cli: RunCli, initialized_vault: Path) -> None:
    assert run_cli("export", env=PASS_ENV).returncode == 2


@pytest.mark.vault_file
def test_import_backup_restores(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> None:
    create_token(run_cli, "gh", "tok-gh", "--tag", "ci", "--meta", "k=v", "--description", "d")
    backup = tmp_path / "backup.credctl"
    ok(
        run_cli(
            "export",
            "-o",
            str(backup),
            env={**PASS_ENV, "CREDCTL_EXPORT_PASSPHRASE": BACKUP_PASSPHRASE},
        )
    )
    other = tmp_path / "other" / "vault.credctl"
    ok(
        run_cli(
            "init",
            "--kdf-memory",
            "19",
            "--kdf-time",
            "2",
            "--kdf-parallelism",
            "1",
            vault=other,
            env=PASS_ENV,
        )
    )
    result = run_cli("import", str(backup), vault=other, env=PASS_ENV)
    assert "no passphrase for the backup" in fails(result, 4)
    result = run_cli(
        "import", str(backup), vault=other, env={**PASS_ENV, "CREDCTL_IMPORT_PASSPHRASE": "wrong"}
    )
    assert fails(result, 5)
    ok(
        run_cli(
            "import",
            str(backup),
            vault=other,
            env={**PASS_ENV, "CREDCTL_IMPORT_PASSPHRASE": BACKUP_PASSPHRASE},
        )
    )
    shown = json.loads(ok(run_cli("show", "gh", "--json", vault=other, env=PASS_ENV)).stdout)
    assert (shown["tags"], shown["metadata"], shown["description"]) == (["ci"], {"k": "v"}, "d")
    assert token_of(run_cli, "gh", vault=other) == "tok-gh"


# -- metrics -------------------------------------------------------------------------


def test_metrics_count_get_token(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t")
    create_token(run_cli, "unused", "t")
    for _ in range(3):
        token_of(run_cli, "gh")
    token_of(run_cli, "gh", "--field", "token")
    totals = json.loads(ok(run_cli("metrics", "--json", env=PASS_ENV)).stdout)
    assert totals["total_credentials"] == 2
    assert totals["credentials_by_type"] == {"token": 2}
    assert totals["tokens_served"] == 3
    assert totals["refresh_count"] == 0
    assert totals["cache_hit_rate"] is None
    rows = {row["name"]: row for row in totals["credentials"]}
    assert rows["gh"]["usage_count"] == 4
    assert rows["gh"]["last_used"].endswith("Z")
    assert rows["unused"]["usage_count"] == 0 and rows["unused"]["last_used"] is None
    one = json.loads(ok(run_cli("metrics", "gh", "--json", env=PASS_ENV)).stdout)
    assert one == rows["gh"]
    text = ok(run_cli("metrics", env=PASS_ENV)).stdout
    assert "total credentials:" in text and "gh" in text
    text = ok(run_cli("metrics", "gh", env=PASS_ENV)).stdout
    assert "usage count:" in text and "4" in text


# -- doctor --------------------------------------------------------------------------


def test_doctor_checks_credentials(run_cli: RunCli, initialized_vault: Path) -> None:
    create_token(run_cli, "gh", "t")
    report = json.loads(ok(run_cli("doctor", "--json", env=PASS_ENV)).stdout)
    names = [check["name"] for check in report["checks"]]
    assert "credentials" in names
    assert report["status"] == "healthy"


def test_doctor_reports_a_credential_that_fails_validation(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    create_token(run_cli, "gh", "t")
    from tests.backend_support import opened_storage

    # Changed below the record layer, as a damaged store would be.
    with opened_storage(initialized_vault, PASS_ENV) as storage, storage.writer() as draft:
        found = draft.get_by_name("gh")
        assert found is not None
        draft.put({**found, "data": {"token": ""}})
    result = run_cli("doctor", env=PASS_ENV)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fail their type's validation" in result.stdout
    assert "degraded" in result.stdout


def test_doctor_locked_vault_skips_credentials(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stdout
    assert "credentials" not in [c["name"] for c in json.loads(result.stdout)["checks"]]


# -- help ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", ["create", "list", "show", "update", "delete", "import", "export", "metrics"]
)
def test_help_teaches_with_examples(run_cli: RunCli, command: str) -> None:
    result = ok(run_cli(command, "--help"))
    assert "Examples:" in result.stdout
    assert f"credctl {command}" in result.stdout


def test_create_help_lists_types_and_secret_fields(run_cli: RunCli) -> None:
    text = ok(run_cli("create", "--help")).stdout
    assert "token: token*!" in text
    assert "basic_auth: username!, password*!" in text
    assert "@FILE" in text and "env:VAR" in text


# -- terminals -----------------------------------------------------------------------


def run_on_terminal(
    args: list[str], answers: list[tuple[str, str]], env: dict[str, str], timeout: float = 30
) -> tuple[int, str]:
    """Run credctl on a pseudo-terminal, answering each prompt once it appears."""
    full_env = {**os.environ, **env}
    command = credctl_command()
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.execvpe(command[0], [*command, *args], full_env)  # noqa: S606 (no shell wanted)
        finally:
            os._exit(127)
    transcript = b""
    since_answer = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and pending[0][0].encode() in since_answer:
                if "hidden" in pending[0][0]:  # getpass turns echo off before it prompts
                    wait_until(lambda: echo_is_off(fd), "the hidden prompt to turn echo off")
                os.write(fd, pending.pop(0)[1].encode() + b"\r")
                since_answer = b""
                continue
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            transcript += chunk
            since_answer += chunk
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), transcript.decode(errors="replace")


@pytest.fixture
def terminal_env(initialized_vault: Path) -> dict[str, str]:
    from tests.peer_backends import vault_env

    return {**PASS_ENV, **vault_env(initialized_vault)}


def test_missing_secret_is_asked_at_a_hidden_prompt(
    run_cli: RunCli, terminal_env: dict[str, str]
) -> None:
    secret = "TYPED-AT-THE-PROMPT"
    code, transcript = run_on_terminal(
        ["create", "token", "typed"], [("token for typed (input hidden)", secret)], terminal_env
    )
    assert code == 0, transcript
    assert secret not in transcript  # echo was off
    assert token_of(run_cli, "typed") == secret


def test_delete_asks_on_a_terminal(run_cli: RunCli, terminal_env: dict[str, str]) -> None:
    create_token(run_cli, "keep", "t")
    code, transcript = run_on_terminal(["delete", "keep"], [("Delete 1", "n")], terminal_env)
    assert code == 130, transcript
    assert [c["name"] for c in listed(run_cli)] == ["keep"]
    code, transcript = run_on_terminal(["delete", "keep"], [("Delete 1", "y")], terminal_env)
    assert code == 0, transcript
    assert listed(run_cli) == []


def test_stdin_field_on_a_terminal_is_a_hidden_prompt(
    run_cli: RunCli, terminal_env: dict[str, str]
) -> None:
    secret = "TYPED-FOR-AT-DASH"
    code, transcript = run_on_terminal(
        ["create", "api_key", "k", "--field", "key=@-"],
        [("key for k (input hidden)", secret)],
        terminal_env,
    )
    assert code == 0, transcript
    assert secret not in transcript
    assert token_of(run_cli, "k") == secret


def test_control_characters_are_escaped_in_human_output(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    create_token(run_cli, "gh", "t", "--description", "evil \x1b]0;title\x07 text")
    for command in (["list"], ["show", "gh"]):
        result = ok(run_cli(*command, env=PASS_ENV))
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout
        assert "\\x1b" in result.stdout
    shown = json.loads(ok(run_cli("show", "gh", "--json", env=PASS_ENV)).stdout)
    assert shown["description"] == "evil \x1b]0;title\x07 text"
