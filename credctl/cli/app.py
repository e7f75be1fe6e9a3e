"""The root Typer app: global options, and one sub-module per command group."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Annotated, Any

import typer

# typer 0.29 vendors click, and its usage-error classes are only reachable here
# (pyproject pins typer to 0.29.x for that reason).
from typer._click import exceptions as click_exceptions

from credctl._version import __version__
from credctl.cli import spec_commands
from credctl.cli.context import CliContext
from credctl.cli.spec import FAST_COMMANDS, GLOBAL_OPTIONS

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


def _root(ctx: typer.Context, **values: Any) -> None:
    """Global options come before the subcommand."""
    vault = values.get("vault")
    ctx.obj = CliContext(
        Path(vault).expanduser() if vault is not None else None,
        quiet=bool(values.get("quiet")),
        color=not (values.get("no_color") or "NO_COLOR" in os.environ),
    )


def _root_signature() -> None:
    # The global options come from the same spec the fast path parses (credctl.cli.spec).
    params, annotations = spec_commands.parameters((), GLOBAL_OPTIONS)
    version = Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ]
    params.append(
        inspect.Parameter(
            "version", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=version
        )
    )
    annotations["version"] = version
    _root.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    _root.__annotations__ = annotations


_root_signature()
app.callback()(_root)


def _register() -> None:
    from credctl.cli import (
        credential_commands,
        doctor,
        key_commands,
        oauth_commands,
        render_command,
        rotation_commands,
        spec_commands,
        vault_commands,
    )

    vault_commands.register(app)
    credential_commands.register(app)
    spec_commands.register(app, list(FAST_COMMANDS.values()))
    key_commands.register(app)
    oauth_commands.register(app)
    doctor.register(app)
    render_command.register(app)
    rotation_commands.register(app)


_register()
