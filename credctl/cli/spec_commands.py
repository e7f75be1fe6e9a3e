"""Typer commands built from `credctl.cli.spec`, for help and shell completion only.

`credctl.cli.argv` alone parses and runs the spec'd commands.  Typer gets them
so that ``credctl get-token --help`` is formatted like every other command's
help and so that completion offers their options and choices, all from the same
declarations.  Should Typer ever be asked to run one, it refuses with an
internal error instead of parsing the line a second time, differently.
"""

from __future__ import annotations

import enum
import importlib
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from credctl.cli.spec import ArgumentSpec, CommandSpec, OptionSpec
from credctl.errors import InternalError


class SpecCommand(TyperCommand):
    """A spec'd command as Typer shows it: the usage line ends with the words after ``--``."""

    trailing_usage = ""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [*pieces, self.trailing_usage] if self.trailing_usage else pieces


def _choices_enum(option: OptionSpec) -> type[enum.Enum]:
    return enum.Enum(option.dest.title().replace("_", ""), {c: c for c in option.choices})  # type: ignore[return-value]


def _option_parameter(option: OptionSpec) -> tuple[inspect.Parameter, Any]:
    info = typer.Option(
        *option.flags,
        help=option.help,
        envvar=option.envvar,
        metavar=option.metavar,
        show_default=option.default is not None,
    )
    python_type: Any
    default: Any
    if option.is_flag:
        python_type, default = bool, False
    elif option.multiple:
        python_type, default = list[str] | None, None
    elif option.choices:
        python_type = _choices_enum(option)
        default = python_type(option.default) if option.default is not None else None
    elif option.dest == "vault":
        python_type, default = Path | None, None
    else:
        python_type, default = str | None, option.default
    annotation = Annotated[python_type, info]
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(option.dest, kind, default=default, annotation=annotation), annotation


def parameters(
    spec_arguments: Sequence[ArgumentSpec], options: Sequence[OptionSpec]
) -> tuple[list[inspect.Parameter], dict[str, Any]]:
    """Signature parameters (after ``ctx``) and annotations for a spec's words."""
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    ]
    annotations: dict[str, Any] = {"ctx": typer.Context, "return": Any}
    for argument in spec_arguments:
        if argument.after_double_dash:
            continue  # shown in the usage line instead (SpecCommand)
        python_type: Any = list[str] | None if argument.variadic else str
        annotation = Annotated[
            python_type,
            typer.Argument(
                metavar=argument.metavar,
                help=argument.help,
                show_default=False,
                autocompletion=_completer(argument.completion),
            ),
        ]
        default = None if argument.variadic else inspect.Parameter.empty
        params.append(
            inspect.Parameter(
                argument.dest,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=default,
                annotation=annotation,
            )
        )
        annotations[argument.dest] = annotation
    for option in options:
        parameter, annotation = _option_parameter(option)
        params.append(parameter)
        annotations[option.dest] = annotation
    return params, annotations


def _completer(kind: str) -> Callable[..., list[str]] | None:
    """What completes an argument (`ArgumentSpec.completion`)."""
    from credctl.cli import completion

    completers: dict[str, Callable[..., list[str]]] = {
        "credential": completion.credential_names,
        "type": completion.credential_types,
    }
    return completers.get(kind)


def _refuse(spec: CommandSpec) -> Callable[..., Any]:
    """The Typer callback of a spec'd command: never meant to run."""

    def command(ctx: typer.Context, **values: Any) -> Any:
        raise InternalError(
            f"the Typer app was asked to run {spec.name}, which only credctl.cli.argv "
            "parses and runs"
        )

    params, annotations = parameters(spec.arguments, spec.options)
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = spec.help
    command.__name__ = spec.name.replace("-", "_")
    return command


def register(app: typer.Typer, specs: Sequence[CommandSpec]) -> None:
    """Add each spec'd command to `app` (for its help and completion)."""
    for spec in specs:
        epilog = None
        if spec.epilog_factory:
            module, function = spec.epilog_factory.split(":")
            epilog = getattr(importlib.import_module(module), function)()
        trailing = " ".join(a.metavar for a in spec.arguments if a.after_double_dash)
        cls = type(SpecCommand.__name__, (SpecCommand,), {"trailing_usage": trailing})
        app.command(spec.name, cls=cls, help=spec.help, short_help=spec.summary, epilog=epilog)(
            _refuse(spec)
        )


def click_command(spec: CommandSpec) -> Any:
    """The click command Typer makes of `spec`, ready to be added to a group."""
    scratch = typer.Typer()
    register(scratch, [spec])
    return typer.main.get_group(scratch).commands[spec.name]
