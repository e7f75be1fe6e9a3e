"""Human output: rich tables and text that is safe to put on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from credctl.cli.context import CliContext
from credctl.text import printable

__all__ = ["print_table", "printable"]  # printable: kept here for the command modules


def print_table(cli: CliContext, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A rich table on stdout, coloured only when allowed; text is never read as markup."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers, highlight=False)
    for column in table.columns:
        column.overflow = "fold"
    for row in rows:
        table.add_row(*(Text(printable(cell)) for cell in row))
    Console(no_color=not cli.color, highlight=False).print(table)
