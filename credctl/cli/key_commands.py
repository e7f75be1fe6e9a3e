"""`key add-ci | list | remove`: the vault's key slots."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from credctl.audit.events import record_vault_event
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import InvalidInput, NotFound
from credctl.vault.format import MAX_LABEL_BYTES, SlotType

key_app = typer.Typer(help="Key slots: the passphrase and CI keys that open the vault.",
                      no_args_is_help=True)  # fmt: skip
KIND = {SlotType.PASSPHRASE: "passphrase", SlotType.CI_KEY: "ci"}


def register(app: typer.Typer) -> None:
    """Add the `key` group to the root app."""
    app.add_typer(key_app, name="key")


def rfc3339(seconds: int) -> str:
    """Unix seconds as an RFC 3339 UTC timestamp."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@key_app.command("add-ci")
def add_ci_command(
    ctx: typer.Context,
    label: Annotated[
        str, typer.Option("--label", help="What the key is for (shown by list).")
    ] = "",
) -> None:
    """Create a CI key and print it once, alone on stdout.

    Store it as CREDCTL_KEY in your CI's secret store: it opens the vault
    without the passphrase and without the Argon2id cost.  `key remove ID`
    revokes it.
    """
    cli: CliContext = ctx.obj
    if len(label.encode()) > MAX_LABEL_BYTES:
        raise InvalidInput(f"the label is longer than {MAX_LABEL_BYTES} bytes")
    with cli.vault().edit(cli.unlocker()) as txn:
        key = txn.add_ci_key(label)
    record_vault_event(cli.vault(), "key_add", data_key=txn.data_key, detail=f"slot {key.slot_id}")
    output.data(key.encode())
    output.info(
        f"added CI key {key.slot_id}; it is shown only now — store it as CREDCTL_KEY",
        quiet=cli.quiet,
    )


@key_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts.")] = False,
) -> None:
    """List key slots (never key material).  Needs no unlock."""
    cli: CliContext = ctx.obj
    header = cli.vault().read_parsed().header
    rows = [
        {
            "id": slot.slot_id,
            "label": slot.label,
            "kind": KIND[slot.slot_type],
            "created_at": rfc3339(slot.created),
        }
        for slot in header.slots
    ]
    if as_json:
        output.data_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "kind", "label", "created")
    for row in rows:
        table.add_row(str(row["id"]), str(row["kind"]), str(row["label"]), str(row["created_at"]))
    Console(no_color=not cli.color).print(table)


@key_app.command("remove")
def remove_command(
    ctx: typer.Context,
    slot_id: Annotated[int, typer.Argument(help="Slot id from `credctl key list`.")],
) -> None:
    """Remove a key slot; a removed CI key no longer opens the vault."""
    cli: CliContext = ctx.obj
    vault = cli.vault()
    with vault.edit(cli.unlocker()) as txn:
        slot = next((s for s in txn.slots if s.slot_id == slot_id), None)
        if slot is None:
            raise NotFound(f"no key slot {slot_id}", hint="see `credctl key list`")
        remaining = [s for s in txn.slots if s.slot_id != slot_id]
        if not any(s.slot_type is SlotType.PASSPHRASE for s in remaining):
            raise InvalidInput(
                "refusing to remove the last passphrase slot",
                hint="change the passphrase with `credctl passwd` instead",
            )
        txn.slots = remaining
    record_vault_event(vault, "key_remove", data_key=txn.data_key, detail=f"slot {slot_id}")
    output.info(f"removed key slot {slot_id}", quiet=cli.quiet)
