"""`import` (JSON, dotenv, a backup vault) and `export` (an encrypted backup vault).

`import` turns a file into a list of `CredentialInput`s and hands them to
`CredentialManager.batch_create`, so the whole batch is one vault write; each
item succeeds or fails on its own and gets one result line on stderr.
`export` writes a new, standalone vault holding copies of every record, under
a passphrase of its own: ``credctl --vault FILE list`` opens it and
``credctl import FILE`` restores from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.secret_input import STDIN, InputContext, read_text_file
from credctl.errors import (
    CredentialError,
    DuplicateCredential,
    InvalidInput,
    UsageError,
    VaultExistsError,
    VaultLockedError,
)
from credctl.importing import (
    FORMATS,
    VAULT_MAGIC,
    ImportItem,
    guess_format,
    is_vault_file,
    items_from_dotenv,
    items_from_json,
    items_from_records,
)
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.vault.opened import OpenVault

    pass

MAX_IMPORT: Final = 64 * 1024 * 1024


def register(app: typer.Typer) -> None:
    """Add `import` and `export` to the root app."""
    app.command("import")(import_command)
    app.command("export")(export_command)


def import_command(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE|-", help="What to import; - reads stdin.", show_default=False
        ),
    ],
    file_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="json, dotenv or vault (default: guessed from the contents).",
            show_default=False,
        ),
    ] = None,
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            metavar="FILE",
            help="Passphrase of a backup vault (vault format only).",
            show_default=False,
        ),
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update",
            help="Update credentials that exist (same name and type) instead of failing.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of per-item results on stdout.")
    ] = False,
) -> int:
    """Create many credentials in one vault write.

    Formats (guessed from the contents unless --format is given):

      json: an array of the REST API's create bodies,
      {"name", "credential_type", "credential_data", "description", "tags"}
      (description and tags optional).

      dotenv: each KEY=VALUE becomes a token credential named KEY, exactly as
      written (KEY must be a valid credential name: letters, digits, _ and -,
      not starting with _), which remembers KEY: `credctl env KEY` exports it
      as KEY again.  python-dotenv syntax: export prefixes, quotes, escapes in
      "double quotes", comments; ${VAR} is not expanded.

      vault: a backup from `credctl export`.  Its passphrase comes from
      --passphrase-file, CREDCTL_IMPORT_PASSPHRASE_FILE, CREDCTL_IMPORT_PASSPHRASE
      or a prompt.  Names, types, data, descriptions, tags and metadata are
      copied; ids and timestamps are new.

    Each item gets one line on stderr; an item that fails (a taken name, an
    invalid field) does not stop the others.  A file that cannot be read or
    parsed imports nothing.  Exit code: 0 if every item was created, else the
    first failure's (8 duplicate name, 9 invalid input).

    --update imports again over an earlier import, in one vault write: a name
    that exists with the same type gets the new data (and the description and
    tags, when the item has them); an item that changes nothing is reported as
    unchanged.  A name taken by another type still fails (8).

    Examples:

      credctl import credentials.json

      credctl import .env --format dotenv

      credctl import .env --update

      credctl import backup.credctl --passphrase-file ~/.backup-pass
    """
    cli: CliContext = ctx.obj
    if file_format is not None and file_format not in FORMATS:
        raise UsageError(
            f"unknown --format {shown(file_format)}", hint="use json, dotenv or vault"
        )
    text = ""
    if source == STDIN:
        cli.stdin_taken = "import -"
        text = InputContext.from_process(cli.stdin_is_tty).read_stdin("import -", MAX_IMPORT)
        if text.startswith(VAULT_MAGIC):
            raise UsageError(
                "a backup vault is read from a file, not from stdin", hint="credctl import FILE"
            )
        chosen = file_format or guess_format(text)
    elif file_format == "vault" or (file_format is None and is_vault_file(source)):
        chosen = "vault"
    else:
        text = read_text_file(source, "import", MAX_IMPORT)
        chosen = file_format or guess_format(text)
    if chosen == "vault" and source == STDIN:
        raise UsageError(
            "a backup vault is read from a file, not from stdin", hint="credctl import FILE"
        )
    manager = cli.manager()
    if chosen == "vault":
        manager.unlock()  # the target first: fail before asking for the backup's passphrase
        items = items_from_backup(cli, Path(source), passphrase_file)
    elif passphrase_file is not None:
        raise UsageError("--passphrase-file applies to backup vaults only")
    elif chosen == "json":
        items = items_from_json(text)
    else:
        items = items_from_dotenv(text)
    if not items:
        output.info("nothing to import", quiet=cli.quiet)
        if as_json:
            output.data_json([])
        return 0
    valid = [item for item in items if item.request is not None]
    requests = [item.request for item in valid if item.request is not None]
    if update:
        upserted = manager.batch_upsert(requests, action="import") if requests else []
        for item, outcome in zip(valid, upserted, strict=True):
            if isinstance(outcome, CredentialError):
                item.failure = outcome
            else:
                item.created, item.outcome = outcome.id, outcome.outcome
        return report_import(cli, items, as_json=as_json)
    results = manager.batch_create(requests, action="import") if requests else []
    for item, result in zip(valid, results, strict=True):
        if isinstance(result, DuplicateCredential):
            # One line per item: the way out goes on the item's own line.
            item.failure = DuplicateCredential(
                f"{result} (`import --update` updates it)", credential_id=result.credential_id
            )
        elif isinstance(result, CredentialError):
            item.failure = result
        else:
            item.created = result
    return report_import(cli, items, as_json=as_json)


def report_import(cli: CliContext, items: list[ImportItem], *, as_json: bool) -> int:
    """One stderr line per item (and JSON on stdout); the first failure's exit code."""
    code = 0
    rows: list[dict[str, Any]] = []
    for number, item in enumerate(items, start=1):
        if item.failure is None:
            output.info(f"{item.label}: {item.outcome} (id {item.created})", quiet=cli.quiet)
        else:
            output.error(f"{item.label}: {item.failure}")
            code = code or int(item.failure.exit_code)
        rows.append(
            {
                "item": number,
                "label": item.label,
                "name": item.request.name if item.request else None,
                "id": item.created,
                "ok": item.failure is None,
                "outcome": item.outcome if item.failure is None else None,
                "error": str(item.failure) if item.failure else None,
                "exit_code": int(item.failure.exit_code) if item.failure else 0,
            }
        )
    if as_json:
        output.data_json(rows)
    return code


def items_from_backup(
    cli: CliContext, path: Path, passphrase_file: Path | None
) -> list[ImportItem]:
    """Every record of a backup vault, with its metadata."""
    from credctl.vault import EnvironmentUnlocker, Vault, terminal_prompt

    env = {
        "CREDCTL_PASSPHRASE_FILE": str(passphrase_file)
        if passphrase_file is not None
        else os.environ.get("CREDCTL_IMPORT_PASSPHRASE_FILE", ""),
        "CREDCTL_PASSPHRASE": os.environ.get("CREDCTL_IMPORT_PASSPHRASE", ""),
    }
    prompt = terminal_prompt() if cli.stdin_is_tty else None
    if not any(env.values()) and prompt is None:
        raise VaultLockedError(
            f"no passphrase for the backup {path} and no terminal to ask for one",
            hint="give --passphrase-file FILE, or set CREDCTL_IMPORT_PASSPHRASE_FILE or "
            "CREDCTL_IMPORT_PASSPHRASE",
        )
    backup = Vault(path.expanduser())
    opened = backup.open(EnvironmentUnlocker(env=env, prompt=prompt, passphrase_only=True))
    return items_from_records(
        (name, record) for _credential_id, name, record in opened.body.entries()
    )


def export_command(
    ctx: typer.Context,
    output_path: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The backup to create; an existing file is never replaced.",
            show_default=False,
        ),
    ],
    passphrase_file: Annotated[
        Path | None,
        typer.Option(
            "--passphrase-file",
            metavar="FILE",
            help="The backup's passphrase (one trailing newline is dropped).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write an encrypted backup: a new vault file with copies of every credential.

    The backup has its own passphrase, from --passphrase-file,
    CREDCTL_EXPORT_PASSPHRASE_FILE, CREDCTL_EXPORT_PASSPHRASE, or asked twice on
    a terminal (without any of them: exit 4).  It uses the Argon2id settings of
    the current vault.  Open it like any vault, or restore from it:

      credctl --vault backup.credctl list

      credctl import backup.credctl

    Examples:

      credctl export -o ~/backups/credctl-$(date +%F).credctl

      credctl export -o backup.credctl --passphrase-file ~/.backup-pass

    An existing FILE is never replaced (exit 8).
    """
    from credctl.cli.prompts import require_new_passphrase
    from credctl.vault import Vault
    from credctl.vault.store import export_copy
    from credctl.vault.unlock import read_passphrase_file

    cli: CliContext = ctx.obj
    target = Vault(output_path.expanduser())
    _refuse_existing(target.path)
    source = cli.vault()
    if isinstance(source, Vault):
        if target.path == source.path:
            raise UsageError("the backup must be another file than the vault itself")
        opened = source.open(cli.unlocker())
    else:
        opened = _backend_contents(cli)
    if passphrase_file is not None:
        passphrase = read_passphrase_file(str(passphrase_file.expanduser()))
        if not passphrase:
            raise InvalidInput(f"passphrase file {shown(str(passphrase_file), 80)} is empty")
    else:
        passphrase = require_new_passphrase(
            file_var="CREDCTL_EXPORT_PASSPHRASE_FILE",
            value_var="CREDCTL_EXPORT_PASSPHRASE",
            can_prompt=cli.stdin_is_tty,
        )
    kdf = opened.passphrase_kdf
    _refuse_existing(target.path)  # again: the prompt may have taken a while
    count = export_copy(opened, target.path, passphrase)
    from credctl.audit.events import record_vault_event

    record_vault_event(source, "export", data_key=opened.data_key, detail=f"{count} credentials")
    output.info(
        f"exported {count} credential(s) to {target.path} (Argon2id m={kdf.memory_kib // 1024} "
        f"MiB, t={kdf.time_cost}, p={kdf.parallelism}); restore with `credctl import "
        f"{target.path}`",
        quiet=cli.quiet,
    )


def _backend_contents(cli: CliContext) -> OpenVault:
    """A backend's key settings with every record and setting put in its body (export)."""
    from credctl.migrate import KnownKey
    from credctl.storage.sealed import SealedStorage
    from credctl.storage.vault_storage import VaultSnapshot

    opened = cli.vault().open(cli.unlocker())
    view = SealedStorage(cli.engine(), KnownKey(opened.data_key)).snapshot()
    try:
        opened.body.meta.update(view.meta)
        into = VaultSnapshot(opened.body)
        for record in view.records():
            into.put(record)
    finally:
        view.close()
    return opened


def _refuse_existing(path: Path) -> None:
    if os.path.lexists(path):
        raise VaultExistsError(
            f"{path} already exists; export never replaces a file",
            hint="choose another -o FILE, or move the old backup away first",
        )
