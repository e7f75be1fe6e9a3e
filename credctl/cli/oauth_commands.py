"""`oauth login`, `oauth client-credentials` and `refresh`: getting and renewing OAuth tokens.

The commands parse options, read the client secret the safe way (never from argv),
and call the core: `credctl.oauth.loopback.browser_login` and the manager's
interactive-flow and refresh methods.  What a person must read (the URL, the device
code) goes to stderr; stdout carries only the credential id.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from credctl.cli import output
from credctl.cli.context import CliContext
from credctl.errors import InvalidInput, UsageError
from credctl.text import printable
from credctl.types.names import shown

if TYPE_CHECKING:
    from credctl.manager import CredentialManager

oauth_app = typer.Typer(
    help="Log in to OAuth 2.0 / OpenID Connect providers and keep the tokens fresh.",
    no_args_is_help=True,
)

NameArgument = Annotated[
    str,
    typer.Argument(metavar="NAME", help="The oauth2 credential to create or log in again."),
]
ProviderOption = Annotated[
    str | None,
    typer.Option(
        "--provider",
        metavar="PRESET",
        help="A known provider: google, github, microsoft or gitlab.",
        show_default=False,
    ),
]
IssuerOption = Annotated[
    str | None,
    typer.Option(
        "--issuer",
        metavar="URL",
        help="An OpenID Connect / RFC 8414 issuer; its endpoints are discovered.",
        show_default=False,
    ),
]
TokenUrlOption = Annotated[
    str | None,
    typer.Option("--token-url", metavar="URL", help="The token endpoint.", show_default=False),
]
ClientIdOption = Annotated[
    str | None,
    typer.Option(
        "--client-id",
        metavar="ID",
        help="The client id registered with the provider.",
        show_default=False,
    ),
]
ClientSecretOption = Annotated[
    str | None,
    typer.Option(
        "--client-secret",
        metavar="@FILE|@-|env:VAR",
        help="The client secret of a confidential client, from a file, stdin or a variable "
        "(never as a literal).",
        show_default=False,
    ),
]
ScopeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        "-s",
        metavar="SCOPE",
        help="A scope to ask for (repeatable, or several separated by spaces).",
        show_default=False,
    ),
]
DescriptionOption = Annotated[
    str, typer.Option("--description", "-d", help="What the credential is for.")
]


def register(app: typer.Typer) -> None:
    """Add the `oauth` group and the top-level `refresh` command."""
    app.add_typer(oauth_app, name="oauth")
    app.command("refresh")(refresh_command)


def read_client_secret(value: str | None, cli: CliContext, *, required: bool) -> str | None:
    """The client secret from ``@FILE``, ``@-``, ``env:VAR`` or a hidden prompt; never argv."""
    import os

    from credctl.cli.secret_input import (
        MAX_VALUE_READ,
        InputContext,
        read_text_file,
        strip_one_newline,
    )

    forms = "--client-secret @FILE, --client-secret @- (stdin) or --client-secret env:VAR"
    if value is None:
        if not required:
            return None
        if cli.stdin_is_tty:
            import getpass

            return getpass.getpass("client secret (input hidden): ") or None
        raise InvalidInput("a machine client needs its client secret", hint=f"give {forms}")
    if value == "@-":
        io = InputContext.from_process(cli.stdin_is_tty)
        if cli.stdin_is_tty:
            import getpass

            return getpass.getpass("client secret (input hidden): ")
        return strip_one_newline(io.read_stdin("--client-secret @-", MAX_VALUE_READ))
    if value.startswith("@"):
        return strip_one_newline(read_text_file(value[1:], "--client-secret", MAX_VALUE_READ))
    if value.startswith("env:"):
        variable = value[len("env:") :]
        found = os.environ.get(variable) if variable else None
        if found is None:
            raise InvalidInput(
                f"environment variable {shown(variable)} is not set (for --client-secret)",
                hint=f"export it first, or use {forms}",
            )
        return found
    raise InvalidInput(
        "refusing the client secret as a literal on the command line "
        "(other processes and shell history can read it)",
        hint=f"give {forms}",
    )


def _scopes(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part for value in values for part in value.split()]


def _notify(cli: CliContext) -> Any:
    def notify(message: str) -> None:
        # What the person must act on is shown even with --quiet.
        sys.stderr.write(f"{output.PROGRAM}: {message}\n")
        sys.stderr.flush()

    return notify


@oauth_app.command("login")
def login_command(
    ctx: typer.Context,
    name: NameArgument,
    provider: ProviderOption = None,
    issuer: IssuerOption = None,
    auth_url: Annotated[
        str | None,
        typer.Option(
            "--auth-url", metavar="URL", help="The authorization endpoint.", show_default=False
        ),
    ] = None,
    token_url: TokenUrlOption = None,
    device_url: Annotated[
        str | None,
        typer.Option(
            "--device-url",
            metavar="URL",
            help="The device authorization endpoint (with --device and explicit URLs).",
            show_default=False,
        ),
    ] = None,
    client_id: ClientIdOption = None,
    client_secret: ClientSecretOption = None,
    scope: ScopeOption = None,
    device: Annotated[
        bool,
        typer.Option(
            "--device",
            help="Use the device flow: log in on another device (SSH sessions, containers).",
        ),
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL instead of opening a browser.")
    ] = False,
    timeout: Annotated[
        str,
        typer.Option(
            "--timeout", metavar="DURATION", help="How long to wait for the browser, e.g. 5m."
        ),
    ] = "5m",
    description: DescriptionOption = "",
) -> None:
    """Log in to an OAuth provider and store the tokens as an oauth2 credential.

    The browser flow (the default) is the authorization code flow with PKCE on a
    loopback redirect, http://127.0.0.1:PORT/callback (register that URI with the
    provider; the port changes every time).  The browser is opened through Python's
    webbrowser module, so $BROWSER is honoured; --no-browser prints the URL instead.
    --device uses the device flow: the URL and a code are printed on stderr, to
    open and type on any device.

    The endpoints come from --provider, --issuer (discovery) or --auth-url and
    --token-url.  Logging in again to an existing oauth2 credential renews its
    tokens and reuses its settings, so `credctl oauth login NAME` is enough.

    Examples:

      credctl oauth login github --provider github --client-id Iv1.0123456789abcdef

      credctl oauth login corp --issuer https://login.example.com --client-id cli --scope api

      credctl oauth login corp --device

    Exit codes: 5 consent denied or a forged callback, 7 timed out or expired,
    9 invalid options, 10 the provider could not be reached.
    """
    from credctl.durations import parse_duration

    cli: CliContext = ctx.obj
    from credctl.types import validate_name

    validate_name(name)
    seconds = parse_duration(timeout, option="--timeout")
    manager = cli.manager()
    stored = manager.login_settings(name)
    secret = read_client_secret(client_secret, cli, required=False)
    endpoints_given = any((provider, issuer, auth_url, token_url))
    given: dict[str, Any] = {
        "name": name,
        "client_id": client_id or stored.get("client_id"),
        "client_secret": secret or stored.get("client_secret"),
        "scopes": _scopes(scope) or stored.get("scopes"),
        "description": description,
    }
    if endpoints_given:
        given.update(provider=provider, issuer=issuer, auth_url=auth_url, token_url=token_url)
    elif stored.get("provider"):
        given["provider"] = stored["provider"]
    elif stored.get("issuer"):
        given["issuer"] = stored["issuer"]
    else:
        given.update(auth_url=stored.get("auth_url"), token_url=stored.get("token_url"))
    if device_url:
        given["device_url"] = device_url
    if not given["client_id"]:
        raise InvalidInput(
            "a client id is needed to log in",
            hint="register credctl with the provider as a native (public) app and pass "
            "--client-id ID",
        )
    notify = _notify(cli)
    if device:
        credential_id = _device_login(manager, given, notify)
    else:
        from credctl.oauth.loopback import browser_login

        credential_id = browser_login(
            manager, given, open_browser=not no_browser, timeout=float(seconds), notify=notify
        )
    _report_login(cli, manager, credential_id, given.get("scopes"))


def _device_login(manager: CredentialManager, given: dict[str, Any], notify: Any) -> int:
    from credctl.model import CallbackData, DeviceCode, utc_now

    flow = manager.start_interactive_flow("oauth2", {**given, "flow": "device"})
    interaction = flow.interaction_type
    assert isinstance(interaction, DeviceCode)
    minutes = max(1, round((flow.expires_at - utc_now()).total_seconds() / 60))
    # Checked where the provider's answer is read; escaped again here because a
    # DeviceCode may come from elsewhere (the library's callers).
    notify(
        f"to log in, open {printable(interaction.verification_uri)} on any device and "
        "enter the code"
    )
    notify(f"  {printable(interaction.user_code)}")
    if interaction.verification_uri_complete:
        notify(f"(or open {printable(interaction.verification_uri_complete)})")
    notify(f"waiting for the approval (the code expires in about {minutes} min) …")
    return manager.complete_interactive_flow(flow.id, CallbackData())


def _report_login(
    cli: CliContext, manager: CredentialManager, credential_id: int, asked: Any
) -> None:
    credential = manager.get_credential(credential_id)
    output.data(str(credential_id))
    output.info(
        f"logged in: oauth2 {shown(credential.name)} (id {credential_id}) is stored",
        quiet=cli.quiet,
    )
    granted = credential.scopes
    missing = [scope for scope in asked or () if granted and scope not in granted]
    if missing:
        # Providers drop scopes they do not know, silently (oidc-provider does).
        output.warn(f"the provider did not grant: {printable(', '.join(missing))}")


@oauth_app.command("client-credentials")
def client_credentials_command(
    ctx: typer.Context,
    name: NameArgument,
    client_id: ClientIdOption = None,
    client_secret: ClientSecretOption = None,
    token_url: TokenUrlOption = None,
    issuer: IssuerOption = None,
    provider: ProviderOption = None,
    scope: ScopeOption = None,
    auth_method: Annotated[
        str,
        typer.Option(
            "--auth-method",
            metavar="METHOD",
            help="client_secret_basic (default) or client_secret_post.",
        ),
    ] = "client_secret_basic",
    description: DescriptionOption = "",
) -> None:
    """Store a machine client (client credentials grant) and fetch its first token.

    The access token is fetched again whenever it expires, on demand, by
    `credctl get-token NAME`.  The secret is read from --client-secret @FILE,
    @- (stdin) or env:VAR, or asked for on a terminal.

    Example:

      credctl oauth client-credentials ci-bot --issuer https://login.example.com \\
          --client-id ci-bot --client-secret env:CI_BOT_SECRET --scope api
    """
    from credctl.types import validate_name

    cli: CliContext = ctx.obj
    validate_name(name)
    if not client_id:
        raise InvalidInput("a machine client needs --client-id")
    if not any((token_url, issuer, provider)):
        raise InvalidInput(
            "no token endpoint", hint="give --token-url URL, --issuer URL or --provider PRESET"
        )
    secret = read_client_secret(client_secret, cli, required=True)
    assert secret is not None
    manager = cli.manager()
    credential_id = manager.login_client_credentials(
        name,
        client_id=client_id,
        client_secret=secret,
        token_url=token_url,
        issuer=issuer,
        provider=provider,
        scopes=_scopes(scope) or (),
        auth_method=auth_method,
        description=description,
    )
    output.data(str(credential_id))
    output.info(f"stored machine client {shown(name)} (id {credential_id})", quiet=cli.quiet)


def refresh_command(
    ctx: typer.Context,
    ref: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME|ID", help="The oauth2 credential to refresh.", show_default=False
        ),
    ] = None,
    all_expired: Annotated[
        bool,
        typer.Option(
            "--all-expired", help="Refresh every oauth2 credential that is expired or about to be."
        ),
    ] = False,
) -> None:
    """Renew OAuth access tokens now.

    `refresh NAME` renews one credential's token (a refresh token grant, or a new
    client-credentials token); `refresh --all-expired` renews every one that is
    expired or expires within the refresh-ahead window.  get-token does this by
    itself when needed; this is for scripts that want it done ahead of time.

    Exit codes: 7 the provider refused (log in again: the hint names the command)
    or there is no refresh token, 10 the provider could not be reached.
    """
    cli: CliContext = ctx.obj
    if (ref is None) == (not all_expired):
        raise UsageError("give a credential NAME|ID or --all-expired (one of them)")
    manager = cli.manager()
    if ref is not None:
        token = manager.refresh_credential(ref)
        credential = manager.get_credential(token.credential_id)
        expiry = token.expires_at
        until = f"; valid until {expiry:%Y-%m-%dT%H:%M:%SZ}" if expiry else ""
        output.info(f"refreshed {shown(credential.name)}{until}", quiet=cli.quiet)
        return
    report = manager.refresh_expired()
    for credential_id in report.refreshed:
        output.info(f"refreshed {shown(manager.get_credential(credential_id).name)}",
                    quiet=cli.quiet)  # fmt: skip
    if report.failed:
        raise report.error()
    if not report.refreshed:
        output.info("nothing to refresh", quiet=cli.quiet)
