"""The console-script entry point: parse, dispatch, and turn errors into exit codes.

`credctl.cli.argv` reads every command line first.  The startup-bound commands
(get-token, env, exec, create) and ``--version`` run from here without
importing Typer; help, shell completion and the other commands go to the Typer
app (`credctl.cli.app`).

This is the one place where exceptions become exit codes (SPEC §3).  A user
never sees a traceback: unexpected errors print their type only, and the
traceback only with ``CREDCTL_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from credctl.errors import CredentialError, ExitCode

if TYPE_CHECKING:
    from credctl.cli.argv import Invocation
    from credctl.cli.context import CliContext
    from credctl.cli.spec import GlobalOptions

#: What runs a parsed command: ``runner(cli_context, request) -> exit code``.  Tests
#: pass their own to `run` to see the request without running anything (gh's runF).
Runner = Callable[["CliContext", Any], int]

#: Set by a shell asking for completions; Typer answers those (prog name "credctl").
COMPLETE_VAR = "_CREDCTL_COMPLETE"


def main(argv: list[str] | None = None) -> int:
    """Run credctl with `argv` (default: sys.argv[1:]) and exit with its code.

    As the console script (no `argv`), a command that ran on the fast path ends the
    process at once (`end_process`) instead of through the interpreter's teardown.
    """
    args = sys.argv[1:] if argv is None else argv
    code = run(args)
    if argv is None and _ran_only_the_fast_path():
        end_process(code)
    sys.exit(code)


def _ran_only_the_fast_path() -> bool:
    """Nothing ran that may need the interpreter's teardown: no Typer, no other thread.

    Only Typer's commands start threads, register `atexit` handlers or configure
    `logging` (whose handlers flush at exit); the fast path does none of these.
    """
    if "typer" in sys.modules or "logging" in sys.modules:
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def end_process(code: int) -> NoReturn:
    """Flush stdout and stderr, then `os._exit(code)`, skipping the interpreter's teardown.

    Tearing down the ~130 modules of a get-token (clearing every module, finalising
    cryptography's objects) takes about 9 ms, a sixth of the command, and does nothing
    a finished command needs: its files are closed and fsynced, its lock is released
    with the process.  A reader that went away before the final flush is not an
    error, as everywhere else (exit 0).
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away: not an error, as everywhere else
    except OSError:  # a full disk under `> FILE`: the output is incomplete
        code = code or ExitCode.INTERNAL
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(code)


def cli_context(options: GlobalOptions) -> CliContext:
    """The `CliContext` the global options describe."""
    from pathlib import Path

    from credctl.cli import progress
    from credctl.cli.context import CliContext

    color = not (options.no_color or "NO_COLOR" in os.environ)
    progress.install(quiet=options.quiet, color=color)
    return CliContext(
        Path(options.vault).expanduser() if options.vault else None,
        quiet=options.quiet,
        color=color,
        backend=options.backend,
    )


def run_fast(invocation: Invocation, runner: Runner | None = None) -> int:
    """Run a startup-bound command without Typer: its runner gets the typed request."""
    if runner is None:
        import importlib

        module_name, function_name = invocation.command.runner.split(":")
        runner = getattr(importlib.import_module(module_name), function_name)
        assert runner is not None
    return int(runner(cli_context(invocation.options), invocation.request) or 0)


def run_typer(args: list[str], options: GlobalOptions | None) -> int:
    """Let the Typer app format help, answer completion, or run a non-fast command."""
    import typer

    from credctl.cli import output
    from credctl.cli.app import app, click_exceptions

    obj = cli_context(options) if options is not None else None
    try:
        result = app(args=args, prog_name="credctl", standalone_mode=False, obj=obj)
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
    except SystemExit as exc:
        # Typer turns a write to a closed pipe into sys.exit(1), after wrapping stdout
        # in click's PacifyFlushWrapper (only that branch does).  A reader that went
        # away (`credctl list | head -1`) is not an error: exit 0, as on the fast path.
        from typer._click.utils import PacifyFlushWrapper

        if exc.code == 1 and isinstance(sys.stdout, PacifyFlushWrapper):
            _silence_stdout()
            return ExitCode.OK
        raise
    return int(result) if isinstance(result, int) else ExitCode.OK


def run(args: list[str], *, runner: Runner | None = None) -> int:
    """Dispatch one command line; never raises.  `runner` replaces a fast command's own."""
    from credctl._process import disable_core_dumps
    from credctl.cli import output

    disable_core_dumps()  # before anything secret is read (SPEC §14)

    try:
        if COMPLETE_VAR in os.environ:
            return run_typer(args, None)
        from credctl.cli import argv

        parsed = argv.parse(args)
        if isinstance(parsed, argv.Invocation):
            return run_fast(parsed, runner)
        if isinstance(parsed, argv.ShowVersion):
            from credctl._version import __version__

            output.data(f"credctl {__version__}")
            return ExitCode.OK
        return run_typer(parsed.args, parsed.options)
    except CredentialError as exc:
        output.error(exc)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        output.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`credctl list | head`): not an error worth a message.
        _silence_stdout()
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


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
