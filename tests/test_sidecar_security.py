"""SPEC §14: the vault's folder and ``VAULT.d`` are checked, never trusted blindly.

Each attack is played the way the reviewer of issue 8 (finding 2) did, through
the console script: a link, FIFO, device or another user's file planted in
``VAULT.d``, its subfolders, or beside the vault; a ``VAULT.d`` or vault folder
that others can write to.  credctl must refuse (exit 6, the path and the fix
named) or carry on safely, never follow a link, never hang, never delete or
overwrite anything outside its own folders.  Also finding 15: every folder
credctl creates is 0700 and every file 0600, whatever the umask.

Another user's files need a second local user: as root the tests create one
with `useradd` (and remove it afterwards); otherwise they are skipped loudly.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
TOKEN = "FAKE-SECRET-sidecar-token-0001"
PRECIOUS = b"thesis chapter 3, the only copy\n"
HANG_LIMIT = 30.0  # seconds: far more than any of these commands needs


def sidecar(vault: Path) -> Path:
    return vault.with_name(vault.name + ".d")


def beside(vault: Path, suffix: str) -> Path:
    return vault.with_name(vault.name + suffix)


def run_prompt(
    run_cli: RunCli, *args: str, env: dict[str, str] | None = None, vault: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command that must answer: a hang is a failure, not a stuck test run."""
    where = {"vault": vault} if vault is not None else {}
    try:
        return run_cli(*args, env=env, timeout=HANG_LIMIT, **where)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`credctl {' '.join(args)}` hangs (no answer within {HANG_LIMIT:g} s)")


def mentions(detail: str, path: Path) -> bool:
    """`path` itself (not a path below it) appears in `detail`."""
    return re.search(re.escape(str(path)) + r"(?![/\w.])", detail) is not None


def assert_refused(result: subprocess.CompletedProcess[str], path: Path) -> None:
    """Exit 6, nothing on stdout, an error naming `path`, and a hint with the fix."""
    assert_no_traceback(result)
    assert result.returncode == 6, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines and lines[0].startswith("credctl: error: "), result.stderr
    assert str(path) in result.stderr, result.stderr
    assert any(line.startswith("credctl: hint: ") for line in lines), result.stderr


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert_no_traceback(result)
    assert result.returncode == 0, (result.returncode, result.stderr)


def session_from(run_cli: RunCli) -> str:
    result = run_prompt(run_cli, "unlock", env=PASS_ENV)
    assert_ok(result)
    return result.stdout.strip().split("'")[1]


def store_token(run_cli: RunCli) -> None:
    assert_ok(run_cli("create", "token", "gh", "--field", "token=env:TOK",
                      env={**PASS_ENV, "TOK": TOKEN}))  # fmt: skip


def victim_folder(root: Path) -> Path:
    """A folder of the user's own files that an attacker points a link at."""
    documents = root / "Documents"
    documents.mkdir()
    (documents / "thesis.txt").write_bytes(PRECIOUS)
    return documents


def assert_victim_intact(documents: Path) -> None:
    assert sorted(p.name for p in documents.iterdir()) == ["thesis.txt"]
    assert (documents / "thesis.txt").read_bytes() == PRECIOUS


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)  # inherited by the credctl subprocesses
    try:
        yield
    finally:
        os.umask(old)


# -- a second local user -----------------------------------------------------------


@pytest.fixture(scope="module")
def other_uid() -> Iterator[int]:
    """The uid of a throw-away second local user (created with useradd, then removed)."""
    if os.geteuid() != 0:
        pytest.skip(
            "SKIPPED LOUDLY: files of another user need a second local user, and creating "
            "one (useradd) needs root; run these tests as root to cover that attack"
        )
    useradd, userdel = shutil.which("useradd"), shutil.which("userdel")
    if not useradd or not userdel:
        pytest.skip("SKIPPED LOUDLY: useradd/userdel are not installed; no second user")
    name = f"credctl-t{os.getpid() % 100000}-{uuid.uuid4().hex[:6]}"
    deadline = time.monotonic() + 30
    while True:  # useradd fails while another process holds /etc/passwd's lock
        done = subprocess.run(
            [useradd, "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            break
        if time.monotonic() > deadline:
            pytest.fail(f"useradd {name} failed: {done.stderr.strip()}")
        time.sleep(0.2)
    try:
        yield pwd.getpwnam(name).pw_uid
    finally:
        deadline = time.monotonic() + 30
        while subprocess.run([userdel, name], capture_output=True, check=False).returncode:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)


# -- VAULT.d/sessions as a link: unlock and lock deleted the files it led to -----------


@pytest.mark.parametrize("command", ["unlock", "lock", "get-token"])
def test_symlinked_sessions_folder_is_refused_and_its_target_survives(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, command: str
) -> None:
    store_token(run_cli)
    session = session_from(run_cli)
    documents = victim_folder(tmp_path)
    sessions = sidecar(initialized_vault) / "sessions"
    shutil.rmtree(sessions)
    sessions.symlink_to(documents)
    env = {"get-token": {"CREDCTL_SESSION": session}, "unlock": PASS_ENV, "lock": {}}[command]
    args = ["get-token", "gh"] if command == "get-token" else [command]
    result = run_prompt(run_cli, *args, env=env)
    assert_refused(result, sessions)
    assert TOKEN not in result.stderr
    assert_victim_intact(documents)
    assert sessions.is_symlink()


@pytest.mark.parametrize("name", ["backups", "sessions"])
@pytest.mark.parametrize("problem", ["mode-0755", "other-user"])
def test_subfolder_not_private_is_refused(
    run_cli: RunCli,
    initialized_vault: Path,
    name: str,
    problem: str,
    request: pytest.FixtureRequest,
) -> None:
    folder = sidecar(initialized_vault) / name
    folder.mkdir(mode=0o700, exist_ok=True)
    if problem == "mode-0755":
        folder.chmod(0o755)
    else:
        os.chown(folder, request.getfixturevalue("other_uid"), -1)
    before = initialized_vault.read_bytes()
    command = ["key", "add-ci"] if name == "backups" else ["unlock"]
    assert_refused(run_prompt(run_cli, *command, env=PASS_ENV), folder)
    assert initialized_vault.read_bytes() == before


def test_symlinked_backups_folder_gets_no_copy_of_the_vault(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    documents = victim_folder(tmp_path)
    backups = sidecar(initialized_vault) / "backups"
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(backups)
    backups.symlink_to(documents)
    before = initialized_vault.read_bytes()
    assert_refused(run_prompt(run_cli, "key", "add-ci", env=PASS_ENV), backups)
    assert_victim_intact(documents)
    assert initialized_vault.read_bytes() == before
    assert not beside(initialized_vault, ".tmp").exists()


# -- VAULT.d/anchor.tmp as a link: init and create overwrote ~/.bashrc ------------------


@pytest.mark.parametrize("command", ["init", "create"])
def test_symlinked_anchor_tmp_is_never_written_through(
    run_cli: RunCli, vault_path: Path, tmp_path: Path, command: str
) -> None:
    bashrc = tmp_path / "bashrc"
    bashrc.write_bytes(PRECIOUS)
    if command == "create":
        assert_ok(run_cli("init", *CHEAP_KDF, env=PASS_ENV))
        before = vault_path.read_bytes()
    else:
        sidecar(vault_path).mkdir(mode=0o700, parents=True)
    planted = sidecar(vault_path) / "anchor.tmp"
    planted.symlink_to(bashrc)
    if command == "init":
        result = run_prompt(run_cli, "init", *CHEAP_KDF, env=PASS_ENV)
    else:
        result = run_prompt(run_cli, "create", "token", "gh", "--field", "token=env:TOK",
                            env={**PASS_ENV, "TOK": TOKEN})  # fmt: skip
    assert_refused(result, planted)
    assert bashrc.read_bytes() == PRECIOUS
    assert planted.is_symlink()
    if command == "init":
        assert not vault_path.exists()
    else:
        assert vault_path.read_bytes() == before
    assert not beside(vault_path, ".tmp").exists()


@pytest.mark.parametrize("name", ["anchor", "keyring", "usage.jsonl"])
def test_symlinked_companion_file_is_refused_or_left_alone(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, name: str
) -> None:
    """The anchor and keyring marker are refused; the journal is simply not written."""
    store_token(run_cli)
    target = tmp_path / "bashrc"
    target.write_bytes(PRECIOUS)
    planted = sidecar(initialized_vault) / name
    with contextlib.suppress(FileNotFoundError):
        planted.unlink()
    planted.symlink_to(target)
    result = run_prompt(run_cli, "get-token", "gh", env=PASS_ENV)
    if name == "usage.jsonl":
        assert_ok(result)
        assert result.stdout.strip() == TOKEN
    else:
        assert_refused(result, planted)
    assert target.read_bytes() == PRECIOUS
    assert planted.is_symlink()


# -- special files in sessions/ and VAULT.d: unlock hung on a FIFO ------------------------


def plant_specials(sessions: Path, outside: Path) -> dict[str, Path]:
    """A FIFO, a link out of the folder, a device and a huge file, named like sessions."""
    planted = {"fifo": sessions / ("a" * 32), "link": sessions / ("b" * 32)}
    os.mkfifo(planted["fifo"], 0o600)
    planted["link"].symlink_to(outside)
    with contextlib.suppress(PermissionError):  # needs CAP_MKNOD (root in most containers)
        os.mknod(sessions / ("c" * 32), 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null
        planted["device"] = sessions / ("c" * 32)
    huge = sessions / ("d" * 32)
    with huge.open("wb") as handle:
        handle.truncate(8 << 20)
    huge.chmod(0o600)
    return planted


def test_special_files_in_sessions_neither_hang_nor_get_followed(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    store_token(run_cli)
    session = session_from(run_cli)
    sessions = sidecar(initialized_vault) / "sessions"
    outside = tmp_path / "id_ed25519"
    outside.write_bytes(PRECIOUS)
    planted = plant_specials(sessions, outside)

    assert_ok(run_prompt(run_cli, "unlock", env=PASS_ENV))  # sweeps the folder
    result = run_prompt(run_cli, "get-token", "gh", env={"CREDCTL_SESSION": session})
    assert_ok(result)
    assert result.stdout.strip() == TOKEN
    assert_ok(run_prompt(run_cli, "lock"))
    # lock ended the real sessions ...
    assert run_prompt(run_cli, "get-token", "gh", env={"CREDCTL_SESSION": session}).returncode == 4
    # ... and removed nothing that is not a regular file, nor anything outside.
    assert outside.read_bytes() == PRECIOUS
    for path in planted.values():
        assert os.path.lexists(path), path
    assert sorted(p.name for p in sessions.iterdir()) == sorted(p.name for p in planted.values())


def test_fifo_as_usage_journal_does_not_hang(run_cli: RunCli, initialized_vault: Path) -> None:
    store_token(run_cli)
    journal = sidecar(initialized_vault) / "usage.jsonl"
    with contextlib.suppress(FileNotFoundError):
        journal.unlink()
    os.mkfifo(journal, 0o600)
    result = run_prompt(run_cli, "get-token", "gh", env=PASS_ENV)
    assert_ok(result)
    assert result.stdout.strip() == TOKEN
    # The old journal is read only when a vault's audit trail starts; this trail already
    # did (at init), so metrics never open the FIFO and never hang on it.
    assert_ok(run_prompt(run_cli, "metrics", "--json", env=PASS_ENV))
    assert stat.S_ISFIFO(journal.lstat().st_mode)


# -- VAULT.lock and VAULT.tmp planted beside the vault ------------------------------------


@pytest.mark.parametrize("kind", ["other-user", "other-user-link", "fifo", "directory"])
def test_planted_lock_file_is_refused_not_used(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, kind: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    lock = beside(initialized_vault, ".lock")
    with contextlib.suppress(FileNotFoundError):
        lock.unlink()
    target = tmp_path / "victim"
    target.write_bytes(PRECIOUS)
    if kind == "fifo":
        os.mkfifo(lock, 0o600)
    elif kind == "directory":
        lock.mkdir()
    elif kind == "other-user":
        lock.write_bytes(b"")
        os.chown(lock, request.getfixturevalue("other_uid"), -1)
    else:
        lock.symlink_to(target)
        os.lchown(lock, request.getfixturevalue("other_uid"), -1)
    before = initialized_vault.read_bytes()
    assert_refused(run_prompt(run_cli, "key", "add-ci", env=PASS_ENV), lock)
    assert initialized_vault.read_bytes() == before
    assert target.read_bytes() == PRECIOUS
    assert os.path.lexists(lock)


@pytest.fixture
def sticky_folder(tmp_path: Path) -> Path:
    """A folder like /tmp: everyone may add names, only owners may remove them."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


@pytest.mark.parametrize("kind", ["file", "link"])
def test_other_users_temporary_file_neither_blocks_writes_nor_is_followed(
    run_cli: RunCli, sticky_folder: Path, tmp_path: Path, other_uid: int, kind: str
) -> None:
    """In a sticky folder nobody else's VAULT.tmp can be removed: write beside it."""
    vault = sticky_folder / "team.credctl"
    assert_ok(run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=vault))
    planted = beside(vault, ".tmp")
    target = tmp_path / "victim"
    target.write_bytes(PRECIOUS)
    if kind == "file":
        planted.write_bytes(b"theirs")
        os.chown(planted, other_uid, -1)
    else:
        planted.symlink_to(target)
        os.lchown(planted, other_uid, -1)
    for _ in range(2):
        assert_ok(run_prompt(run_cli, "key", "add-ci", env=PASS_ENV, vault=vault))
    listed = run_prompt(run_cli, "key", "list", "--json", env=PASS_ENV, vault=vault)
    assert len(json.loads(listed.stdout)) == 3
    assert planted.lstat().st_uid == other_uid
    if kind == "file":
        assert planted.read_bytes() == b"theirs"
    assert target.read_bytes() == PRECIOUS
    names = sorted(p.name for p in sticky_folder.iterdir())
    assert names == ["team.credctl", "team.credctl.d", "team.credctl.lock", "team.credctl.tmp"]


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_own_special_temporary_file_is_refused_with_a_hint(
    run_cli: RunCli, initialized_vault: Path, kind: str
) -> None:
    planted = beside(initialized_vault, ".tmp")
    if kind == "fifo":
        os.mkfifo(planted, 0o600)
    else:
        planted.mkdir()
    before = initialized_vault.read_bytes()
    assert_refused(run_prompt(run_cli, "key", "add-ci", env=PASS_ENV), planted)
    assert initialized_vault.read_bytes() == before


# -- VAULT.d itself: too open, another user's, a link -------------------------------------


@pytest.mark.parametrize("problem", ["mode-0777", "other-user", "symlink"])
@pytest.mark.parametrize("command", ["get-token", "lock", "create"])
def test_unsafe_sidecar_is_refused(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, problem: str, command: str,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    store_token(run_cli)
    folder = sidecar(initialized_vault)
    if problem == "mode-0777":
        folder.chmod(0o777)
    elif problem == "other-user":
        os.chown(folder, request.getfixturevalue("other_uid"), -1)
    else:
        real = tmp_path / "elsewhere"
        folder.rename(real)
        folder.symlink_to(real)
    create = ["create", "token", "other", "--field", "token=env:TOK"]
    args = {"get-token": ["get-token", "gh"], "lock": ["lock"], "create": create}[command]
    before = initialized_vault.read_bytes()
    result = run_prompt(run_cli, *args, env={**PASS_ENV, "TOK": TOKEN})
    assert_refused(result, folder)
    assert TOKEN not in result.stderr
    assert initialized_vault.read_bytes() == before
    if problem == "mode-0777":
        assert "chmod 700" in result.stderr


# -- the vault's own folder ---------------------------------------------------------------


@pytest.mark.parametrize("problem", ["world-writable", "group-writable", "other-user",
                                     "sticky-other-user"])  # fmt: skip
def test_vault_in_a_folder_others_can_write_is_refused(
    run_cli: RunCli, tmp_path: Path, problem: str, request: pytest.FixtureRequest
) -> None:
    folder = tmp_path / "team"
    folder.mkdir()
    vault = folder / "vault.credctl"
    mode = {"world-writable": 0o777, "group-writable": 0o770, "other-user": 0o755,
            "sticky-other-user": 0o1777}[problem]  # fmt: skip
    folder.chmod(mode)
    if problem.endswith("other-user"):
        os.chown(folder, request.getfixturevalue("other_uid"), -1)
    result = run_prompt(run_cli, "init", *CHEAP_KDF, env=PASS_ENV, vault=vault)
    assert_refused(result, folder)
    assert sorted(folder.iterdir()) == []


@pytest.mark.parametrize("command", ["get-token", "unlock", "lock"])
def test_existing_vault_whose_folder_became_world_writable_is_refused(
    run_cli: RunCli, initialized_vault: Path, command: str
) -> None:
    store_token(run_cli)
    folder = initialized_vault.parent
    folder.chmod(0o777)
    args = ["get-token", "gh"] if command == "get-token" else [command]
    result = run_prompt(run_cli, *args, env=PASS_ENV)
    assert_refused(result, folder)
    assert "chmod go-w" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_vault_directly_in_tmp_works(run_cli: RunCli) -> None:
    """/tmp is world-writable but sticky and root's: others cannot swap our names there."""
    tmp = Path("/tmp")
    info = tmp.stat()
    if not (info.st_mode & stat.S_ISVTX and info.st_uid == 0):
        pytest.skip(f"LOUD SKIP: /tmp here is not a sticky root-owned folder ({info.st_mode:o})")
    vault = tmp / f"credctl-test-{uuid.uuid4().hex}.credctl"
    try:
        assert_ok(run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=vault))
        assert_ok(run_cli("create", "token", "gh", "--field", "token=env:TOK",
                          env={**PASS_ENV, "TOK": TOKEN}, vault=vault))  # fmt: skip
        unlocked = run_prompt(run_cli, "unlock", env=PASS_ENV, vault=vault)
        assert_ok(unlocked)
        session = unlocked.stdout.strip().split("'")[1]
        got = run_prompt(run_cli, "get-token", "gh", env={"CREDCTL_SESSION": session}, vault=vault)
        assert_ok(got)
        assert got.stdout.strip() == TOKEN
        assert_ok(run_prompt(run_cli, "lock", vault=vault))
        doctor = run_prompt(run_cli, "doctor", "--json", env=PASS_ENV, vault=vault)
        assert json.loads(doctor.stdout)["status"] == "healthy", doctor.stdout
    finally:
        for suffix in ("", ".lock", ".tmp"):
            with contextlib.suppress(FileNotFoundError):
                beside(vault, suffix).unlink()
        shutil.rmtree(sidecar(vault), ignore_errors=True)


# -- doctor reports every one of these -----------------------------------------------------


def test_doctor_reports_each_failed_check(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, other_uid: int
) -> None:
    store_token(run_cli)
    session_from(run_cli)
    folder = sidecar(initialized_vault)
    documents = victim_folder(tmp_path)
    sessions = folder / "sessions"
    shutil.rmtree(sessions)
    sessions.symlink_to(documents)
    (folder / "anchor.tmp").symlink_to(documents / "thesis.txt")
    os.mkfifo(folder / "keyring", 0o600)
    (folder / "backups").chmod(0o755)
    lock = beside(initialized_vault, ".lock")
    os.chown(lock, other_uid, -1)
    temporary = beside(initialized_vault, ".tmp")
    temporary.symlink_to(documents)
    os.lchown(temporary, other_uid, -1)
    folder.chmod(0o770)

    result = run_prompt(run_cli, "doctor", "--json", env=PASS_ENV)
    assert_no_traceback(result)
    assert result.returncode == 2, result.stdout
    report = json.loads(result.stdout)
    assert report["status"] == "unhealthy"
    failed = [c for c in report["checks"] if c["status"] != "healthy"]
    for path, name in [
        (folder, "sidecar"),
        (sessions, "sidecar"),
        (folder / "anchor.tmp", "sidecar"),
        (folder / "keyring", "sidecar"),
        (folder / "backups", "sidecar"),
        (lock, "lock"),
        (temporary, "temporary"),
    ]:
        matching = [c for c in failed if c["name"] == name and mentions(c["detail"], path)]
        assert matching, f"doctor does not report {path}: {failed}"
    assert_victim_intact(documents)

    initialized_vault.parent.chmod(0o777)
    report = json.loads(run_prompt(run_cli, "doctor", "--json", env=PASS_ENV).stdout)
    folder_checks = [c for c in report["checks"] if c["name"] == "folder"]
    assert [c["status"] for c in folder_checks] == ["unhealthy"], report
    assert "chmod go-w" in folder_checks[0]["detail"]


def test_doctor_does_not_hang_on_a_fifo_lock(run_cli: RunCli, initialized_vault: Path) -> None:
    lock = beside(initialized_vault, ".lock")
    lock.unlink()
    os.mkfifo(lock, 0o600)
    result = run_prompt(run_cli, "doctor", "--json", env=PASS_ENV)
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["lock"]["status"] == "unhealthy"
    assert str(lock) in checks["lock"]["detail"]


# -- finding 15: folders 0700 and files 0600 whatever the umask ----------------------------


def test_umask_000_still_gives_private_folders_and_files(run_cli: RunCli, tmp_path: Path) -> None:
    vault = tmp_path / "a" / "b" / "c" / "vault.credctl"
    with umask(0):
        assert_ok(run_cli("init", *CHEAP_KDF, env=PASS_ENV, vault=vault))
        assert_ok(run_cli("create", "token", "gh", "--field", "token=env:TOK",
                          env={**PASS_ENV, "TOK": TOKEN}, vault=vault))  # fmt: skip
        assert_ok(run_cli("unlock", env=PASS_ENV, vault=vault))
        assert_ok(run_cli("get-token", "gh", env=PASS_ENV, vault=vault))
    folders = [tmp_path / "a", tmp_path / "a" / "b", vault.parent, sidecar(vault),
               sidecar(vault) / "sessions", sidecar(vault) / "backups",
               sidecar(vault) / "audit"]  # fmt: skip
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [vault, beside(vault, ".lock"), *(p for p in sidecar(vault).rglob("*") if p.is_file())]
    names = {p.name for p in files}
    assert {"anchor", "current.log", "vault.credctl", "vault.credctl.lock"} <= names
    assert len(list((sidecar(vault) / "sessions").iterdir())) == 1
    assert len(list((sidecar(vault) / "backups").iterdir())) == 1
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
