"""`credctl migrate --to URL`: copy a vault to another backend, verify it, resume it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext


def register(app: typer.Typer) -> None:
    """Add `migrate` to the root app."""
    app.command("migrate")(migrate_command)


def _place(url: str | None, cli: CliContext) -> object:
    from credctl.migrate import Place
    from credctl.storage.backends import open_blob_backend

    if url is None:  # the vault the global options point at
        if cli.backend_url is None:
            return Place(str(cli.vault_path), path=cli.vault_path)
        return Place(cli.location, engine=cli.engine())
    if url.startswith("file:") or ":" not in url:
        path = Path(url[5:].removeprefix("//") if url.startswith("file:") else url).expanduser()
        return Place(str(path.absolute()), path=path.absolute())
    engine = open_blob_backend(url)
    return Place(engine.describe(), engine=engine)


def migrate_command(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="URL",
            help="Where to copy the vault: a backend "
            "URL or a vault file path (must be empty or absent).",
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="URL",
            help="The vault to copy (default: the one --backend/--vault/the config file name).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be copied; write nothing.")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish a migration that was interrupted.")
    ] = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="Copy a vault that holds no credentials.")
    ] = False,
) -> None:
    """Copy every credential, the key slots and the activity log to another backend.

    Between two backends (SQLite, PostgreSQL, HashiCorp Vault, AWS, Azure) the
    sealed records are copied as they are, without being decrypted.  To or from
    a vault file they are unsealed and sealed again, because the file encrypts
    its contents as one whole.  The same passphrase, CI keys and sessions open
    the copy.  The source's write lock is held throughout; afterwards the copy
    is read back and compared record by record (exit 6 if it differs).  An
    interrupted migration resumes with --resume.  A source without a vault is
    exit 3, an unreachable one exit 10, and a source with no credentials is
    refused unless --allow-empty.
    """
    from credctl.migrate import Place, migrate

    cli: CliContext = ctx.obj
    src = _place(source, cli)
    dst = _place(to, cli)
    assert isinstance(src, Place)
    assert isinstance(dst, Place)
    report = migrate(src, dst, cli.unlocker(), dry_run=dry_run, resume=resume,
                     allow_empty=allow_empty)  # fmt: skip
    if dry_run:
        output.info(
            f"would copy {report.records} credential(s) and {report.activities} activity "
            f"entries from {src.label} to {dst.label}",
            quiet=cli.quiet,
        )
        return
    how = "as sealed blobs" if report.blobs else "re-sealed"
    output.info(
        f"migrated {report.records} credential(s) and {report.activities} activity entries "
        f"from {src.label} to {dst.label} ({how}{', resumed' if report.resumed else ''}); "
        "verified: count, every record's hash, key slots, activity log",
        quiet=cli.quiet,
    )
