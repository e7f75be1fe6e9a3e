"""Everyday credential commands (being written)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the credential commands to the root app."""
    del app
