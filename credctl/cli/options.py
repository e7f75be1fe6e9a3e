"""Option and argument declarations that several Typer commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from credctl.cli.completion import credential_names

JsonOption = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]
RefArgument = Annotated[
    str,
    typer.Argument(
        metavar="NAME|ID",
        help="Credential name or numeric id.",
        show_default=False,
        autocompletion=credential_names,
    ),
]
