"""`init`, `unlock`, `lock`, `passwd`, `rekey`: the vault's life cycle."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Annotated

import typer

from credctl.audit.events import record_if_unlocked, record_vault_event
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.prompts import new_passphrase, require_new_passphrase
from credctl.durations import format_duration, parse_duration
from credctl.errors import InvalidInput
from credctl.vault import crypto, keys, sessions
from credctl.vault.crypto import KdfParams
from credctl.vault.format import SlotType
from credctl.vault.store import passphrase_slots

SHELLS = ("bash", "zsh", "sh", "fish", "powershell")


def register(app: typer.Typer) -> None:
    """Add the life-cycle commands to the root app."""
    app.command("init")(init_command)
    app.command("unlock")(unlock_command)
    app.command("lock")(lock_command)
    app.command("passwd")(passwd_command)
    app.command("rekey")(rekey_command)


def init_command(
    ctx: typer.Context,
    kdf_memory: Annotated[
        int, typer.Option("--kdf-memory", help="Argon2id memory in MiB (19..4096).")
    ] = 256,
    kdf_time: Annotated[int, typer.Option("--kdf-time", help="Argon2id passes (2..10).")] = 3,
    kdf_parallelism: Annotated[
        int, typer.Option("--kdf-parallelism", help="Argon2id lanes (1..16).")
    ] = 4,
    backups: Annotated[
        int, typer.Option("--backups", help="Previous generations kept on each write (0..100).")
    ] = 3,
) -> None:
    """Create a new vault.

    The passphrase is asked twice on a terminal, or read from
    CREDCTL_PASSPHRASE_FILE / CREDCTL_PASSPHRASE.  An existing vault is never
    replaced (exit 8).
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    params = KdfParams(kdf_memory * 1024, kdf_time, kdf_parallelism)
    params.check_for_init()
    if vault.exists():
        vault.create(b"-", params)  # raises VaultExistsError without touching the file
    passphrase = require_new_passphrase(
        file_var="CREDCTL_PASSPHRASE_FILE", value_var="CREDCTL_PASSPHRASE",
        can_prompt=cli.stdin_is_tty,
    )  # fmt: skip
    opened = vault.create(passphrase, params, backup_count=backups)
    record_vault_event(vault, "init", data_key=opened.data_key)
    output.info(
        f"created vault {vault.path} (Argon2id m={kdf_memory} MiB, t={kdf_time}, "
        f"p={kdf_parallelism}; id {opened.vault_id.hex()[:12]})",
        quiet=cli.quiet,
    )


def unlock_command(
    ctx: typer.Context,
    ttl: Annotated[
        str, typer.Option("--ttl", help="How long the session lives: 30s, 15m, 8h, 7d.")
    ] = "15m",
    remember: Annotated[
        bool,
        typer.Option("--remember", help="Keep the unlock in the OS keyring instead of a session."),
    ] = False,
    shell: Annotated[
        str, typer.Option("--shell", help="Export syntax: bash, zsh, sh, fish or powershell.")
    ] = "sh",
) -> None:
    """Start a session and print the line that exports it.

    Use it as `eval "$(credctl unlock --ttl 30m)"`.  The session expires after
    --ttl and `credctl lock` ends it early; the vault file is not rewritten.
    A session cannot start another session: unlock needs the passphrase or a CI key.
    """
    cli: CliContext = ctx.obj
    if shell not in SHELLS:
        raise InvalidInput(f"unknown shell {shell!r}", hint="use one of " + ", ".join(SHELLS))
    seconds = parse_duration(ttl, option="--ttl")
    vault = cli.vault()
    unlocker = cli.unlocker()
    unlocker.env = {k: v for k, v in unlocker.env.items() if k != "CREDCTL_SESSION"}
    opened = vault.open(unlocker)
    record_vault_event(vault, "unlock", data_key=opened.data_key)
    if remember:
        from credctl.vault import keyring_store

        keyring_store.remember(vault.file, opened.vault_id, opened.data_key)
        output.info("the unlock is kept in the OS keyring until `credctl lock`", quiet=cli.quiet)
        return
    token, expires = sessions.create_session(vault.file, opened.vault_id, opened.data_key, seconds)
    from credctl.shell import render

    output.data(render(shell, [("CREDCTL_SESSION", token.encode())]).rstrip("\n"))
    until = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    output.info(
        f"session started for {format_duration(seconds)} (until {until}); `credctl lock` ends it",
        quiet=cli.quiet,
    )


def lock_command(ctx: typer.Context) -> None:
    """End every session of the vault and forget the keyring entry.

    Needs no passphrase: anyone may lock.  Copies of CREDCTL_SESSION become
    useless at once.
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    record_if_unlocked(vault, "lock")  # before the sessions end: one of them may unlock
    ended = sessions.revoke_all(vault.file)
    vault_id = None
    with contextlib.suppress(Exception):
        vault_id = vault.read_parsed().header.vault_id
    from credctl.vault import keyring_store

    forgot = keyring_store.forget(vault.file, vault_id)
    parts = [f"ended {ended} session{'s' if ended != 1 else ''}"]
    if forgot:
        parts.append("forgot the keyring entry")
    output.info("; ".join(parts), quiet=cli.quiet)


def passwd_command(
    ctx: typer.Context,
    kdf_memory: Annotated[
        int | None, typer.Option("--kdf-memory", help="New Argon2id memory in MiB.")
    ] = None,
    kdf_time: Annotated[
        int | None, typer.Option("--kdf-time", help="New Argon2id passes.")
    ] = None,
    kdf_parallelism: Annotated[
        int | None, typer.Option("--kdf-parallelism", help="New Argon2id lanes.")
    ] = None,
) -> None:
    """Change the passphrase (re-wraps the data key; sessions and CI keys keep working).

    The current passphrase comes from CREDCTL_PASSPHRASE_FILE / CREDCTL_PASSPHRASE
    or the prompt; the new one from CREDCTL_NEW_PASSPHRASE_FILE /
    CREDCTL_NEW_PASSPHRASE or the prompt (asked twice).
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    unlocker = cli.unlocker(passphrase_only=True)
    opened = vault.open(unlocker)
    new = require_new_passphrase(
        file_var="CREDCTL_NEW_PASSPHRASE_FILE", value_var="CREDCTL_NEW_PASSPHRASE",
        can_prompt=cli.stdin_is_tty,
    )  # fmt: skip
    with vault.edit(data_key=opened.data_key, source=opened.source) as txn:
        old = passphrase_slots(txn)
        base = old[0].kdf if old and old[0].kdf else KdfParams()
        params = KdfParams(
            kdf_memory * 1024 if kdf_memory else base.memory_kib,
            kdf_time or base.time_cost,
            kdf_parallelism or base.parallelism,
        )
        params.check_for_init()
        slot = keys.passphrase_slot(txn.vault_id, txn.next_slot_id(), new, params, txn.data_key)
        txn.slots = [s for s in txn.slots if s.slot_type is not SlotType.PASSPHRASE] + [slot]
    record_vault_event(vault, "passwd", data_key=txn.data_key)
    output.info("passphrase changed", quiet=cli.quiet)


def rekey_command(ctx: typer.Context) -> None:
    """Re-encrypt everything under a new data key.

    Afterwards no session, CI key or keyring entry opens the vault, and kept
    backups are deleted.  Give a new passphrase (CREDCTL_NEW_PASSPHRASE_FILE,
    CREDCTL_NEW_PASSPHRASE or the prompt) so that old copies of the file, kept
    anywhere, cannot be opened with the current one.
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    unlocker = cli.unlocker(passphrase_only=True)
    opened = vault.open(unlocker)
    new = new_passphrase(
        file_var="CREDCTL_NEW_PASSPHRASE_FILE", value_var="CREDCTL_NEW_PASSPHRASE",
        can_prompt=cli.stdin_is_tty, what="passphrase (Enter keeps the current one)",
        empty_keeps=True,
    )  # fmt: skip
    passphrase = new or unlocker.used_passphrase
    assert passphrase is not None  # passphrase_only unlocking always records it
    with vault.edit(data_key=opened.data_key, source=opened.source) as txn:
        old_slots = passphrase_slots(txn)
        params = old_slots[0].kdf if old_slots and old_slots[0].kdf else KdfParams()
        dropped = [s for s in txn.slots if s.slot_type is SlotType.CI_KEY]
        txn.data_key = crypto.random_bytes(crypto.KEY_SIZE)
        txn.body.meta["data_key_created"] = int(time.time())
        txn.slots = [keys.passphrase_slot(txn.vault_id, txn.next_slot_id(), passphrase,
                                          params, txn.data_key)]  # fmt: skip
    record_vault_event(vault, "rekey", data_key=txn.data_key, replaced_key=opened.data_key)
    sessions.revoke_all(vault.file)
    from credctl.vault import keyring_store

    keyring_store.forget(vault.file, opened.vault_id)
    removed = vault.file.remove_backups()
    output.info(
        f"rekeyed: new data key; removed {len(dropped)} CI key(s), every session, "
        f"the keyring entry and {removed} backup(s)",
        quiet=cli.quiet,
    )
    if new is None:
        output.warn(
            "the passphrase is unchanged, so copies of the vault made before the rekey "
            "still open with it; run `credctl passwd` to change it"
        )
