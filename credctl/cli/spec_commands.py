"""Typer commands built from `credctl.cli.spec`, so help and completion match the fast path."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from credctl.cli.spec import CommandSpec, OptionSpec


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
    spec_arguments: Sequence[Any], options: Sequence[OptionSpec]
) -> tuple[list[inspect.Parameter], dict[str, Any]]:
    """Signature parameters (after ``ctx``) and annotations for a spec's words."""
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    ]
    annotations: dict[str, Any] = {"ctx": typer.Context, "return": Any}
    for argument in spec_arguments:
        if argument.after_double_dash:
            continue  # click cannot tell words after -- apart; see build_command
        python_type: Any = list[str] | None if argument.variadic else str
        annotation = Annotated[
            python_type,
            typer.Argument(metavar=argument.metavar, help=argument.help, show_default=False),
        ]
        # Variadic words may be absent (exec with only --env); the runner says what is missing.
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


def plain_values(values: dict[str, Any]) -> dict[str, Any]:
    """Typer's values as the fast parser gives them (enums to strings, None lists to [])."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, enum.Enum):
            value = value.value
        out[key] = value
    return out


def build_command(spec: CommandSpec) -> Callable[..., Any]:
    """A function Typer can register, whose signature is generated from `spec`."""

    def command(ctx: typer.Context, **values: Any) -> Any:
        from credctl.cli.fastpath import FastInvocation

        if any(argument.after_double_dash for argument in spec.arguments):
            # Every well-formed command line of this kind is taken by the fast parser,
            # which alone sees where `--` was; reaching Typer means it was malformed.
            from typer._click.exceptions import UsageError

            raise UsageError(f"{spec.name} needs the command to run after `--`", ctx)
        plain = plain_values(values)
        for argument in spec.arguments:
            if argument.variadic and plain.get(argument.dest) is None:
                plain[argument.dest] = []
        invocation = FastInvocation({}, spec, plain)
        return invocation.runner()(ctx.obj, invocation.values)

    params, annotations = parameters(spec.arguments, spec.options)
    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = annotations
    command.__doc__ = spec.help
    command.__name__ = spec.name.replace("-", "_")
    return command


def register(app: typer.Typer, specs: Sequence[CommandSpec]) -> None:
    """Add every spec'd command to `app`."""
    import importlib

    for spec in specs:
        epilog = None
        if spec.epilog_factory:
            module, function = spec.epilog_factory.split(":")
            epilog = getattr(importlib.import_module(module), function)()
        app.command(spec.name, help=spec.help, short_help=spec.summary, epilog=epilog)(
            build_command(spec)
        )
