"""`config set | get | list | unset`: the config file of SPEC §13.

Flags and environment variables always win over what is stored here; `config
list` says which value is in force and where it comes from.
"""

from __future__ import annotations

from typing import Annotated

import typer

from credctl import config
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import InvalidInput, NotFound
from credctl.text import one_line

config_app = typer.Typer(
    help="The config file: defaults such as the backend; flags and environment win.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the `config` group to the root app."""
    app.add_typer(config_app, name="config")


_KEY_HELP = "One of: " + ", ".join(config.KEYS) + "."


@config_app.command("set")
def set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=_KEY_HELP)],
    value: Annotated[str, typer.Argument(help="The value (a backend URL, a path).")],
) -> None:
    """Store KEY = VALUE in the config file (created 0600).

    A backend URL with a password is refused: give PostgreSQL's password with
    PGPASSWORD or ~/.pgpass.
    """
    cli: CliContext = ctx.obj
    config.check_value(key, value)
    path = config.config_path()
    values = config.parse(path) if path.exists() else {}
    values[key] = value
    written = config.save(values, path)
    output.info(f"{key} set in {written}", quiet=cli.quiet)


@config_app.command("get")
def get_command(
    key: Annotated[str, typer.Argument(help=_KEY_HELP)],
) -> None:
    """Print KEY's value from the config file (exit 3 when it is not set)."""
    if key not in config.KEYS:
        raise InvalidInput(f"unknown config key {key!r}", hint=_KEY_HELP)
    values = config.parse(config.config_path()) if config.config_path().exists() else {}
    if key not in values:
        raise NotFound(f"{key} is not set in the config file")
    output.data(str(values[key]))


@config_app.command("unset")
def unset_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=_KEY_HELP)],
) -> None:
    """Remove KEY from the config file."""
    cli: CliContext = ctx.obj
    if key not in config.KEYS:
        raise InvalidInput(f"unknown config key {key!r}", hint=_KEY_HELP)
    path = config.config_path()
    values = config.parse(path) if path.exists() else {}
    if values.pop(key, None) is None:
        raise NotFound(f"{key} is not set in the config file")
    config.save(values, path)
    output.info(f"{key} removed from {path}", quiet=cli.quiet)


@config_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
) -> None:
    """Every key in the config file, and where the vault in force comes from."""
    cli: CliContext = ctx.obj
    path = config.config_path()
    values = config.parse(path) if path.exists() else {}
    in_force = {"location": cli.location, "backend": cli.backend_url is not None}
    if as_json:
        output.data_json({"path": str(path), "values": values, "in_force": in_force})
        return
    output.data(f"# {one_line(str(path), 200)}" + ("" if path.exists() else " (not created yet)"))
    for key in config.KEYS:
        if key in values:
            output.data(f"{key} = {one_line(str(values[key]), 300)}")
    output.info(f"in force: {cli.location}", quiet=cli.quiet)
