"""`credctl exec`: run a command with credentials in its environment.  Fast path (no Typer).

Order of events, so that nothing starts on a mistake: the command is looked up
in credctl's PATH (127 if missing, 126 if it cannot be run), then every
credential reference is resolved from one vault snapshot (`env_mapping`: 3 for
an unknown credential or field, 9 for a bad or repeated variable), and only
then does the command start.  Secret values travel in its environment only,
never in its argv.

Without ``--mask`` credctl replaces itself with the command (``execve``): exit
status, death by signal, signals, stdin and the terminal are the command's own
because there is no credctl process any more.  With ``--mask`` credctl has to
read the output, so it stays as the parent (`credctl.exec.relay`) and passes
on the command's exit status, or dies of the same signal (`exit_like`).

``--pristine`` gives the command only the credential variables plus
``PATH`` (`MINIMAL_PATH`), ``HOME`` and, if set, ``TERM``.  Otherwise the command
inherits credctl's environment with the credential variables added (they win
over a variable of the same name).

Either way the command never receives what unlocks the vault (SPEC §14,
`credctl.child_env`): ``CREDCTL_PASSPHRASE*``, ``CREDCTL_*_PASSPHRASE*``,
``CREDCTL_KEY`` and ``CREDCTL_SESSION`` are removed from what it inherits, so it
cannot read credentials it was not given.  ``--keep-unlock-env`` keeps them (with
a warning), for a command that runs credctl itself.  A variable the user maps a
credential to explicitly (``--env CREDCTL_KEY=other.key``) is a credential, not
inherited material, and is set.  ``--mask`` also hides the values of the unlock
variables credctl was started with, in case the command finds them elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Final

from credctl.child_env import scrub, unlock_names, unlock_values
from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.spec import ExecRequest
from credctl.env_export import Resolution, resolve, secret_bytes
from credctl.errors import UsageError
from credctl.exec.launch import CommandError, exit_like, find_program, replace_process

#: PATH under --pristine: the usual system folders (Debian's default user PATH, less
#: games).  The command itself is looked up in credctl's own PATH.
MINIMAL_PATH: Final = "/usr/local/bin:/usr/bin:/bin"


def run_exec(cli: CliContext, request: ExecRequest) -> int:
    """Run ``request.command`` with the requested credentials in its environment."""
    command: list[str] = list(request.command)
    if not command:
        raise UsageError(
            "exec needs the command to run after `--`",
            hint="for example: credctl exec github -- gh repo list",
        )
    names: list[str] = list(request.names)
    mappings: list[str] = list(request.env)
    keep_unlock = request.keep_unlock_env
    try:
        program = find_program(command[0], os.environ.get("PATH"))
        resolution = resolve(cli.manager(), names, mappings) if names or mappings else None
        env = child_environment(resolution, pristine=request.pristine, keep_unlock_env=keep_unlock)
        _report(cli, resolution, keep_unlock=keep_unlock, verbose=request.verbose)
        if not request.mask:
            replace_process(program, command, env)
        secrets = secret_bytes(resolution.secrets) if resolution is not None else []
        secrets += _unlock_secrets()
        if not cli.quiet:
            _warn_short_secrets(resolution)
        return exit_like(_run_masked(program, command, env, secrets))
    except CommandError as exc:
        output.error(exc.message, hint=exc.hint)
        return exc.status


def child_environment(
    resolution: Resolution | None,
    *,
    pristine: bool,
    keep_unlock_env: bool = False,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The command's environment: credctl's own (or the --pristine minimum) plus the variables.

    Unlock variables are left out unless `keep_unlock_env` (then --pristine keeps
    them too: the user asked for a command that can unlock the vault).
    """
    inherited = os.environ if base is None else base
    if pristine:
        env = {"PATH": MINIMAL_PATH, "HOME": inherited.get("HOME") or _home()}
        if "TERM" in inherited:
            env["TERM"] = inherited["TERM"]
        if keep_unlock_env:
            env.update((name, inherited[name]) for name in unlock_names(inherited))
    elif keep_unlock_env:
        env = dict(inherited)
    else:
        env = scrub(inherited).environment
    if resolution is not None:
        env.update(resolution.environment())
    return env


def _unlock_secrets() -> list[bytes]:
    """The unlock values credctl has, for the masker: the command must not print them either.

    Values shorter than `SHORT_SECRET` are left out: masking every occurrence of
    two letters would ruin the output and protect nothing.
    """
    from credctl.exec.masking import SHORT_SECRET

    found = (value.encode("utf-8", "surrogateescape") for value in unlock_values(os.environ))
    return [value for value in found if len(value) >= SHORT_SECRET]


def _report(
    cli: CliContext, resolution: Resolution | None, *, keep_unlock: bool, verbose: bool
) -> None:
    """--verbose: the variable names (never values); --keep-unlock-env: what the command gets."""
    inherited = unlock_names(os.environ)
    if keep_unlock and inherited:
        output.warn(
            f"--keep-unlock-env: the command receives {', '.join(inherited)}, with which "
            "it can read every credential in the vault, not only the ones given to it"
        )
    if verbose and not cli.quiet:
        exported = [name for name, _ in resolution.variables] if resolution else []
        output.info(f"exporting {', '.join(exported) if exported else 'no variables'}")
        if inherited and not keep_unlock:
            output.info(f"not passed on to the command: {', '.join(inherited)}")


def _run_masked(
    program: str, command: Sequence[str], env: Mapping[str, str], secrets: list[bytes]
) -> int:
    from credctl.exec.launch import start_error
    from credctl.exec.relay import run_masked

    sys.stdout.flush()
    try:
        return run_masked(program, command, env, secrets)
    except OSError as exc:
        if exc.filename is None:  # not the command failing to start: a real error
            raise
        raise start_error(command[0], exc) from None


def _warn_short_secrets(resolution: Resolution | None) -> None:
    from credctl.exec.masking import SHORT_SECRET

    if resolution is None:
        return
    short = sorted(
        name
        for name, value in resolution.variables
        if value in resolution.secrets and len(value.expose().encode()) < SHORT_SECRET
    )
    if short:
        output.warn(
            f"{', '.join(short)} {'is' if len(short) == 1 else 'are'} shorter than "
            f"{SHORT_SECRET} bytes; --mask hides every occurrence of "
            f"{'it' if len(short) == 1 else 'them'} in the output, ordinary text included"
        )


def _home() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_dir
