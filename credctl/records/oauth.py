"""oauth2 credentials in the record layer: renewing, refusing expired tokens, storing logins.

The OAuth protocol lives in `credctl.oauth` and never sees storage; this module
holds the vault lock around it.  `refresh_locked` takes the writer lock,
re-reads the credential under it, and calls the provider only if the token
still needs renewing, so the processes that wait on the lock find the fresh
token and never spend a rotated refresh token twice (RFC 9700 §4.14.2).  A
refresh that changes nothing leaves the vault file alone.

`current` is what every secret read of an access token goes through: renew if
due, else use; refuse (`Expired`, exit 7) a token whose time has passed.  A
credential that has client settings but no token yet (created with
`create_credential`, never logged in) starts a browser login and raises
`InteractionRequired` with it: the person opens its ``auth_url``.

Two settings of the manager reach here as arguments: `ahead` (`CacheConfig.
refresh_ahead`: renew inside the refresh-ahead window, or only once expired) and
`plain_http` (`SecurityConfig.allow_plain_http`: whether a provider on plain http
may be asked).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from credctl.errors import (
    CredentialError,
    Expired,
    InteractionRequired,
    NotFound,
    RefreshFailed,
    ServiceUnavailable,
)
from credctl.oauth import expiry
from credctl.records.secrets import SecretRecord
from credctl.records.stored import OAUTH_STATE, StoredCredential

if TYPE_CHECKING:
    from credctl.oauth.records import Login
    from credctl.records.activity import Actor
    from credctl.records.store import RecordStore


def current(
    store: RecordStore,
    secret: SecretRecord,
    actor: Actor,
    *,
    min_valid: float = 0.0,
    refresh: bool = True,
    ahead: bool = True,
    plain_http: bool = True,
) -> SecretRecord:
    """The credential with an access token that is valid now (and for `min_valid` s).

    Renewed under the lock when it expires within the refresh-ahead window (only once
    it has expired when `ahead` is False) or `min_valid`; an unreachable provider is
    tolerated while the token in hand still works.  `Expired` when the token's time
    has passed and nothing renewed it; `InteractionRequired` (with a started login)
    when there never was a token and only a person can get one.
    """
    credential, data = secret.credential, secret.data
    state = credential.oauth_state
    renewable = expiry.grant(data, state) is not None
    if not renewable and not data.get("access_token") and _can_log_in(data):
        raise _login_required(store, credential, actor, plain_http=plain_http)
    due = (
        expiry.needs_refresh(data, state, min_valid=min_valid)
        if ahead
        else not expiry.valid_for(data, min_valid)
    )
    if refresh and renewable and due:
        try:
            renewed = refresh_locked(
                store, credential.id, actor, min_valid=min_valid, seen=data, plain_http=plain_http
            )
            secret = SecretRecord.load(renewed)
        except ServiceUnavailable:
            if not expiry.valid_for(data, min_valid):
                raise
    expires = expiry.expires_at(secret.data)
    if expires is not None and not expiry.valid_for(secret.data):
        from credctl._time import format_unix

        raise Expired(
            f"the access token of {secret.credential.name!r} expired at {format_unix(expires)}",
            hint=_expired_hint(store, secret.credential),
            credential_id=secret.credential.id,
        )
    return secret


def _can_log_in(data: dict[str, object]) -> bool:
    """Whether the data name a client and a provider a person could log in to."""
    return bool(data.get("client_id")) and any(
        data.get(key) for key in ("provider", "issuer", "auth_url")
    )


def _login_required(
    store: RecordStore, credential: StoredCredential, actor: Actor, *, plain_http: bool
) -> InteractionRequired:
    """Start a browser login for `credential` and say that a person must finish it.

    The flow uses the credential's own client settings and the default loopback
    redirect; if it cannot be started (a provider that cannot be reached for
    discovery), the error still says what to run, without a flow.
    """
    from credctl.oauth.flows import prepare, previous_settings
    from credctl.oauth.refresh import login_command
    from credctl.records.flows import save_flow

    command = login_command(credential.name, credential.oauth_state, store.location_hint())
    message = f"{credential.name!r} has no access token yet: a person must log in"
    given = previous_settings(credential.data, credential.oauth_state)
    given.pop("grant", None)
    given.update(name=credential.name, flow="browser")
    if not plain_http:
        _refuse_plain_http(credential.name, given)
    try:
        _settings, pending = prepare("oauth2", given, credential.owner)
        save_flow(store, pending, actor)
    except CredentialError as exc:
        return InteractionRequired(
            f"{message} (no login could be started here: {exc})",
            hint=f"log in first: {command}",
        )
    # The library caller opens `flow`'s auth_url; a person at a shell runs the command.
    return InteractionRequired(
        message, hint=f"log in first: {command}", flow_id=pending.id, flow=pending.flow
    )


def _refuse_plain_http(name: str, data: dict[str, object]) -> None:
    from credctl.oauth.settings import refuse_plain_http

    urls = (data.get(key) for key in ("token_url", "auth_url", "issuer", "device_url"))
    refuse_plain_http(urls, f"the OAuth client of {name!r}")


def _expired_hint(store: RecordStore, credential: StoredCredential) -> str:
    from credctl.oauth.refresh import login_command

    if expiry.grant(credential.data, credential.oauth_state) is not None:
        return f"renew it with `credctl refresh {credential.name}`"
    command = login_command(credential.name, credential.oauth_state, store.location_hint())
    return f"log in again: {command}"


def refresh_locked(
    store: RecordStore,
    credential_id: int,
    actor: Actor,
    *,
    force: bool = False,
    min_valid: float = 0.0,
    seen: dict[str, object] | None = None,
    plain_http: bool = True,
) -> StoredCredential:
    """Renew the credential's tokens under the vault lock; the credential as stored after.

    Without `force`, the provider is called only if the re-read credential still
    needs it: when its access token is the one in `seen` (nobody renewed it
    meanwhile) and it expires within the refresh-ahead window or `min_valid`.
    Without `plain_http`, a provider on plain http is refused (`AccessDenied`).
    """
    from credctl.oauth import refresh

    vault = store.location_hint()
    with store.transaction("refresh", actor) as txn:
        credential = txn.get(credential_id)
        if credential is None:
            raise NotFound(
                f"no credential with id {str(credential_id)!r}", credential_id=credential_id
            )
        txn.subject = credential
        data, state = credential.data, credential.oauth_state
        grant = refresh.check_refreshable(credential.name, credential.type, data, state, vault)
        if not force and refresh.renewed_elsewhere(seen, data, state, min_valid):
            return credential  # nothing changed: nothing is committed
        if not plain_http:
            _refuse_plain_http(credential.name, data)
        tokens = refresh.request_tokens(credential.name, data, state, grant, vault)
        new_data, new_state = refresh.renewed_data(data, state, grant, tokens)
        return txn.update(credential, data=new_data, extra={OAUTH_STATE: new_state})


class RefreshReport:
    """What `refresh_expired` did: the ids renewed, and the failures by credential name."""

    def __init__(self) -> None:
        self.refreshed: list[int] = []
        self.failed: list[tuple[str, CredentialError]] = []

    def error(self) -> CredentialError:
        """One error that names every failure (their common kind, else `RefreshFailed`)."""
        kinds = {type(exc) for _, exc in self.failed}
        kind = kinds.pop() if len(kinds) == 1 else RefreshFailed
        listed = "; ".join(f"{name!r}: {exc}" for name, exc in self.failed)
        total = len(self.failed) + len(self.refreshed)
        hint = self.failed[0][1].hint if len(self.failed) == 1 else None
        return kind(f"could not refresh {len(self.failed)} of {total}: {listed}", hint=hint)


def refresh_expired(
    store: RecordStore, actor: Actor, *, ahead: bool = True, plain_http: bool = True
) -> RefreshReport:
    """Renew every oauth2 credential that can be renewed and is expired or about to be
    (within the refresh-ahead window; only expired ones when `ahead` is False)."""
    report = RefreshReport()
    for credential in store.view(actor).all(credential_type="oauth2"):
        data, state = credential.data, credential.oauth_state
        due = expiry.needs_refresh(data, state) if ahead else not expiry.valid_for(data)
        if expiry.grant(data, state) is None or not due:
            continue
        try:
            refresh_locked(store, credential.id, actor, seen=data, plain_http=plain_http)
        except CredentialError as exc:
            report.failed.append((credential.name, exc))
        else:
            report.refreshed.append(credential.id)
    return report


def store_login(store: RecordStore, login: Login, actor: Actor) -> StoredCredential:
    """Create the credential a login names, or renew the tokens of the oauth2 one called so.

    Logging in again keeps the credential's id, description, tags and settings.  A
    credential of another type with that name is `DuplicateCredential`; one of
    another owner is `AccessDenied`.
    """
    from credctl.errors import AccessDenied, DuplicateCredential
    from credctl.oauth.records import new_login_data, relogin_data

    with store.transaction("login", actor) as txn:
        existing = txn.by_name(login.name) if login.name else None
        if existing is None:
            return txn.create(
                "oauth2",
                new_login_data(login),
                name=login.name,
                description=login.description,
                extra={OAUTH_STATE: login.state},
            )
        txn.subject = existing
        if existing.type != "oauth2":
            raise DuplicateCredential(
                f"a {existing.type} credential named {login.name!r} already exists",
                hint="choose another name for the OAuth login",
            )
        if existing.owner != actor.owner:
            raise AccessDenied(f"user {actor.owner!r} may not change this credential")
        return txn.update(
            existing, data=relogin_data(existing.data, login), extra={OAUTH_STATE: login.state}
        )
