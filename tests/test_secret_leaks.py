"""Secrets never leak: not on stdout or stderr of commands that do not print secrets,
not in any error message, not in the audit trail (sealed or decrypted) nor in its
exports (JSON, CSV, PDF), not in plaintext in the vault folder.

Every secret here is a recognisable fake (``FAKE-SECRET-<label>-<random>``), so a
leak anywhere is a plain substring match.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, RunCli, assert_no_traceback

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
BACKUP_PASSPHRASE = "backup passphrase for the leak test (fake)"


class Secrets:
    """Fake secrets by label, plus forms derived from them (a basic_auth token)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def new(self, label: str) -> str:
        value = f"FAKE-SECRET-{label}-{secrets.token_hex(8)}"
        self.values[label] = value
        return value

    def derived(self, label: str, value: str) -> None:
        self.values[label] = value

    def found_in(self, text: str | bytes) -> list[str]:
        haystack = text.encode() if isinstance(text, str) else text
        return [label for label, value in self.values.items() if value.encode() in haystack]


class Recorder:
    """Runs commands and keeps every output that must be free of secrets."""

    def __init__(self, run_cli: RunCli) -> None:
        self.run_cli = run_cli
        self.checked: list[tuple[str, str]] = []

    def run(
        self,
        *args: str,
        expect: int | None = 0,
        secret_stdout: bool = False,
        env: dict[str, str] | None = None,
        **kwargs: object,
    ) -> subprocess.CompletedProcess[str]:
        result = self.run_cli(*args, env={**PASS_ENV, **(env or {})}, **kwargs)
        assert_no_traceback(result)
        if expect is not None:
            assert result.returncode == expect, (args, result.returncode, result.stderr)
        label = " ".join(args)
        self.checked.append((f"{label} (stderr)", result.stderr))
        if not secret_stdout:
            self.checked.append((f"{label} (stdout)", result.stdout))
        return result


def files_under(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path


@pytest.fixture
def scenario(run_cli: RunCli, initialized_vault: Path, tmp_path: Path) -> tuple[Secrets, Recorder]:
    """Run every command with fake secrets; return the secrets and what was printed."""
    fake = Secrets()
    rec = Recorder(run_cli)
    inputs = tmp_path / "inputs"
    inputs.mkdir()

    def write(name: str, text: str) -> str:
        path = inputs / name
        path.write_text(text)
        return str(path)

    # -- create, through every input form -------------------------------------------
    token_file = write("gh", fake.new("token") + "\n")
    rec.run("create", "token", "gh", "--field", f"token=@{token_file}")
    rec.run(
        "create",
        "api_key",
        "sg",
        "--field",
        "key=@-",
        "--tag",
        "mail",
        input=fake.new("api_key") + "\n",
    )
    password = fake.new("basic_password")
    rec.run(
        "create",
        "basic_auth",
        "jenkins",
        "--field",
        "username=admin",
        "--field",
        "password=env:JENKINS_PW",
        env={"JENKINS_PW": password},
    )
    fake.derived("basic_token", base64.b64encode(f"admin:{password}".encode()).decode())
    oauth = {
        "client_id": "client-id-is-not-secret",
        "client_secret": fake.new("client_secret"),
        "access_token": fake.new("access_token"),
        "refresh_token": fake.new("refresh_token"),
        "token_expiry": "2000-01-01T00:00:00Z",  # expired: get-token fails (exit 7)
    }
    rec.run("create", "oauth2", "google", "--data-file", write("oauth.json", json.dumps(oauth)))
    rec.run(
        "create",
        "smtp",
        "mail",
        "--field",
        "host=smtp.example.com",
        "--field",
        "username=me",
        "--field",
        f"password=@{write('smtp', fake.new('smtp'))}",
        "--description",
        "outgoing mail",
    )
    custom = {
        "access_key_id": fake.new("custom_id"),
        "secret_key": fake.new("custom_secret"),
        "token_field": "secret_key",
    }
    for _ in range(2):  # the same request twice: the same id, no conflict
        rec.run(
            "create",
            "custom",
            "aws",
            "--data-file",
            "-",
            "--idempotency-key",
            "aws-1",
            input=json.dumps(custom),
        )

    # -- reads that legitimately print a secret (stdout not checked, stderr is) ------
    for ref in ("gh", "sg", "jenkins", "mail", "aws"):
        rec.run("get-token", ref, secret_stdout=True)
    rec.run("get-token", "aws", "--field", "access_key_id", secret_stdout=True)

    # -- listings and details ------------------------------------------------------------
    for args in (
        ["list"],
        ["list", "--json"],
        ["list", "--type", "oauth2"],
        ["metrics"],
        ["metrics", "--json"],
        ["metrics", "gh"],
        ["metrics", "aws", "--json"],
        ["doctor"],
        ["doctor", "--json"],
        ["key", "list"],
        ["key", "list", "--json"],
    ):
        # doctor: degraded (exit 1), the expired oauth2 'google' cannot be renewed.
        rec.run(*args, expect=1 if args[0] == "doctor" else 0)
    for ref in ("gh", "sg", "jenkins", "google", "mail", "aws", "1"):
        rec.run("show", ref)
        rec.run("show", ref, "--json")

    # -- updates ------------------------------------------------------------------------
    rec.run("update", "gh", "--description", "rotated", "--tag", "ci", "--meta", "owner=me")
    rec.run("update", "gh", "--data-file", "-", input=json.dumps({"token": fake.new("token2")}))

    # -- error paths: every message must name fields, never values ------------------------
    literal = fake.new("literal_on_argv")
    rec.run("create", "token", "leak", "--field", f"token={literal}", expect=9)
    rec.run("create", "custom", "leak", "--field", f"x={literal}", expect=9)
    rec.run("create", "token", "leak", "--field", literal, expect=2)
    rec.run("create", "token", "gh", "--field", "token=@-", input=fake.new("dup"), expect=8)
    rec.run(
        "create",
        "token",
        "leak",
        "--field",
        "token=@-",
        input=fake.new("linebreak") + "\nmore",
        expect=9,
    )
    rec.run(
        "create",
        "token",
        "leak",
        "--data-file",
        "-",
        input='{"token": "' + fake.new("bad_json"),
        expect=9,
    )
    rec.run(
        "create",
        "token",
        "leak",
        "--data-file",
        "-",
        input=json.dumps({"tokn": fake.new("unknown_field")}),
        expect=9,
    )
    rec.run(
        "create",
        "token",
        "leak",
        "--data-file",
        "-",
        input=json.dumps({"token": [fake.new("wrong_kind")]}),
        expect=9,
    )
    rec.run(
        "create",
        "smtp",
        "leak",
        "--field",
        "host=h",
        "--field",
        "username=u",
        "--field",
        "port=70000",
        "--field",
        "password=@-",
        input=fake.new("smtp_bad"),
        expect=9,
    )
    rec.run(
        "create",
        "basic_auth",
        "leak",
        "--field",
        "username=a:b",
        "--field",
        "password=@-",
        input=fake.new("colon"),
        expect=9,
    )
    rec.run(
        "create",
        "custom",
        "aws",
        "--data-file",
        "-",
        "--idempotency-key",
        "aws-1",
        input=json.dumps({"other": fake.new("idem")}),
        expect=8,
    )
    rec.run(
        "update",
        "gh",
        "--data-file",
        "-",
        input=json.dumps({"token": fake.new("upd_bad"), "x": 1}),
        expect=9,
    )
    rec.run("get-token", "google", expect=7)
    rec.run("get-token", "mail", "--field", "nope", expect=3)
    rec.run("get-token", "aws", "--format", "header", expect=9)

    # -- import (JSON and dotenv) and delete ------------------------------------------
    bodies = [
        {"name": "imp1", "credential_type": "token", "credential_data": {"token": fake.new("i1")}},
        {"name": "gh", "credential_type": "token", "credential_data": {"token": fake.new("i2")}},
        {"name": "imp3", "credential_type": "token", "credential_data": {"tok": fake.new("i3")}},
        {"name": "imp4", "credential_type": "nope", "credential_data": {"k": fake.new("i4")}},
        {
            "name": "imp5",
            "credential_type": "token",
            "credential_data": {"token": fake.new("i5")},
            "secret": fake.new("i5b"),
        },
    ]
    rec.run("import", write("in.json", json.dumps(bodies)), expect=8)
    rec.run("import", "-", "--json", input=json.dumps(bodies[:2]), expect=8)
    rec.run("import", "-", input=json.dumps(bodies)[:-5], expect=9)  # truncated JSON
    dotenv = (
        f"DOT_ONE={fake.new('d1')}\nexport DOT_TWO='{fake.new('d2')}'\n"
        f"_BAD={fake.new('d3')}\nEMPTY=\n"
    )
    rec.run("import", write("in.env", dotenv), expect=9)
    rec.run(
        "import",
        "-",
        "--format",
        "dotenv",
        input=f"OK={fake.new('d4')}\nBROKEN='{fake.new('d5')}\n",
        expect=9,
    )
    rec.run("delete", "imp1", "does-not-exist", "--yes", expect=3)

    # -- export, and reading the backup -----------------------------------------------
    backup = tmp_path / "backups" / "backup.credctl"
    rec.run("export", "-o", str(backup), env={"CREDCTL_EXPORT_PASSPHRASE": BACKUP_PASSPHRASE})
    rec.run(
        "export", "-o", str(backup), env={"CREDCTL_EXPORT_PASSPHRASE": BACKUP_PASSPHRASE}, expect=8
    )
    rec.run("list", "--json", vault=backup, env={"CREDCTL_PASSPHRASE": BACKUP_PASSPHRASE})
    rec.run("doctor", vault=backup, env={"CREDCTL_PASSPHRASE": BACKUP_PASSPHRASE},
            expect=1)  # degraded: the expired oauth2 'google' came along  # fmt: skip
    rec.run("metrics", "--json")
    return fake, rec


def test_no_secret_leaks_anywhere(
    scenario: tuple[Secrets, Recorder], run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    fake, rec = scenario
    # The scenario really stored the secrets it then looks for.
    assert run_cli("get-token", "gh", env=PASS_ENV).stdout == fake.values["token2"] + "\n"
    assert run_cli("get-token", "DOT_TWO", env=PASS_ENV).stdout == fake.values["d2"] + "\n"

    # Not on stdout of non-secret commands, nor on stderr of any command.
    assert len(rec.checked) > 100
    leaks = [(where, fake.found_in(text)) for where, text in rec.checked if fake.found_in(text)]
    assert leaks == []

    # A secret pasted where a name goes is refused, and the trail does not keep it.
    pasted = fake.new("pasted_as_name") + ".x"
    assert run_cli("create", "token", pasted, "--field", "token=@-", input=fake.new("p"),
                   env=PASS_ENV).returncode == 9  # fmt: skip
    fake.derived("pasted_as_name", pasted)

    # Not in the audit trail, which did record the reads: decrypted, nor in any export.
    listed = run_cli("audit", "list", "--json", env=PASS_ENV)
    assert listed.returncode == 0, listed.stderr
    trail = json.loads(listed.stdout)
    assert sum(e["action"] == "get_token" for e in trail) >= 6
    assert any(e["action"] == "create" and e["outcome"] == "error" for e in trail)
    assert fake.found_in(listed.stdout) == []
    reports = tmp_path / "reports"
    reports.mkdir()
    for kind in ("json", "csv", "pdf"):
        out = reports / f"audit.{kind}"
        result = run_cli("audit", "export", "--format", kind, "-o", str(out), env=PASS_ENV)
        assert result.returncode == 0, result.stderr
        assert fake.found_in(result.stderr) == []
        assert fake.found_in(out.read_bytes()) == [], kind
    import pypdf

    text = "".join(page.extract_text() for page in pypdf.PdfReader(reports / "audit.pdf").pages)
    assert "get_token" in text and fake.found_in(text) == []

    # Not in plaintext anywhere in the vault's folder (vault, backups, sidecar) or the export.
    checked = 0
    for folder in (initialized_vault.parent, tmp_path / "backups", tmp_path / "reports"):
        for path in files_under(folder):
            assert fake.found_in(path.read_bytes()) == [], path
            checked += 1
    assert checked >= 7
