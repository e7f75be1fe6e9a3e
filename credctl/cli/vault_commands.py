"""`init`, `unlock`, `lock`, `passwd`, `rekey`: the vault's life cycle.

Each command parses its options, calls one `Vault` method and prints what it did.
"""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer

from credctl._time import format_unix
from credctl.audit.events import audited, first_epoch, record_if_unlocked, record_vault_event
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.prompts import (
    new_passphrase,
    require_new_passphrase,
    unlocker_for,
    warn_if_short,
)
from credctl.cli.rekey_notes import OLDER_COPIES, describe_rekey, plural
from credctl.durations import format_duration, parse_duration
from credctl.errors import InvalidInput
from credctl.vault import grants
from credctl.vault.crypto import KdfParams
from credctl.vault.store import (
    DEFAULT_MAX_SESSION_TTL,
    SESSION_SOURCE,
    check_max_session_ttl,
)
from credctl.vault.unlock import ALL_SOURCES

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
    max_session_ttl: Annotated[
        str | None,
        typer.Option(
            "--max-session-ttl",
            metavar="DURATION",
            help="Longest session `unlock --ttl` may start (default 30d, at most 365d).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Create a new vault.

    The passphrase is asked twice on a terminal, or read from
    CREDCTL_PASSPHRASE_FILE / CREDCTL_PASSPHRASE; one shorter than 12
    characters is accepted with a warning.  An existing vault is never
    replaced (exit 8).
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    params = KdfParams(kdf_memory * 1024, kdf_time, kdf_parallelism)
    params.check_for_init()
    session_cap = None
    if max_session_ttl is not None:
        session_cap = parse_duration(max_session_ttl, option="--max-session-ttl")
        check_max_session_ttl(session_cap)
    if vault.exists():
        vault.create(b"-", params)  # raises VaultExistsError without touching the file
    passphrase = require_new_passphrase(
        file_var="CREDCTL_PASSPHRASE_FILE", value_var="CREDCTL_PASSPHRASE",
        can_prompt=cli.stdin_is_tty,
    )  # fmt: skip
    warn_if_short(passphrase)
    started = time.perf_counter()
    opened = vault.create(
        passphrase, params, backup_count=backups, max_session_ttl=session_cap,
        prepare_settings=first_epoch,
    )  # fmt: skip
    seconds = time.perf_counter() - started  # nearly all of it Argon2id, as each unlock
    record_vault_event(vault, "init", data_key=opened.data_key)
    output.info(
        f"created vault {vault.location} (Argon2id m={kdf_memory} MiB, t={kdf_time}, "
        f"p={kdf_parallelism}; sessions up to {format_duration(opened.max_session_ttl)}; "
        f"id {opened.vault_id.hex()[:12]})",
        quiet=cli.quiet,
    )
    output.info(
        f"each unlock with the passphrase takes about {seconds:.1f} s here; "
        'a session pays it once: eval "$(credctl unlock)"',
        quiet=cli.quiet,
    )


def unlock_command(
    ctx: typer.Context,
    ttl: Annotated[
        str,
        typer.Option(
            "--ttl",
            help="How long the session lives: 30s, 15m, 8h, 7d; at most the vault's limit "
            f"(default {format_duration(DEFAULT_MAX_SESSION_TTL)}).",
        ),
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
    A session cannot start another session: unlock needs the passphrase, a CI
    key or the keyring entry.  A --ttl longer than the vault's limit (chosen at
    `init --max-session-ttl`, default 30d) is refused (exit 9), whatever unlocks.
    """
    cli: CliContext = ctx.obj
    if shell not in SHELLS:
        raise InvalidInput(f"unknown shell {shell!r}", hint="use one of " + ", ".join(SHELLS))
    seconds = parse_duration(ttl, option="--ttl")
    vault = cli.vault()
    # The unlock is audited when the block ends, before the session is printed.
    with audited(vault, "unlock", unlocker_for(cli, ALL_SOURCES - {SESSION_SOURCE})) as unlocker:
        if remember:
            grants.remember(vault, unlocker)
        else:
            token, expires = grants.start_session(vault, unlocker, seconds)
    if remember:
        output.info("the unlock is kept in the OS keyring until `credctl lock`", quiet=cli.quiet)
        return
    from credctl.shell import render

    output.data(render(shell, [("CREDCTL_SESSION", token.encode())]).rstrip("\n"))
    until = format_unix(expires)
    output.info(
        f"session started for {format_duration(seconds)} (until {until}); `credctl lock` ends it",
        quiet=cli.quiet,
    )
    if sys.stdout.isatty():
        # Printed on the screen, the line does nothing: the shell must run it.
        output.warn(
            'this shell has no session yet: run `eval "$(credctl unlock)"` to start one '
            "in it (fish: `credctl unlock --shell fish | source`)"
        )


def lock_command(ctx: typer.Context) -> None:
    """End every session of the vault and forget the keyring entry.

    Needs no passphrase: anyone may lock.  Copies of CREDCTL_SESSION become
    useless at once.  A vault that cannot be read is still locked, and the
    problem is reported afterwards with its exit code (6: damaged).
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    record_if_unlocked(vault, "lock")  # before the sessions end: one of them may unlock
    result = grants.lock(vault)
    parts = [f"ended {plural(result.sessions_ended, 'session')}"]
    if result.keyring_forgotten:
        parts.append("forgot the keyring entry")
    output.info("; ".join(parts), quiet=cli.quiet and result.problem is None)
    if result.problem is not None:
        raise result.problem


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
    rekey: Annotated[
        bool,
        typer.Option(
            "--rekey",
            help="Also replace the data key, so older copies of the file stop opening with "
            "the old passphrase (drops CI keys, sessions, backups and the keyring entry).",
        ),
    ] = False,
) -> None:
    """Change the passphrase (re-wraps the data key; sessions and CI keys keep working).

    The current passphrase comes from CREDCTL_PASSPHRASE_FILE / CREDCTL_PASSPHRASE
    or the prompt (a session, CI key or keyring entry is not enough); the new
    one from CREDCTL_NEW_PASSPHRASE_FILE / CREDCTL_NEW_PASSPHRASE or the
    prompt (asked twice).

    Older copies of the vault file still open with the old passphrase, and the
    data key they give reads this vault too.  --rekey retires them: a new data
    key, and every CI key, session, kept backup and keyring entry ends.
    """
    cli: CliContext = ctx.obj

    def ask_new() -> bytes:
        new = require_new_passphrase(
            file_var="CREDCTL_NEW_PASSPHRASE_FILE", value_var="CREDCTL_NEW_PASSPHRASE",
            can_prompt=cli.stdin_is_tty,
        )  # fmt: skip
        warn_if_short(new)
        return new

    vault = cli.vault()
    with audited(vault, "passwd", cli.unlocker(passphrase_only=True)) as unlocker:
        rekeyed = vault.change_passphrase(
            unlocker, ask_new,
            memory_kib=kdf_memory * 1024 if kdf_memory else None, time_cost=kdf_time,
            parallelism=kdf_parallelism, rekey=rekey,
        )  # fmt: skip
    if rekeyed is None:
        output.info("passphrase changed", quiet=cli.quiet)
        output.warn(
            OLDER_COPIES.format(what="the old passphrase")
            + "; `credctl rekey` retires them (next time: `credctl passwd --rekey`)"
        )
        return
    output.info(f"passphrase changed and {describe_rekey(rekeyed)}", quiet=cli.quiet)


def rekey_command(ctx: typer.Context) -> None:
    """Re-encrypt everything under a new data key.

    Afterwards no session, CI key or keyring entry opens the vault, and kept
    backups are deleted.  Give a new passphrase (CREDCTL_NEW_PASSPHRASE_FILE,
    CREDCTL_NEW_PASSPHRASE or the prompt) so that old copies of the file, kept
    anywhere, cannot be opened with the current one.  Needs the current
    passphrase itself (a session, CI key or keyring entry is not enough).
    """
    cli: CliContext = ctx.obj
    chosen: list[bytes | None] = []

    def ask_new() -> bytes | None:
        new = new_passphrase(
            file_var="CREDCTL_NEW_PASSPHRASE_FILE", value_var="CREDCTL_NEW_PASSPHRASE",
            can_prompt=cli.stdin_is_tty, what="passphrase (Enter keeps the current one)",
            empty_keeps=True,
        )  # fmt: skip
        if new is not None:
            warn_if_short(new)
        chosen.append(new)
        return new

    vault = cli.vault()
    with audited(vault, "rekey", cli.unlocker(passphrase_only=True)) as unlocker:
        result = vault.rekey(unlocker, ask_new)
    output.info(describe_rekey(result), quiet=cli.quiet)
    if chosen == [None]:
        output.warn(
            "the passphrase is unchanged, so copies of the vault made before the rekey "
            "still open with it; run `credctl passwd --rekey` to change both"
        )
