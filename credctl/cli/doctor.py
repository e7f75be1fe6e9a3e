"""`credctl doctor`: healthy / degraded / unhealthy, exit 0 / 1 / 2."""

from __future__ import annotations

from typing import Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.vault.health import Level, examine

SYMBOL = {Level.OK: "ok", Level.DEGRADED: "warn", Level.UNHEALTHY: "FAIL"}
STATUS = {Level.OK: "healthy", Level.DEGRADED: "degraded", Level.UNHEALTHY: "unhealthy"}


def register(app: typer.Typer) -> None:
    """Add `doctor` to the root app."""
    app.command("doctor")(doctor_command)


def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
) -> int:
    """Check the vault's health: permissions, format, KDF, keys, backups, lock, keyring.

    The contents are decrypted too when an unlock source is at hand.  Exit 0
    healthy, 1 degraded (with reasons), 2 unhealthy.
    """
    cli: CliContext = ctx.obj
    report = examine(cli.vault(), cli.unlocker())
    status = report.status
    if as_json:
        output.data_json(
            {
                "status": STATUS[status],
                "vault": str(cli.vault_path),
                "checks": [
                    {"name": c.name, "status": STATUS[c.level], "detail": c.detail}
                    for c in report.checks
                ],
            }
        )
    else:
        for check in report.checks:
            output.data(f"[{SYMBOL[check.level]:>4}] {check.name}: {check.detail}")
        output.data(f"vault {cli.vault_path}: {STATUS[status]}")
    return int(status)
