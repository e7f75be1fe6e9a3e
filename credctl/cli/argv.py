"""The one parser of credctl's startup-bound commands and of its global options.

`parse` reads a command line by the rules of POSIX/GNU ``getopt_long``, from the
declarations in `credctl.cli.spec`, and says what to do with it:

* `Invocation`: run ``get-token``, ``env``, ``exec`` or ``create`` with a typed
  request (`credctl.cli.spec.GetTokenRequest`, …);
* `Handover`: give words to the Typer app, which formats help, answers shell
  completion and runs every other command;
* `ShowVersion`: print the version (without importing Typer or the vault code).

The rules:

* ``-fVALUE``, ``-f VALUE``, ``--field=VALUE``, ``--field VALUE``.  A value may
  start with ``-`` (``--prefix -x``), but ``--`` is never taken as a value.
* Short flags cluster (``-qh``); a short option that takes a value ends its
  cluster and takes the rest of the word (``-eVAR=NAME.FIELD``), like getopt.
* Options may follow arguments (SPEC §12).  ``--`` ends the options: for
  ``exec`` the words after it are the command to run, for the others they are
  arguments.  ``-`` alone is an argument (stdin).
* Long options are matched exactly, never by an abbreviation (click's default
  too): ``--form`` stays an error instead of meaning ``--format``, so that a new
  option can never change what an existing script means.  A near miss gets a
  did-you-mean.
* A single-valued option given twice keeps its last value (getopt and click do
  the same); a ``multiple`` option collects every value, in order.
* Global options come before the command (SPEC §12).
* ``-h``/``--help`` anywhere before ``--`` asks for the command's help, even on
  a line with mistakes.

Mistakes are `UsageError` (exit 2).  Their messages name options, never values:
a secret typed in the wrong place (``--token=ghp_…``, an extra argument) must
not end up on a terminal or in a CI log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from credctl.cli.spec import (
    FAST_COMMANDS,
    GLOBAL_OPTIONS,
    CommandSpec,
    GlobalOptions,
    OptionSpec,
    Record,
)
from credctl.errors import UsageError

PROGRAM = "credctl"
HELP = OptionSpec("help", ("--help", "-h"), "Show this message and exit.")
VERSION = OptionSpec("version", ("--version",), "Show the version and exit.")
#: Typer's own root options: a line with one of them is Typer's, global options and all.
COMPLETION = (
    OptionSpec("install_completion", ("--install-completion",), "Install shell completion."),
    OptionSpec("show_completion", ("--show-completion",), "Print the completion script."),
)
_ROOT_OPTIONS = (*GLOBAL_OPTIONS, VERSION, HELP, *COMPLETION)


class Invocation(Record):
    """A startup-bound command to run: global options, the command, its typed request."""

    options: GlobalOptions
    command: CommandSpec
    request: Any


class Handover(Record):
    """Words for the Typer app, and the global options already read from before them.

    `options` is None when Typer gets the whole line and reads the global options
    itself (the completion options, which Typer implements).
    """

    options: GlobalOptions | None
    args: list[str]


class ShowVersion(Record):
    """``--version`` was given."""

    options: GlobalOptions


def parse(
    args: Sequence[str], commands: Mapping[str, CommandSpec] = FAST_COMMANDS
) -> Invocation | Handover | ShowVersion:
    """What the command line `args` (without the program name) asks for.

    `commands` are the commands parsed here (the rest go to Typer); tests pass
    their own to exercise rules that today's commands do not use, such as
    clusters of command flags.
    """
    words = list(args)
    table = _table(_ROOT_OPTIONS)
    values: dict[str, Any] = {}
    index = 0
    while index < len(words) and _is_option(words[index]):
        if words[index] == "--":
            index += 1
            break
        index = _read_option(words, index, table, values, None)
        if values.get("install_completion") or values.get("show_completion"):
            return Handover(None, words)
        if values.get("help"):
            return Handover(_global_options(values), ["--help"])
        if values.get("version"):
            return ShowVersion(_global_options(values))
    options = _global_options(values)
    if index == len(words):
        if words:
            raise UsageError("missing command", hint=_see(None))
        return Handover(options, [])  # `credctl` alone: Typer prints the overview
    spec = commands.get(words[index])
    if spec is None:
        return Handover(options, words[index:])
    return _parse_command(spec, words[index + 1 :], options)


def usage(spec: CommandSpec) -> str:
    """The command's synopsis, e.g. ``credctl exec [OPTIONS] [NAME]... -- CMD…``."""
    pieces = [PROGRAM, spec.name, "[OPTIONS]"]
    for argument in spec.arguments:
        if argument.after_double_dash:
            pieces.append(argument.metavar)
        elif argument.variadic:
            pieces.append(f"[{argument.metavar}]...")
        else:
            pieces.append(argument.metavar)
    return " ".join(pieces)


def _parse_command(
    spec: CommandSpec, words: list[str], options: GlobalOptions
) -> Invocation | Handover:
    table = _table((*spec.options, HELP))
    values: dict[str, Any] = {o.dest: _default(o) for o in spec.options}
    positionals: list[str] = []
    after_dashes: list[str] | None = None
    takes_command = _takes_command(spec)
    index = 0
    try:
        while index < len(words):
            word = words[index]
            if word == "--":
                if takes_command:
                    after_dashes = words[index + 1 :]
                else:
                    positionals.extend(words[index + 1 :])
                break
            if _is_option(word):
                index = _read_option(words, index, table, values, spec)
                if values.pop("help", False):
                    return Handover(options, [spec.name, "--help"])
            else:
                positionals.append(word)
                index += 1
        request = _request(spec, values, positionals, after_dashes)
    except UsageError:
        before_dashes = words[: words.index("--")] if "--" in words else words
        if any(word in HELP.flags for word in before_dashes):
            return Handover(options, [spec.name, "--help"])
        raise
    return Invocation(options, spec, request)


def _request(
    spec: CommandSpec, values: dict[str, Any], positionals: list[str], after: list[str] | None
) -> Any:
    """The typed request, once every argument has its words."""
    given = len(positionals)
    for argument in spec.arguments:
        if argument.after_double_dash:
            if not after:
                raise UsageError(
                    f"{spec.name} needs the command to run after `--` (usage: {usage(spec)})",
                    hint=_see(spec),
                )
            values[argument.dest] = tuple(after)
        elif argument.variadic:
            values[argument.dest] = tuple(positionals)
            positionals = []
        elif positionals:
            values[argument.dest] = positionals.pop(0)
        else:
            raise UsageError(
                f"{spec.name}: missing {argument.metavar} (usage: {usage(spec)})", hint=_see(spec)
            )
    if positionals:
        # The words themselves are not shown: a misplaced secret would be.
        wanted = [a.metavar for a in spec.arguments]
        raise UsageError(
            f"{spec.name} takes {len(wanted)} argument{'s' if len(wanted) > 1 else ''} "
            f"({' '.join(wanted)}), not {given} (usage: {usage(spec)})",
            hint=_see(spec),
        )
    for option in spec.options:
        if option.multiple:
            values[option.dest] = tuple(values[option.dest])
    return spec.request(**values)


def _read_option(
    words: list[str],
    index: int,
    table: dict[str, OptionSpec],
    values: dict[str, Any],
    spec: CommandSpec | None,
) -> int:
    """Read the option word at `index` (and its value): the index of the next word."""
    word = words[index]
    if word.startswith("--"):
        name, has_value, inline = word.partition("=")
        option = table.get(name)
        if option is None:
            raise _unknown(name, table, spec, words)
        if option.is_flag:
            if has_value:
                raise UsageError(f"option {name} takes no value", hint=_see(spec))
            values[option.dest] = True
            return index + 1
        if has_value:
            _store(option, name, inline, values, spec)
            return index + 1
        return _take_next(option, name, words, index, values, spec)
    for position in range(1, len(word)):
        name = "-" + word[position]
        option = table.get(name)
        if option is None:
            raise _unknown(name, table, spec, words)
        if option.is_flag:
            values[option.dest] = True
            if option is HELP:
                break
            continue
        rest = word[position + 1 :]
        if rest:
            _store(option, name, rest, values, spec)
            return index + 1
        return _take_next(option, name, words, index, values, spec)
    return index + 1


def _take_next(
    option: OptionSpec,
    name: str,
    words: list[str],
    index: int,
    values: dict[str, Any],
    spec: CommandSpec | None,
) -> int:
    if index + 1 >= len(words) or words[index + 1] == "--":
        raise UsageError(f"option {name} needs a value ({option.metavar})", hint=_see(spec))
    _store(option, name, words[index + 1], values, spec)
    return index + 2


def _store(
    option: OptionSpec, name: str, value: str, values: dict[str, Any], spec: CommandSpec | None
) -> None:
    if option.choices and value not in option.choices:
        message = f"invalid value for {name}: choose from {', '.join(option.choices)}"
        import difflib

        close = difflib.get_close_matches(value, option.choices, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        raise UsageError(message, hint=_see(spec))
    if option.multiple:
        values[option.dest].append(value)
    else:
        values[option.dest] = value


def _unknown(
    name: str, table: dict[str, OptionSpec], spec: CommandSpec | None, words: list[str]
) -> UsageError:
    """The error for an option `name` that `table` does not have (`name` is cut at ``=``)."""
    shown = repr(name if len(name) <= 40 else name[:40] + "…")
    if spec is not None and name in _table(_ROOT_OPTIONS):
        return UsageError(
            f"{name} is a global option: put it before the command "
            f"({PROGRAM} {name} … {spec.name} …)",
            hint=_see(spec),
        )
    message = f"no such option {shown}" + (f" for {spec.name}" if spec is not None else "")
    if name.startswith("--"):
        import difflib

        longs = [flag for flag in table if flag.startswith("--")]
        close = difflib.get_close_matches(name, longs, n=1)
        if close:
            message += f" (did you mean {close[0]}?)"
    if spec is not None and "--" not in words and _takes_command(spec):
        message += "; the command to run goes after `--`"
    return UsageError(message, hint=_see(spec))


def _global_options(values: dict[str, Any]) -> GlobalOptions:
    vault = values.get("vault")
    if vault == "":
        # `--vault "$UNSET"` must not quietly mean the default vault.
        raise UsageError("--vault needs a path, not an empty word", hint=_see(None))
    backend = values.get("backend")
    if backend == "":
        raise UsageError("--backend needs a URL, not an empty word", hint=_see(None))
    return GlobalOptions(
        vault, bool(values.get("quiet")), bool(values.get("no_color")), backend=backend
    )


def _table(options: Sequence[OptionSpec]) -> dict[str, OptionSpec]:
    return {flag: option for option in options for flag in option.flags}


def _default(option: OptionSpec) -> Any:
    if option.multiple:
        return []
    return False if option.is_flag else option.default


def _takes_command(spec: CommandSpec) -> bool:
    return any(argument.after_double_dash for argument in spec.arguments)


def _is_option(word: str) -> bool:
    return word.startswith("-") and word != "-"


def _see(spec: CommandSpec | None) -> str:
    return f"see '{PROGRAM} {spec.name} --help'" if spec else f"see '{PROGRAM} --help'"
