"""`credctl metrics [NAME]`: usage numbers from the audit trail, never secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.tables import print_table, printable
from credctl.model import CredentialMetrics, to_rfc3339

if TYPE_CHECKING:
    import datetime as dt

    from credctl.manager import CredentialManager
    from credctl.model import Credential, Metrics


def register(app: typer.Typer) -> None:
    """Add `metrics` to the root app."""
    app.command("metrics")(metrics_command)


def metrics_command(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(metavar="NAME|ID", help="Only this credential.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
) -> None:
    """Show usage numbers: totals, cache hit rate, refreshes, and per credential.

    Per credential: how often it was used, when last, and how often it was
    refreshed.

    Usage counts come from the audit trail beside the vault (every get-token,
    env, exec or render adds an entry), so they cover every process.  The token cache
    lives inside one process; a command-line run starts with an empty one, so
    its hit rate is only meaningful for long-running programs (the library,
    serve).

    Examples:

      credctl metrics

      credctl metrics github --json
    """
    cli: CliContext = ctx.obj
    manager = cli.manager()
    if ref is not None:
        credential = manager.get_credential(ref)
        row = credential_row(credential, manager.get_credential_metrics(credential.id))
        if as_json:
            output.data_json(row)
        else:
            for key, value in row.items():
                output.data(f"{key.replace('_', ' ') + ':':<17}{printable(_text(value))}")
        return
    totals = manager.get_metrics()
    rows = all_rows(manager)
    summary = totals_json(totals)
    if as_json:
        output.data_json({**summary, "credentials": rows})
        return
    for key, value in summary.items():
        if key == "credentials_by_type":
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        output.data(f"{key.replace('_', ' ') + ':':<22}{_text(value)}")
    if rows:
        print_table(
            cli,
            ("id", "name", "type", "uses", "last used", "refreshes"),
            [
                (
                    str(r["id"]),
                    r["name"],
                    r["credential_type"],
                    str(r["usage_count"]),
                    _text(r["last_used"]),
                    str(r["refresh_count"]),
                )
                for r in rows
            ],
        )


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)


def _time(moment: dt.datetime | None) -> str | None:
    return to_rfc3339(moment) if moment is not None else None


def totals_json(metrics: Metrics) -> dict[str, Any]:
    """The system-wide numbers; the hit rate is null before any cache lookup."""
    lookups = metrics.cache_hits + metrics.cache_misses
    average = metrics.avg_refresh_time
    return {
        "total_credentials": metrics.total_credentials,
        "credentials_by_type": dict(metrics.credentials_by_type),
        "tokens_served": metrics.tokens_served,
        "cache_hits": metrics.cache_hits,
        "cache_misses": metrics.cache_misses,
        "cache_hit_rate": metrics.cache_hit_rate if lookups else None,
        "refresh_count": metrics.refresh_count,
        "avg_refresh_time_ms": average.total_seconds() * 1000 if average is not None else None,
    }


def credential_row(credential: Credential, metrics: CredentialMetrics) -> dict[str, Any]:
    """One credential's numbers."""
    return {
        "id": credential.id,
        "name": credential.name,
        "credential_type": credential.credential_type,
        "usage_count": metrics.usage_count,
        "last_used": _time(metrics.last_used),
        "refresh_count": metrics.refresh_count,
        "last_refreshed": _time(metrics.last_refreshed),
    }


def all_rows(manager: CredentialManager) -> list[dict[str, Any]]:
    """Every credential's numbers, from one pass over the activity log."""
    credentials = manager.list_credentials()
    report = manager.usage_report([c.id for c in credentials])
    return [credential_row(c, report[c.id]) for c in credentials]
