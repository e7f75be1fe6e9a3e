"""Renewing oauth2 tokens under the vault lock, so a rotated refresh token is spent once.

Providers that rotate refresh tokens (RFC 9700 §4.14.2) treat a second use of one
as theft and revoke the whole grant.  Several processes that see the same expiring
token at once (eight CI steps calling ``get-token``) must therefore not each spend
it.  `refresh` takes the vault's writer lock, re-reads the record under it, and
calls the provider only if the token still needs renewing; the new tokens are
stored before the lock is released.  The other processes then wait on the lock,
re-read, find the fresh token and return it without calling the provider.

A refresh that changes nothing (another process already did it) leaves the vault
file alone: the writer block is abandoned, not committed.
"""

from __future__ import annotations

import hmac
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from credctl.errors import (
    CredentialError,
    NoRefreshToken,
    RefreshFailed,
    RefreshNotSupported,
    ServiceUnavailable,
)
from credctl.oauth import expiry
from credctl.oauth.records import renew
from credctl.storage.base import Record

if TYPE_CHECKING:
    from credctl.manager import CredentialManager, Ref


class _Unchanged(Exception):  # noqa: N818 - control flow, never escapes this module
    """Leave the writer block without committing: another process already refreshed."""

    def __init__(self, record: Record) -> None:
        super().__init__("unchanged")
        self.record = record


def check_refreshable(record: Record, vault: str | None = None) -> str:
    """The grant that renews this record, or the error that says why none can."""
    from credctl.types import get_type

    name = record.get("name")
    if not get_type(str(record.get("type"))).refreshable:
        raise RefreshNotSupported(
            f"{record.get('type')} credentials cannot be refreshed ({name!r})",
            hint="only oauth2 credentials have tokens a provider renews",
        )
    grant = expiry.grant(record)
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    if grant is None and isinstance(data, dict) and data.get("refresh_token"):
        raise RefreshFailed(
            f"{name!r} has a refresh token but no token_url to use it at",
            hint=f"log in again: {login_command(str(name), record, vault)}",
        )
    if grant is None:
        raise NoRefreshToken(
            f"{name!r} has no refresh token and is not a machine client",
            hint=f"log in again: {login_command(str(name), record, vault)}",
        )
    return grant


def login_command(name: str, record: Record | None = None, vault: str | None = None) -> str:
    """The exact command that logs in again (the hint after ``invalid_grant``)."""
    words = ["credctl"]
    if vault:
        words += ["--vault", shlex.quote(vault)]
    state = expiry.state(record) if record else {}
    if state.get("grant") == "client_credentials":
        words += ["oauth", "client-credentials", name, "--client-secret", "@FILE"]
    else:
        words += ["oauth", "login", name]
        if state.get("grant") == "device_code":
            words.append("--device")
    return " ".join(words)


def vault_option(manager: CredentialManager) -> str | None:
    """The vault path to name in a hint, when neither the default nor $CREDCTL_VAULT finds it."""
    vault = getattr(manager.storage, "vault", None)
    path = getattr(vault, "path", None)
    if path is None:
        return None
    from credctl.paths import default_vault_path

    if default_vault_path().absolute() == Path(path).absolute():
        return None
    return str(path)


def refresh(
    manager: CredentialManager,
    ref: Ref,
    *,
    force: bool = False,
    min_valid: float = 0.0,
    seen: Record | None = None,
) -> Record:
    """Renew the record's tokens under the vault lock; the record as stored afterwards.

    Without `force`, the provider is called only if the re-read record still needs it:
    when its access token is the one `seen` before the lock (nobody refreshed meanwhile)
    and it expires within the refresh-ahead window or `min_valid` seconds.
    """
    started = time.perf_counter()
    vault = vault_option(manager)
    try:
        with manager.storage.writer() as draft:
            record = manager._find(draft, ref)  # the re-read under the lock
            grant = check_refreshable(record, vault)
            if not force and _done_elsewhere(record, seen, min_valid):
                raise _Unchanged(record)
            tokens, lifetime = _call_provider(record, grant, vault)
            data = dict(record["data"])
            data.update(tokens)
            if grant == "client_credentials":
                data.pop("refresh_token", None)
            state = dict(expiry.state(record))
            state.setdefault("grant", "client_credentials" if grant == "client_credentials"
                             else "authorization_code")  # fmt: skip
            if lifetime is None:
                state.pop("lifetime", None)
                data.pop("token_expiry", None)
            else:
                state["lifetime"] = lifetime
            updated = renew(manager, draft, record, data, state)
    except _Unchanged as unchanged:
        return unchanged.record
    manager._record(  # the usage journal behind `credctl metrics`
        int(updated["id"]), "refresh", (time.perf_counter() - started) * 1000
    )
    return updated


def _done_elsewhere(record: Record, seen: Record | None, min_valid: float) -> bool:
    """True when the re-read record needs no provider call."""
    if seen is not None:
        before = str(seen.get("data", {}).get("access_token") or "")
        now = str(record.get("data", {}).get("access_token") or "")
        if now and not hmac.compare_digest(before.encode(), now.encode()):
            # Another process renewed it while we waited for the lock: use theirs, even
            # if --min-valid asks for more than the provider gives (calling again would
            # only renew the same short-lived token once per waiting process).
            return expiry.valid_for(record)
    return not expiry.needs_refresh(record, min_valid=min_valid)


def _call_provider(
    record: Record, grant: str, vault: str | None
) -> tuple[dict[str, Any], int | None]:
    from credctl.oauth._client import described, oauth_client, provider_call, token_data

    data = record["data"]
    name = str(record["name"])
    from credctl.oauth.providers import check_url, preset

    token_url = data.get("token_url") or preset(str(data["provider"])).endpoints.token_endpoint
    check_url(str(token_url), "token URL")
    state = expiry.state(record)
    secret = data.get("client_secret")
    auth_method = state.get("auth_method") or ("client_secret_basic" if secret else "none")
    options: dict[str, Any] = {
        "client_id": data.get("client_id"),
        "client_secret": secret,
        "token_endpoint_auth_method": auth_method,
    }

    def refused(error: str, description: str) -> CredentialError:
        if error in ("temporarily_unavailable", "server_error", "slow_down"):
            return ServiceUnavailable(
                f"the provider could not renew the token of {name!r} now "
                f"({described(error, description)})",
                hint="retry later",
            )
        if grant == "client_credentials":
            return RefreshFailed(
                f"the provider refused to issue a token to the client {name!r} "
                f"({described(error, description)})",
                hint=f"check the client id and secret: {login_command(name, record, vault)}",
            )
        return RefreshFailed(
            f"the provider refused the refresh token of {name!r} "
            f"({described(error, description)}): it was revoked, expired or already used",
            hint=f"log in again: {login_command(name, record, vault)}",
        )

    what = f"the token endpoint of {name!r}"
    if grant == "client_credentials":
        from credctl.oauth.client_credentials import fetch

        token = fetch(str(token_url), str(data.get("client_id")), str(secret),
                      data.get("scopes") or [], auth_method=auth_method, refused=refused,
                      what=what)  # fmt: skip
        return token_data(token)
    with oauth_client(**options) as client, provider_call(what, str(token_url), refused):
        # No `scope`: re-sending the requested scopes fails when the provider granted
        # fewer (RFC 6749 §6: omitted means "as originally granted").
        token = client.refresh_token(str(token_url), refresh_token=data["refresh_token"])
    return token_data(token)


@dataclass
class RefreshReport:
    """What `refresh_expired` did: the ids renewed, and the failures by credential name."""

    refreshed: list[int] = field(default_factory=list)
    failed: list[tuple[str, CredentialError]] = field(default_factory=list)

    def error(self) -> CredentialError:
        """One error that names every failure (their common kind, else `RefreshFailed`)."""
        kinds = {type(exc) for _, exc in self.failed}
        kind = kinds.pop() if len(kinds) == 1 else RefreshFailed
        listed = "; ".join(f"{name!r}: {exc}" for name, exc in self.failed)
        total = len(self.failed) + len(self.refreshed)
        hint = self.failed[0][1].hint if len(self.failed) == 1 else None
        return kind(f"could not refresh {len(self.failed)} of {total}: {listed}", hint=hint)


def refresh_expired(manager: CredentialManager) -> RefreshReport:
    """Renew every oauth2 credential that can be renewed and is expired or about to be."""
    report = RefreshReport()
    for record in manager.storage.snapshot().records():
        if record.get("type") != "oauth2" or expiry.grant(record) is None:
            continue
        if not expiry.needs_refresh(record):
            continue
        try:
            refresh(manager, int(record["id"]), seen=record)
        except CredentialError as exc:
            report.failed.append((str(record["name"]), exc))
        else:
            report.refreshed.append(int(record["id"]))
    return report
