"""`serve` (the REST API of SPEC §6) and `serve token create | list | revoke`.

FastAPI and uvicorn are imported only when the server really starts, so the
token commands and every other command stay as fast as before.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import InvalidInput, UsageError

serve_app = typer.Typer(invoke_without_command=True)
token_app = typer.Typer(help="Bearer tokens of the REST API, one user each.",
                        no_args_is_help=True)  # fmt: skip
serve_app.add_typer(token_app, name="token")


def register(app: typer.Typer) -> None:
    """Add the `serve` group to the root app."""
    app.add_typer(serve_app, name="serve")


@serve_app.callback(invoke_without_command=True)
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0: any free port).")
    ] = 8000,
    uds: Annotated[
        str | None,
        typer.Option("--uds", metavar="PATH", help="Listen on a Unix socket (0600) instead."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (1 on a vault file).")
    ] = 1,
    tls_cert: Annotated[
        str | None, typer.Option("--tls-cert", metavar="FILE", help="TLS certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", metavar="FILE", help="TLS private key (PEM).")
    ] = None,
    insecure_bind: Annotated[
        bool,
        typer.Option(
            "--insecure-bind",
            help="Allow plain HTTP off loopback (tokens and data readable on the network).",
        ),
    ] = False,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            metavar="NAME",
            help="Another host name clients may use in Host (repeatable).",
        ),
    ] = None,
    max_body: Annotated[
        int, typer.Option("--max-body", metavar="BYTES", min=1024, help="Largest request body.")
    ] = 1024 * 1024,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log method, path, status.")
    ] = True,
) -> None:
    """Serve the Credentials REST API for workflow engines until SIGTERM.

    GET/POST /credentials/, GET/PUT/DELETE /credentials/{id} and workflow links
    (SPEC §6); `serve token create|list|revoke` manages its bearer tokens.

    The vault is unlocked once at start from any unlock source (a CI key in
    CREDCTL_KEY suits a service).  Requests need a bearer token from
    `credctl serve token create --user U`; each user sees only their own
    credentials.  It listens on 127.0.0.1:8000 by default; another address
    needs --tls-cert and --tls-key.  The API is described at /openapi.json.

    Examples:

      credctl serve

      credctl serve --port 9000 --no-access-log

      credctl serve --host 0.0.0.0 --allow-host creds.internal --tls-cert c.pem --tls-key k.pem
    """
    if ctx.invoked_subcommand is not None:
        return
    cli: CliContext = ctx.obj
    if workers > 1:
        raise UsageError(
            "--workers above 1 needs a database backend: on a vault file one process "
            "serialises the writes and keeps the decrypted vault",
            hint="run one worker; several become possible with the database backends",
        )
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together", hint="give both")
    if uds is not None and (tls_cert is not None or host != "127.0.0.1"):
        raise UsageError("--uds takes neither --host nor TLS", hint="drop one of them")
    from credctl.manager import CredentialManager
    from credctl.server.run import check_bind, listen, run
    from credctl.storage.vault_storage import VaultStorage

    check_bind(host, tls=tls_cert is not None, insecure_bind=insecure_bind,
               allow_hosts=allow_host or [], uds=uds)  # fmt: skip
    manager = CredentialManager(storage=VaultStorage(cli.vault(), cli.unlocker()), origin="api")
    manager.unlock()  # a locked vault fails now (exit 4), before anything listens
    if not manager.api_tokens():
        output.warn("no API tokens yet: create one with `credctl serve token create --user U`")
    listener = listen(host, port, uds=uds, tls=tls_cert is not None,
                      insecure_bind=insecure_bind, allow_hosts=allow_host or [])  # fmt: skip
    if insecure_bind and listener.url.startswith("http:"):
        output.warn(
            f"serving plain HTTP on {host}: bearer tokens and credential data cross the "
            "network unencrypted (--insecure-bind)"
        )
    run(manager, listener, tls_cert=tls_cert, tls_key=tls_key, max_body=max_body,
        access_log=access_log)  # fmt: skip
    output.info("stopped", quiet=cli.quiet)


def _expiry(text: str) -> dt.timedelta | None:
    if text == "never":
        return None
    from credctl.durations import parse_duration

    return dt.timedelta(seconds=parse_duration(text, option="--expires"))


@token_app.command("create")
def create_command(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", metavar="USER", help="Whose credentials.")],
    expires: Annotated[
        str, typer.Option("--expires", metavar="DURATION", help="Lifetime (30d, 12h) or never.")
    ] = "90d",
) -> None:
    """Issue a bearer token for USER and print it once, alone on stdout.

    Only a hash of it is kept (in the vault's encrypted settings), so it cannot
    be shown again: store it in the workflow engine's secret store.  A user is
    1–128 letters, digits, '_', '.', '@' or '-'.  `local` is the vault's own
    user: its token sees the credentials made with the CLI.

    Examples:

      credctl serve token create --user n8n

      TOKEN=$(credctl serve token create --user airflow --expires 30d)
    """
    cli: CliContext = ctx.obj
    from credctl.records.validation import check_owner

    check_owner(user)
    entry, token = cli.manager().issue_api_token(user, expires_in=_expiry(expires))
    output.data(token.expose())
    until = entry.to_json()["expires_at"] or "never"
    output.info(
        f"issued API token {entry.id} for user {user!r} (expires: {until}); it is shown only now",
        quiet=cli.quiet,
    )


@token_app.command("list")
def list_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array for scripts.")] = False,
) -> None:
    """List API tokens: id, user, created, expires, last used (never the tokens)."""
    cli: CliContext = ctx.obj
    rows = [token.to_json() for token in cli.manager().api_tokens()]
    if as_json:
        output.data_json(rows)
        return
    if not rows:
        output.info("no API tokens (create one with `credctl serve token create --user U`)",
                    quiet=cli.quiet)  # fmt: skip
        return
    from credctl.cli.tables import print_table

    print_table(
        cli,
        ("id", "user", "created", "expires", "last used"),
        [
            (str(r["id"]), r["user"] + (" (expired)" if r["expired"] else ""), r["created_at"],
             r["expires_at"] or "never", r["last_used_at"] or "-")
            for r in rows
        ],
    )  # fmt: skip


@token_app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    token_ids: Annotated[
        list[int], typer.Argument(metavar="ID", help="Token ids from `serve token list`.")
    ],
) -> None:
    """Revoke API tokens; a running server refuses them from its next request on."""
    cli: CliContext = ctx.obj
    manager = cli.manager()
    for token_id in token_ids:
        if token_id < 1:
            raise InvalidInput(f"no API token {token_id}")
        entry = manager.revoke_api_token(token_id)
        output.info(f"revoked API token {entry.id} of user {entry.user!r}", quiet=cli.quiet)
