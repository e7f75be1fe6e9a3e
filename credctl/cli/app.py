"""The root Typer app: global options, help, completion, and the commands outside the fast path.

`credctl.cli.main` sends Typer only what `credctl.cli.argv` hands over: help,
shell completion and the commands that are not startup-bound.  Command modules
are imported when their command is asked for, not before: `credctl list`
imports `credential_commands` and nothing of oauth, render, key, ….  `COMMANDS`
says where each command lives and carries its line for ``credctl --help``, so
that listing the commands (help, completing the first word) imports none of
them.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer

# typer 0.29 vendors click, and its usage-error classes are only reachable here
# (pyproject pins typer to 0.29.x for that reason).
from typer._click import exceptions as click_exceptions
from typer.core import TyperCommand, TyperGroup, TyperOption

from credctl._version import __version__
from credctl.cli import spec_commands
from credctl.cli.context import CliContext
from credctl.cli.spec import CREATE, ENV, EXEC, GET_TOKEN, GLOBAL_OPTIONS, CommandSpec

__all__ = ["COMMANDS", "LazyCommand", "app", "click_exceptions"]


class LazyCommand(NamedTuple):
    """Where a command is defined, and its one line in ``credctl --help``.

    `target` is ``module:attribute``, and the attribute is a command function
    (registered under the command's name), a Typer sub-app (added as a group), or
    the module's ``register(app)`` when it passes options such as ``help=``.
    """

    target: str
    summary: str


#: Every top-level command, in the order ``credctl --help`` lists them.
COMMANDS: dict[str, LazyCommand | CommandSpec] = {
    "init": LazyCommand("credctl.cli.vault_commands:init_command", "Create a new vault."),
    "unlock": LazyCommand(
        "credctl.cli.vault_commands:unlock_command",
        "Start a session and print the line that exports it.",
    ),
    "lock": LazyCommand(
        "credctl.cli.vault_commands:lock_command",
        "End every session of the vault and forget the keyring entry.",
    ),
    "passwd": LazyCommand(
        "credctl.cli.vault_commands:passwd_command",
        "Change the passphrase (re-wraps the data key; sessions and CI keys keep working).",
    ),
    "rekey": LazyCommand(
        "credctl.cli.vault_commands:rekey_command", "Re-encrypt everything under a new data key."
    ),
    "list": LazyCommand(
        "credctl.cli.credential_commands:list_command",
        "List credentials: a table on a terminal, tab-separated lines in a pipe.  Never secrets.",
    ),
    "show": LazyCommand(
        "credctl.cli.credential_commands:show_command",
        "Show one credential's details (never its secret data).",
    ),
    "update": LazyCommand(
        "credctl.cli.credential_edit:update_command",
        "Change a credential's name, description, tags, metadata or secret data.",
    ),
    "delete": LazyCommand(
        "credctl.cli.credential_edit:delete_command",
        "Delete one or more credentials in one vault write.",
    ),
    "import": LazyCommand(
        "credctl.cli.import_export:import_command", "Create many credentials in one vault write."
    ),
    "export": LazyCommand(
        "credctl.cli.import_export:export_command",
        "Write an encrypted backup: a new vault file with copies of every credential.",
    ),
    "metrics": LazyCommand(
        "credctl.cli.metrics_command:metrics_command",
        "Show usage numbers: totals, cache hit rate, refreshes, and per credential.",
    ),
    GET_TOKEN.name: GET_TOKEN,
    ENV.name: ENV,
    EXEC.name: EXEC,
    CREATE.name: CREATE,
    "refresh": LazyCommand(
        "credctl.cli.oauth_commands:refresh_command", "Renew OAuth access tokens now."
    ),
    "doctor": LazyCommand(
        "credctl.cli.doctor:doctor_command",
        "Check the vault's health: permissions, format, KDF, keys, backups, lock, keyring.",
    ),
    "render": LazyCommand(
        "credctl.cli.render_command:register", "Fill credential references in a template."
    ),
    "key": LazyCommand(
        "credctl.cli.key_commands:key_app",
        "Key slots: the passphrase and CI keys that open the vault.",
    ),
    "config": LazyCommand(
        "credctl.cli.config_commands:config_app",
        "The config file: defaults such as the backend; flags and environment win.",
    ),
    "migrate": LazyCommand(
        "credctl.cli.migrate_command:migrate_command",
        "Copy every credential, the key slots and the activity log to another backend.",
    ),
    "oauth": LazyCommand(
        "credctl.cli.oauth_commands:oauth_app",
        "Log in to OAuth 2.0 / OpenID Connect providers and keep the tokens fresh.",
    ),
    "rotate": LazyCommand(
        "credctl.cli.rotation_commands:rotate_command",
        "Rotate a credential now, or every credential that is due (--due).",
    ),
    "policy": LazyCommand(
        "credctl.cli.policy_commands:policy_app",
        "Rotation policies: how often a credential is rotated, and how.",
    ),
    "schedule": LazyCommand(
        "credctl.cli.policy_commands:schedule_command",
        "Schedule a one-off rotation (rotate --due rotates it once the time has come).",
    ),
    "history": LazyCommand(
        "credctl.cli.rotation_commands:history_command",
        "List a credential's kept versions (never their values), oldest first.",
    ),
    "rollback": LazyCommand(
        "credctl.cli.rotation_commands:rollback_command",
        "Make an older version current again, as a new version (history only grows).",
    ),
    "audit": LazyCommand(
        "credctl.cli.audit_commands:audit_app",
        "The audit trail: who read or changed which credential, when, from where.",
    ),
    "serve": LazyCommand(
        "credctl.cli.serve_commands:register",
        "Serve the Credentials REST API for workflow engines until SIGTERM.",
    ),
    "completion": LazyCommand(
        "credctl.cli.completion:completion_command",
        "Print the shell completion script for bash, zsh or fish.",
    ),
}

#: Words people type from other tools' habits, and the command they mean.
ALIASES = {
    "add": "create", "new": "create", "rm": "delete", "remove": "delete", "del": "delete",
    "get": "get-token", "token": "get-token", "ls": "list", "cat": "show", "info": "show",
    "view": "show", "edit": "update", "set": "update", "login": "oauth login",
    "signin": "unlock", "logout": "lock", "signout": "lock", "backup": "export",
    "restore": "import", "check": "doctor", "status": "doctor", "version": "--version",
    "completions": "completion",
}  # fmt: skip


def suggest_command(word: str) -> str | None:
    """The command `word` most likely meant, or None when nothing is close.

    Known habits first (``rm`` → delete), then a unique command that starts with
    `word`, then a typo: one edit away for short words, two for longer ones
    (transpositions count as one, as in ``lsit``).  A plain similarity ratio
    would also offer ``create`` for ``rotate``, a different word, not a typo.
    """
    if word in ALIASES:
        return ALIASES[word]
    starting = [name for name in COMMANDS if name.startswith(word)]
    if len(word) >= 2 and len(starting) == 1:
        return starting[0]
    budget = 1 if len(word) <= 4 else 2
    close = sorted((_distance(word, name), name) for name in COMMANDS)
    if close and close[0][0] <= budget and (len(close) == 1 or close[1][0] > close[0][0]):
        return close[0][1]
    return None


def _distance(a: str, b: str) -> int:
    """Edit distance counting a swap of neighbours as one edit (optimal string alignment)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def load_command(name: str) -> Any:
    """The click command `name` of `COMMANDS`, importing only the module that defines it."""
    entry = COMMANDS[name]
    if isinstance(entry, CommandSpec):
        command = spec_commands.click_command(entry)
    else:
        module_name, attribute = entry.target.split(":")
        target = getattr(importlib.import_module(module_name), attribute)
        scratch = typer.Typer()
        if isinstance(target, typer.Typer):
            scratch.add_typer(target, name=name)
        elif attribute == "register":
            target(scratch)
        else:
            scratch.command(name)(target)
        command = typer.main.get_group(scratch).commands[name]
    return command


class LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name: each loaded from `COMMANDS` when first read."""

    def __init__(self) -> None:
        self.loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self.loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self.loaded[name] = load_command(name)
        return self.loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("credctl's commands are fixed by COMMANDS")

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self.loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self.loaded))


class LazyGroup(TyperGroup):
    """The root group: lists commands from `COMMANDS`, imports one only to run or describe it.

    click's documented way to load subcommands lazily is to override
    `get_command` and `list_commands`; help and completion of the first word
    only need names and summaries, so while they are produced `get_command`
    answers with a summary-only stand-in instead of importing the module.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands()
        self.summaries_only = False

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if self.summaries_only and cmd_name in COMMANDS:
            # As `help`, not `short_help`: completion then cuts it to 45 characters
            # like click does for every command (Typer's fish script breaks long lines).
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].summary)
        return self.commands.get(cmd_name)

    @contextlib.contextmanager
    def summaries(self) -> Iterator[None]:
        """While listing the commands: summaries from `COMMANDS`, nothing imported."""
        self.summaries_only = True
        try:
            yield
        finally:
            self.summaries_only = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if (
            name
            and not name.startswith("-")
            and name not in COMMANDS
            and name not in self.commands
            and not ctx.resilient_parsing
        ):
            from credctl.errors import UsageError
            from credctl.text import quoted

            suggestion = suggest_command(name)
            message = f"no command {quoted(name)}"
            if suggestion is not None:
                message += f" (did you mean `credctl {suggestion}`?)"
            raise UsageError(message, hint="see 'credctl --help' for the commands")
        return super().resolve_command(ctx, args)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        with self.summaries():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Any, incomplete: str) -> Any:
        with self.summaries():
            return super().shell_complete(ctx, incomplete)


app = typer.Typer(
    name="credctl",
    cls=LazyGroup,
    help="A local-first credential manager: an encrypted vault for API keys, tokens and "
    "OAuth logins, for people at a shell and for CI jobs.\n\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 not found, 4 vault locked, "
    "5 wrong passphrase, 6 vault damaged or tampered with, 7 token expired, "
    "8 conflict or vault busy, 9 invalid input, 10 network or provider error, "
    "11 rotation overdue (rotate --due).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=True,
)


def _flag_type(option: TyperOption, ctx: Any) -> str | None:
    """No ``<bool>`` beside a flag in help: a flag takes no value to describe."""
    return None if option.is_flag else _option_type(option, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign,assignment]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"credctl {__version__}")
        raise typer.Exit(0)


def _root(ctx: typer.Context, **values: Any) -> None:
    """Global options come before the subcommand."""
    if ctx.obj is not None:
        return  # credctl.cli.argv read the global options and built the context
    # Completion lines reach Typer whole, global options included.
    vault = values.get("vault")
    ctx.obj = CliContext(
        Path(vault).expanduser() if vault is not None else None,
        quiet=bool(values.get("quiet")),
        color=not (values.get("no_color") or "NO_COLOR" in os.environ),
        backend=values.get("backend"),
    )


def _root_signature() -> None:
    # The global options come from the same spec credctl.cli.argv parses.
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
