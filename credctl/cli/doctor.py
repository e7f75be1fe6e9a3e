"""`credctl doctor`: healthy / degraded / unhealthy, exit 0 / 1 / 2.

Those three codes mean only that: an unexpected failure while checking is
reported as an unhealthy finding (exit 2, report printed) instead of credctl's
usual internal error (exit 1), so a script never reads a crash as "degraded".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import CredentialError
from credctl.vault.health import HealthReport, Level, examine

if TYPE_CHECKING:
    from credctl.vault.format import ParsedFile
    from credctl.vault.slot_ops import UnlockTarget
    from credctl.vault.store import Unlocker

SYMBOL = {Level.OK: "ok", Level.DEGRADED: "warn", Level.UNHEALTHY: "FAIL"}
STATUS = {Level.OK: "healthy", Level.DEGRADED: "degraded", Level.UNHEALTHY: "unhealthy"}


def register(app: typer.Typer) -> None:
    """Add `doctor` to the root app."""
    app.command("doctor")(doctor_command)


def doctor_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON object for scripts.")] = False,
    ask: Annotated[
        bool,
        typer.Option(
            "--unlock",
            help="Ask for the passphrase on the terminal to check the contents too.",
        ),
    ] = False,
) -> int:
    """Check the vault's health: permissions, format, KDF, keys, backups, lock, keyring.

    The vault's folder and VAULT.d are checked first, without following
    anything: a folder others can write to, a link, special file or another
    user's file where credctl keeps its own is reported with the path and the
    fix (credctl refuses such a vault, exit 6).  When an unlock source is at
    hand (a session, a CI key, the keyring, CREDCTL_PASSPHRASE*) the contents
    are decrypted too, and every credential is checked against its type's rules
    and the data key's age against the rotation interval.  doctor asks for the
    passphrase only with --unlock.

    Exit 0 healthy, 1 degraded (with reasons), 2 unhealthy; an unexpected
    failure while checking is reported as unhealthy, never as exit 1.
    """
    import os

    from credctl.vault import EnvironmentUnlocker, terminal_prompt

    cli: CliContext = ctx.obj
    prompt = terminal_prompt() if ask and cli.stdin_is_tty else None
    unlocker = _RememberingUnlocker(EnvironmentUnlocker(env=os.environ, prompt=prompt))
    try:
        if cli.backend_url is not None:
            report = examine_backend(cli, unlocker)
        else:
            report = examine(cli.vault_file(), unlocker)
        if unlocker.found is not None:
            check_credentials(cli, unlocker, report)
    except Exception as exc:  # noqa: BLE001 - reported as a finding: exit 1 means degraded
        report = HealthReport()
        report.add("doctor", Level.UNHEALTHY,
                   f"internal error ({type(exc).__name__}) while checking; this is a bug in "
                   "credctl: rerun with CREDCTL_DEBUG=1 and report it")  # fmt: skip
    for check in report.checks:
        if check.name == "contents" and "locked" in check.detail:
            check.detail += (
                ' (start a session first: eval "$(credctl unlock)", or run '
                "`credctl doctor --unlock` to be asked for the passphrase)"
            )
    status = report.status
    if as_json:
        output.data_json(
            {
                "status": STATUS[status],
                "vault": cli.location,
                "checks": [
                    {"name": c.name, "status": STATUS[c.level], "detail": c.detail}
                    for c in report.checks
                ],
            }
        )
    else:
        for check in report.checks:
            output.data(f"[{SYMBOL[check.level]:>4}] {check.name}: {check.detail}")
        output.data(f"vault {cli.location}: {STATUS[status]}")
    return int(status)


def examine_backend(cli: CliContext, unlocker: Unlocker) -> HealthReport:
    """A backend's checks: reachable, schema and privileges, key slots, and unlocking."""
    from credctl.vault.format import SlotType

    report = HealthReport()
    engine = cli.engine()
    try:
        problems = engine.check()
    except CredentialError as exc:
        problems = [str(exc)]
    if problems:
        report.add("backend", Level.UNHEALTHY, "; ".join(problems))
        return report
    report.add("backend", Level.OK,
               f"{engine.describe()} is reachable; schema and privileges are as credctl "
               f"needs (compare-and-swap: {engine.capabilities.cas})")  # fmt: skip
    vault = cli.vault()
    try:
        header = vault.read_parsed().header
    except CredentialError as exc:
        report.add("key slots", Level.UNHEALTHY, str(exc))
        return report
    ci = sum(1 for slot in header.slots if slot.slot_type is SlotType.CI_KEY)
    report.add("key slots", Level.OK,
               f"{len(header.slots)} slot(s), {ci} of them CI keys; vault id "
               f"{header.vault_id.hex()[:12]}")  # fmt: skip
    try:
        vault.open(unlocker)
    except CredentialError as exc:
        if exc.exit_code == 4:  # as for a vault file: locked is a state, not a fault
            report.add("contents", Level.OK, "not checked: the vault is locked")
        else:
            report.add("unlock", Level.UNHEALTHY, str(exc))
    return report


class _RememberingUnlocker:
    """Unlocks once and hands the same key to later opens: one KDF run, one prompt."""

    def __init__(self, inner: Unlocker) -> None:
        self.inner = inner
        self.found: tuple[bytes, str] | None = None

    def unlock(self, vault: UnlockTarget, parsed: ParsedFile) -> tuple[bytes, str]:
        if self.found is None:
            self.found = self.inner.unlock(vault, parsed)
        return self.found


def check_credentials(cli: CliContext, unlocker: Unlocker, report: HealthReport) -> None:
    """Add the manager's health findings that the vault checks did not already report."""
    try:
        health = cli.manager(unlocker).health_check()
    except CredentialError as exc:
        report.add("credentials", Level.UNHEALTHY, str(exc))
        return
    # The manager repeats the vault-level findings as "name: detail"; keep only its own.
    already = {f"{check.name}: {check.detail}" for check in report.checks}
    issues = [issue for issue in health.issues if issue not in already]
    level = Level(health.exit_code)
    if not issues:
        report.add("credentials", Level.OK,
                   "every credential passes its type's checks; the data key is within "
                   "its rotation interval")  # fmt: skip
    for issue in issues:
        report.add("credentials", max(level, Level.DEGRADED), issue)
