"""The README's "Using credctl in CI" examples, run as the CI systems would run them.

Each ``run:`` step (GitHub Actions) or ``script:`` list (GitLab CI) is executed by
bash with errexit, in a folder holding the encrypted vault at ``ci/vault.credctl``
and the CI key in ``CREDCTL_KEY``.  `curl` and `terraform` are small stand-ins on
PATH that check they received the credentials (curl's header on stdin, never in
its argv).  The credential steps run the console script under test; the install
steps are run as written too, in a throw-away virtual environment, on a wheel
built from this checkout and put in ``ci/`` as the README says.  Each job is
also run with one credential missing, and must fail at that line.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
GH_TOKEN = "FAKE-ci-github-token"
BOT_TOKEN = "FAKE-ci-deploy-bot-token"
AWS_ID = "FAKE-ci-aws-key-id"
AWS_SECRET = "FAKE-ci-aws-secret"

CURL = f"""#!/bin/sh
# Stand-in for curl: the GitHub token must arrive as a header read from stdin (-H @-),
# never in argv, where every local user can read it with ps.
case "$*" in *{GH_TOKEN}*) echo "curl stand-in: the token is in argv" >&2; exit 2;; esac
previous=
from_stdin=no
for arg in "$@"; do
  if [ "$previous" = "-H" ] && [ "$arg" = "@-" ]; then from_stdin=yes; fi
  previous=$arg
done
[ "$from_stdin" = yes ] || {{ echo "curl stand-in: no -H @-" >&2; exit 2; }}
if grep -qxF "Authorization: Bearer {GH_TOKEN}"; then echo curl-ok >> "$CALLS"; exit 0; fi
echo "curl stand-in: no bearer header on stdin" >&2
exit 22
"""
TERRAFORM = f"""#!/bin/sh
# Stand-in for terraform: the AWS credentials must be in the environment.
[ "$AWS_ACCESS_KEY_ID" = "{AWS_ID}" ] || {{ echo "no AWS key id" >&2; exit 1; }}
[ "$AWS_SECRET_ACCESS_KEY" = "{AWS_SECRET}" ] || {{ echo "no AWS secret" >&2; exit 1; }}
echo terraform-ok >> "$CALLS"
echo "Plan: 0 to add (signed with $AWS_SECRET_ACCESS_KEY)"
"""


def ci_examples() -> dict[str, dict[str, Any]]:
    """The YAML blocks of the README's CI section, by CI system."""
    text = README.read_text()
    section = text[text.index("### Using credctl in CI") :]
    section = section[: section.find("\n## ")] if "\n## " in section else section
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
    found: dict[str, dict[str, Any]] = {}
    for block in blocks:
        document = yaml.safe_load(block)
        found["github" if "jobs" in document else "gitlab"] = document
    assert set(found) == {"github", "gitlab"}, "the README must keep both examples"
    return found


@pytest.fixture
def ci_workspace(run_cli: RunCli, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A checkout with ci/vault.credctl, a CI key, and the stand-in programs on PATH."""
    workspace = tmp_path / "checkout"
    vault = workspace / "ci" / "vault.credctl"
    env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
    assert run_cli("init", *CHEAP_KDF, env=env, vault=vault).returncode == 0
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name, value in (("gh", GH_TOKEN), ("bot", BOT_TOKEN)):
        (secrets / name).write_text(value)
    (secrets / "aws.json").write_text(
        f'{{"access_key_id": "{AWS_ID}", "secret_access_key": "{AWS_SECRET}"}}'
    )
    for args in (
        ["create", "token", "github", "--field", f"token=@{secrets / 'gh'}"],
        ["create", "token", "deploy_bot", "--field", f"token=@{secrets / 'bot'}"],
        ["create", "custom", "aws_prod", "--data-file", str(secrets / "aws.json")],
    ):
        done = run_cli(*args, env=env, vault=vault)
        assert done.returncode == 0, done.stderr
    key = run_cli("key", "add-ci", "--label", "ci", env=env, vault=vault).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, script in (("curl", CURL), ("terraform", TERRAFORM)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(stat.S_IRWXU)
    base = {k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}
    base.update(
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        CALLS=str(tmp_path / "calls"),
        CREDCTL_KEY=key,
    )
    return workspace, base


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def parse_github_env(path: Path) -> dict[str, str]:
    """$GITHUB_ENV as the runner reads it: NAME=value lines and NAME<<DELIM blocks."""
    values: dict[str, str] = {}
    lines = path.read_text().split("\n") if path.exists() else []
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            values[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
        index += 1
    return values


def github_job(
    workspace: Path, base: dict[str, str], *, install: bool = False
) -> tuple[dict[str, str], list[tuple[str, subprocess.CompletedProcess[str]]]]:
    """Run the GitHub job's `run:` steps in order until one fails: (env, results)."""
    job = ci_examples()["github"]["jobs"]["deploy"]
    env = dict(base)
    for name, value in job["env"].items():
        env[name] = base["CREDCTL_KEY"] if "secrets.CREDCTL_KEY" in str(value) else str(value)
    github_env = workspace.parent / "github_env"
    results = []
    for step in job["steps"]:
        if "run" not in step or ("pip install" in step["run"] and not install):
            continue
        done = bash(step["run"], workspace, {**env, "GITHUB_ENV": str(github_env)})
        results.append((str(step.get("name")), done))
        if done.returncode != 0:
            break
        env.update(parse_github_env(github_env))
    return env, results


def test_github_actions_example(ci_workspace: tuple[Path, dict[str, str]]) -> None:
    workspace, base = ci_workspace
    env, results = github_job(workspace, base)
    for name, done in results:
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        for secret in (GH_TOKEN, BOT_TOKEN, AWS_ID, AWS_SECRET):
            assert secret not in done.stdout + done.stderr
    assert len(results) == 2
    assert Path(base["CALLS"]).read_text().split() == ["curl-ok", "terraform-ok"]
    assert env["DEPLOY_BOT_TOKEN"] == BOT_TOKEN


def test_gitlab_ci_example(ci_workspace: tuple[Path, dict[str, str]]) -> None:
    workspace, base = ci_workspace
    job = ci_examples()["gitlab"]["deploy"]
    env = {**base, **{k: str(v) for k, v in job["variables"].items()}}
    assert all("pip install" in line for line in job["before_script"])
    done = bash("\n".join(job["script"]), workspace, env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert Path(base["CALLS"]).read_text().split() == ["curl-ok", "terraform-ok"]
    for secret in (GH_TOKEN, BOT_TOKEN, AWS_ID):
        assert secret not in done.stdout + done.stderr


def delete_credential(run_cli: RunCli, workspace: Path, name: str) -> None:
    vault = workspace / "ci" / "vault.credctl"
    done = run_cli("delete", name, "--yes", env={"CREDCTL_PASSPHRASE": PASSPHRASE}, vault=vault)
    assert done.returncode == 0, done.stderr


# Each credential the jobs use, and the stand-in call that must not happen once its
# line failed (curl and terraform log their calls; nothing runs after terraform).
MISSING = [("github", "curl-ok"), ("deploy_bot", "terraform-ok"), ("aws_prod", "terraform-ok")]


@pytest.mark.parametrize(("missing", "not_called"), MISSING)
def test_github_job_fails_when_a_credential_is_missing(
    ci_workspace: tuple[Path, dict[str, str]], run_cli: RunCli, missing: str, not_called: str
) -> None:
    """Under the runner's bash -eo pipefail, the failing credctl line fails the step."""
    workspace, base = ci_workspace
    delete_credential(run_cli, workspace, missing)
    _env, results = github_job(workspace, base)
    name, done = results[-1]
    assert name == "Deploy", [n for n, _ in results]
    assert done.returncode != 0, done.stderr
    assert f"no credential {missing!r}" in done.stderr
    calls = Path(base["CALLS"]).read_text().split() if Path(base["CALLS"]).exists() else []
    assert not_called not in calls


@pytest.mark.parametrize(("missing", "not_called"), MISSING)
def test_gitlab_job_fails_when_a_credential_is_missing(
    ci_workspace: tuple[Path, dict[str, str]], run_cli: RunCli, missing: str, not_called: str
) -> None:
    """GitLab runs the script with set -eo pipefail: credctl's exit 3 must end the job."""
    workspace, base = ci_workspace
    delete_credential(run_cli, workspace, missing)
    job = ci_examples()["gitlab"]["deploy"]
    env = {**base, **{k: str(v) for k, v in job["variables"].items()}}
    done = bash("\n".join(job["script"]), workspace, env)
    assert done.returncode != 0, done.stderr
    assert f"no credential {missing!r}" in done.stderr
    calls = Path(base["CALLS"]).read_text().split() if Path(base["CALLS"]).exists() else []
    assert not_called not in calls


@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the README tells users to build: pip wheel --no-deps of this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source") / "credctl"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "node_modules", ".*_cache", "__pycache__"))  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--quiet", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("credctl-*.whl")
    return wheel


@pytest.mark.parametrize("system", ["github", "gitlab"])
def test_the_install_step_installs_the_committed_wheel(
    built_wheel: Path, tmp_path: Path, system: str
) -> None:
    """The README's install line, as written, in a fresh virtual environment."""
    if system == "github":
        steps = ci_examples()["github"]["jobs"]["deploy"]["steps"]
        (line,) = [step["run"] for step in steps if "pip install" in step.get("run", "")]
    else:
        (line,) = ci_examples()["gitlab"]["deploy"]["before_script"]
    workspace = tmp_path / "checkout"
    (workspace / "ci").mkdir(parents=True)
    shutil.copy(built_wheel, workspace / "ci")
    venv = tmp_path / "venv"  # stands for setup-python (GitHub) or the python image (GitLab)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDCTL_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    done = bash(line, workspace, env)
    assert done.returncode == 0, done.stderr
    version = bash("credctl --version && command -v credctl", workspace, env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines()[1] == str(venv / "bin" / "credctl")


def test_the_ci_examples_never_hide_a_credctl_failure() -> None:
    """No `eval "$(credctl …)"` and no `export X="$(credctl …)"`: both succeed when it fails."""
    examples = ci_examples()
    lines = [
        *(step.get("run", "") for step in examples["github"]["jobs"]["deploy"]["steps"]),
        *examples["gitlab"]["deploy"]["script"],
    ]
    for text in lines:
        for line in str(text).splitlines():
            assert not re.search(r"(eval|export|local|readonly)\b[^#]*\$\(credctl", line), line


def test_readme_never_puts_a_token_on_a_command_line() -> None:
    """In the README's examples, `"$(credctl get-token …)"` is only ever assigned.

    An argument is visible to every local user in `ps`; a variable assignment or a
    pipe is not.
    """
    assignment = re.compile(r"^\s*(- )?(export )?[A-Za-z_][A-Za-z0-9_]*=\"?\$\(credctl get-token")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), re.S)
    lines = [line for block in blocks for line in block.splitlines()]
    assert any("credctl get-token" in line for line in lines)
    for line in lines:
        if "$(credctl get-token" in line:
            assert assignment.match(line), f"this README example puts a token in argv: {line}"
