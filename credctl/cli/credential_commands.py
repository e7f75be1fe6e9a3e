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
from credctl.cli.options import JsonOption, RefArgument
from credctl.cli.tables import print_table, printable
from credctl.errors import UsageError
from credctl.model import to_rfc3339
from credctl.types import BUILTIN_TYPE_NAMES, get_type

if TYPE_CHECKING:
    from credctl.model import Credential
    from credctl.rotation.due import RotationStatus


def register(app: typer.Typer) -> None:
    """Add the credential commands (and update, delete, import, export, metrics) to the app."""
    from credctl.cli import credential_edit, import_export, metrics_command

    app.command("list")(list_command)
    app.command("show")(show_command)
    credential_edit.register(app)
    import_export.register(app)
    metrics_command.register(app)


def types_epilog() -> str:
    """The built-in types and their fields (``*`` marks secret fields) for `create --help`."""
    lines = ["Types and their fields (* secret, ! required):", ""]
    for name in BUILTIN_TYPE_NAMES:
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


LIST_FORMATS = ("table", "tsv", "json")
LIST_COLUMNS = ("id", "name", "type", "tags", "description", "updated")


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
    list_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="table (the default on a terminal), tsv (the default otherwise) or json.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """List credentials: a table on a terminal, tab-separated lines in a pipe.  Never secrets.

    Off a terminal (a pipe, a file) each credential is one line of tab-separated
    columns, without a header or decoration: id, name, type, tags (comma-separated),
    description, updated.  Tabs, newlines and control characters inside a value
    are written as \\t, \\n, \\x1b ….

    Examples:

      credctl list

      credctl list --type oauth2 --tag prod

      credctl list | cut -f2

      credctl list --json | jq -r '.[].name'

    The JSON objects have id, name, credential_type, description, tags,
    metadata, owner, created_at, updated_at, version, fields (names only) and,
    for oauth2, token_expiry.
    """
    import sys

    cli: CliContext = ctx.obj
    if list_format is not None and list_format not in LIST_FORMATS:
        raise UsageError(
            f"invalid value for --format: choose from {', '.join(LIST_FORMATS)}",
            hint="see 'credctl list --help'",
        )
    if as_json:
        if list_format not in (None, "json"):
            raise UsageError(f"--json and --format {list_format} contradict each other")
        list_format = "json"
    if list_format is None:
        list_format = "table" if sys.stdout.isatty() else "tsv"
    if credential_type is not None:
        credential_type = get_type(credential_type).name
    found = cli.manager().list_credentials(credential_type=credential_type, tag=tag)
    if list_format == "json":
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
    if list_format == "tsv":
        for c in found:
            cells = (str(c.id), c.name, c.credential_type, ",".join(c.tags), c.description,
                     to_rfc3339(c.updated_at))  # fmt: skip
            output.data("\t".join(printable(cell) for cell in cells))
        return
    print_table(
        cli,
        LIST_COLUMNS,
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
    version, for oauth2 token_expiry, and rotation: status (ok, warning,
    overdue, stuck, no-policy), due_at, last_rotated, policy and the kept
    versions (numbers, oldest first).
    """
    cli: CliContext = ctx.obj
    manager = cli.manager()
    credential = manager.get_credential(ref)
    status = manager.rotation_status(credential.id)
    kept = [version.version for version in manager.get_versions(credential.id)]
    if as_json:
        rotation = {k: v for k, v in status.to_json().items() if k not in ("id", "name")}
        output.data_json({**credential.to_json(), "rotation": {**rotation, "versions": kept}})
        return
    for label, value in describe(credential) + rotation_lines(status, kept):
        output.data(f"{label + ':':<14}{printable(value)}")


def rotation_lines(status: RotationStatus, kept: list[int]) -> list[tuple[str, str]]:
    """The rotation lines of `show`: policy, next due date and status, kept versions."""
    policy = status.policy.describe() if status.policy is not None else "-"
    shown_versions = ", ".join(str(number) for number in kept)
    return [
        ("rotation", policy),
        ("next due", f"{status.status}: {status.detail}"),
        ("versions", f"{len(kept)} kept ({shown_versions})"),
    ]


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
    lines.append(("fields", field_names(credential)))
    return lines


def field_names(credential: Credential) -> str:
    """The data's field names, secret ones marked (never a value): ``key (secret), param_name``."""
    from credctl.cli.secret_input import field_role

    kind = get_type(credential.credential_type)
    names = [
        name + (" (secret)" if field_role(kind, name) == "secret" else "")
        for name in credential.fields
    ]
    return ", ".join(names) or "-"
