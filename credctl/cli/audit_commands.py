"""`audit list | export | verify | checkpoint | prune`: the sealed audit trail.

Reading the trail needs the vault unlocked (its entries are sealed with keys
kept in the vault), and every one of these commands adds its own entry
(``audit_list``, ``audit_export``, …): reading the trail is audited too.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import AuditTamperedError, ExitCode, InvalidInput, NotFound, UsageError

if TYPE_CHECKING:
    from credctl.audit.model import AuditEntry, AuditFilter
    from credctl.manager import CredentialManager

audit_app = typer.Typer(
    help="The audit trail: who read or changed which credential, when, from where.",
    no_args_is_help=True,
)

CredentialOption = Annotated[
    str | None,
    typer.Option("--credential", metavar="NAME|ID", help="Only this credential.",
                 show_default=False),
]  # fmt: skip
ActionOption = Annotated[
    str | None,
    typer.Option("--action", metavar="ACTION", help="Only this action (get_token, create, …).",
                 show_default=False),
]  # fmt: skip
UserOption = Annotated[
    str | None, typer.Option("--user", metavar="USER", help="Only this user.", show_default=False)
]
WorkflowOption = Annotated[
    str | None,
    typer.Option("--workflow", metavar="ID", help="Only this workflow id.", show_default=False),
]
OutcomeOption = Annotated[
    str | None,
    typer.Option("--outcome", metavar="ok|error", help="Only successes or only failures.",
                 show_default=False),
]  # fmt: skip
SinceOption = Annotated[
    str | None,
    typer.Option("--since", metavar="T", help="From T: RFC 3339, or an age (7d, 12h).",
                 show_default=False),
]  # fmt: skip
UntilOption = Annotated[
    str | None,
    typer.Option("--until", metavar="T", help="Up to T: RFC 3339, or an age (7d, 12h).",
                 show_default=False),
]  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the `audit` group to the root app."""
    app.add_typer(audit_app, name="audit")


def build_filter(
    manager: CredentialManager,
    credential: str | None,
    action: str | None,
    user: str | None,
    workflow: str | None,
    outcome: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    """The `AuditFilter` the options describe (a credential name is also matched by its id)."""
    from credctl.audit.model import AuditAction, AuditFilter, parse_moment
    from credctl.types.names import shown

    if action is not None:
        try:
            action = AuditAction(action)
        except ValueError:
            known = ", ".join(a.value for a in AuditAction)
            raise InvalidInput(f"unknown action {shown(action)}", hint=f"one of: {known}") \
                from None  # fmt: skip
    if outcome not in (None, "ok", "error"):
        raise InvalidInput("--outcome is ok or error")
    credential_id = name = None
    if credential is not None:
        if credential.isdecimal() and credential.isascii():
            credential_id = int(credential)
        else:
            name = credential
            # Deleted or never created: its entries are still found by name.
            with contextlib.suppress(NotFound):
                credential_id = manager.get_credential(credential).id
    return AuditFilter(
        credential_id=credential_id,
        credential_name=name,
        action_type=action,
        user_id=user,
        workflow_id=workflow,
        outcome=outcome,
        since=parse_moment(since, option="--since") if since else None,
        until=parse_moment(until, option="--until") if until else None,
    )


@audit_app.command("list")
def list_command(
    ctx: typer.Context,
    credential: CredentialOption = None,
    action: ActionOption = None,
    user: UserOption = None,
    workflow: WorkflowOption = None,
    outcome: OutcomeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", metavar="N", help="Only the newest N matching entries.", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts.")] = False,
) -> None:
    """List entries, oldest first: a table, or a JSON array with --json.

    Examples:

      credctl audit list --credential github --since 7d

      credctl audit list --action get_token --outcome error --json
    """
    cli: CliContext = ctx.obj
    manager = cli.manager()
    chosen = build_filter(manager, credential, action, user, workflow, outcome, since, until)
    if limit is not None and limit < 0:
        raise InvalidInput("--limit must not be negative")
    entries = manager.get_audit_logs(chosen)
    if limit is not None:
        entries = entries[len(entries) - limit :] if limit else []
    if as_json:
        output.data_json([entry.to_json() for entry in entries])
        return
    from credctl.cli.tables import print_table

    print_table(
        cli,
        ("seq", "time (UTC)", "action", "credential", "user", "origin", "outcome"),
        [_row(entry) for entry in entries],
    )


def _row(entry: AuditEntry) -> list[str]:
    credential = " ".join(
        str(part) for part in (entry.credential_id, entry.credential_name) if part is not None
    )
    outcome = entry.outcome if entry.error is None else f"{entry.outcome}: {entry.error}"
    return [
        str(entry.seq),
        entry.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
        entry.action,
        credential or "-",
        entry.user or "-",
        entry.origin or "-",
        outcome,
    ]


@audit_app.command("export")
def export_command(
    ctx: typer.Context,
    export_format: Annotated[
        str, typer.Option("--format", metavar="json|csv|pdf", help="Report format.")
    ],
    output_path: Annotated[
        str,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write it (- for stdout).",
            show_default=False,
        ),
    ],
    credential: CredentialOption = None,
    action: ActionOption = None,
    user: UserOption = None,
    workflow: WorkflowOption = None,
    outcome: OutcomeOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
) -> None:
    """Write a report for compliance: JSON, CSV or PDF (the same filters as list).

    Every report states when it was made, the filter, the counts, the trail's
    head and whether the trail verified.  FILE is written atomically with mode
    0600.  PDF needs reportlab: pip install 'credctl[pdf]'.

    Examples:

      credctl audit export --format csv -o audit.csv --since 30d

      credctl audit export --format pdf -o audit.pdf
    """
    cli: CliContext = ctx.obj
    if export_format not in ("json", "csv", "pdf"):
        raise UsageError(f"unknown --format {export_format!r}", hint="use json, csv or pdf")
    target = None if output_path == "-" else Path(output_path).expanduser()
    if target is not None:
        from credctl.render.private_file import check_output_path

        check_output_path(target.absolute())  # before the work: a bad path fails first
    manager = cli.manager()
    chosen = build_filter(manager, credential, action, user, workflow, outcome, since, until)
    report = manager.export_audit_report(export_format, chosen)
    if target is None:
        sys.stdout.buffer.write(report)
        sys.stdout.flush()
        return
    from credctl.render.private_file import write_private_file

    write_private_file(target, report)
    output.info(f"wrote {export_format} audit report to {target}", quiet=cli.quiet)


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            help="Also prove the trail still extends this checkpoint.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
) -> int:
    """Check every entry's seal and its place in the chain.

    Detects an edited, removed, inserted or reordered entry, a trail cut below
    the head the vault's last write recorded, another vault's trail, and (with
    --checkpoint) a trail that no longer extends a checkpoint kept elsewhere.
    Exit 0 when it verifies (it prints the entry count and head), 6 naming the
    first bad seq otherwise.  A last entry cut off by a writer that died (a torn
    tail) is reported, is not tampering, and is repaired by this command's own
    entry.
    """
    cli: CliContext = ctx.obj
    text = None
    if checkpoint is not None:
        from credctl.cli.secret_input import read_text_file

        text = read_text_file(str(checkpoint), "checkpoint", 4096)
    result = cli.manager().verify_audit_trail(text)
    if as_json:
        output.data_json(result.to_json())
    if result.torn_bytes:
        output.warn(
            f"the last entry was torn ({result.torn_bytes} bytes cut off by a writer that "
            "died, not tampering); this command's own entry repaired it"
        )
    if result.verified is False:
        if not as_json:
            output.error(AuditTamperedError(result.describe()))
        return int(ExitCode.CORRUPT)
    if not as_json:
        output.data(result.describe())
    return 0


@audit_app.command("checkpoint")
def checkpoint_command(ctx: typer.Context) -> None:
    """Print a MACed checkpoint of the trail's head, to keep somewhere else.

    Keep it in a CI artifact or a git repository; `credctl audit verify
    --checkpoint FILE` later proves the trail still holds everything up to it.

    Example:

      credctl audit checkpoint > audit-$(date +%F).checkpoint
    """
    cli: CliContext = ctx.obj
    sys.stdout.write(cli.manager().audit_checkpoint())
    sys.stdout.flush()


@audit_app.command("prune")
def prune_command(
    ctx: typer.Context,
    before: Annotated[
        str,
        typer.Option(
            "--before",
            metavar="T",
            help="Remove entries older than T (RFC 3339 or an age such as 365d).",
            show_default=False,
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> int:
    """Remove old entries; what remains still verifies.

    The trail must verify first.  The last removed entry's seq and mac become
    the trail's new starting point, kept in the vault, and an audit_prune entry
    records what was removed.  On a terminal credctl asks first unless --yes.
    """
    from credctl.audit.model import parse_moment

    cli: CliContext = ctx.obj
    moment = parse_moment(before, option="--before")
    manager = cli.manager()
    if cli.stdin_is_tty and not yes:
        manager.unlock()
        from credctl.model import to_rfc3339

        if not typer.confirm(f"Remove audit entries older than {to_rfc3339(moment)}?", err=True):
            output.info("nothing was removed", quiet=cli.quiet)
            return int(ExitCode.INTERRUPTED)
    removed = manager.prune_audit_trail(moment)
    output.info(f"removed {removed} audit entr{'y' if removed == 1 else 'ies'}", quiet=cli.quiet)
    return 0
