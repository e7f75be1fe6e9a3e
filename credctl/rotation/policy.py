"""`RotationPolicy` and `RotationStrategy`: how often, and how, a credential is rotated.

A policy has a period (`interval`) or a 5-field cron `schedule` in UTC, never
both (Vault's rule), a `warning_period` before it is due, a `strategy`
(`immediate`, or `blue-green` with a `grace` period during which the old id
stays readable), a way to get the new secret without a person (`generate`, or a
rotation `command`), an optional `test_command`, the hooks' `timeout`, the
`window` after which a pending rotation is reported as stuck, and how many
versions are kept (`max_versions`, the current one included).

Policies are stored in the credential's record as plain JSON (`to_stored`,
`from_stored`); a malformed stored policy is damage (exit 6).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Final, NamedTuple

from credctl.errors import InvalidInput, VaultCorruptError

DEFAULT_WARNING: Final = dt.timedelta(days=7)
DEFAULT_GRACE: Final = dt.timedelta(hours=24)
DEFAULT_TIMEOUT: Final = dt.timedelta(minutes=5)
DEFAULT_WINDOW: Final = dt.timedelta(hours=1)
DEFAULT_MAX_VERSIONS: Final = 10
MAX_VERSIONS_LIMIT: Final = 100
MIN_INTERVAL: Final = dt.timedelta(minutes=1)
ALPHABETS: Final = ("alnum", "hex", "base64url", "symbols")


class RotationStrategy(enum.Enum):
    """How the old secret is retired: at once, or after a grace period (blue-green)."""

    IMMEDIATE = "immediate"
    BLUE_GREEN = "blue-green"
    # The seed's spellings (aliases of the members above).
    Immediate = "immediate"
    BlueGreen = "blue-green"

    @classmethod
    def parse(cls, value: RotationStrategy | str) -> RotationStrategy:
        """A strategy from itself, its value, or a member name (``BlueGreen``, ``blue_green``)."""
        if isinstance(value, RotationStrategy):
            return value
        text = str(value).strip()
        for member in cls:
            if text in (member.value, member.name, member.name.lower()):
                return member
        found = cls.__members__.get(text)
        if found is not None:
            return found
        raise InvalidInput(
            f"unknown rotation strategy {text!r}", hint="use immediate or blue-green"
        )


class GenerateSpec(NamedTuple):
    """Random values for secret fields: `length` characters from `alphabet`.

    `fields` names the fields to generate; empty means the type's secret fields
    that are set (``custom``: its only secret field).
    """

    length: int = 32
    alphabet: str = "alnum"
    fields: tuple[str, ...] = ()

    def checked(self) -> GenerateSpec:
        """This spec, or `InvalidInput` naming what is wrong."""
        if not 16 <= self.length <= 4096:
            raise InvalidInput("a generated secret has 16 to 4096 characters")
        if self.alphabet not in ALPHABETS:
            raise InvalidInput(
                f"unknown alphabet {self.alphabet!r}", hint=f"use one of {', '.join(ALPHABETS)}"
            )
        return self


class RotationPolicy(NamedTuple):
    """When and how a credential is rotated (see the module docstring)."""

    interval: dt.timedelta | None = None
    schedule: str | None = None
    warning_period: dt.timedelta = DEFAULT_WARNING
    strategy: RotationStrategy = RotationStrategy.IMMEDIATE
    grace: dt.timedelta = DEFAULT_GRACE
    generate: GenerateSpec | None = None
    command: str | None = None
    test_command: str | None = None
    timeout: dt.timedelta = DEFAULT_TIMEOUT
    window: dt.timedelta = DEFAULT_WINDOW
    max_versions: int = DEFAULT_MAX_VERSIONS

    @classmethod
    def builder(cls) -> RotationPolicyBuilder:
        """Start building a policy, as in the seed."""
        return RotationPolicyBuilder()

    @classmethod
    def periodic(cls, interval: dt.timedelta) -> RotationPolicy:
        """Rotate every `interval`, with the default warning and strategy."""
        return cls(interval=interval).checked()

    def checked(self) -> RotationPolicy:
        """This policy, or `InvalidInput` naming the first rule it breaks."""
        if (self.interval is None) == (self.schedule is None):
            raise InvalidInput(
                "a rotation policy has an interval or a schedule, not both and not neither",
                hint="for example --interval 90d, or --schedule '0 3 * * MON' (UTC)",
            )
        if self.interval is not None and self.interval < MIN_INTERVAL:
            raise InvalidInput("the rotation interval must be at least one minute")
        if self.schedule is not None:
            from credctl.rotation.due import check_cron

            check_cron(self.schedule)
        if self.warning_period < dt.timedelta(0):
            raise InvalidInput("the warning period must not be negative")
        if self.interval is not None and self.warning_period >= self.interval:
            raise InvalidInput("the warning period must be shorter than the interval")
        if self.grace <= dt.timedelta(0):
            raise InvalidInput("the grace period must be longer than zero")
        if self.generate is not None and self.command is not None:
            raise InvalidInput("a policy either generates the new secret or runs a command")
        if self.generate is not None:
            self.generate.checked()
        for hook in (self.command, self.test_command):
            if hook is not None and (not hook.strip() or "\x00" in hook):
                raise InvalidInput("a rotation command must be a non-empty shell command")
        if self.timeout <= dt.timedelta(0) or self.window <= self.timeout:
            raise InvalidInput("the rotation window must be longer than the hook timeout")
        if not 1 <= self.max_versions <= MAX_VERSIONS_LIMIT:
            raise InvalidInput(f"--max-versions must be between 1 and {MAX_VERSIONS_LIMIT}")
        return self

    @property
    def strategy_value(self) -> str:
        """The strategy as stored and printed."""
        return self.strategy.value

    def to_stored(self) -> dict[str, Any]:
        """The policy as JSON for the credential's record."""
        return {
            "interval": _seconds(self.interval),
            "schedule": self.schedule,
            "warning": _seconds(self.warning_period),
            "strategy": self.strategy.value,
            "grace": _seconds(self.grace),
            "generate": self.generate._asdict() if self.generate is not None else None,
            "command": self.command,
            "test_command": self.test_command,
            "timeout": _seconds(self.timeout),
            "window": _seconds(self.window),
            "max_versions": self.max_versions,
        }

    def to_json(self) -> dict[str, Any]:
        """The `policy show --json` object (durations in seconds, never secrets)."""
        out = self.to_stored()
        if self.generate is not None:
            out["generate"] = {**self.generate._asdict(), "fields": list(self.generate.fields)}
        return out

    @classmethod
    def from_stored(cls, stored: Any) -> RotationPolicy:
        """Read a stored policy; anything malformed is damage (exit 6)."""
        try:
            generate = stored.get("generate")
            return cls(
                interval=_delta(stored.get("interval")),
                schedule=stored.get("schedule"),
                warning_period=_delta(stored["warning"]) or dt.timedelta(0),
                strategy=RotationStrategy(stored["strategy"]),
                grace=_delta(stored["grace"]) or DEFAULT_GRACE,
                generate=GenerateSpec(
                    int(generate["length"]), str(generate["alphabet"]),
                    tuple(str(f) for f in generate["fields"]),
                ) if generate else None,
                command=stored.get("command"),
                test_command=stored.get("test_command"),
                timeout=_delta(stored.get("timeout")) or DEFAULT_TIMEOUT,
                window=_delta(stored.get("window")) or DEFAULT_WINDOW,
                max_versions=int(stored.get("max_versions", DEFAULT_MAX_VERSIONS)),
            )  # fmt: skip
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise VaultCorruptError("a stored rotation policy is malformed") from exc

    def describe(self) -> str:
        """One line for people: ``every 90d, warn 7d before, blue-green (grace 24h)``."""
        from credctl.durations import format_duration

        when = (
            f"every {format_duration(int(self.interval.total_seconds()))}"
            if self.interval is not None
            else f"cron {self.schedule!r} (UTC)"
        )
        parts = [when, f"warn {format_duration(int(self.warning_period.total_seconds()))} before"]
        if self.strategy is RotationStrategy.BLUE_GREEN:
            parts.append(f"blue-green (grace {format_duration(int(self.grace.total_seconds()))})")
        else:
            parts.append("immediate")
        if self.generate is not None:
            parts.append(f"generates {self.generate.length} {self.generate.alphabet} characters")
        if self.command is not None:
            parts.append("runs a rotation command")
        if self.test_command is not None:
            parts.append("tests the new secret")
        return ", ".join(parts)


class RotationPolicyBuilder:
    """``RotationPolicy.builder().interval(td).warning_period(td).strategy(s).build()``."""

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}

    def interval(self, value: dt.timedelta) -> RotationPolicyBuilder:
        """Rotate this long after the last rotation."""
        self._fields["interval"] = value
        return self

    def schedule(self, cron: str) -> RotationPolicyBuilder:
        """Rotate at the times of this 5-field cron expression (UTC)."""
        self._fields["schedule"] = cron
        return self

    def warning_period(self, value: dt.timedelta) -> RotationPolicyBuilder:
        """Warn this long before the rotation is due."""
        self._fields["warning_period"] = value
        return self

    def strategy(self, value: RotationStrategy | str) -> RotationPolicyBuilder:
        """`RotationStrategy.IMMEDIATE` or `RotationStrategy.BLUE_GREEN`."""
        self._fields["strategy"] = RotationStrategy.parse(value)
        return self

    def grace(self, value: dt.timedelta) -> RotationPolicyBuilder:
        """How long the old id stays readable under blue-green."""
        self._fields["grace"] = value
        return self

    def generate(self, spec: GenerateSpec | None = None) -> RotationPolicyBuilder:
        """Generate random values for the secret fields."""
        self._fields["generate"] = spec or GenerateSpec()
        return self

    def command(self, value: str) -> RotationPolicyBuilder:
        """A shell command that prints the new credential data as JSON."""
        self._fields["command"] = value
        return self

    def test_command(self, value: str) -> RotationPolicyBuilder:
        """A shell command that checks the new secret before the switch."""
        self._fields["test_command"] = value
        return self

    def timeout(self, value: dt.timedelta) -> RotationPolicyBuilder:
        """How long a hook may run."""
        self._fields["timeout"] = value
        return self

    def window(self, value: dt.timedelta) -> RotationPolicyBuilder:
        """After how long a pending rotation counts as stuck."""
        self._fields["window"] = value
        return self

    def max_versions(self, value: int) -> RotationPolicyBuilder:
        """How many versions to keep, the current one included."""
        self._fields["max_versions"] = value
        return self

    def build(self) -> RotationPolicy:
        """The finished, checked policy."""
        return RotationPolicy(**self._fields).checked()


def _seconds(value: dt.timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


def _delta(value: Any) -> dt.timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a duration is whole seconds")
    return dt.timedelta(seconds=value)
