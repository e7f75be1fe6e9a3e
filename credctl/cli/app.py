"""The root Typer app: global options, and one sub-module per command group."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

# typer 0.29 vendors click, and its usage-error classes are only reachable here
# (pyproject pins typer to 0.29.x for that reason).
from typer._click import exceptions as click_exceptions

from credctl._version import __version__
from credctl.cli.context import CliContext

__all__ = ["app", "click_exceptions"]

app = typer.Typer(
    name="credctl",
    help="A local-first credential manager: an encrypted vault for API keys, tokens and "
    "OAuth logins, for people at a shell and for CI jobs.\n\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 not found, 4 vault locked, "
    "5 wrong passphrase, 6 vault damaged or tampered with, 7 token expired, "
    "8 conflict or vault busy, 9 invalid input, 10 network or provider error.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"credctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    vault: Annotated[
        Path | None,
        typer.Option(
            "--vault",
            envvar="CREDCTL_VAULT",
            help="Vault file to use (default: vault.credctl in the user data folder).",
            show_default=False,
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    no_color: Annotated[
        bool, typer.Option("--no-color", help="No colours (also NO_COLOR).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Global options come before the subcommand."""
    del version
    context = CliContext(quiet=quiet, color=not (no_color or "NO_COLOR" in os.environ))
    if vault is not None:
        context.vault_path = vault.expanduser()
    ctx.obj = context


def _register() -> None:
    from credctl.cli import credential_commands, doctor, key_commands, vault_commands

    vault_commands.register(app)
    credential_commands.register(app)
    key_commands.register(app)
    doctor.register(app)


_register()
