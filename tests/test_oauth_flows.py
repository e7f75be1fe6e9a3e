"""The OAuth flow logic without a browser or a network: a fake provider on httpx.MockTransport.

The real authorization server and browser are exercised in ``tests/oauth/``; here each rule
of the flows is checked on its own, quickly: the refresh-ahead window, PKCE and `state`,
RFC 9207 ``iss``, error callbacks, pending-flow expiry, device-flow polling (``slow_down``,
expiry), refresh under the lock (once for many threads), and how provider failures map to
exit codes.  The fake provider answers like oidc-provider: it rotates refresh tokens and
revokes the grant when a spent one is replayed.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import http.client
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import redirect_stderr
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from credctl import (
    AccessDenied,
    CredentialManager,
    Expired,
    FlowExpired,
    InvalidCallback,
    InvalidInput,
    NoRefreshToken,
    RefreshFailed,
    RefreshNotSupported,
    ServiceUnavailable,
    StorageBackend,
)
from credctl.model import BrowserAuth, CallbackData, DeviceCode, to_rfc3339
from credctl.oauth import _client, device, expiry, providers
from credctl.oauth.loopback import Answer, LoopbackListener

ISSUER = "http://127.0.0.1:9"
CLIENT = "native-client"


class FakeProvider:
    """Just enough of an OpenID provider, as an httpx.MockTransport handler."""

    def __init__(self) -> None:
        self.lifetime = 3600
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, bool] = {}  # token -> still valid
        self.requests: list[dict[str, Any]] = []
        self.revoked = False
        self.device_answers: list[str] = []
        self.down = False
        self.iss_supported = True
        self.issuer = ISSUER
        self.counter = 0
        self.lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token",
            "device_authorization_endpoint": f"{ISSUER}/device/auth",
            "scopes_supported": ["openid", "offline_access", "api"],
            "authorization_response_iss_parameter_supported": self.iss_supported,
        }

    def _next(self, prefix: str) -> str:
        self.counter += 1
        return f"FAKE-{prefix}-{self.counter:04d}"

    def tokens(self, *, refresh: bool = True, scope: str = "openid api offline_access") -> Any:
        body: dict[str, Any] = {"access_token": self._next("at"), "token_type": "Bearer",
                                "expires_in": self.lifetime, "scope": scope}  # fmt: skip
        if refresh:
            body["refresh_token"] = self._next("rt")
            self.refresh_tokens[body["refresh_token"]] = True
        return httpx.Response(200, json=body)

    @staticmethod
    def error(code: str, status: int = 400) -> httpx.Response:
        return httpx.Response(status, json={"error": code, "error_description": f"fake {code}"})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        path = request.url.path
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        with self.lock:
            authorization = request.headers.get("authorization")
            self.requests.append({"path": path, **form, "authorization": authorization})
            if path == "/.well-known/openid-configuration":
                return httpx.Response(200, json=self.metadata())
            if path == "/device/auth":
                return httpx.Response(200, json={
                    "device_code": "FAKE-device-code", "user_code": "ABCD-EFGH",
                    "verification_uri": f"{ISSUER}/device", "expires_in": 600})  # fmt: skip
            if path != "/token":
                return httpx.Response(404)
            return self._token(form)

    def _token(self, form: dict[str, str]) -> httpx.Response:
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.pop(form.get("code", ""), None)
            if issued is None or form.get("redirect_uri") != issued["redirect_uri"]:
                return self.error("invalid_grant")
            digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
            challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if challenge != issued["code_challenge"]:
                return self.error("invalid_grant")
            return self.tokens()
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            if "scope" in form:
                return self.error("invalid_scope")
            if self.revoked or token not in self.refresh_tokens:
                return self.error("invalid_grant")
            if not self.refresh_tokens[token]:
                self.revoked = True  # a replayed refresh token revokes the grant
                return self.error("invalid_grant")
            self.refresh_tokens[token] = False
            return self.tokens()
        if grant == "client_credentials":
            if form.get("client_secret") is None and not self.requests[-1]["authorization"]:
                return self.error("invalid_client", 401)
            return self.tokens(refresh=False, scope="")
        if grant == device.DEVICE_GRANT:
            answer = self.device_answers.pop(0) if self.device_answers else "ok"
            return self.tokens() if answer == "ok" else self.error(answer)
        return self.error("unsupported_grant_type")

    def authorize(self, auth_url: str) -> dict[str, str]:
        """What the provider would do in the browser: issue a code for this request."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        code = self._next("code")
        self.codes[code] = {"redirect_uri": query["redirect_uri"],
                            "code_challenge": query["code_challenge"]}  # fmt: skip
        return {"code": code, "state": query["state"], "iss": self.issuer}

    def refresh_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r.get("grant_type") == "refresh_token"]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeProvider:
    provider = FakeProvider()
    monkeypatch.setattr(_client, "testonly_transport", httpx.MockTransport(provider))
    return provider


@pytest.fixture
def manager() -> CredentialManager:
    return CredentialManager.builder().storage_backend(StorageBackend.memory()).build()


def login(manager: CredentialManager, fake: FakeProvider, name: str = "corp") -> int:
    flow = manager.start_interactive_flow(
        "oauth2", {"name": name, "issuer": ISSUER, "client_id": CLIENT,
                   "redirect_uri": "http://127.0.0.1:5000/callback"},
    )  # fmt: skip
    assert isinstance(flow.interaction_type, BrowserAuth)
    return manager.complete_interactive_flow(
        flow.id, CallbackData.from_query(fake.authorize(flow.interaction_type.auth_url))
    )


def age(manager: CredentialManager, name: str, seconds_left: float) -> None:
    """Make the stored access token expire `seconds_left` from now."""
    with manager.storage.writer() as draft:
        record = dict(draft.get_by_name(name) or {})
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds_left)
        record["data"] = {**record["data"], "token_expiry": to_rfc3339(moment)}
        draft.put(record)


def stored(manager: CredentialManager, name: str) -> dict[str, Any]:
    record = manager.storage.snapshot().get_by_name(name)
    assert record is not None
    return record


# -- the refresh-ahead window (SPEC §12) ----------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "window"), [(None, 60.0), (3600, 60.0), (120, 60.0), (10, 5.0), (1, 0.5)]
)
def test_window_is_60_seconds_but_at_most_half_the_lifetime(
    lifetime: int | None, window: float
) -> None:
    assert expiry.window({"lifetime": lifetime} if lifetime else {}) == window


def test_needs_refresh_inside_the_window_or_min_valid_only() -> None:
    now = 1_000_000.0
    moment = dt.datetime.fromtimestamp(now + 30, dt.UTC)
    data = {"access_token": "x", "token_expiry": to_rfc3339(moment)}
    state = {"lifetime": 3600}
    assert expiry.needs_refresh(data, state, now=now)
    assert not expiry.needs_refresh(data, state, now=now - 60)
    assert expiry.needs_refresh(data, state, now=now - 60, min_valid=120)
    assert not expiry.needs_refresh({"access_token": "x"}, {}, now=now)  # no expiry
    assert expiry.needs_refresh({}, {}, now=now)  # no token yet


def test_which_grant_renews_a_record() -> None:
    assert expiry.grant({"refresh_token": "r", "token_url": "https://x/t"}, {}) == (
        "refresh_token"
    )
    assert expiry.grant({"refresh_token": "r", "provider": "github"}, {}) == "refresh_token"
    assert expiry.grant({"refresh_token": "r"}, {}) is None  # nowhere to use it
    machine = {"client_id": "c", "client_secret": "s", "token_url": "https://x/token"}
    assert expiry.grant(machine, {}) == "client_credentials"
    assert expiry.grant(machine, {"grant": "authorization_code"}) is None
    assert expiry.grant({"access_token": "a"}, {}) is None


# -- endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://login.example.com", "http://127.0.0.1:8080", "http://[::1]:1/x",
            "http://localhost:3000"],
)  # fmt: skip
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert providers.check_url(url, "issuer") == url


@pytest.mark.parametrize(
    "url", ["http://login.example.com", "http://10.0.0.1/", "ftp://127.0.0.1/",
            "https://user:pw@example.com", "not a url"],
)  # fmt: skip
def test_plain_http_elsewhere_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput):
        providers.check_url(url, "issuer")


def test_discovery_refuses_a_document_for_another_issuer(fake: FakeProvider) -> None:
    fake.issuer = "http://127.0.0.1:9/evil"
    with pytest.raises(InvalidInput, match="names another issuer"):
        providers.discover(ISSUER)


def test_presets_and_explicit_urls() -> None:
    github = providers.resolve(provider="github")
    assert github.token_endpoint == "https://github.com/login/oauth/access_token"
    explicit = providers.resolve(auth_url="https://a.example/auth",
                                 token_url="https://a.example/token")  # fmt: skip
    assert explicit.authorization_endpoint == "https://a.example/auth"
    with pytest.raises(InvalidInput, match="unknown provider preset"):
        providers.resolve(provider="myspace")
    with pytest.raises(InvalidInput, match="not both"):
        providers.resolve(provider="github", issuer="https://x.example")


# -- browser flow: start and complete ---------------------------------------------------


def test_start_builds_a_pkce_s256_request_and_keeps_the_flow(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow = manager.start_interactive_flow(
        "oauth2", {"name": "corp", "issuer": ISSUER, "client_id": CLIENT, "scopes": ["api"],
                   "redirect_uri": "http://127.0.0.1:5000/callback"},
    )  # fmt: skip
    assert isinstance(flow.interaction_type, BrowserAuth)
    query = parse_qs(urlsplit(flow.interaction_type.auth_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["scope"] == ["api offline_access"]
    assert query["prompt"] == ["consent"]  # offline_access needs it (OIDC Core §11)
    assert query["state"] == [flow.state]
    assert flow.state is not None and len(base64.urlsafe_b64decode(flow.state + "=")) == 32
    pending = manager.storage.snapshot().meta["oauth_flows"][flow.id]
    digest = hashlib.sha256(pending["code_verifier"].encode()).digest()
    assert query["code_challenge"] == [base64.urlsafe_b64encode(digest).rstrip(b"=").decode()]
    assert pending["expires_at"] > time.time() + 500


def test_complete_stores_the_tokens_and_ends_the_flow(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    credential_id = login(manager, fake)
    record = stored(manager, "corp")
    assert record["id"] == credential_id
    assert record["data"]["refresh_token"].startswith("FAKE-rt-")
    assert record["data"]["token_url"] == f"{ISSUER}/token"
    assert record["data"]["issuer"] == ISSUER
    assert record["oauth"] == {"grant": "authorization_code", "lifetime": 3600,
                               "auth_method": "none"}  # fmt: skip
    assert manager.storage.snapshot().meta["oauth_flows"] == {}
    assert manager.get_token("corp").value.expose() == record["data"]["access_token"]


def _started(manager: CredentialManager) -> tuple[str, str]:
    flow = manager.start_interactive_flow(
        "oauth2", {"name": "corp", "issuer": ISSUER, "client_id": CLIENT,
                   "redirect_uri": "http://127.0.0.1:5000/callback"},
    )  # fmt: skip
    assert isinstance(flow.interaction_type, BrowserAuth) and flow.state
    return flow.id, flow.interaction_type.auth_url


def test_forged_state_is_refused_and_the_flow_stays_pending(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow_id, url = _started(manager)
    real = fake.authorize(url)
    with pytest.raises(InvalidCallback, match="state does not match"):
        manager.complete_interactive_flow(flow_id, CallbackData(code=real["code"], state="x"))
    with pytest.raises(InvalidCallback):
        manager.complete_interactive_flow(flow_id, CallbackData(code=real["code"]))
    assert flow_id in manager.storage.snapshot().meta["oauth_flows"]
    manager.complete_interactive_flow(flow_id, CallbackData.from_query(real))  # still works
    with pytest.raises(InvalidCallback, match="no pending login"):
        manager.complete_interactive_flow(flow_id, CallbackData.from_query(real))


def test_another_issuer_in_the_callback_is_refused(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow_id, url = _started(manager)
    answer = {**fake.authorize(url), "iss": "https://evil.example"}
    with pytest.raises(InvalidCallback, match="another issuer"):
        manager.complete_interactive_flow(flow_id, CallbackData.from_query(answer))
    assert manager.storage.snapshot().count() == 0
    assert manager.storage.snapshot().meta["oauth_flows"] == {}


def test_a_missing_iss_is_refused_when_the_issuer_always_sends_it(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow_id, url = _started(manager)
    answer = fake.authorize(url)
    del answer["iss"]
    with pytest.raises(InvalidCallback, match="no issuer"):
        manager.complete_interactive_flow(flow_id, CallbackData.from_query(answer))


def test_a_missing_iss_is_accepted_when_the_issuer_does_not_send_it(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    fake.iss_supported = False
    flow_id, url = _started(manager)
    answer = fake.authorize(url)
    del answer["iss"]
    assert manager.complete_interactive_flow(flow_id, CallbackData.from_query(answer)) == 1


def test_denied_consent_is_access_denied_and_stores_nothing(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow_id, url = _started(manager)
    state = parse_qs(urlsplit(url).query)["state"][0]
    denied = CallbackData(state=state, iss=ISSUER, error="access_denied",
                          error_description="End-User aborted interaction")  # fmt: skip
    with pytest.raises(AccessDenied) as caught:
        manager.complete_interactive_flow(flow_id, denied)
    assert caught.value.exit_code == 5
    assert "access_denied" in str(caught.value)
    assert manager.storage.snapshot().count() == 0
    assert manager.storage.snapshot().meta["oauth_flows"] == {}


def test_an_expired_flow_is_flow_expired(manager: CredentialManager, fake: FakeProvider) -> None:
    flow_id, url = _started(manager)
    with manager.storage.writer() as draft:
        draft.meta["oauth_flows"][flow_id]["expires_at"] = time.time() - 1
    with pytest.raises(FlowExpired):
        manager.complete_interactive_flow(flow_id, CallbackData.from_query(fake.authorize(url)))
    assert manager.storage.snapshot().count() == 0


def test_a_code_the_provider_rejects_is_invalid_callback(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    flow_id, url = _started(manager)
    answer = {**fake.authorize(url), "code": "FAKE-not-issued"}
    with pytest.raises(InvalidCallback, match="did not accept the authorization code"):
        manager.complete_interactive_flow(flow_id, CallbackData.from_query(answer))


def test_a_repeated_callback_parameter_is_refused() -> None:
    with pytest.raises(InvalidCallback, match="repeats"):
        CallbackData.from_url("http://127.0.0.1:1/callback?code=a&state=s&state=t")
    parsed = CallbackData.from_url("http://127.0.0.1:1/callback?code=FAKE-c&state=s&iss=i")
    assert (parsed.code, parsed.state, parsed.iss) == ("FAKE-c", "s", "i")
    assert "FAKE-c" not in repr(parsed)


def test_logging_in_again_renews_the_same_credential(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    first = login(manager, fake)
    old = stored(manager, "corp")["data"]["refresh_token"]
    assert login(manager, fake) == first
    assert stored(manager, "corp")["data"]["refresh_token"] != old
    assert manager.storage.snapshot().count() == 1


# -- device flow ------------------------------------------------------------------------


def test_device_flow_polls_and_backs_off_on_slow_down(
    manager: CredentialManager, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = manager.start_interactive_flow(
        "oauth2", {"name": "box", "issuer": ISSUER, "client_id": CLIENT, "flow": "device"}
    )
    assert flow.interaction_type == DeviceCode(f"{ISSUER}/device", "ABCD-EFGH", None, 5)
    fake.device_answers = ["authorization_pending", "slow_down", "authorization_pending", "ok"]
    slept: list[float] = []
    clock = [time.time()]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(device, "poll", functools.partial(device.poll, sleep=sleep,
                                                          clock=lambda: clock[0]))  # fmt: skip
    assert manager.complete_interactive_flow(flow.id, CallbackData()) == 1
    assert slept == [5, 5, 10, 10]  # the server's default interval, +5 s after slow_down
    assert stored(manager, "box")["oauth"]["grant"] == "device_code"


@pytest.mark.parametrize(
    ("answer", "error"), [("access_denied", AccessDenied), ("expired_token", FlowExpired)]
)
def test_device_flow_denied_or_expired(fake: FakeProvider, answer: str, error: type) -> None:
    fake.device_answers = ["authorization_pending", answer]
    with pytest.raises(error):
        device.poll(f"{ISSUER}/token", {"client_id": CLIENT, "token_endpoint_auth_method":
                    "none"}, "FAKE-device-code", interval=5, deadline=time.time() + 600,
                    sleep=lambda _: None)  # fmt: skip


def test_device_flow_gives_up_at_the_deadline(fake: FakeProvider) -> None:
    fake.device_answers = ["authorization_pending"] * 100
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    with pytest.raises(FlowExpired, match="expired before the login was approved"):
        device.poll(f"{ISSUER}/token", {"client_id": CLIENT, "token_endpoint_auth_method":
                    "none"}, "FAKE-device-code", interval=5, deadline=12.0, sleep=sleep,
                    clock=lambda: clock[0])  # fmt: skip
    polls = [r for r in fake.requests if r.get("grant_type") == device.DEVICE_GRANT]
    assert len(polls) == 2  # at 5 s and 10 s; at 12 s it stops without asking again


# -- refresh ----------------------------------------------------------------------------


def test_get_token_refreshes_inside_the_window_and_stores_the_rotated_token(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    login(manager, fake)
    before = stored(manager, "corp")["data"]
    assert manager.get_token("corp").value.expose() == before["access_token"]
    assert fake.refresh_requests() == []
    age(manager, "corp", 30)
    token = manager.get_token("corp")
    after = stored(manager, "corp")["data"]
    assert token.value.expose() == after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]
    (request,) = fake.refresh_requests()
    assert "scope" not in request  # never re-sent: the provider may have granted fewer
    metrics = manager.get_credential_metrics("corp")
    assert metrics.refresh_count == 1
    assert manager.get_metrics().avg_refresh_time is not None


def test_min_valid_asks_for_a_refresh_earlier(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    login(manager, fake)
    age(manager, "corp", 300)
    manager.get_token("corp")
    assert fake.refresh_requests() == []
    manager.get_token("corp", min_valid=dt.timedelta(minutes=10))
    assert len(fake.refresh_requests()) == 1


def test_no_refresh_serves_a_valid_token_and_refuses_an_expired_one(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    login(manager, fake)
    age(manager, "corp", 30)
    assert manager.get_token("corp", refresh=False).value.expose()
    age(manager, "corp", -5)
    with pytest.raises(Expired) as caught:
        manager.get_token("corp", refresh=False)
    assert caught.value.hint == "renew it with `credctl refresh corp`"
    assert fake.refresh_requests() == []


def test_many_threads_at_expiry_refresh_once(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    """Each thread has its own manager on the shared storage, like separate processes."""
    login(manager, fake)
    age(manager, "corp", -1)
    storage = manager.storage
    barrier = threading.Barrier(8)
    tokens: list[str] = []

    def worker() -> None:
        own = CredentialManager.builder().storage(storage).build()
        barrier.wait()
        tokens.append(own.get_token("corp").value.expose())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert len(fake.refresh_requests()) == 1
    assert not fake.revoked


def test_invalid_grant_is_exit_7_with_the_command_to_log_in_again(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    login(manager, fake)
    fake.revoked = True
    with pytest.raises(RefreshFailed) as caught:
        manager.refresh_credential("corp")
    assert caught.value.exit_code == 7
    assert "invalid_grant" in str(caught.value)
    assert caught.value.hint == "log in again: credctl oauth login corp"
    secrets = stored(manager, "corp")["data"]
    assert secrets["refresh_token"] not in str(caught.value) + str(caught.value.hint)


def test_an_unreachable_provider_is_exit_10_unless_the_token_still_works(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    login(manager, fake)
    fake.down = True
    age(manager, "corp", 20)
    assert manager.get_token("corp").value.expose()  # inside the window, still valid
    with pytest.raises(ServiceUnavailable) as caught:
        manager.refresh_credential("corp")
    assert caught.value.exit_code == 10
    assert "connection was refused" in str(caught.value)
    age(manager, "corp", -1)
    with pytest.raises(ServiceUnavailable):
        manager.get_token("corp")


def test_refresh_of_other_types_and_of_tokens_without_refresh_token(
    manager: CredentialManager,
) -> None:
    manager.create_credential("token", {"token": "FAKE-t"}, name="plain")
    with pytest.raises(RefreshNotSupported):
        manager.refresh_credential("plain")
    manager.create_credential("oauth2", {"access_token": "FAKE-a"}, name="bare")
    with pytest.raises(NoRefreshToken) as caught:
        manager.refresh_credential("bare")
    assert caught.value.hint == "log in again: credctl oauth login bare"


def test_refresh_all_expired_renews_only_what_needs_it(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    for name in ("a", "b", "c", "d"):
        login(manager, fake, name)
    age(manager, "a", -10)  # expired
    age(manager, "b", 10)  # inside the window
    assert manager.refresh_all_expired() == [1, 2]  # c and d are fresh
    assert len(fake.refresh_requests()) == 2
    assert manager.refresh_all_expired() == []

    age(manager, "a", -10)
    age(manager, "d", -10)
    with manager.storage.writer() as draft:  # d's refresh token was revoked
        record = dict(draft.get_by_name("d") or {})
        record["data"] = {**record["data"], "refresh_token": "FAKE-revoked"}
        draft.put(record)
    with pytest.raises(RefreshFailed, match="could not refresh 1 of 2: 'd'") as caught:
        manager.refresh_all_expired()
    assert caught.value.hint == "log in again: credctl oauth login d"
    renewed = stored(manager, "a")
    assert not expiry.needs_refresh(renewed["data"], renewed["oauth"])  # renewed all the same


def test_client_credentials_are_fetched_again_when_they_expire(
    manager: CredentialManager, fake: FakeProvider
) -> None:
    manager.login_client_credentials("bot", client_id="machine", client_secret="FAKE-secret",
                                     token_url=f"{ISSUER}/token", scopes=["api"])  # fmt: skip
    first = manager.get_token("bot").value.expose()
    assert stored(manager, "bot")["oauth"]["grant"] == "client_credentials"
    age(manager, "bot", -1)
    second = manager.get_token("bot").value.expose()
    assert second != first
    fetches = [r for r in fake.requests if r.get("grant_type") == "client_credentials"]
    assert len(fetches) == 2
    assert fetches[-1]["authorization"].startswith("Basic ")
    assert fetches[-1]["scope"] == "api"


# -- the loopback listener ----------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[LoopbackListener, list[str]]]:
    refused: list[str] = []
    with LoopbackListener(on_refused=refused.append) as started:
        started.expect("expected-state")
        yield started, refused


def _get(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read().decode()


@pytest.mark.loopback
def test_listener_binds_loopback_on_an_ephemeral_port(
    listener: tuple[LoopbackListener, list[str]],
) -> None:
    server, _ = listener
    assert server.redirect_uri == f"http://127.0.0.1:{server.port}/callback"
    assert server.port > 0


@pytest.mark.loopback
def test_listener_refuses_other_paths_and_wrong_states(
    listener: tuple[LoopbackListener, list[str]],
) -> None:
    server, refused = listener
    assert _get(server.port, "/favicon.ico")[0] == 404
    status, body = _get(server.port, "/callback?code=FAKE-forged&state=wrong")
    assert status == 400 and "does not belong" in body and "FAKE-forged" not in body
    status, body = _get(server.port, "/callback?code=c&state=expected-state&state=x")
    assert status == 400 and "repeats" in body
    assert len(refused) == 2
    with pytest.raises(FlowExpired, match=r"no sign-in response arrived within 0\.2 seconds"):
        server.wait(0.2)


@pytest.mark.loopback
def test_listener_hands_over_the_callback_and_answers_after_the_exchange(
    listener: tuple[LoopbackListener, list[str]],
) -> None:
    server, _ = listener
    result: dict[str, Any] = {}
    captured = io.StringIO()

    def browser() -> None:
        with redirect_stderr(captured):
            result["reply"] = _get(server.port, "/callback?code=FAKE-code-1&state=expected-state")

    thread = threading.Thread(target=browser)
    thread.start()
    callback, answer = server.wait(5)
    assert isinstance(answer, Answer)
    assert callback.code == "FAKE-code-1"
    answer.succeed("stored.")
    thread.join(10)
    status, body = result["reply"]
    assert status == 200 and "Logged in" in body and "FAKE-code-1" not in body
    assert "FAKE-code-1" not in captured.getvalue()  # no request log
    assert _get(server.port, "/callback?code=again&state=expected-state")[0] == 400


def test_cli_refuses_a_literal_client_secret_and_a_bad_refresh_line(
    run_cli: Any, initialized_vault: Any
) -> None:
    env = {"CREDCTL_PASSPHRASE": "correct horse battery staple (fake)"}
    literal = run_cli("oauth", "login", "x", "--provider", "github", "--client-id", "c",
                      "--client-secret", "FAKE-literal-secret", env=env)  # fmt: skip
    assert literal.returncode == 9
    assert "FAKE-literal-secret" not in literal.stderr
    assert run_cli("refresh", env=env).returncode == 2
    assert run_cli("refresh", "x", "--all-expired", env=env).returncode == 2
    run_cli("create", "token", "tok", "--field", "token=env:T", env={**env, "T": "FAKE-t"})
    not_oauth = run_cli("refresh", "tok", env=env)
    assert not_oauth.returncode == 7
    assert "cannot be refreshed" in not_oauth.stderr
    plain_http = run_cli("oauth", "login", "x", "--issuer", "http://login.example.com",
                         "--client-id", "c", env=env)  # fmt: skip
    assert plain_http.returncode == 9
    assert "plain http" in plain_http.stderr


def test_token_data_from_a_token_response(fake: FakeProvider) -> None:
    data, lifetime = _client.token_data(json.loads(fake.tokens().content), now=0.0)
    assert lifetime == 3600
    assert data["token_expiry"] == "1970-01-01T01:00:00Z"
    assert data["scopes"] == ["openid", "api", "offline_access"]
    with pytest.raises(ServiceUnavailable, match="no access_token"):
        _client.token_data({"token_type": "Bearer"})
