"""`credctl serve` through a real server process: every endpoint and status of seed 004.

One server on a throw-away vault serves the module; each test uses its own users,
so tests never see each other's credentials (that is the API's promise, too).
Every response any test received is kept and scanned at the end for a stored
secret or a token, and so is the server's log.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve_support import Api, ServerProcess, cli, envelope, init_vault, issue_token, poll

# The seed's example bodies, with obviously fake secrets.
SEED_BODIES: list[dict[str, Any]] = [
    {"name": "my_api_credential", "credential_type": "api_key",
     "credential_data": {"key": "FAKE-SECRET-your-api-key-0001"}},
    {"name": "sendgrid_key", "credential_type": "api_key",
     "credential_data": {"key": "FAKE-SECRET-SG.xxxxxxxxxxxxx"}},
    {"name": "github_token", "credential_type": "token",
     "credential_data": {"token": "FAKE-SECRET-ghp_xxxxxxxxxxxx"}},
    {"name": "jenkins_auth", "credential_type": "basic_auth",
     "credential_data": {"username": "admin", "password": "FAKE-SECRET-secure-password"}},
    {"name": "google_oauth", "credential_type": "oauth2",
     "credential_data": {"client_id": "xxxxx.apps.googleusercontent.com",
                         "client_secret": "FAKE-SECRET-GOCSPX-xxxxx",
                         "access_token": "FAKE-SECRET-ya29.xxxxx",
                         "refresh_token": "FAKE-SECRET-1//xxxxx",
                         "token_expiry": "2025-12-01T10:00:00Z"}},
    {"name": "company_smtp", "credential_type": "smtp",
     "credential_data": {"host": "smtp.company.com", "port": 587,
                         "username": "notifications@company.com",
                         "password": "FAKE-SECRET-smtp-password", "use_tls": True,
                         "from_email": "notifications@company.com",
                         "from_name": "Company Notifications"}},
    {"name": "custom_auth", "credential_type": "custom",
     "credential_data": {"api_key": "FAKE-SECRET-key123", "api_secret": "FAKE-SECRET-secret456",
                         "region": "us-east-1", "custom_field": "custom_value"}},
]  # fmt: skip
SEED_UPDATE = {
    "name": "github_api_updated",
    "credential_type": "token",
    "credential_data": {"token": "FAKE-SECRET-ghp_new_token_value"},
}
ITEM_KEYS = {"id", "name", "credential_type", "created_at", "updated_at"}
SECRET_MARK = "FAKE-SECRET"


class Served:
    """The module's server, its vault, and the tokens it issued."""

    def __init__(self, server: ServerProcess, vault: Path) -> None:
        self.server = server
        self.vault = vault
        self.url = server.url
        self.seen: list[httpx.Response] = []
        self.tokens: list[str] = []

    def user(self, name: str) -> Api:
        token = issue_token(self.vault, name)
        self.tokens.append(token)
        return Api(self.url, token, self.seen)

    def anonymous(self, token: str | None = None) -> Api:
        return Api(self.url, token, self.seen)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    vault = init_vault(tmp_path_factory.mktemp("serve") / "vault" / "serve.credctl")
    issue_token(vault, "warm-up")  # so the server does not warn about having no tokens
    server = ServerProcess(vault).wait_ready()
    state = Served(server, vault)
    yield state
    assert server.stop() == 0, server.text


def test_it_listens_on_loopback_by_default(served: Served) -> None:
    assert served.url.startswith("http://127.0.0.1:")
    port = int(served.url.rsplit(":", 1)[1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                listening.add(local.rsplit(":", 1)[0])
    assert listening == {"0100007F"}  # 127.0.0.1, and nothing else


def test_every_endpoint_with_the_seeds_bodies(served: Served) -> None:
    api = served.user("seed-user")
    assert envelope(api.get("/credentials/"), 200) == []
    created = {}
    for body in SEED_BODIES:
        data = envelope(api.post("/credentials/", json=body), 201)
        assert set(data) == ITEM_KEYS
        assert (data["name"], data["credential_type"]) == (body["name"], body["credential_type"])
        assert data["created_at"] == data["updated_at"]
        assert data["created_at"].endswith("Z")
        created[body["name"]] = data
    listed = envelope(api.get("/credentials/"), 200)
    assert listed == sorted(created.values(), key=lambda item: item["id"])
    first = created["github_token"]
    assert envelope(api.get(f"/credentials/{first['id']}"), 200) == first
    updated = envelope(api.put(f"/credentials/{first['id']}", json=SEED_UPDATE), 200)
    assert updated["id"] == first["id"]
    assert updated["name"] == "github_api_updated"
    assert updated["created_at"] == first["created_at"]
    assert updated["updated_at"] >= first["updated_at"]
    deleted = api.delete(f"/credentials/{first['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    missing = api.get(f"/credentials/{first['id']}")
    envelope(missing, 404)
    envelope(api.put(f"/credentials/{first['id']}", json=SEED_UPDATE), 404)
    envelope(api.delete(f"/credentials/{first['id']}"), 404)
    envelope(api.request("PATCH", f"/credentials/{first['id']}", json={}), 405)
    envelope(api.post(f"/credentials/{first['id']}", json={}), 405)
    envelope(api.get("/no-such-route"), 404)
    # without the trailing slash: the same answers, no redirect
    assert envelope(api.get("/credentials"), 200) == envelope(api.get("/credentials/"), 200)


def test_names_are_unique_per_user_with_409(served: Served) -> None:
    api = served.user("dup-user")
    body = SEED_BODIES[2]
    envelope(api.post("/credentials/", json=body), 201)
    conflict = api.post("/credentials/", json=body)
    envelope(conflict, 409)
    assert "github_token" in conflict.json()["message"]
    other = envelope(api.post("/credentials/", json={**body, "name": "second"}), 201)
    envelope(api.put(f"/credentials/{other['id']}", json={"name": "github_token"}), 409)
    # another user may use the same name, and learns nothing about the first
    envelope(served.user("dup-user-2").post("/credentials/", json=body), 201)


def test_put_changes_only_what_is_given(served: Served) -> None:
    api = served.user("put-user")
    made = envelope(api.post("/credentials/", json=SEED_BODIES[2]), 201)
    path = f"/credentials/{made['id']}"
    assert envelope(api.put(path, json={}), 200) == made  # nothing given, nothing changed
    renamed = envelope(api.put(path, json={"name": "renamed"}), 200)
    assert (renamed["name"], renamed["credential_type"]) == ("renamed", "token")
    data_only = {"credential_data": {"token": "FAKE-SECRET-rotated"}}
    assert envelope(api.put(path, json=data_only), 200)["name"] == "renamed"
    envelope(api.put(path, json={"credential_type": "api_key"}), 422)  # new type needs data
    retyped = envelope(
        api.put(
            path, json={"credential_type": "api_key", "credential_data": {"key": "FAKE-SECRET-k"}}
        ),
        200,
    )
    assert retyped["credential_type"] == "api_key"
    envelope(api.put(path, json={"credential_data": {"token": "FAKE-SECRET-x"}}), 422)
    for bad in (
        {"name": None},
        {"credential_data": None},
        {"name": "a.b"},
        {"nope": 1},
        {"credential_type": "no-such-type", "credential_data": {}},
    ):
        envelope(api.put(path, json=bad), 422)
    assert envelope(api.get(path), 200)["credential_type"] == "api_key"


def test_another_users_credential_is_404_and_unchanged(served: Served) -> None:
    alice, bob = served.user("iso-alice"), served.user("iso-bob")
    mine = envelope(alice.post("/credentials/", json=SEED_BODIES[0]), 201)
    envelope(alice.post(f"/credentials/{mine['id']}/links", json={"workflow_id": "wf-a"}), 201)
    path = f"/credentials/{mine['id']}"
    nonexistent = "/credentials/999999999"
    answers = []
    for target in (path, nonexistent):
        answers.append([
            bob.get(target),
            bob.put(target, json={"name": "stolen"}),
            bob.delete(target),
            bob.delete(target, params={"force": "true"}),
            bob.get(f"{target}/links"),
            bob.post(f"{target}/links", json={"workflow_id": "wf-b"}),
            bob.delete(f"{target}/links/wf-a"),
        ])  # fmt: skip
    for theirs, none in zip(*answers, strict=True):
        envelope(theirs, 404)
        # the same answer as for an id that does not exist, apart from the id itself
        assert theirs.json()["message"].replace(str(mine["id"]), "N") == none.json()[
            "message"
        ].replace("999999999", "N")
    assert envelope(bob.get("/credentials/"), 200) == []
    assert envelope(alice.get(path), 200) == mine
    assert [link["workflow_id"] for link in envelope(alice.get(f"{path}/links"), 200)] == ["wf-a"]


BAD_TOKENS = [
    None,
    "",
    "Bearer",
    "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    "Bearer wrong",
    "Bearer credctl_1_" + "A" * 43,
    "Bearer credctl_999_" + "A" * 43,
    "Bearer credctl_0_" + "A" * 43,
    "Bearer " + "x" * 5000,
    "Token credctl_1_" + "A" * 43,
]


def requests_of_every_kind(ids: list[int]) -> list[tuple[str, str, Any]]:
    """Every endpoint, with ids that exist, that do not, and bodies that are invalid."""
    out: list[tuple[str, str, Any]] = [
        ("GET", "/credentials/", None),
        ("POST", "/credentials/", SEED_BODIES[0]),
        ("POST", "/credentials/", {"name": 5}),
        ("GET", "/no-such-route", None),
        ("PATCH", "/credentials/", None),
    ]
    for credential_id in [*ids, 999999999, 0, "abc"]:
        path = f"/credentials/{credential_id}"
        out += [
            ("GET", path, None), ("PUT", path, SEED_UPDATE), ("PUT", path, {"name": 5}),
            ("DELETE", path, None), ("PATCH", path, None), ("GET", f"{path}/links", None),
            ("POST", f"{path}/links", {"workflow_id": "wf"}), ("DELETE", f"{path}/links/wf", None),
        ]  # fmt: skip
    return out


def test_every_bad_token_is_401_before_anything_else(served: Served) -> None:
    owner = served.user("auth-owner")
    made = envelope(owner.post("/credentials/", json=SEED_BODIES[1]), 201)
    revoked = served.user("auth-revoked")
    token_id = json.loads(cli(served.vault, "serve", "token", "list", "--json").stdout)[-1]["id"]
    assert cli(served.vault, "serve", "token", "revoke", str(token_id)).returncode == 0
    variants: list[tuple[str, dict[str, str]]] = [
        ("absent", {}),
        *((repr(v[:30]), {"Authorization": v}) for v in BAD_TOKENS if v is not None),
        ("revoked", {"Authorization": str(revoked.client.headers["authorization"])}),
        # a valid token with a character changed
        ("altered", {"Authorization": str(owner.client.headers["authorization"])[:-1] + "x"}),
    ]
    client = served.anonymous()
    for label, headers in variants:
        for method, path, body in requests_of_every_kind([made["id"]]):
            response = client.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (label, method, path, response.text)
            envelope(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer")
    assert envelope(owner.get(f"/credentials/{made['id']}"), 200) == made  # nothing changed


def test_an_expired_token_is_refused(served: Served) -> None:
    token = issue_token(served.vault, "short-lived", "--expires", "1s")
    served.tokens.append(token)
    api = served.anonymous(token)
    poll(lambda: api.get("/credentials/").status_code == 401, timeout=30)
    listed = json.loads(cli(served.vault, "serve", "token", "list", "--json").stdout)
    assert [t["expired"] for t in listed if t["user"] == "short-lived"] == [True]


INVALID_BODIES: list[Any] = [
    {},
    {"credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_type": "token"},
    {"name": 5, "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_type": ["token"], "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_type": "token", "credential_data": "FAKE-SECRET-a"},
    {"name": "x1", "credential_type": "token", "credential_data": ["FAKE-SECRET-a"]},
    {"name": "x1", "credential_type": "token", "credential_data": None},
    {"name": None, "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"},
     "extra": 1},
    {"name": "x1", "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"},
     "tags": "one"},
    {"name": "a.b", "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "1234", "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "", "credential_type": "token", "credential_data": {"token": "FAKE-SECRET-a"}},
    {"name": "x" * 129, "credential_type": "token", "credential_data": {"token": "FAKE-SECRET"}},
    {"name": "x1", "credential_type": "nope", "credential_data": {"token": "FAKE-SECRET-a"}},
    # per-type validation
    {"name": "x1", "credential_type": "api_key", "credential_data": {}},
    {"name": "x1", "credential_type": "token", "credential_data": {"token": 5}},
    {"name": "x1", "credential_type": "token", "credential_data": {"tokn": "FAKE-SECRET-a"}},
    {"name": "x1", "credential_type": "basic_auth", "credential_data": {"username": "u"}},
    {"name": "x1", "credential_type": "smtp", "credential_data": {
        "host": "h", "port": 70000, "username": "u", "password": "FAKE-SECRET-p"}},
    {"name": "x1", "credential_type": "custom", "credential_data": {"k": {"nested": 1}}},
    {"name": "x1", "credential_type": "token", "credential_data": {"token": "x" * 70000}},
    [],
    "a string",
    5,
    None,
]  # fmt: skip


def test_invalid_bodies_are_422_and_store_nothing(served: Served) -> None:
    api = served.user("invalid-user")
    for body in INVALID_BODIES:
        response = api.post("/credentials/", json=body)
        envelope(response, 422)
        assert SECRET_MARK not in response.text
    for raw, content_type in [
        (b'{"name": "x1",', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'{"name": "x1", "credential_type": "token", "credential_data": {"token": NaN}}',
         "application/json"),
        (json.dumps(SEED_BODIES[0]).encode(), "text/plain"),
        (b"name=x1", "application/x-www-form-urlencoded"),
    ]:  # fmt: skip
        response = api.post("/credentials/", content=raw, headers={"content-type": content_type})
        envelope(response, 422)
    nested = '{"k":' * 5000 + "{}" + "}" * 5000
    deep = '{"name": "x1", "credential_type": "custom", "credential_data": ' + nested + "}"
    response = api.post("/credentials/", content=deep, headers={
        "content-type": "application/json"})  # fmt: skip
    assert response.status_code in (413, 422), response.text
    envelope(response, response.status_code)
    assert envelope(api.get("/credentials/"), 200) == []


def test_oversized_bodies_are_413(served: Served) -> None:
    api = served.user("big-user")
    big = {"name": "big", "credential_type": "token", "credential_data": {"token": "x" * 2**21}}
    envelope(api.post("/credentials/", json=big), 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "big", "credential_type": "token", "credential_data": {"token": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}}'

    chunked = api.post("/credentials/", content=chunks(),
                       headers={"content-type": "application/json"})  # fmt: skip
    envelope(chunked, 413)
    assert envelope(api.get("/credentials/"), 200) == []


def test_browsers_and_foreign_hosts_are_refused(served: Served) -> None:
    api = served.user("browser-user")
    envelope(api.get("/credentials/", headers={"Origin": "https://evil.example"}), 403)
    envelope(api.post("/credentials/", json=SEED_BODIES[0],
                      headers={"Origin": "null"}), 403)  # fmt: skip
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", "10.0.0.1"):
        envelope(api.get("/credentials/", headers={"Host": host}), 400)
    for host in ("localhost", "127.0.0.1", "[::1]", "LOCALHOST:1234"):
        envelope(api.get("/credentials/", headers={"Host": host}), 200)
    assert envelope(api.get("/credentials/"), 200) == []


def test_fifty_concurrent_creates(served: Served) -> None:
    api = served.user("busy-user")

    def create(i: int) -> httpx.Response:
        body = copy.deepcopy(SEED_BODIES[2])
        body["name"] = f"concurrent-{i}"
        return api.post("/credentials/", json=body)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(create, range(50)))
    ids = [envelope(response, 201)["id"] for response in responses]
    assert len(set(ids)) == 50
    listed = envelope(api.get("/credentials/"), 200)
    assert sorted(item["id"] for item in listed) == sorted(ids)


def test_workflow_links(served: Served) -> None:
    api = served.user("links-user")
    made = envelope(api.post("/credentials/", json=SEED_BODIES[3]), 201)
    path = f"/credentials/{made['id']}"
    assert envelope(api.get(f"{path}/links"), 200) == []
    first = envelope(api.post(f"{path}/links", json={"workflow_id": "wf-b"}), 201)
    assert set(first) == {"workflow_id", "credential_id", "created_at"}
    assert (first["workflow_id"], first["credential_id"]) == ("wf-b", made["id"])
    assert envelope(api.post(f"{path}/links", json={"workflow_id": "wf-b"}), 200) == first
    envelope(api.post(f"{path}/links", json={"workflow_id": "wf-a"}), 201)
    listed = envelope(api.get(f"{path}/links"), 200)
    assert [link["workflow_id"] for link in listed] == ["wf-a", "wf-b"]
    assert envelope(api.get(path), 200) == made  # linking is no change of the credential
    for bad in ({}, {"workflow_id": ""}, {"workflow_id": "a/b"}, {"workflow_id": 5},
                {"workflow_id": "x" * 201}, {"workflow_id": "wf", "x": 1}):  # fmt: skip
        envelope(api.post(f"{path}/links", json=bad), 422)
    conflict = api.delete(path)
    envelope(conflict, 409)
    assert "2 workflow(s): wf-a, wf-b" in conflict.json()["message"]
    assert "force=true" in conflict.json()["message"]
    envelope(api.delete(path, params={"force": "banana"}), 422)
    envelope(api.delete(f"{path}/links/wf-c"), 404)
    assert api.delete(f"{path}/links/wf-a").status_code == 204
    envelope(api.delete(path), 409)
    assert api.delete(path, params={"force": "true"}).status_code == 204
    envelope(api.get(f"{path}/links"), 404)


def test_cli_and_rest_see_each_others_writes(served: Served) -> None:
    api = served.user("local")  # the vault's own user: the CLI's credentials
    made = envelope(api.post("/credentials/", json={**SEED_BODIES[2], "name": "shared-cli"}),
                    201)  # fmt: skip
    shown = cli(served.vault, "show", str(made["id"]), "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["name"] == "shared-cli"
    assert cli(served.vault, "update", "shared-cli", "--name", "renamed-by-cli").returncode == 0
    assert envelope(api.get(f"/credentials/{made['id']}"), 200)["name"] == "renamed-by-cli"
    created = cli(served.vault, "create", "token", "made-by-cli", "--field", "token=@-",
                  input="FAKE-SECRET-cli-token\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    names = [item["name"] for item in envelope(api.get("/credentials/"), 200)]
    assert "made-by-cli" in names
    envelope(api.post(f"/credentials/{made['id']}/links", json={"workflow_id": "wf-1"}), 201)
    refused = cli(served.vault, "delete", "renamed-by-cli")
    assert refused.returncode == 8, refused.stderr
    assert "wf-1" in refused.stderr and "--force" in refused.stderr
    assert envelope(api.get(f"/credentials/{made['id']}"), 200)["name"] == "renamed-by-cli"
    forced = cli(served.vault, "delete", "renamed-by-cli", "--force")
    assert forced.returncode == 0, forced.stderr
    envelope(api.get(f"/credentials/{made['id']}"), 404)


def test_token_last_use_is_recorded(served: Served) -> None:
    api = served.user("last-use-user")
    envelope(api.get("/credentials/"), 200)

    def last_used() -> Any:
        tokens = json.loads(cli(served.vault, "serve", "token", "list", "--json").stdout)
        return next(t["last_used_at"] for t in tokens if t["user"] == "last-use-user")

    assert poll(last_used, timeout=60, interval=0.5).endswith("Z")


def test_openapi_documents_the_api(served: Served) -> None:
    document = served.anonymous().get("/openapi.json").json()
    assert "HTTPValidationError" not in json.dumps(document)
    paths = document["paths"]
    assert set(paths) == {"/credentials/", "/credentials/{credential_id}",
                          "/credentials/{credential_id}/links",
                          "/credentials/{credential_id}/links/{workflow_id}"}  # fmt: skip
    for path, operations in paths.items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            assert {"401", "422"} <= statuses, (method, path)
            if "{credential_id}" in path:
                assert "404" in statuses, (method, path)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorEnvelope")
            assert operation["security"] == [{"bearerAuth": []}]
    assert "409" in paths["/credentials/"]["post"]["responses"]
    assert "409" in paths["/credentials/{credential_id}"]["delete"]["responses"]
    assert "204" in paths["/credentials/{credential_id}"]["delete"]["responses"]
    assert "201" in paths["/credentials/"]["post"]["responses"]


def test_zz_no_secret_or_token_in_any_response_or_the_log(served: Served) -> None:
    """Runs last in this module: scans everything the other tests received."""
    assert len(served.seen) > 300
    tokens = [
        *served.tokens,
        *(
            r.request.headers.get("authorization", "")[7:]
            for r in served.seen
            if r.request.headers.get("authorization")
        ),
    ]
    secrets = [
        value
        for body in [*SEED_BODIES, SEED_UPDATE]
        for value in body["credential_data"].values()
        if SECRET_MARK in str(value)
    ]
    for response in served.seen:
        text = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
        assert SECRET_MARK not in text, response.request.url
        for token in tokens:
            if len(token) > 40:
                assert token not in text
    log = served.server.text
    assert log.count('"GET /credentials/ HTTP/1.1" 200') > 5  # the access log is there
    for needle in [SECRET_MARK, *secrets, *(t for t in tokens if len(t) > 40), "credctl_"]:
        assert needle not in log
    assert "Traceback" not in log
