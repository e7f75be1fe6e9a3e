"""The seed's error-recovery patterns: retry, and a circuit breaker.

Both decide by `CredentialError.retryable`: an unreachable provider or backend,
or a vault busy past its lock timeout, may succeed on a later try; a missing
credential or a refused refresh token never will, so they are raised at once
and never count against a breaker.

Why not pybreaker: credctl needs three states, one threshold and one timeout,
sync and async calls, and the `retryable` rule above.  That is the fifty lines
below; pybreaker adds listeners, Redis/Tornado storage and a decorator API that
credctl would have to wrap anyway, for a dependency of every install.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from credctl.errors import CredentialError, ServiceUnavailable

_T = TypeVar("_T")


def _seconds(value: float | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def retry(call: Callable[[], _T], *, attempts: int = 3, delay: float | dt.timedelta = 0.1) -> _T:
    """``call()``, tried up to `attempts` times with a fixed `delay` while it fails retryably.

    The seed's ``retry(Fixed::from_millis(100).take(3), …)``; the last error is raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return call()
        except CredentialError as exc:
            if not exc.retryable or attempt + 1 == attempts:
                raise
        time.sleep(_seconds(delay))
    raise AssertionError("unreachable")  # pragma: no cover


class CircuitBreaker:
    """Stop calling a dependency that keeps failing, and try it again after a pause.

    Closed: calls go through; `failure_threshold` retryable failures in a row open
    it.  Open: calls fail at once with `ServiceUnavailable` (retryable) until
    `reset_timeout` has passed.  Half-open: one trial call goes through; success
    closes the breaker, failure opens it again.  Thread-safe.
    """

    def __init__(
        self, failure_threshold: int = 5, reset_timeout: float | dt.timedelta = 30.0
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_timeout = _seconds(reset_timeout)
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._lock = threading.Lock()

    @classmethod
    def new(cls) -> CircuitBreaker:
        """The default breaker (5 failures, 30 s), as the seed's ``CircuitBreaker::new()``."""
        return cls()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        with self._lock:
            if self._opened_at is None:
                return "closed"
            if time.monotonic() - self._opened_at < self.reset_timeout:
                return "open"
            return "half-open"

    def _admit(self) -> None:
        with self._lock:
            if self._opened_at is None:
                return
            waited = time.monotonic() - self._opened_at
            if waited < self.reset_timeout or self._trial_running:
                raise ServiceUnavailable(
                    "the circuit breaker is open after repeated failures",
                    hint=f"it lets a call through again {self.reset_timeout:g} s after opening",
                )
            self._trial_running = True

    def _settle(self, error: CredentialError | None) -> None:
        with self._lock:
            self._trial_running = False
            if error is None:
                self._failures, self._opened_at = 0, None
            elif error.retryable:
                self._failures += 1
                if self._opened_at is not None or self._failures >= self.failure_threshold:
                    self._opened_at = time.monotonic()

    def _release(self) -> None:
        """Not the dependency's failure (a bug, an interrupt): end a trial, count nothing."""
        with self._lock:
            self._trial_running = False

    def call(self, function: Callable[[], _T]) -> _T:
        """``function()`` through the breaker."""
        self._admit()
        try:
            result = function()
        except CredentialError as exc:
            self._settle(exc)
            raise
        except BaseException:
            self._release()
            raise
        self._settle(None)
        return result

    async def call_async(self, function: Callable[[], Awaitable[_T]]) -> _T:
        """``await function()`` through the breaker (for `credctl.aio`)."""
        self._admit()
        try:
            result = await function()
        except CredentialError as exc:
            self._settle(exc)
            raise
        except BaseException:
            self._release()
            raise
        self._settle(None)
        return result
