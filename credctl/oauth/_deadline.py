"""One wall-clock deadline for a whole provider request: connect, send, headers and body.

httpx's timeouts bound each socket operation, not the request (encode/httpx#1450):
a token endpoint that sends one byte every few seconds keeps a request going for
as long as it likes, and a refresh holds the vault's writer lock all that time, so
every other writer times out behind it.  `guarded` bounds the whole exchange:

- every per-operation timeout is lowered to the budget;
- a watchdog thread shuts the connection's socket down when the budget runs out,
  which ends a blocked read or write at once; the socket comes from httpcore's
  documented ``trace`` extension (``connection.connect_tcp.complete``), and the
  clients keep no idle connections, so every request opens, and reports, its own;
- the failure that follows is raised as `DeadlineExceeded`, an
  ``httpx.TimeoutException``, which `credctl.oauth._client.provider_call` turns
  into `ServiceUnavailable` (exit 10).

Name resolution is the one step a socket shutdown cannot stop; IP addresses and
the system resolver's own timeouts bound it.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import httpx

#: Seconds a provider request may take when nothing else is configured.
DEFAULT_BUDGET: Final = 8.0
#: What a request leaves of the vault lock timeout, for the work around it.
LOCK_MARGIN: Final = 2.0
MIN_BUDGET: Final = 0.5
DEFAULT_LOCK_TIMEOUT: Final = 10.0  # as credctl.vault.file, which this must not import


class DeadlineExceeded(httpx.TimeoutException):
    """The provider did not finish its answer within the request's budget."""

    def __init__(self, budget: float, request: httpx.Request) -> None:
        super().__init__(f"no complete answer within {budget:g} s", request=request)
        self.budget = budget


def request_budget(environ: Mapping[str, str] = os.environ) -> float:
    """Seconds one provider request may take, start to end.

    ``CREDCTL_PROVIDER_TIMEOUT`` (default 8), and never more than the vault lock
    timeout (``CREDCTL_LOCK_TIMEOUT``, default 10) less 2 s, because a refresh
    holds the lock while it waits: another process waiting for the lock must get
    it, or the refresh's error, before its own wait ends.
    """
    wanted = _seconds(environ.get("CREDCTL_PROVIDER_TIMEOUT"), DEFAULT_BUDGET)
    lock = _seconds(environ.get("CREDCTL_LOCK_TIMEOUT"), DEFAULT_LOCK_TIMEOUT)
    return max(MIN_BUDGET, min(wanted, max(lock - LOCK_MARGIN, lock / 2)))


def _seconds(text: str | None, default: float) -> float:
    try:  # read as credctl.vault.file reads CREDCTL_LOCK_TIMEOUT
        value = float(text) if text else default
    except ValueError:
        return default
    return max(0.0, value) if math.isfinite(value) else default


class _Watchdog:
    """Shuts down the sockets it was given once the deadline passes."""

    def __init__(self, budget: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(budget, self._expire)
        self._timer.daemon = True

    def guard(self, sock: object) -> None:
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            if self.expired:
                _shut(sock)
            else:
                self._sockets.append(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


def _tracer(
    watchdog: _Watchdog, previous: Callable[[str, dict[str, Any]], None] | None
) -> Callable[[str, dict[str, Any]], None]:
    def trace(event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            get_extra_info = getattr(stream, "get_extra_info", None)
            if callable(get_extra_info):
                watchdog.guard(get_extra_info("socket"))
        if previous is not None:
            previous(event, info)

    return trace


@contextlib.contextmanager
def guarded(request: httpx.Request, budget: float) -> Iterator[None]:
    """Bound everything done for `request` inside the block (a whole `Client.send`)."""
    timeouts = request.extensions.get("timeout") or {}
    lowered = {
        key: budget if timeouts.get(key) is None else min(float(timeouts[key]), budget)
        for key in ("connect", "read", "write", "pool")
    }
    started = time.monotonic()
    with _Watchdog(budget) as watchdog:
        request.extensions = {
            **request.extensions,
            "timeout": lowered,
            "trace": _tracer(watchdog, request.extensions.get("trace")),
        }
        try:
            yield
        except httpx.TransportError as exc:
            if watchdog.expired or time.monotonic() - started >= budget:
                raise DeadlineExceeded(budget, request) from exc
            raise
