"""`key add-ci | list | remove`: the vault's key slots.

Changing slots needs the passphrase itself: a slot made with a session or the
keyring entry would outlive the `lock` or TTL that ends those.  `key add-ci
--with-ci-key` lets an existing CI key add another in automation; that grants
nothing new, since a CI key already unwraps the data key, and `rekey` drops
every CI key however it was made.
"""

from __future__ import annotations

from typing import Annotated

import typer

from credctl._time import format_unix
from credctl.audit.events import audited
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.prompts import unlocker_for
from credctl.cli.rekey_notes import OLDER_COPIES, describe_rekey
from credctl.cli.tables import print_table
from credctl.errors import VaultLockedError
from credctl.vault.format import SlotType
from credctl.vault.store import CI_KEY_SOURCE, PASSPHRASE_SOURCE

key_app = typer.Typer(help="Key slots: the passphrase and CI keys that open the vault.",
                      no_args_is_help=True)  # fmt: skip
KIND = {SlotType.PASSPHRASE: "passphrase", SlotType.CI_KEY: "ci"}


def register(app: typer.Typer) -> None:
    """Add the `key` group to the root app."""
    app.add_typer(key_app, name="key")


@key_app.command("add-ci")
def add_ci_command(
    ctx: typer.Context,
    label: Annotated[
        str, typer.Option("--label", help="What the key is for (printable text; shown by list).")
    ] = "",
    with_ci_key: Annotated[
        bool,
        typer.Option(
            "--with-ci-key",
            help="Let the CI key in CREDCTL_KEY authorise this (automation); otherwise only "
            "the passphrase does.",
        ),
    ] = False,
) -> None:
    """Create a CI key and print it once, alone on stdout.

    Store it as CREDCTL_KEY in your CI's secret store: it opens the vault
    without the passphrase and without the Argon2id cost.  Needs the
    passphrase (CREDCTL_PASSPHRASE_FILE, CREDCTL_PASSPHRASE or the prompt); a
    session or the keyring entry is never enough.  With --with-ci-key, an
    existing CI key in CREDCTL_KEY may authorise it instead.

    `key remove ID` stops the key opening the current file, but older copies
    of the file still open with it; `key remove ID --rekey` (or `rekey`)
    retires those too.
    """
    cli: CliContext = ctx.obj
    sources = {PASSPHRASE_SOURCE, CI_KEY_SOURCE} if with_ci_key else {PASSPHRASE_SOURCE}
    try:
        vault = cli.vault()
        with audited(vault, "key_add", unlocker_for(cli, sources)) as unlocker:
            key, source = vault.add_ci_key(unlocker, label, allow_ci_key=with_ci_key)
    except VaultLockedError as exc:
        if with_ci_key:
            raise
        raise VaultLockedError(
            exc.message,
            hint=f"{exc.hint or 'give the passphrase'}; in automation, `credctl key add-ci "
            "--with-ci-key` with CREDCTL_KEY set",
        ) from None
    output.data(key.encode())
    by = " (authorised by a CI key)" if source == CI_KEY_SOURCE else ""
    output.info(
        f"added CI key {key.slot_id}{by}; it is shown only now — store it as CREDCTL_KEY",
        quiet=cli.quiet,
    )


@key_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts.")] = False,
) -> None:
    """List key slots (never key material).  Needs no unlock.

    Labels come from the file's header, which anyone who can write the file
    can change before it is next unlocked: they are shown with control
    characters escaped.
    """
    cli: CliContext = ctx.obj
    header = cli.vault().read_parsed().header
    rows = [
        {
            "id": slot.slot_id,
            "label": slot.label,
            "kind": KIND[slot.slot_type],
            "created_at": format_unix(slot.created),
        }
        for slot in header.slots
    ]
    if as_json:
        output.data_json(rows)
        return
    cells = [[str(r["id"]), str(r["kind"]), str(r["label"]), str(r["created_at"])] for r in rows]
    print_table(cli, ["id", "kind", "label", "created"], cells)


@key_app.command("remove")
def remove_command(
    ctx: typer.Context,
    slot_id: Annotated[int, typer.Argument(help="Slot id from `credctl key list`.")],
    rekey: Annotated[
        bool,
        typer.Option(
            "--rekey",
            help="Also replace the data key, so older copies of the file stop opening with the "
            "removed key (drops every CI key, session, backup and the keyring entry).",
        ),
    ] = False,
) -> None:
    """Remove a key slot; the removed key no longer opens the current file.

    Needs the passphrase itself.  Older copies of the vault file (backups,
    git history, sync folders) still open with the removed key, and the data
    key they give reads this vault and every later change.  --rekey retires
    them: a new data key, and every other CI key, session, kept backup and
    keyring entry ends with it.
    """
    cli: CliContext = ctx.obj
    vault = cli.vault()
    with audited(vault, "key_remove", cli.unlocker(passphrase_only=True)) as unlocker:
        rekeyed = vault.remove_key_slot(unlocker, slot_id, rekey=rekey)
    if rekeyed is None:
        output.info(f"removed key slot {slot_id}", quiet=cli.quiet)
        output.warn(
            "this does not revoke the key: "
            + OLDER_COPIES.format(what="it")
            + "; `credctl rekey` retires them (next time: `credctl key remove ID --rekey`)"
        )
        return
    output.info(f"removed key slot {slot_id} and {describe_rekey(rekeyed)}", quiet=cli.quiet)
