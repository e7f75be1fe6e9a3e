"""`create`, `list`, `show`: storing and reading credentials (never their secrets).

Each command parses its options, calls the `CredentialManager`, and renders
the result: data on stdout (an id, a table, JSON), messages on stderr.  Secret
values are read only through `credctl.cli.secret_input` and are never printed.
`update`/`delete`, `import`/`export` and `metrics` live in their own modules and
are registered from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.cli.secret_input import InputContext, collect_data, parse_metadata
from credctl.cli.tables import print_table, printable
from credctl.errors import DuplicateCredential, NotFound
from credctl.model import to_rfc3339
from credctl.types import get_type, validate_name
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager
    from credctl.model import Credential

# Help lists the built-in types by name so that building it never scans plugins.
BUILTIN_TYPES = ("api_key", "token", "basic_auth", "oauth2", "smtp", "custom")

FieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--field",
        "-f",
        metavar="KEY=VALUE",
        help="A field of the data. Secret fields only as KEY=@FILE, KEY=@- (stdin) or "
        "KEY=env:VAR; leave one out to be asked at a hidden prompt.",
        show_default=False,
    ),
]
DataFileOption = Annotated[
    str | None,
    typer.Option(
        "--data-file",
        metavar="FILE|-",
        help="The data as one JSON object, from FILE or stdin (-).",
        show_default=False,
    ),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", "-t", metavar="TAG", help="A tag (repeatable).", show_default=False),
]
MetaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--meta",
        metavar="KEY=VALUE",
        help="A metadata entry, stored as a string (repeatable). Never secret.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]
RefArgument = Annotated[
    str,
    typer.Argument(metavar="NAME|ID", help="Credential name or numeric id.", show_default=False),
]


def register(app: typer.Typer) -> None:
    """Add the credential commands (and update, delete, import, export, metrics) to the app."""
    from credctl.cli import credential_edit, import_export, metrics_command

    app.command("create", epilog=types_epilog())(create_command)
    app.command("list")(list_command)
    app.command("show")(show_command)
    credential_edit.register(app)
    import_export.register(app)
    metrics_command.register(app)


def types_epilog() -> str:
    """The built-in types and their fields (``*`` marks secret fields) for `create --help`."""
    lines = ["Types and their fields (* secret, ! required):", ""]
    for name in BUILTIN_TYPES:
        kind = get_type(name)
        if name == "custom":
            described = "any fields* (strings, numbers, booleans), token_field"
        else:
            described = ", ".join(
                spec.name + ("*" if spec.secret else "") + ("!" if spec.required else "")
                for spec in kind.fields.values()
            )
        lines.append(f"  {name}: {described}")
    return "\n".join(lines)


def create_command(
    ctx: typer.Context,
    credential_type: Annotated[
        str,
        typer.Argument(metavar="TYPE", help="api_key, token, basic_auth, oauth2, smtp or custom."),
    ],
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME", help="1–128 of A-Za-z0-9_- starting with a letter or digit; no dots."
        ),
    ],
    field: FieldOption = None,
    data_file: DataFileOption = None,
    description: Annotated[
        str, typer.Option("--description", "-d", help="What the credential is for.")
    ] = "",
    tag: TagOption = None,
    meta: MetaOption = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            "--idempotency-key",
            metavar="KEY",
            help="Repeating a create with the same key and body prints the same id; "
            "another body exits 8.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Store a new credential and print its id alone on stdout.

    Secret fields never come from the command line itself: a literal such as
    --field token=abc is refused (exit 9).  Give them as --field KEY=@FILE (one
    trailing newline is dropped), --field KEY=@- (stdin), --field KEY=env:VAR,
    in --data-file FILE|- (a JSON object), or leave them out to be asked at a
    hidden prompt (only on a terminal; without one a missing secret is exit 9).
    Non-secret fields take literals; to store a literal that starts with @,
    env: or a backslash, write one backslash before it (--field 'from_name=\\@team').

    Examples:

      credctl create token github --field token=@~/.secrets/gh.txt

      pass show github | credctl create token github --field token=@-

      credctl create basic_auth ci --field username=bot --field password=env:PW

      credctl create api_key sendgrid --data-file sendgrid.json --tag mail

      ID=$(credctl create token ci --field token=@t.txt --idempotency-key run-42)

    Exit codes: 8 the name exists (or the idempotency key was used with another
    body), 9 invalid type, name or field.
    """
    cli: CliContext = ctx.obj
    kind = get_type(credential_type)
    validate_name(name)
    metadata = parse_metadata(meta or [])
    manager = cli.manager()
    # Unlock and check the name before asking for any secret: nobody should type a
    # secret only to learn that the vault is locked or the name taken.
    if _exists(manager, name) and idempotency_key is None:
        raise DuplicateCredential(
            f"a credential named {shown(name)} already exists",
            hint="choose another name, or `credctl update` the existing one",
        )
    data = collect_data(
        kind,
        field or [],
        data_file,
        credential_name=name,
        io=InputContext.from_process(cli.stdin_is_tty),
    )
    credential_id = manager.create_credential_idempotent(
        kind.name,
        data,
        None,
        idempotency_key,
        name=name,
        description=description,
        tags=tag or (),
        metadata=metadata,
    )
    output.data(str(credential_id))
    output.info(f"created {kind.name} {shown(name)} (id {credential_id})", quiet=cli.quiet)


def _exists(manager: CredentialManager, ref: str) -> bool:
    try:
        manager.get_credential(ref)
    except NotFound:
        return False
    return True


def list_command(
    ctx: typer.Context,
    credential_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="Only this type.", show_default=False),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            metavar="TAG",
            help="Only credentials with this tag.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List credentials: a table, or a JSON array with --json.  Never secrets.

    Examples:

      credctl list

      credctl list --type oauth2 --tag prod

      credctl list --json | jq -r '.[].name'

    The JSON objects have id, name, credential_type, description, tags,
    metadata, owner, created_at, updated_at, version and, for oauth2,
    token_expiry.
    """
    cli: CliContext = ctx.obj
    if credential_type is not None:
        credential_type = get_type(credential_type).name
    found = cli.manager().list_credentials(credential_type=credential_type, tag=tag)
    if as_json:
        output.data_json([credential.to_json() for credential in found])
        return
    if not found:
        filtered = credential_type is not None or tag is not None
        output.info(
            "no credentials match"
            if filtered
            else "no credentials yet (store one with `credctl create TYPE NAME`)",
            quiet=cli.quiet,
        )
        return
    print_table(
        cli,
        ("id", "name", "type", "tags", "description", "updated"),
        [
            (
                str(c.id),
                c.name,
                c.credential_type,
                ", ".join(c.tags),
                _short(c.description),
                to_rfc3339(c.updated_at),
            )
            for c in found
        ],
    )


def _short(text: str, limit: int = 60) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit and line == text else line[: limit - 1] + "…"


def show_command(ctx: typer.Context, ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show one credential's details (never its secret data).

    Examples:

      credctl show github

      credctl show 7 --json

    --json prints one object: id (integer), name, credential_type, description,
    tags (array), metadata, owner, created_at, updated_at (RFC 3339 UTC),
    version and, for oauth2, token_expiry.
    """
    cli: CliContext = ctx.obj
    credential = cli.manager().get_credential(ref)
    if as_json:
        output.data_json(credential.to_json())
        return
    for label, value in describe(credential):
        output.data(f"{label + ':':<14}{printable(value)}")


def describe(credential: Credential) -> list[tuple[str, str]]:
    """The lines `show` prints, as (label, value) pairs."""
    import json

    lines = [
        ("id", str(credential.id)),
        ("name", credential.name),
        ("type", credential.credential_type),
        ("description", credential.description or "-"),
        ("tags", ", ".join(credential.tags) or "-"),
        (
            "metadata",
            json.dumps(dict(credential.metadata), ensure_ascii=False)
            if credential.metadata
            else "-",
        ),
        ("owner", credential.owner),
        ("created", to_rfc3339(credential.created_at)),
        ("updated", to_rfc3339(credential.updated_at)),
        ("version", str(credential.version)),
    ]
    if credential.credential_type == "oauth2":
        expiry = credential.token_expiry
        lines.append(("token expiry", to_rfc3339(expiry) if expiry else "-"))
    return lines
