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
from credctl.model import to_rfc3339
from credctl.types import get_type

if TYPE_CHECKING:
    from credctl.model import Credential
    from credctl.rotation.due import RotationStatus

# Help lists the built-in types by name so that building it never scans plugins.
BUILTIN_TYPES = ("api_key", "token", "basic_auth", "oauth2", "smtp", "custom")


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
    return lines
