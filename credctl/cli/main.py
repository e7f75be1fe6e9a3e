"""The console-script entry point: run the app and turn errors into exit codes.

This is the one place where exceptions become exit codes (SPEC §3).  A user
never sees a traceback: unexpected errors print their type only, and the
traceback only with ``CREDCTL_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from credctl.errors import CredentialError, ExitCode

if TYPE_CHECKING:
    from credctl.cli.fastpath import FastInvocation


def main(argv: list[str] | None = None) -> int:
    """Run credctl with `argv` (default: sys.argv[1:]) and return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    code = run(args)
    sys.exit(code)


def run_fast(invocation: FastInvocation) -> int:
    """Run a startup-bound command without Typer (see credctl.cli.spec)."""
    from pathlib import Path

    from credctl.cli.context import CliContext

    vault = invocation.globals.get("vault")
    cli = CliContext(
        Path(vault).expanduser() if vault else None,
        quiet=bool(invocation.globals.get("quiet")),
        color=not (invocation.globals.get("no_color") or "NO_COLOR" in os.environ),
    )
    return int(invocation.runner()(cli, invocation.values) or 0)


def run(args: list[str]) -> int:
    """Dispatch one command line; never raises."""
    from credctl._process import disable_core_dumps
    from credctl.cli import output

    disable_core_dumps()  # before anything secret is read (SPEC §14)

    try:
        from credctl.cli.fastpath import parse

        invocation = parse(args)
        if invocation is not None:
            return run_fast(invocation)
        import typer

        from credctl.cli.app import app, click_exceptions

        try:
            result = app(args=args, prog_name="credctl", standalone_mode=False)
        except click_exceptions.NoArgsIsHelpError as exc:
            exc.show()
            return ExitCode.USAGE
        except click_exceptions.UsageError as exc:
            exc.show()
            return ExitCode.USAGE
        except typer.Abort:
            sys.stderr.write("\n")
            output.error("interrupted")
            return ExitCode.INTERRUPTED
        except typer.Exit as exc:
            return int(exc.exit_code)
        except click_exceptions.ClickException as exc:
            exc.show()
            return ExitCode.USAGE
        return int(result) if isinstance(result, int) else ExitCode.OK
    except CredentialError as exc:
        output.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        output.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`credctl list | head`): not an error worth a message.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback
        if os.environ.get("CREDCTL_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        output.error(
            f"internal error ({type(exc).__name__})",
            hint="this is a bug in credctl; rerun with CREDCTL_DEBUG=1 for a traceback "
            "(it may show file paths, never stored secrets) and report it",
        )
        return ExitCode.INTERNAL
