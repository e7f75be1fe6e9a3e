"""Parse and run the startup-bound commands without importing Typer.

`parse` understands exactly what `credctl.cli.spec` declares: global options,
then the command, its arguments and options in any order, ``--opt value`` and
``--opt=value``, and ``--`` to end options.  It returns None for anything else
(help, version, unknown words, missing values) so that the Typer app handles
it and prints its usual help or error message.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from credctl.cli.spec import FAST_COMMANDS, GLOBAL_OPTIONS, CommandSpec, OptionSpec

Values = dict[str, Any]


class FastInvocation(NamedTuple):
    """A parsed fast command: global values, the command, and its values."""

    globals: Values
    command: CommandSpec
    values: Values

    def runner(self) -> Callable[[Any, Values], int]:
        """The function that runs the command."""
        module_name, function_name = self.command.runner.split(":")
        function: Callable[[Any, Values], int] = getattr(
            importlib.import_module(module_name), function_name
        )
        return function


def _defaults(options: Sequence[OptionSpec]) -> Values:
    return {o.dest: ([] if o.multiple else (False if o.is_flag else o.default)) for o in options}


def _take_option(
    options: Sequence[OptionSpec], args: list[str], index: int, values: Values
) -> int | None:
    """Consume the option at `index`; the next index, or None if it is not understood."""
    word = args[index]
    name, has_inline, inline = word.partition("=")
    option = next((o for o in options if name in o.flags), None)
    if option is None:
        return None
    if option.is_flag:
        if has_inline:
            return None
        values[option.dest] = True
        return index + 1
    if has_inline:
        value, following = inline, index + 1
    elif index + 1 < len(args):
        value, following = args[index + 1], index + 2
    else:
        return None
    if option.choices and value not in option.choices:
        return None
    if option.multiple:
        values[option.dest].append(value)
    else:
        values[option.dest] = value
    return following


def parse(args: Sequence[str]) -> FastInvocation | None:
    """A `FastInvocation` if `args` is a fast command the spec fully explains."""
    words = list(args)
    global_values = _defaults(GLOBAL_OPTIONS)
    index = 0
    while index < len(words) and words[index].startswith("-"):
        following = _take_option(GLOBAL_OPTIONS, words, index, global_values)
        if following is None:
            return None
        index = following
    if index >= len(words) or words[index] not in FAST_COMMANDS:
        return None
    command = FAST_COMMANDS[words[index]]
    values = _defaults(command.options)
    positionals: list[str] = []
    after_dashes: list[str] | None = None
    index += 1
    options_ended = False
    takes_command = any(a.after_double_dash for a in command.arguments)
    while index < len(words):
        word = words[index]
        if not options_ended and word == "--":
            if takes_command:
                after_dashes = words[index + 1 :]
                break
            options_ended = True
            index += 1
        elif not options_ended and word.startswith("-") and word != "-":
            following = _take_option(command.options, words, index, values)
            if following is None:
                return None
            index = following
        else:
            positionals.append(word)
            index += 1
    for argument in command.arguments:
        if argument.after_double_dash:
            if not after_dashes:
                return None
            values[argument.dest] = after_dashes
        elif argument.variadic:
            values[argument.dest] = positionals
            positionals = []
        elif positionals:
            values[argument.dest] = positionals.pop(0)
        else:
            return None
    if positionals:
        return None
    return FastInvocation(global_values, command, values)
