"""Reads under `credctl serve`, in-process: batched audit entries, kept answers, hot reads.

- `AuditQueue` (credctl.server.auditing): the entries of requests in flight are
  appended together, nobody is answered before their entry is durable, and a
  batch that cannot be written fails every request in it (fail closed).
- Answers kept per vault generation never outlive a change, never cross users,
  and are never kept when they depend on the time (a retired id's grace period).
- The hot reads (credctl.server.hot) answer exactly what the FastAPI routes answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from credctl.errors import AuditUnavailableError
from credctl.manager import CredentialManager
from credctl.model import UserContext
from credctl.records.activity import Activity, Actor
from credctl.records.store import RecordStore
from credctl.server import hot
from credctl.server.app import create_app
from credctl.server.auditing import AuditQueue
from credctl.storage.memory import MemoryStorage

hot_answer = hot.answer
ALICE = Actor("alice", origin="api", owner="alice", scope="alice")


class RecordingStore(RecordStore):
    """A memory record store whose `log_all` can be held, made to fail, and counted."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage())
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.failure: Exception | None = None

    def log_all(
        self, activities: Sequence[Activity], settings: dict[str, Any] | None = None
    ) -> None:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        if self.failure is not None:
            raise self.failure
        self.batches.append([a.detail or "" for a in activities])
        super().log_all(activities, settings)


def entry(number: int) -> Activity:
    return Activity("show", number, actor=ALICE, detail=f"read-{number}")


async def record_all(queue: AuditQueue, numbers: range) -> list[BaseException | None]:
    results = await asyncio.gather(*(queue.record(entry(n)) for n in numbers),
                                   return_exceptions=True)  # fmt: skip
    return list(results)


def test_requests_in_flight_share_one_append_in_their_order() -> None:
    store = RecordingStore()
    queue = AuditQueue(store)
    try:
        assert asyncio.run(record_all(queue, range(50))) == [None] * 50
        assert store.batches == [[f"read-{n}" for n in range(50)]]  # one lock, one fsync
        assert [a.detail for a in store.activities()] == [f"read-{n}" for n in range(50)]
    finally:
        queue.close()


def test_no_request_returns_before_its_batch_is_written() -> None:
    store = RecordingStore()
    store.gate.clear()
    queue = AuditQueue(store)

    async def scenario() -> None:
        first = asyncio.ensure_future(record_all(queue, range(3)))
        while not store.entered.is_set():  # the first batch is being written (and held)
            await asyncio.sleep(0.001)
        later = asyncio.ensure_future(record_all(queue, range(3, 8)))
        for _ in range(20):  # give the loop every chance to wake someone too early
            await asyncio.sleep(0)
        assert not first.done() and not later.done()
        assert store.batches == []
        store.gate.set()
        assert await first == [None] * 3
        assert await later == [None] * 5
        # the entries queued while the first batch was written went in the next one
        assert store.batches == [["read-0", "read-1", "read-2"],
                                 [f"read-{n}" for n in range(3, 8)]]  # fmt: skip

    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        store.gate.set()
        queue.close()


def test_a_batch_that_cannot_be_written_fails_every_request_in_it() -> None:
    store = RecordingStore()
    store.failure = AuditUnavailableError("cannot write the audit trail: FAKE disk full")
    queue = AuditQueue(store)
    try:
        results = asyncio.run(record_all(queue, range(10)))
        assert all(isinstance(r, AuditUnavailableError) for r in results), results
        assert list(store.activities()) == []
        store.failure = None  # the disk has room again: the next requests are logged
        assert asyncio.run(record_all(queue, range(10, 12))) == [None, None]
        assert [a.detail for a in store.activities()] == ["read-10", "read-11"]
    finally:
        queue.close()


def test_close_waits_for_the_batch_under_way() -> None:
    store = RecordingStore()
    store.gate.clear()
    queue = AuditQueue(store)
    done: list[list[BaseException | None]] = []

    def run() -> None:
        done.append(asyncio.run(record_all(queue, range(4))))

    runner = threading.Thread(target=run)
    runner.start()
    assert store.entered.wait(30)
    closer = threading.Thread(target=queue.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # still writing: close must not return yet
    store.gate.set()
    closer.join(30)
    runner.join(30)
    assert done == [[None] * 4]
    assert len(list(store.activities())) == 4


def test_an_entry_after_close_is_refused_like_one_that_cannot_be_written() -> None:
    store = RecordingStore()
    queue = AuditQueue(store)
    assert asyncio.run(record_all(queue, range(1))) == [None]
    queue.close()
    results = asyncio.run(record_all(queue, range(1, 3)))
    assert all(isinstance(r, AuditUnavailableError) for r in results), results
    assert [a.detail for a in store.activities()] == ["read-0"]


# -- through the app, in-process ---------------------------------------------------------


class App:
    """A test client over a memory backend, with alice's and bob's tokens."""

    def __init__(self) -> None:
        self.manager = CredentialManager(storage=MemoryStorage(), origin="api")
        self.client = TestClient(create_app(self.manager, allowed_hosts=None))
        self.headers = {user: {"Authorization": f"Bearer {self._token(user)}"}
                        for user in ("alice", "bob")}  # fmt: skip

    def _token(self, user: str) -> str:
        return self.manager.issue_api_token(user)[1].expose()

    def get(self, user: str, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={**self.headers[user], **headers})

    def create(self, user: str, name: str) -> int:
        body = {"name": name, "credential_type": "token",
                "credential_data": {"token": "FAKE-SECRET-" + name}}  # fmt: skip
        made = self.client.post("/credentials/", json=body, headers=self.headers[user])
        assert made.status_code == 201, made.text
        number: int = made.json()["data"]["id"]
        return number

    def shows(self) -> list[tuple[str, int | None, str, str | None]]:
        return [(a.action, a.credential_id, a.outcome, a.actor.execution_id if a.actor else None)
                for a in self.manager.records.activities() if a.action == "show"]  # fmt: skip


@pytest.fixture
def app() -> Iterator[App]:
    made = App()
    with made.client:
        yield made
    made.client.app.state.credctl.close()  # type: ignore[attr-defined]


def test_hot_reads_answer_what_the_routes_answer(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/credentials/7`` is a hot read; ``/credentials/07`` goes through FastAPI's routes."""
    answered: list[str] = []

    async def counted(scope: Scope, receive: Receive, send: Send) -> bool:
        taken = await hot_answer(scope, receive, send)
        if taken:
            answered.append(scope["path"])
        return taken

    monkeypatch.setattr(hot, "answer", counted)
    mine = app.create("alice", "gh")
    theirs = app.create("bob", "bobs")
    for number in (mine, theirs, 424242):
        fast = app.get("alice", f"/credentials/{number}", **{"X-Execution-Id": "e-hot"})
        routed = app.get("alice", f"/credentials/0{number}", **{"X-Execution-Id": "e-routed"})
        assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
        assert fast.headers == routed.headers
    assert app.get("alice", f"/credentials/{mine}").json()["data"]["name"] == "gh"
    assert app.get("alice", f"/credentials/{theirs}").status_code == 404
    bad = {"X-Workflow-Id": "a/b"}  # refused before anything is read or logged
    fast = app.get("alice", f"/credentials/{mine}", **bad)
    routed = app.get("alice", f"/credentials/0{mine}", **bad)
    assert (fast.status_code, fast.content) == (routed.status_code, routed.content)
    assert fast.status_code == 422
    assert answered == [f"/credentials/{n}" for n in (mine, theirs, 424242, mine, theirs, mine)]
    # each read is one entry, however it was routed, with its outcome and ids
    assert app.shows() == [
        ("show", mine, "ok", "e-hot"), ("show", mine, "ok", "e-routed"),
        ("show", theirs, "error", "e-hot"), ("show", theirs, "error", "e-routed"),
        ("show", 424242, "error", "e-hot"), ("show", 424242, "error", "e-routed"),
        ("show", mine, "ok", None), ("show", theirs, "error", None),
    ]  # fmt: skip


def test_kept_answers_follow_every_change_and_never_cross_users(app: App) -> None:
    mine = app.create("alice", "first")
    for _ in range(3):  # kept after the first read
        assert app.get("alice", f"/credentials/{mine}").json()["data"]["name"] == "first"
    assert [i["name"] for i in app.get("alice", "/credentials/").json()["data"]] == ["first"]
    assert app.get("bob", f"/credentials/{mine}").status_code == 404
    assert app.get("bob", "/credentials/").json()["data"] == []
    renamed = app.client.put(f"/credentials/{mine}", json={"name": "second"},
                             headers=app.headers["alice"])  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    assert app.get("alice", f"/credentials/{mine}").json()["data"]["name"] == "second"
    assert [i["name"] for i in app.get("alice", "/credentials/").json()["data"]] == ["second"]
    assert app.client.delete(f"/credentials/{mine}", headers=app.headers["alice"]).status_code \
        == 204  # fmt: skip
    assert app.get("alice", f"/credentials/{mine}").status_code == 404
    assert app.get("alice", "/credentials/").json()["data"] == []


def test_a_retired_id_ends_with_its_grace_period_not_with_the_next_write(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its answer depends on the time, so it is never kept: no write comes in between."""
    old = app.create("alice", "rotating")
    app.manager.rotate_credential(old, {"token": "FAKE-SECRET-new"}, strategy="blue-green",
                                  context=UserContext("alice"))  # fmt: skip
    for _ in range(3):
        shown = app.get("alice", f"/credentials/{old}")
        assert shown.status_code == 200, shown.text
        assert shown.json()["data"]["name"] == "rotating"
    monkeypatch.setenv("CREDCTL_TEST_ONLY_NOW", "+400d")  # long after the grace period
    gone = app.get("alice", f"/credentials/{old}")
    assert gone.status_code == 404, gone.text
    assert "retired" in gone.json()["message"]
