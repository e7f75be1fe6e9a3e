"""The seed's error recovery: payloads on errors, `retryable`, retry, fallback, circuit breaker."""

from __future__ import annotations

import asyncio
import time

import pytest

from credctl import (
    CircuitBreaker,
    CredentialError,
    CredentialManager,
    DuplicateCredential,
    Expired,
    NotFound,
    ServiceUnavailable,
    retry,
)
from credctl.errors import FlowExpired, RotationInProgress, VaultBusyError
from credctl.storage.memory import MemoryStorage

FAKE = "FAKE-recovery-token-0001"


def test_seed_variants_are_attributes_of_the_family() -> None:
    assert CredentialError.NotFound is NotFound
    assert CredentialError.ServiceUnavailable is ServiceUnavailable
    with pytest.raises(CredentialError.NotFound):
        raise NotFound("gone")


def test_errors_carry_the_seed_payloads() -> None:
    manager = CredentialManager(storage=MemoryStorage())
    first = manager.create_credential("token", {"token": FAKE}, name="gh")
    with pytest.raises(NotFound) as missing:
        manager.get_token(99)
    assert missing.value.credential_id == 99
    with pytest.raises(NotFound) as by_name:
        manager.get_token("nope")
    assert by_name.value.credential_id is None
    with pytest.raises(DuplicateCredential) as duplicate:
        manager.create_credential("token", {"token": FAKE}, name="gh")
    assert duplicate.value.credential_id == first
    expired = manager.create_credential(
        "oauth2", {"access_token": FAKE, "token_expiry": "2001-01-01T00:00:00Z"}, name="old"
    )
    with pytest.raises(Expired) as caught:
        manager.get_token("old")
    assert caught.value.credential_id == expired
    assert RotationInProgress("busy", credential_id=3).credential_id == 3
    assert FlowExpired("late", flow_id="f1").flow_id == "f1"
    assert str(caught.value).startswith("the access token of 'old' expired")


def test_retryable_marks_only_transient_failures() -> None:
    assert ServiceUnavailable().retryable
    assert VaultBusyError().retryable
    assert not NotFound().retryable
    assert not Expired().retryable


def test_retry_retries_transient_failures_only() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ServiceUnavailable("down")
        return "ok"

    assert retry(flaky, attempts=3, delay=0) == "ok"
    assert len(calls) == 3
    calls.clear()

    def missing() -> str:
        calls.append(1)
        raise NotFound("no such credential")

    with pytest.raises(NotFound):
        retry(missing, attempts=3, delay=0)
    assert len(calls) == 1


def test_fallback_pattern_reads_the_second_credential() -> None:
    manager = CredentialManager(storage=MemoryStorage())
    fallback = manager.create_credential("token", {"token": FAKE}, name="fallback")
    try:
        token = manager.get_token("primary")
    except CredentialError:
        token = manager.get_token(fallback)
    assert token.value.expose() == FAKE


def test_circuit_breaker_opens_after_failures_and_closes_after_a_good_trial() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=0.2)
    attempts: list[int] = []

    def down() -> str:
        attempts.append(1)
        raise ServiceUnavailable("provider down")

    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            breaker.call(down)
    assert breaker.state == "open"
    with pytest.raises(ServiceUnavailable, match="circuit breaker is open"):
        breaker.call(down)
    assert len(attempts) == 2  # the open breaker did not call through
    deadline = time.monotonic() + 5
    while breaker.state != "half-open" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert breaker.call(lambda: "up") == "up"
    assert breaker.state == "closed"


def test_circuit_breaker_ignores_errors_that_are_not_the_dependencys() -> None:
    breaker = CircuitBreaker.new()

    def missing() -> str:
        raise NotFound("no such credential")

    for _ in range(10):
        with pytest.raises(NotFound):
            breaker.call(missing)
    assert breaker.state == "closed"


def test_circuit_breaker_with_the_async_manager() -> None:
    from credctl.aio import AsyncCredentialManager

    manager = AsyncCredentialManager(storage=MemoryStorage())
    breaker = CircuitBreaker()

    async def main() -> str:
        credential_id = await manager.create_credential("token", {"token": FAKE})
        token = await breaker.call_async(lambda: manager.get_token(credential_id))
        return token.value.expose()

    assert asyncio.run(main()) == FAKE
