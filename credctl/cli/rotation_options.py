"""Options that `rotate` and `policy set` share, and their parsing."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import typer

from credctl.errors import UsageError

if TYPE_CHECKING:
    from credctl.rotation.policy import GenerateSpec


def duration(text: str | None, option: str) -> dt.timedelta | None:
    """A duration option (``24h``, ``90d``) as a timedelta; None when not given."""
    if text is None:
        return None
    from credctl.durations import parse_duration

    return dt.timedelta(seconds=parse_duration(text, option=option))


def generate_spec(
    generate: bool, length: int | None, alphabet: str | None, fields: list[str] | None
) -> GenerateSpec | None:
    """``--generate`` and its options as a checked `GenerateSpec`; None without it."""
    from credctl.rotation.policy import GenerateSpec

    if not generate:
        if length is not None or alphabet is not None or fields:
            raise UsageError("--length, --alphabet and --generate-field go with --generate")
        return None
    spec = GenerateSpec(length or 32, alphabet or "alnum", tuple(fields or ()))
    return spec.checked()


# Options shared by `rotate` and `policy set`.
GenerateOption = Annotated[
    bool, typer.Option("--generate", help="New random values for the secret fields.")
]
LengthOption = Annotated[
    int | None,
    typer.Option("--length", metavar="N", help="Generated length (default 32, 16–4096).",
                 show_default=False),
]  # fmt: skip
AlphabetOption = Annotated[
    str | None,
    typer.Option("--alphabet", metavar="A", show_default=False,
                 help="Generated characters: alnum (default), hex, base64url, symbols."),
]  # fmt: skip
GenerateFieldOption = Annotated[
    list[str] | None,
    typer.Option("--generate-field", metavar="FIELD", show_default=False,
                 help="Generate this field (repeatable; default: the secret fields)."),
]  # fmt: skip
CommandOption = Annotated[
    str | None,
    typer.Option("--command", metavar="CMD", show_default=False,
                 help="Shell command (sh -c) that prints the new credential_data JSON on "
                 "stdout; it gets the current credential in its environment."),
]  # fmt: skip
TestCommandOption = Annotated[
    str | None,
    typer.Option("--test-command", metavar="CMD", show_default=False,
                 help="Shell command run with the NEW credential in its environment before "
                 "the switch; a non-zero exit keeps the old secret."),
]  # fmt: skip
StrategyOption = Annotated[
    str | None,
    typer.Option("--strategy", metavar="S", show_default=False,
                 help="immediate (retire the old id now) or blue-green (keep it readable "
                 "for --grace)."),
]  # fmt: skip
GraceOption = Annotated[
    str | None,
    typer.Option("--grace", metavar="DURATION", show_default=False,
                 help="blue-green: how long the old id and NAME@previous stay readable "
                 "(default 24h)."),
]  # fmt: skip
