"""`policy set|show|clear` and `schedule`: when and how a credential is rotated.

Registered from `credctl.cli.rotation_commands.register` (and listed in
`credctl.cli.app.COMMANDS`).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.options import JsonOption, RefArgument
from credctl.cli.rotation_options import (
    AlphabetOption,
    CommandOption,
    GenerateFieldOption,
    GenerateOption,
    GraceOption,
    LengthOption,
    StrategyOption,
    TestCommandOption,
    duration,
    generate_spec,
)
from credctl.errors import UsageError
from credctl.types.names import shown

policy_app = typer.Typer(
    name="policy",
    help="Rotation policies: how often a credential is rotated, and how.",
    no_args_is_help=True,
)


@policy_app.command("set")
def policy_set_command(
    ctx: typer.Context,
    ref: RefArgument,
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            metavar="DURATION",
            show_default=False,
            help="Rotate this long after the last rotation (90d, 12h).",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option(
            "--schedule",
            metavar="CRON",
            show_default=False,
            help="Rotate at the times of a 5-field cron expression, in UTC ('0 3 * * MON').",
        ),
    ] = None,
    warning: Annotated[
        str | None,
        typer.Option(
            "--warning",
            metavar="DURATION",
            show_default=False,
            help="Report 'warning' this long before it is due (default 7d).",
        ),
    ] = None,
    strategy: StrategyOption = None,
    grace: GraceOption = None,
    generate: GenerateOption = False,
    length: LengthOption = None,
    alphabet: AlphabetOption = None,
    generate_field: GenerateFieldOption = None,
    command: CommandOption = None,
    test_command: TestCommandOption = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            show_default=False,
            help="How long a hook may run (default 5m).",
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            "--window",
            metavar="DURATION",
            show_default=False,
            help="A rotation pending longer than this is stuck (default 1h).",
        ),
    ] = None,
    max_versions: Annotated[
        int | None,
        typer.Option(
            "--max-versions",
            metavar="N",
            show_default=False,
            help="Versions kept, the current one included (default 10).",
        ),
    ] = None,
) -> None:
    """Set (replace) a credential's rotation policy: --interval or --schedule, not both.

    Examples:

      credctl policy set github --interval 90d --warning 7d --generate

      credctl policy set db --schedule '0 3 * * MON' --strategy blue-green --grace 24h \\
          --command './rotate-db-user.sh' --test-command './check-db.sh'
    """
    from credctl.rotation import policy as policies

    cli: CliContext = ctx.obj
    values: dict[str, Any] = {
        "interval": duration(interval, "--interval"),
        "schedule": schedule,
        "warning_period": duration(warning, "--warning"),
        "strategy": policies.RotationStrategy.parse(strategy) if strategy else None,
        "grace": duration(grace, "--grace"),
        "generate": generate_spec(generate, length, alphabet, generate_field),
        "command": command,
        "test_command": test_command,
        "timeout": duration(timeout, "--timeout"),
        "window": duration(window, "--window"),
        "max_versions": max_versions,
    }
    policy = policies.RotationPolicy(**{k: v for k, v in values.items() if v is not None})
    manager = cli.manager()
    manager.set_rotation_policy(ref, policy.checked())
    output.info(f"policy of {shown(ref)}: {policy.describe()}", quiet=cli.quiet)


@policy_app.command("show")
def policy_show_command(ctx: typer.Context, ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show a credential's rotation policy and when it is next due."""
    cli: CliContext = ctx.obj
    status = cli.manager().rotation_status(ref)
    if as_json:
        output.data_json(status.to_json())
        return
    from credctl.cli.tables import printable

    policy = status.policy.describe() if status.policy is not None else "none"
    output.data(f"{'name:':<14}{printable(status.name)} (id {status.credential_id})")
    output.data(f"{'policy:':<14}{printable(policy)}")
    output.data(f"{'status:':<14}{status.status}: {printable(status.detail)}")


@policy_app.command("clear")
def policy_clear_command(ctx: typer.Context, ref: RefArgument) -> None:
    """Remove a credential's rotation policy (its history is kept)."""
    cli: CliContext = ctx.obj
    removed = cli.manager().clear_rotation_policy(ref)
    output.info(
        f"policy of {shown(ref)} removed" if removed else f"{shown(ref)} had no policy",
        quiet=cli.quiet,
    )


def schedule_command(
    ctx: typer.Context,
    ref: RefArgument,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            metavar="TIME",
            show_default=False,
            help="RFC 3339 time, or an offset such as +30d.",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the schedule.")] = False,
) -> None:
    """Schedule a one-off rotation (rotate --due rotates it once the time has come).

    Examples:

      credctl schedule github --at 2026-01-31T03:00:00Z

      credctl schedule github --at +30d
    """
    from credctl.rotation.clock import now, parse_moment

    cli: CliContext = ctx.obj
    if (at is None) == (not clear):
        raise UsageError("give --at TIME or --clear")
    moment = parse_moment(at, now(), option="--at") if at is not None else None
    cli.manager().schedule_rotation(ref, moment)
    if moment is None:
        output.info(f"schedule of {shown(ref)} removed", quiet=cli.quiet)
    else:
        from credctl._time import format_rfc3339

        output.info(f"{shown(ref)} will be rotated at {format_rfc3339(moment)}", quiet=cli.quiet)
