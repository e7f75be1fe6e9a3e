"""Human output: rich tables and text that is safe to put on a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from credctl.cli.context import CliContext


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


def printable(text: str) -> str:
    """`text` with control characters escaped, so stored text cannot drive the terminal.

    Descriptions, tags and metadata may come from an imported file; an escape
    sequence in one must not rewrite the screen when `list` or `show` prints it.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1] for ch in text)
