"""Key slots, sessions and revocation (issue 8, findings 3, 4, 9, 11 and 15).

Each test drives the installed console script the way the reviewer did.  The
"older copy" attacks use only what a holder of an old copy of the vault file
and a removed key (or an old passphrase) has: they open the old copy with
`credctl unlock`, then put that session file next to the *current* vault and
read it with the session string.  That is the data key of the old copy tried
against the current file; after a rekey it must not fit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from credctl.errors import VaultCorruptError
from credctl.vault import keys
from credctl.vault.format import SlotType, parse_file
from credctl.vault.store import decrypt_body, export_copy
from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, assert_no_traceback

PASS_ENV = {"CREDCTL_PASSPHRASE": PASSPHRASE}
NEW_PASSPHRASE = "new fake passphrase for key tests"
LATE_SECRET = "FAKE-SECRET-created-after-the-change"
HOSTILE_LABEL = "\x1b[31mRED\x1b[0m [bold]markup[/bold] \u202egnp.exe"


def sidecar(vault: Path) -> Path:
    return vault.with_name(vault.name + ".d")


def add_ci_key(run_cli: RunCli, env: dict[str, str] | None = None, label: str = "ci") -> str:
    result = run_cli("key", "add-ci", "--label", label, env=env or PASS_ENV)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def session_from(run_cli: RunCli, env: dict[str, str], *extra: str, vault: Path) -> str:
    result = run_cli("unlock", *extra, env=env, vault=vault)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split("'")[1]


def keyring_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PYTHON_KEYRING_BACKEND": "keyring_fake.FileKeyring",
        "PYTHONPATH": str(Path(__file__).parent),
        "FAKE_KEYRING_FILE": str(tmp_path / "keyring.json"),
    }


def vault_state(vault: Path) -> dict[str, bytes]:
    """The vault file and everything in VAULT.d except the usage journal."""
    state = {"vault": vault.read_bytes()}
    for path in sorted(sidecar(vault).rglob("*")):
        if path.is_file() and path.name != "usage.jsonl":
            state[str(path.relative_to(vault.parent))] = path.read_bytes()
    return state


def save_old_copy(vault: Path, tmp_path: Path) -> Path:
    """What a git history or a sync folder keeps: a byte copy of the vault file."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(mode=0o700)
    copy = folder / "old-copy.credctl"
    shutil.copyfile(vault, copy)
    copy.chmod(0o600)
    return copy


def create_late_secret(run_cli: RunCli, tmp_path: Path, env: dict[str, str]) -> None:
    secret_file = tmp_path / "late-secret"
    secret_file.write_text(LATE_SECRET)
    result = run_cli("create", "token", "late", "--field", f"token=@{secret_file}", env=env)
    assert result.returncode == 0, result.stderr


def read_current_with_old_copy(
    run_cli: RunCli, old_copy: Path, current: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Open the old copy with `env`, carry its session file over, read the current vault."""
    token = session_from(run_cli, env, vault=old_copy)
    target = sidecar(current) / "sessions"
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for session_file in (sidecar(old_copy) / "sessions").iterdir():
        shutil.copyfile(session_file, target / session_file.name)
        (target / session_file.name).chmod(0o600)
    return run_cli("get-token", "late", env={"CREDCTL_SESSION": token}, vault=current)


# -- finding 3: a session (or the keyring) never changes key slots ------------------


SLOT_CHANGES = {
    "add-ci": ("key", "add-ci", "--label", "minted"),
    "remove": ("key", "remove", "2"),
    "passwd": ("passwd",),
    "rekey": ("rekey",),
    "remove-rekey": ("key", "remove", "2", "--rekey"),
}


@pytest.mark.parametrize("command", list(SLOT_CHANGES))
def test_session_alone_cannot_change_key_slots(
    run_cli: RunCli, initialized_vault: Path, command: str
) -> None:
    add_ci_key(run_cli)
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    before = vault_state(initialized_vault)
    env = {"CREDCTL_SESSION": session, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE}
    result = run_cli(*SLOT_CHANGES[command], env=env)
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "passphrase" in result.stderr
    assert "CREDCTL_SESSION" not in result.stderr.split("hint:", 1)[-1]
    assert vault_state(initialized_vault) == before
    assert_no_traceback(result)


@pytest.mark.parametrize("command", ["add-ci", "remove"])
def test_keyring_entry_alone_cannot_change_key_slots(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path, command: str
) -> None:
    add_ci_key(run_cli)
    ring = keyring_env(tmp_path)
    assert run_cli("unlock", "--remember", env={**ring, **PASS_ENV}).returncode == 0
    assert run_cli("list", env=ring).returncode == 0  # the entry does unlock for reading
    before = initialized_vault.read_bytes()
    result = run_cli(*SLOT_CHANGES[command], env=ring)
    assert result.returncode == 4, result.stderr
    assert initialized_vault.read_bytes() == before


def test_nothing_a_session_minted_opens_the_vault_after_lock(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    minted = run_cli("key", "add-ci", "--label", "from-session", env={"CREDCTL_SESSION": session})
    assert run_cli("lock").returncode == 0
    assert run_cli("list", env={"CREDCTL_SESSION": session}).returncode == 4
    assert minted.stdout == ""
    assert minted.returncode == 4
    slots = parse_file(initialized_vault.read_bytes()).header.slots
    assert [s.slot_type for s in slots] == [SlotType.PASSPHRASE]


def test_ci_key_mints_another_only_with_the_flag(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli)
    refused = run_cli("key", "add-ci", env={"CREDCTL_KEY": key})
    assert refused.returncode == 4
    assert "--with-ci-key" in refused.stderr
    added = run_cli("key", "add-ci", "--with-ci-key", "--label", "child", env={"CREDCTL_KEY": key})
    assert added.returncode == 0, added.stderr
    assert "CI key" in added.stderr
    assert run_cli("list", env={"CREDCTL_KEY": added.stdout.strip()}).returncode == 0


def test_with_ci_key_never_accepts_a_session(run_cli: RunCli, initialized_vault: Path) -> None:
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    before = initialized_vault.read_bytes()
    result = run_cli("key", "add-ci", "--with-ci-key", env={"CREDCTL_SESSION": session})
    assert result.returncode == 4
    assert result.stdout == ""
    assert initialized_vault.read_bytes() == before


def test_with_ci_key_still_takes_the_passphrase(run_cli: RunCli, initialized_vault: Path) -> None:
    result = run_cli("key", "add-ci", "--with-ci-key", env=PASS_ENV)
    assert result.returncode == 0, result.stderr


# -- finding 15: an upper bound on session TTL --------------------------------------


@pytest.mark.parametrize("source", ["passphrase", "ci-key"])
def test_session_longer_than_the_cap_is_refused(
    run_cli: RunCli, initialized_vault: Path, source: str
) -> None:
    env = PASS_ENV if source == "passphrase" else {"CREDCTL_KEY": add_ci_key(run_cli)}
    result = run_cli("unlock", "--ttl", "400d", env=env)
    assert result.returncode == 9, result.stderr
    assert result.stdout == ""
    assert "30d" in result.stderr
    assert "hint:" in result.stderr
    sessions = sidecar(initialized_vault) / "sessions"
    assert not sessions.exists() or not any(sessions.iterdir())
    assert run_cli("unlock", "--ttl", "31d", env=env).returncode == 9
    assert run_cli("unlock", "--ttl", "30d", env=env).returncode == 0


def test_session_cap_is_chosen_at_init(run_cli: RunCli, vault_path: Path) -> None:
    created = run_cli("init", *CHEAP_KDF, "--max-session-ttl", "1h", env=PASS_ENV)
    assert created.returncode == 0, created.stderr
    assert run_cli("unlock", "--ttl", "61m", env=PASS_ENV).returncode == 9
    assert run_cli("unlock", "--ttl", "1h", env=PASS_ENV).returncode == 0


@pytest.mark.parametrize("cap", ["400d", "0s", "soon"])
def test_init_refuses_an_absurd_session_cap(run_cli: RunCli, vault_path: Path, cap: str) -> None:
    result = run_cli("init", *CHEAP_KDF, "--max-session-ttl", cap, env=PASS_ENV)
    assert result.returncode == 9
    assert not vault_path.exists()


def test_init_warns_on_a_short_passphrase(run_cli: RunCli, vault_path: Path) -> None:
    short = "Fk3!x"
    result = run_cli("init", *CHEAP_KDF, env={"CREDCTL_PASSPHRASE": short})
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr
    assert "12" in result.stderr
    assert short not in result.stderr
    assert vault_path.exists()


def test_init_is_quiet_about_a_long_passphrase(run_cli: RunCli, vault_path: Path) -> None:
    result = run_cli("init", *CHEAP_KDF, env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


# -- finding 4: `key remove` and `passwd` say what they leave; --rekey retires it ----


def test_key_remove_warns_that_older_copies_still_open(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    add_ci_key(run_cli)
    key = add_ci_key(run_cli)  # slot 3
    old_copy = save_old_copy(initialized_vault, tmp_path)
    result = run_cli("key", "remove", "3", env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr
    assert "older copies" in result.stderr
    assert "--rekey" in result.stderr
    # The warning is true: the removed key, through an older copy, reads a secret
    # created after the removal.
    create_late_secret(run_cli, tmp_path, PASS_ENV)
    read = read_current_with_old_copy(run_cli, old_copy, initialized_vault, {"CREDCTL_KEY": key})
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == LATE_SECRET


def test_key_remove_rekey_retires_older_copies(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    other = add_ci_key(run_cli, label="other")  # slot 2
    key = add_ci_key(run_cli, label="leaked")  # slot 3
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    backups = sidecar(initialized_vault) / "backups"
    assert any(backups.iterdir())
    old_bytes = initialized_vault.read_bytes()
    old_copy = save_old_copy(initialized_vault, tmp_path)
    result = run_cli("key", "remove", "3", "--rekey", env=PASS_ENV)
    assert result.returncode == 0, result.stderr
    assert "rekey" in result.stderr
    assert "removed CI key 2 " in result.stderr  # the other CI key: a rekey cannot keep it
    assert not any(backups.iterdir())
    assert run_cli("list", env={"CREDCTL_SESSION": session}).returncode == 4
    assert run_cli("list", env={"CREDCTL_KEY": other}).returncode == 5
    assert run_cli("list", env={"CREDCTL_KEY": key}).returncode == 5
    assert run_cli("list", env=PASS_ENV).returncode == 0
    create_late_secret(run_cli, tmp_path, PASS_ENV)
    read = read_current_with_old_copy(run_cli, old_copy, initialized_vault, {"CREDCTL_KEY": key})
    assert read.returncode == 4, read.stderr
    assert LATE_SECRET not in read.stdout + read.stderr
    # The same, without the CLI: the old copy's slot gives a key the current file refuses.
    old_key = keys.unwrap_with_ci_key(parse_file(old_bytes).header, keys.CiKey.parse(key))
    with pytest.raises(VaultCorruptError):
        decrypt_body(parse_file(initialized_vault.read_bytes()), old_key)


def test_key_remove_rekey_forgets_the_keyring_entry(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    add_ci_key(run_cli)
    ring = keyring_env(tmp_path)
    assert run_cli("unlock", "--remember", env={**ring, **PASS_ENV}).returncode == 0
    result = run_cli("key", "remove", "2", "--rekey", env={**ring, **PASS_ENV})
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}


def test_key_remove_rekey_refuses_a_passphrase_slot(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    before = initialized_vault.read_bytes()
    result = run_cli("key", "remove", "1", "--rekey", env=PASS_ENV)
    assert result.returncode == 9
    assert initialized_vault.read_bytes() == before
    missing = run_cli("key", "remove", "42", "--rekey", env=PASS_ENV)
    assert missing.returncode == 3
    assert initialized_vault.read_bytes() == before


def test_passwd_warns_that_older_copies_open_with_the_old_passphrase(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    result = run_cli("passwd", env={**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr
    assert "old passphrase" in result.stderr
    assert "--rekey" in result.stderr


def test_passwd_rekey_retires_older_copies(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    key = add_ci_key(run_cli)
    old_copy = save_old_copy(initialized_vault, tmp_path)
    env = {**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE}
    result = run_cli("passwd", "--rekey", env=env)
    assert result.returncode == 0, result.stderr
    assert NEW_PASSPHRASE not in result.stderr and PASSPHRASE not in result.stderr
    assert "CI key" in result.stderr  # says the CI key was dropped
    assert run_cli("list", env={"CREDCTL_KEY": key}).returncode == 5
    assert run_cli("list", env=PASS_ENV).returncode == 5
    new_env = {"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}
    create_late_secret(run_cli, tmp_path, new_env)
    read = read_current_with_old_copy(run_cli, old_copy, initialized_vault, PASS_ENV)
    assert read.returncode == 4, read.stderr
    assert LATE_SECRET not in read.stdout + read.stderr
    assert run_cli("get-token", "late", env=new_env).stdout.strip() == LATE_SECRET


def test_passwd_without_rekey_keeps_ci_keys(run_cli: RunCli, initialized_vault: Path) -> None:
    key = add_ci_key(run_cli)
    result = run_cli("passwd", env={**PASS_ENV, "CREDCTL_NEW_PASSPHRASE": NEW_PASSPHRASE})
    assert result.returncode == 0, result.stderr
    assert run_cli("list", env={"CREDCTL_KEY": key}).returncode == 0


# -- finding 9: labels ---------------------------------------------------------------


@pytest.mark.parametrize("label", ["\x1b[31m", "tab\there", "a\u202eb", "nul\x00", "\x9b31m"])
def test_add_ci_refuses_a_label_with_control_characters(
    run_cli: RunCli, initialized_vault: Path, label: str
) -> None:
    before = initialized_vault.read_bytes()
    result = run_cli("key", "add-ci", "--label", label.replace("\x00", "\x01"), env=PASS_ENV)
    assert result.returncode == 9, result.stderr
    assert result.stdout == ""
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert initialized_vault.read_bytes() == before


def test_key_list_shows_hostile_labels_escaped(run_cli: RunCli, initialized_vault: Path) -> None:
    from credctl.vault import EnvironmentUnlocker, Vault, crypto

    # A label no credctl would write: the header is readable by anyone who can
    # write the file, and `key list` reads it without a key.
    with Vault(initialized_vault).edit(EnvironmentUnlocker(env=PASS_ENV)) as txn:
        salt = crypto.random_bytes(crypto.SALT_SIZE)
        kek = keys.ci_kek(crypto.random_bytes(crypto.KEY_SIZE), salt)
        txn.slots.append(keys.make_slot(txn.vault_id, txn.next_slot_id(), SlotType.CI_KEY,
                                        kek, salt, txn.data_key, label=HOSTILE_LABEL))  # fmt: skip
    result = run_cli("key", "list")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert "\\x1b[31mRED" in result.stdout
    assert "[bold]markup[/bold]" in result.stdout
    listed = run_cli("key", "list", "--json")
    assert [row["label"] for row in json.loads(listed.stdout)][-1] == HOSTILE_LABEL


# -- finding 11: lock on a vault that does not parse ---------------------------------


def test_lock_on_a_garbage_vault_still_forgets_the_keyring_entry(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    ring = keyring_env(tmp_path)
    assert run_cli("unlock", "--remember", env={**ring, **PASS_ENV}).returncode == 0
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    assert json.loads((tmp_path / "keyring.json").read_text()) != {}
    initialized_vault.write_bytes(b"credctl\x00 this is no longer a vault")
    result = run_cli("lock", env=ring)
    assert result.returncode == 6, result.stderr
    assert "error:" in result.stderr
    assert "forgot the keyring entry" in result.stderr
    assert "ended 1 session" in result.stderr
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    assert not (sidecar(initialized_vault) / "keyring").exists()
    assert session not in result.stderr
    assert_no_traceback(result)


def test_lock_with_the_vault_gone_still_forgets_the_keyring_entry(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    ring = keyring_env(tmp_path)
    assert run_cli("unlock", "--remember", env={**ring, **PASS_ENV}).returncode == 0
    (sidecar(initialized_vault) / "anchor").unlink()
    initialized_vault.unlink()
    result = run_cli("lock", env=ring)
    assert json.loads((tmp_path / "keyring.json").read_text()) == {}
    assert "forgot the keyring entry" in result.stderr
    assert result.returncode == 3


def test_session_cannot_start_a_keyring_entry(
    run_cli: RunCli, initialized_vault: Path, tmp_path: Path
) -> None:
    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    ring = keyring_env(tmp_path)
    result = run_cli("unlock", "--remember", env={**ring, "CREDCTL_SESSION": session})
    assert result.returncode == 4
    assert not (tmp_path / "keyring.json").exists()
    assert not (sidecar(initialized_vault) / "keyring").exists()


# -- the core: `credctl.vault.store.export_copy` (what `credctl export` does) --------------------


def test_export_copy_writes_a_standalone_vault(run_cli: RunCli, vault_path: Path) -> None:
    from credctl.errors import VaultExistsError
    from credctl.vault import EnvironmentUnlocker, KdfParams, Vault

    created = run_cli("init", *CHEAP_KDF, "--backups", "5", "--max-session-ttl", "2h",
                      env=PASS_ENV)  # fmt: skip
    assert created.returncode == 0, created.stderr
    create_late_secret(run_cli, vault_path.parent, PASS_ENV)
    source = Vault(vault_path).open(EnvironmentUnlocker(env=PASS_ENV))
    target = vault_path.parent / "backup.credctl"
    cheap = KdfParams(19 * 1024, 2, 1)
    assert export_copy(source, target, NEW_PASSPHRASE.encode(), cheap) == 1
    copy = Vault(target).open(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}))
    assert copy.vault_id != source.vault_id
    assert copy.data_key != source.data_key
    assert [name for _id, name, _record in copy.body.entries()] == ["late"]
    assert copy.backup_count == 5
    assert copy.max_session_ttl == 2 * 3600
    assert copy.body.meta["last_slot_id"] == 1
    assert Vault(target).file.backups() == []
    before = target.read_bytes()
    with pytest.raises(VaultExistsError):
        export_copy(source, target, NEW_PASSPHRASE.encode(), cheap)
    assert target.read_bytes() == before
    token = run_cli("get-token", "late", env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}, vault=target)
    assert token.stdout.strip() == LATE_SECRET


# -- on a terminal: the prompt is the passphrase source ------------------------------


def test_passwd_on_a_terminal_asks_for_the_passphrase_even_with_a_session(
    run_cli: RunCli, initialized_vault: Path
) -> None:
    from tests.test_terminal_prompts import run_on_terminal

    session = session_from(run_cli, PASS_ENV, vault=initialized_vault)
    env = {"CREDCTL_VAULT": str(initialized_vault), "CREDCTL_SESSION": session}
    code, screen = run_on_terminal(["passwd"], [PASSPHRASE, NEW_PASSPHRASE, NEW_PASSPHRASE], env)
    assert code == 0, screen
    assert "Passphrase for" in screen and "New passphrase" in screen
    assert PASSPHRASE not in screen and NEW_PASSPHRASE not in screen
    assert run_cli("list", env={"CREDCTL_PASSPHRASE": NEW_PASSPHRASE}).returncode == 0


def test_passwd_on_a_terminal_never_asks_anew_after_a_wrong_passphrase(
    initialized_vault: Path,
) -> None:
    from tests.test_terminal_prompts import run_on_terminal

    before = initialized_vault.read_bytes()
    env = {"CREDCTL_VAULT": str(initialized_vault)}
    code, screen = run_on_terminal(["passwd"], ["fake-a", "fake-b", "fake-c"], env)
    assert code == 5, screen
    assert "New passphrase" not in screen
    assert initialized_vault.read_bytes() == before
