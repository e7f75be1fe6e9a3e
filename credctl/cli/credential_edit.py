"""`update` and `delete`: changing and removing credentials."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from credctl.cli import output
from credctl.cli.completion import credential_names
from credctl.cli.context import CliContext
from credctl.cli.options import RefArgument
from credctl.cli.secret_input import (
    InputContext,
    checked_arguments,
    collect_changes,
    parse_metadata,
    read_data_file,
    stdin_reader,
)
from credctl.errors import CredentialInUse, ExitCode, UsageError
from credctl.model import CredentialUpdate
from credctl.types import get_type, validate_name
from credctl.types.names import shown


def register(app: typer.Typer) -> None:
    """Add `update` and `delete` to the root app."""
    app.command("update")(update_command)
    app.command("delete")(delete_command)


def update_command(
    ctx: typer.Context,
    ref: RefArgument,
    new_name: Annotated[
        str | None,
        typer.Option("--name", metavar="NAME", help="Rename the credential.", show_default=False),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option("--description", "-d", help="Replace the description.", show_default=False),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(
            "--tag",
            "-t",
            metavar="TAG",
            help="Replace the tags with these (repeatable).",
            show_default=False,
        ),
    ] = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")] = False,
    meta: Annotated[
        list[str] | None,
        typer.Option(
            "--meta",
            metavar="KEY=VALUE",
            help="Set one metadata entry; the others are kept (repeatable).",
            show_default=False,
        ),
    ] = None,
    clear_meta: Annotated[
        bool, typer.Option("--clear-meta", help="Remove all metadata before applying --meta.")
    ] = False,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            "-f",
            metavar="KEY=VALUE",
            help="Set one field of the data; the others are kept (repeatable).  Secret "
            "fields only as KEY=@FILE, KEY=@- (stdin) or KEY=env:VAR.",
            show_default=False,
        ),
    ] = None,
    data_file: Annotated[
        str | None,
        typer.Option(
            "--data-file",
            metavar="FILE|-",
            help="Replace the secret data with this JSON object, from FILE or stdin.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Change a credential's name, description, tags, metadata or secret data.

    --field sets one field and keeps the others, taking its value the safe
    ways `create` does (@FILE, @- for stdin, env:VAR; a literal only for a
    field that is not secret).  --data-file replaces the whole data, validated
    like `create`: give every field the credential should keep (secrets are
    never printed, so credctl cannot show you the old ones).  --tag replaces
    the tags; --meta sets single metadata entries and keeps the others.
    Nothing is printed on stdout.

    Examples:

      pass show github | credctl update github --field token=@-

      credctl update github --description "CI token" --tag ci --tag prod

      credctl update github --data-file - < new-token.json

      credctl update 7 --name github-ci --meta owner=platform-team
    """
    cli: CliContext = ctx.obj
    if clear_tags and tag:
        raise UsageError("--clear-tags and --tag contradict each other", hint="give one of them")
    changes = [new_name, description, tag, meta, data_file, field]
    if all(value is None for value in changes) and not (clear_tags or clear_meta):
        raise UsageError(
            "nothing to update",
            hint="give --name, --description, --tag, --clear-tags, --meta, --clear-meta, "
            "--field or --data-file",
        )
    if new_name is not None:
        validate_name(new_name)
    entries = parse_metadata(meta or [])
    cli.stdin_taken = stdin_reader(field or [], data_file)
    manager = cli.manager()
    current = manager.get_credential(ref)  # unlocks and checks `ref` before reading input
    # Entries are merged by the record layer under the vault lock, into what is stored
    # then: concurrent `update --meta` of different keys all survive.
    metadata: dict[str, Any] | None = {} if clear_meta else None
    data = None
    io = InputContext.from_process(cli.stdin_is_tty)
    kind = get_type(current.credential_type)
    arguments = checked_arguments(kind, field or [], data_file, update=True)  # before any read
    if data_file is not None:
        data = read_data_file(data_file, io)
    fields = (
        collect_changes(kind, [f"{a.key}={a.raw}" for a in arguments],
                        credential_name=current.name, io=io)
        if arguments
        else None
    )  # fmt: skip
    tags: tuple[str, ...] | None = () if clear_tags else (tuple(tag) if tag else None)
    update = CredentialUpdate(
        name=new_name,
        description=description,
        tags=tags,
        metadata=metadata,
        data=data,
        metadata_changes=entries or None,
        data_changes=fields,
    )
    manager.update_credential(current.id, update)
    what = [
        part
        for part, value in (
            ("name", new_name),
            ("description", description),
            ("tags", tags),
            ("metadata", metadata if metadata is not None else (entries or None)),
            ("data", data),
            ("fields " + ", ".join(fields or ()), fields),
        )
        if value is not None
    ]
    output.info(
        f"updated {shown(new_name or current.name)} (id {current.id}): {', '.join(what)}",
        quiet=cli.quiet,
    )


def delete_command(
    ctx: typer.Context,
    refs: Annotated[
        list[str],
        typer.Argument(
            metavar="NAME|ID",
            help="Credentials to delete.",
            show_default=False,
            autocompletion=credential_names,
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even credentials that workflows are linked to.")
    ] = False,
) -> int:
    """Delete one or more credentials in one vault write.

    On a terminal credctl asks first unless --yes is given; without a terminal
    (scripts, CI) it proceeds.  One result line per credential goes to stderr.
    The exit code is that of the first failure (3 for a name or id that does
    not exist, 8 for one that workflows are linked to through the REST API,
    unless --force), 0 if every one was deleted; the others are deleted either way.

    Examples:

      credctl delete old-token

      credctl delete github 12 staging-db --yes
    """
    cli: CliContext = ctx.obj
    manager = cli.manager()
    if cli.stdin_is_tty and not yes:
        manager.unlock()  # before asking, so a locked vault fails first
        listed = ", ".join(shown(ref) for ref in refs)
        if not typer.confirm(f"Delete {len(refs)} credential(s): {listed}?", err=True):
            output.info("nothing was deleted", quiet=cli.quiet)
            return int(ExitCode.INTERRUPTED)
    code = 0
    deleted = 0
    in_use = False
    for ref, failure in zip(refs, manager.batch_delete(refs, force=force), strict=True):
        if failure is None:
            output.info(f"deleted {shown(ref)}", quiet=cli.quiet)
            deleted += 1
            continue
        output.error(str(failure))  # names the credential; one line per item, no hint
        in_use = in_use or isinstance(failure, CredentialInUse)
        code = code or int(failure.exit_code)
    if deleted:
        output.info(
            "every kept version went with it; older copies of the vault file (VAULT.d/"
            "backups, sync folders, other machines) still hold them until `credctl rekey`",
            quiet=cli.quiet,
        )
    if in_use:
        output.info("hint: unlink the workflows first, or delete with --force")
    return code
