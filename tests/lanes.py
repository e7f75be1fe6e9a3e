"""The two test lanes, and the check that the tests run this checkout's console script.

``scripts/test --fast`` (``pytest --fast``) runs the in-process lane: every test not
marked ``cli`` (it starts the credctl program), ``peers`` (it needs a real shell,
Chromium or node peer), ``slow`` (stress) or ``loopback`` (it listens on 127.0.0.1).
``cli`` and ``peers`` are found, not written by hand: a test is ``cli`` when its
body, its fixtures or the helpers they call reach `tests.conftest.credctl_command`,
and ``peers`` when they reach `tests.peers`.  In
the fast lane the network is blocked and starting credctl fails the test, so a
test the marking missed cannot quietly do either.  The full run (plain
``scripts/test``) runs everything, through the console script on PATH, after
checking that it imports credctl from this checkout.
"""

from __future__ import annotations

import inspect
import itertools
import os
import shlex
import shutil
import socket
import subprocess
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI, PEERS, SLOW, LOOPBACK = "cli", "peers", "slow", "loopback"
NOT_IN_FAST_LANE = (CLI, PEERS, SLOW, LOOPBACK)


class Lane:
    """Which lane this session runs (set once by conftest's pytest_configure)."""

    fast = False


# -- finding the marks ----------------------------------------------------------------------


def _ours(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module == "tests" or module.startswith("tests.")


def _functions_of(cls: type) -> Iterable[Callable[..., Any]]:
    for value in vars(cls).values():
        if isinstance(value, staticmethod | classmethod):
            value = value.__func__
        if isinstance(value, property):
            yield from (f for f in (value.fget, value.fset, value.fdel) if f is not None)
        elif inspect.isfunction(value):
            yield value


def _names_in(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_in(const)
    return names


class Marker:
    """Which lane marks a test's code reaches (its body, fixtures and our helpers)."""

    def __init__(self, sentinels: dict[int, str]) -> None:
        self.sentinels = sentinels  # id(function) -> mark
        self.memo: dict[types.CodeType, frozenset[str]] = {}

    def reached(self, function: Callable[..., Any]) -> frozenset[str]:
        function = inspect.unwrap(function)
        handle = getattr(function, "hypothesis", None)  # @given keeps the test here
        if handle is not None:
            function = handle.inner_test
        code = getattr(function, "__code__", None)
        if code is None:
            return frozenset()
        if code in self.memo:
            return self.memo[code]
        self.memo[code] = frozenset()  # a recursive helper reaches nothing new
        marks: set[str] = set()
        names = _names_in(code)
        namespace = getattr(function, "__globals__", {})
        for name in names:
            marks |= self._marks_of(namespace.get(name), names)
        self.memo[code] = frozenset(marks)
        return self.memo[code]

    def _marks_of(self, obj: object, names: set[str]) -> set[str]:
        if obj is None:
            return set()
        if id(obj) in self.sentinels:
            return {self.sentinels[id(obj)]}
        if isinstance(obj, types.ModuleType):
            if not (obj.__name__ == "tests" or obj.__name__.startswith("tests.")):
                return set()
            found: set[str] = set()
            for name in names:  # `module.helper(...)`: every name the code uses
                member = getattr(obj, name, None)
                if member is not None and not isinstance(member, types.ModuleType):
                    found |= self._marks_of(member, set())
            return found
        if inspect.isclass(obj) and _ours(obj):
            return {mark for f in _functions_of(obj) for mark in self.reached(f)}
        if callable(obj) and _ours(obj):
            return set(self.reached(obj))
        return set()

    def item_marks(self, item: pytest.Function) -> set[str]:
        marks = set(self.reached(item.function))
        for name in item.fixturenames:
            fixture = _fixture_function(item, name)
            if fixture is not None:
                marks |= self.reached(fixture)
        return marks


def _fixture_function(item: pytest.Function, name: str) -> Callable[..., Any] | None:
    """The function of fixture `name` as `item` sees it: its module, then the conftests."""
    module = item.module
    candidates = [module] if module is not None else []
    parts = (module.__name__ if module is not None else "").split(".")
    for end in range(len(parts) - 1, 0, -1):
        conftest = sys.modules.get(".".join([*parts[:end], "conftest"]))
        if conftest is not None:
            candidates.append(conftest)
    for namespace in candidates:
        found = getattr(namespace, name, None)
        wrapped = getattr(found, "__wrapped__", None)
        if wrapped is not None and getattr(found, "name", None) == name:
            return wrapped  # type: ignore[no-any-return]
    return None


def mark_items(items: list[pytest.Item], sentinels: dict[int, str]) -> None:
    marker = Marker(sentinels)
    for item in items:
        if isinstance(item, pytest.Function):
            for mark in sorted(marker.item_marks(item)):
                item.add_marker(mark)


def deselect_for_fast_lane(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        slow = any(item.get_closest_marker(name) for name in NOT_IN_FAST_LANE)
        (dropped if slow else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# -- the fast lane's guards -----------------------------------------------------------------


class FastLaneError(Exception):
    """A test in the fast lane used the network or started credctl."""


class FastLaneGuard:
    """Blocks IP sockets, name lookups and starting credctl; remembers every attempt.

    Local plumbing still works: ``socket.socketpair`` (asyncio's event loop uses one)
    and AF_UNIX sockets, pipes, and child processes other than credctl.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[str] = []
        real_socket = socket.socket
        real_popen = subprocess.Popen
        guard = self

        class GuardedSocket(real_socket):
            def __init__(
                self, family: Any = -1, type: Any = -1, proto: Any = -1, fileno: Any = None
            ) -> None:
                if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                    guard.refuse(f"an IP socket (family {family})")
                super().__init__(family, type, proto, fileno)

        def no_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            guard.refuse(f"a name lookup of {host!r}")

        class GuardedPopen(real_popen):  # type: ignore[type-arg]
            def __init__(self, args: Any, *rest: Any, **kwargs: Any) -> None:
                if starts_credctl(args):
                    guard.refuse(f"starting credctl ({args!r}); mark the test `cli`")
                super().__init__(args, *rest, **kwargs)

        monkeypatch.setattr(socket, "socket", GuardedSocket)
        monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
        monkeypatch.setattr(socket, "gethostbyname", no_lookup)
        monkeypatch.setattr(subprocess, "Popen", GuardedPopen)

    def refuse(self, what: str) -> None:
        message = f"fast lane: {what} is not allowed here (no network, no credctl process)"
        self.attempts.append(message)
        raise FastLaneError(message)


def starts_credctl(args: Any) -> bool:
    argv = shlex.split(args) if isinstance(args, str) else [os.fsdecode(a) for a in args]
    if not argv:
        return False
    if Path(argv[0]).name == "credctl":
        return True
    return any(a == "-m" and b == "credctl" for a, b in itertools.pairwise(argv))


# -- the console script ---------------------------------------------------------------------


class ConsoleScriptError(Exception):
    """The `credctl` on PATH is missing, broken, or imports another credctl."""


_verified: list[str] = []


def interpreter_of(script: Path) -> list[str]:
    """The interpreter a pip console script runs under (its shebang, or pip's sh trampoline
    for paths a shebang cannot hold)."""
    lines = script.read_bytes()[:4096].decode(errors="replace").splitlines()
    if not lines or not lines[0].startswith("#!"):
        raise ConsoleScriptError(f"{script} has no #! line: it is no console script")
    shebang = shlex.split(lines[0][2:])
    if shebang == ["/bin/sh"] and len(lines) > 1 and lines[1].startswith("'''exec'"):
        return shlex.split(lines[1].removeprefix("'''exec'"))[:1]
    return shebang


def check_console_script(found: str) -> None:
    """`found` runs, and imports credctl from this checkout (else `ConsoleScriptError`)."""
    interpreter = interpreter_of(Path(found))
    probe = "import credctl; print(credctl.__file__)"
    done = subprocess.run(
        [*interpreter, "-c", probe], cwd="/", capture_output=True, text=True, check=False
    )
    imported = Path(done.stdout.strip() or "?").resolve()
    expected = ROOT / "credctl" / "__init__.py"
    if done.returncode != 0 or imported != expected:
        raise ConsoleScriptError(
            f"the console script {found} imports credctl from {imported}, not from this "
            f"checkout ({expected}) {done.stderr[-500:]}; run the tests with scripts/test"
        )
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False, cwd="/"
    )
    if version.returncode != 0 or not version.stdout.startswith("credctl "):
        raise ConsoleScriptError(f"`{found} --version` failed: {version.stderr[-500:]}")


def console_script() -> str:
    """The `credctl` console script on PATH, once checked to be this checkout's."""
    if not _verified:
        found = shutil.which("credctl")
        if found is None:
            raise ConsoleScriptError(
                "no `credctl` console script on PATH; run the tests with scripts/test (it "
                "installs this checkout into .venv and puts .venv/bin first on PATH)"
            )
        check_console_script(found)
        _verified.append(found)
    return _verified[0]
