"""`rotate`, `policy`, `schedule`, `history`, `rollback`: rotation from the command line.

Each command parses its options, calls the `CredentialManager`, and prints data
on stdout (the new id, JSON, a report) and messages on stderr.  New secrets
come in the same safe forms as `create` (`credctl.cli.secret_input`: never a
literal on the command line).  Registered by `register` (see `credctl.cli.app`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

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
from credctl.errors import ExitCode, UsageError
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager


def register(app: typer.Typer) -> None:
    """Add rotate, policy (group), schedule, history and rollback to the root app."""
    from credctl.cli.policy_commands import policy_app, schedule_command

    app.command("rotate")(rotate_command)
    app.add_typer(policy_app, name="policy")
    app.command("schedule")(schedule_command)
    app.command("history")(history_command)
    app.command("rollback")(rollback_command)


def rotate_command(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="NAME|ID", help="Credential to rotate.", show_default=False),
    ] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Rotate everything whose policy says it is due.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --due: report, change nothing.")
    ] = False,
    as_json: JsonOption = False,
    report_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            show_default=False,
            help="With --due: text (default), json or junit.",
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Finish or roll back an interrupted or stuck rotation."),
    ] = False,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            metavar="KEY=VALUE",
            show_default=False,
            help="A new field value: KEY=@FILE, KEY=@- (stdin) or KEY=env:VAR.",
        ),
    ] = None,
    data_file: Annotated[
        str | None,
        typer.Option(
            "--data-file",
            metavar="FILE|-",
            show_default=False,
            help="New fields as one JSON object, from FILE or stdin (-).",
        ),
    ] = None,
    generate: GenerateOption = False,
    length: LengthOption = None,
    alphabet: AlphabetOption = None,
    generate_field: GenerateFieldOption = None,
    command: CommandOption = None,
    test_command: TestCommandOption = None,
    strategy: StrategyOption = None,
    grace: GraceOption = None,
) -> int:
    """Rotate a credential now, or every credential that is due (--due).

    The new secret comes from --field/--data-file (merged over the current
    data; secrets only as @FILE, @- or env:VAR), --generate, --command CMD, else
    from the credential's policy, else (oauth2) a refresh grant.  It is stored
    under a NEW id, printed on stdout; the name, tags, policy, history and
    templates follow it.  immediate retires the old id at once; blue-green keeps
    the old id and NAME@previous readable for --grace.  A retired id answers
    exit 3 naming the new id.

    Hooks are shell commands (sh -c CMD), run without the vault's unlock
    variables and never while the vault is locked for writing; their stderr is
    shown with secret values masked.  Each step is committed, so a rotation
    killed at any point is finished (new secret stored) or rolled back (not
    stored) by the next rotate of that credential, by rotate --due, or by
    rotate --resume NAME.  A rotation still running elsewhere: exit 8; one older
    than its window is "stuck" and only --resume takes it over.

    rotate --due rotates what is overdue and has a way to get a new secret, and
    lists every credential as ok, warning, overdue, stuck or no-policy; it exits
    11 when something is still overdue or stuck (--format junit: failing tests).

    Examples:

      credctl rotate github --field token=@new-token.txt

      credctl rotate db --generate --strategy blue-green --grace 2h

      credctl rotate api --command './mint-key.sh' --test-command './check.sh'

      credctl rotate --due --format junit > rotation.xml
    """
    cli: CliContext = ctx.obj
    gives_secret = bool(field or data_file or generate or command)
    if due:
        if ref is not None or resume or gives_secret or test_command or strategy or grace:
            raise UsageError("--due takes no NAME and no new secret: policies say how")
        return _rotate_due(cli, dry_run, "json" if as_json else (report_format or "text"))
    if dry_run or report_format or as_json:
        raise UsageError("--dry-run, --json and --format go with --due")
    if ref is None:
        raise UsageError("rotate needs NAME|ID (or --due)")
    manager = cli.manager()
    if resume:
        if gives_secret or test_command or strategy or grace:
            raise UsageError("--resume finishes the pending rotation as it was started")
        outcome = manager.resume_rotation(ref)
        output.data(str(outcome.credential_id))
        output.info(f"{shown(ref)}: {outcome.note}", quiet=cli.quiet)
        return 0
    data = _new_data(cli, manager, ref, field or [], data_file)
    outcome = manager.rotate(
        ref, data, generate=generate_spec(generate, length, alphabet, generate_field),
        command=command, test_command=test_command, strategy=strategy,
        grace=duration(grace, "--grace"),
    )  # fmt: skip
    output.data(str(outcome.credential_id))
    if outcome.note:
        output.info(f"{shown(ref)}: {outcome.note}", quiet=cli.quiet)
    if outcome.rotated:
        from credctl._time import format_rfc3339

        name = outcome.name
        kept = (
            f"; id {outcome.old_id} and {name}@previous stay readable until "
            f"{format_rfc3339(outcome.grace_until)}"
            if outcome.grace_until
            else f"; id {outcome.old_id} is retired"
        )
        output.info(f"rotated {shown(ref)}: new id {outcome.credential_id}{kept}",
                    quiet=cli.quiet)  # fmt: skip
    return 0


def _new_data(
    cli: CliContext, manager: CredentialManager, ref: str, fields: list[str], data_file: str | None
) -> dict[str, Any] | None:
    if not fields and data_file is None:
        return None
    from credctl.cli.secret_input import InputContext, collect_data
    from credctl.types import get_type

    credential = manager.get_credential(ref)  # unlock and find it before reading any secret
    return collect_data(
        get_type(credential.credential_type), fields, data_file,
        credential_name=credential.name, io=InputContext.from_process(cli.stdin_is_tty),
        prompt_missing=False,
    )  # fmt: skip


def _rotate_due(cli: CliContext, dry_run: bool, report_format: str) -> int:
    from credctl.cli import rotation_report

    if report_format not in ("text", "json", "junit"):
        raise UsageError(f"--format {shown(report_format)}: use text, json or junit")
    results = cli.manager().rotate_due(dry_run=dry_run)
    if report_format == "json":
        output.data_json([result.to_json() for result in results])
    elif report_format == "junit":
        from credctl._time import format_rfc3339
        from credctl.rotation.clock import now

        output.data(rotation_report.junit(results, generated_at=format_rfc3339(now())))
    else:
        for line in rotation_report.text_lines(results):
            output.data(line)
    failing = [r.after.name for r in results if r.after.failing]
    if failing:
        output.error(
            f"{len(failing)} credential(s) overdue or stuck: {', '.join(failing[:10])}"
            + (" …" if len(failing) > 10 else ""),
            hint="give them a way to rotate (`credctl policy set NAME --generate` or "
            "--command CMD), rotate them by hand, or `credctl rotate --resume NAME`",
        )
        return int(ExitCode.ROTATION_OVERDUE)
    return 0


def history_command(ctx: typer.Context, ref: RefArgument, as_json: JsonOption = False) -> None:
    """List a credential's kept versions (never their values), oldest first.

    Each has version, id (the id it had), created_at, user, reason (create,
    update, rotate, rollback) and state: current, previous (readable by its old
    id and NAME@previous until its grace ends) or retired (read it with
    `credctl get-token NAME --version N`).
    """
    cli: CliContext = ctx.obj
    found = cli.manager().get_versions(ref)
    if as_json:
        output.data_json([version.to_json() for version in found])
        return
    from credctl._time import format_rfc3339
    from credctl.cli.tables import print_table

    print_table(
        cli,
        ("version", "id", "created", "user", "reason", "state"),
        [
            (str(v.version), str(v.credential_id), format_rfc3339(v.created_at), v.user or "-",
             v.reason, v.state + (f" until {format_rfc3339(v.grace_until)}"
                                  if v.state == "previous" and v.grace_until else ""))
            for v in found
        ],
    )  # fmt: skip


def rollback_command(
    ctx: typer.Context,
    ref: RefArgument,
    to: Annotated[
        int, typer.Option("--to", metavar="N", help="The version whose data becomes current.")
    ],
) -> None:
    """Make an older version current again, as a new version (history only grows).

    Prints the new version number.  The id stays the same.
    """
    cli: CliContext = ctx.obj
    version = cli.manager().rollback(ref, to)
    output.data(str(version))
    output.info(f"{shown(ref)}: version {version} holds the data of version {to}",
                quiet=cli.quiet)  # fmt: skip
