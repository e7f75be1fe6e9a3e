"""The seed's `HealthStatus`: ``Healthy``, ``Degraded(issues)`` or ``Unhealthy(error)``.

The seed's variants are spelled as it spells them (SPEC §13): `HealthStatus.Healthy` is
a value, `HealthStatus.Degraded` and `HealthStatus.Unhealthy` are classes whose instances
carry the payload, so the seed's ``match`` reads the same in Python.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import ClassVar


class HealthState(enum.Enum):
    """The three states of the seed's `HealthStatus`."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


class HealthStatus:
    """What `health_check` found: ``Healthy``, ``Degraded(issues)`` or ``Unhealthy(error)``.

    As the seed matches it::

        match manager.health_check():
            case HealthStatus.Healthy: ...
            case HealthStatus.Degraded(issues): ...
            case HealthStatus.Unhealthy(error): ...

    `HealthStatus.Healthy` is a value (compare with ``==``); `Degraded` and `Unhealthy`
    are classes whose instances carry their payload.  Every status also has `state`
    (a `HealthState`), `issues` (a tuple of strings) and `exit_code` (as ``doctor``).
    The UPPER_CASE spellings (`HEALTHY`, `DEGRADED`, `UNHEALTHY`) are the same objects.
    ``HealthStatus(state, issues)``, the older spelling, gives the same statuses.

    Statuses are built in ``__new__`` alone: ``HealthStatus(state, issues)`` returns an
    instance of a subclass, and Python then calls that instance's ``__init__`` with the
    base's arguments, which only ``object.__init__`` ignores.
    """

    __slots__ = ()
    state: ClassVar[HealthState]

    def __new__(cls, state: HealthState, issues: Sequence[str] = ()) -> HealthStatus:
        """The status of `state` with `issues` (none when healthy, at least one else)."""
        found = (issues,) if isinstance(issues, str) else tuple(issues)
        if state is HealthState.HEALTHY and not found:
            return HealthStatus.Healthy
        if state is HealthState.DEGRADED and found:
            return DegradedStatus(found)
        if state is HealthState.UNHEALTHY and found:
            return UnhealthyStatus(*found)
        raise ValueError(f"a {state!r} status with {len(found)} issue(s) does not exist")

    Healthy: ClassVar[HealthStatus]
    Degraded: ClassVar[type[DegradedStatus]]
    Unhealthy: ClassVar[type[UnhealthyStatus]]
    HEALTHY: ClassVar[HealthStatus]
    DEGRADED: ClassVar[type[DegradedStatus]]
    UNHEALTHY: ClassVar[type[UnhealthyStatus]]

    @property
    def issues(self) -> tuple[str, ...]:
        """What is wrong (empty when healthy)."""
        return ()

    @property
    def exit_code(self) -> int:
        """0, 1 or 2, as `credctl doctor` exits."""
        return list(HealthState).index(self.state)

    def _key(self) -> tuple[object, ...]:
        return (self.state, self.issues)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HealthStatus):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class HealthyStatus(HealthStatus):
    """`HealthStatus.Healthy`: there is one, compare with ``==``."""

    __slots__ = ()
    state = HealthState.HEALTHY

    def __new__(cls) -> HealthyStatus:
        """The one healthy status is made once, below."""
        return object.__new__(cls)

    def __repr__(self) -> str:
        return "HealthStatus.Healthy"


class DegradedStatus(HealthStatus):
    """`HealthStatus.Degraded(issues)`: it works, but something needs attention."""

    __slots__ = ("_issues",)
    __match_args__ = ("issues",)
    state = HealthState.DEGRADED
    _issues: tuple[str, ...]

    def __new__(cls, issues: Sequence[str]) -> DegradedStatus:
        """Degraded, for `issues` (one string or several)."""
        status = object.__new__(cls)
        status._issues = (issues,) if isinstance(issues, str) else tuple(issues)
        return status

    @property
    def issues(self) -> tuple[str, ...]:
        """What needs attention."""
        return self._issues

    def __repr__(self) -> str:
        return f"HealthStatus.Degraded({self._issues!r})"


class UnhealthyStatus(HealthStatus):
    """`HealthStatus.Unhealthy(error)`: the credential system does not work."""

    __slots__ = ("_issues", "error")
    __match_args__ = ("error",)
    state = HealthState.UNHEALTHY
    error: str
    _issues: tuple[str, ...]

    def __new__(cls, error: str, *more: str) -> UnhealthyStatus:
        """Unhealthy because of `error` (and `more` found wrong besides)."""
        status = object.__new__(cls)
        status.error = error
        status._issues = (error, *more)
        return status

    @property
    def issues(self) -> tuple[str, ...]:
        """The error, then anything else found wrong."""
        return self._issues

    def __repr__(self) -> str:
        return f"HealthStatus.Unhealthy({self.error!r})"


HealthStatus.Healthy = HealthStatus.HEALTHY = HealthyStatus()
HealthStatus.Degraded = HealthStatus.DEGRADED = DegradedStatus
HealthStatus.Unhealthy = HealthStatus.UNHEALTHY = UnhealthyStatus
