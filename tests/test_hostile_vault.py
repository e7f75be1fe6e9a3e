"""Hostile vault files fail closed: the right exit code, one error line, no bytes changed.

Every case builds a damaged, tampered, downgraded, rolled-back or otherwise hostile
vault from real vaults made through the CLI, then runs a read command
(``credctl unlock --ttl 1m``, which decrypts the body) and a write command
(``credctl key add-ci --with-ci-key``) as subprocesses, unlocking with the passphrase
(``CREDCTL_PASSPHRASE``) and with a CI key (``CREDCTL_KEY``).  Hostile credential
records are read with ``credctl get-token`` (by name and by id), since ``unlock``
never parses records, and through the library (``Body.entries`` and friends).  Each
run must: exit with the expected code, print nothing on stdout, print exactly one
``credctl: error: …`` line on stderr (hint lines allowed), never a traceback or a
secret, and leave the folder as it was: the vault's bytes, backups, anchor, sessions
and keyring marker untouched, no ``.tmp`` left, nothing followed through a link (an
empty ``VAULT.lock`` may appear: a writer creates it before it re-reads the file
under the lock; journals in ``VAULT.d`` may record the failure).

Exit codes chosen (SPEC §3, §5; the outcome table of docs/FORMAT.md):

* 6 for everything that is wrong with the *file*: empty, truncated, trailing
  garbage, bits flipped (caught by the trailing checksum, or, when the checksum
  was recomputed, by the authentication of the slot wrap or of the body, which
  binds the whole header), unknown version/flags/slot type, KDF parameters
  outside the allowed range (a downgrade), slots or body moved between vaults,
  an older generation or another vault put in place (the rollback anchor),
  hostile decrypted JSON (settings, index or records: only a holder of the data
  key can write them, so they are a forged or corrupt body), and a symbolic link
  or special file where the vault, its temporary file or its lock file should be
  (refusing to follow it is a tamper signal, not a permission problem).  Damage
  is 6 even when the passphrase given is also wrong: the checksum is checked
  before any key work.
* 5 only when the file is whole and no slot accepts the key given: a wrong
  passphrase, a malformed ``CREDCTL_KEY``, a CI key with a wrong secret, of
  another vault, or of a removed slot.  The same holds, by necessity, for a
  recomputed-checksum tamper of the *inputs of the very slot the key targets*
  (its salt, its in-range Argon2 parameters, its key check, a CI slot's id):
  such a slot is byte for byte what a slot made for another key looks like, and
  nothing short of the data key can tell the two apart (docs/FORMAT.md lists
  ``key_check_bitflip`` under exit 5 for this reason).  The same flips without a
  recomputed checksum are 6, and the same flips seen through the *other* slot
  are 6 (the body's associated data is the whole header).
* 4 when no unlock source exists and there is no terminal, at once.

Runtime: every run is a subprocess (~0.2 CPU-seconds).  Families of many similar
cases where the source cannot change the outcome run two of the four (command,
source) combinations per case, alternating, so that neighbouring cases cover all
four; the byte-by-byte truncation sweep, the checksum-caught bit flips and the index
cases run one combination per case, rotating, several cases per test side by side.
"""

from __future__ import annotations

import base64
import os
import stat
import struct
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from credctl.errors import VaultCorruptError
from credctl.vault import EnvironmentUnlocker, Vault
from credctl.vault.body import dump_json
from credctl.vault.crypto import CHECK_SIZE, NONCE_SIZE, TAG_SIZE
from credctl.vault.format import (
    BODY_SALT_SIZE,
    CHECKSUM_SIZE,
    MAGIC,
    VAULT_ID_SIZE,
    WRAPPED_KEY_SIZE,
    Header,
    SlotType,
    assemble,
    checksum,
    parse_file,
)
from credctl.vault.keys import CI_KEY_PREFIX
from credctl.vault.store import seal_vault
from tests.conftest import CHEAP_KDF, PASSPHRASE, RunCli, credctl_command

VAULT_NAME = "vault.credctl"
READ = ("unlock", "--ttl", "1m")
WRITE = ("key", "add-ci", "--with-ci-key")  # --with-ci-key: a CI key may authorise it
COMMANDS = {
    "read": READ,
    "write": WRITE,
    # Commands that read one credential record (by name and by id).
    "token-by-name": ("get-token", "github"),
    "token-by-id": ("get-token", "1"),
}

Combo = tuple[str, str]  # (command, unlock source)
ALL: tuple[Combo, ...] = (
    ("read", "passphrase"),
    ("read", "ci"),
    ("write", "passphrase"),
    ("write", "ci"),
)
WRITES: tuple[Combo, ...] = (("write", "passphrase"), ("write", "ci"))
# Families of many similar cases alternate between these two pairs: every case still
# runs a read and a write, and each pair of neighbouring cases uses both sources with
# both commands.  It halves the subprocesses where the source cannot matter (the damage
# is found before any key is used); cases where it can matter run all four.
PAIRS: tuple[tuple[Combo, Combo], ...] = (
    (("read", "passphrase"), ("write", "ci")),
    (("read", "ci"), ("write", "passphrase")),
)


def paired(case: str, family: Sequence[str]) -> tuple[Combo, Combo]:
    """The pair of combinations this case of `family` runs."""
    return PAIRS[list(family).index(case) % 2]


def chunked(items: Sequence[str], size: int = 4) -> list[tuple[str, ...]]:
    """Consecutive groups of cases that one test runs side by side (one run each)."""
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]


def chunk_id(chunk: tuple[str, ...]) -> str:
    """A test id naming the first and last case of a group."""
    return chunk[0] if len(chunk) == 1 else f"{chunk[0]}..{chunk[-1]}"


# Prefix (magic, version, flags, header length) and fixed header (vault id,
# generation, body salt, body nonce, data-key check, slot count): docs/FORMAT.md.
FIXED_HEADER_END = (
    len(MAGIC) + 2 + 2 + 4 + VAULT_ID_SIZE + 8 + BODY_SALT_SIZE + NONCE_SIZE + CHECK_SIZE + 2
)

# A well-formed credential record as the credential layer stores it (record id 1).
TOKEN_RECORD: dict[str, Any] = {
    "id": 1,
    "name": "github",
    "type": "token",
    "data": {"token": "tok-fake-value-1"},
    "description": "",
    "tags": [],
    "metadata": {},
    "owner": "local",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "version": 1,
}
GOOD_RECORD = dump_json(TOKEN_RECORD)


# -- the prepared vaults ---------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Prepared:
    """Two real vaults (same passphrase, one CI key each, a few records)."""

    data: bytes
    ci_key: str
    data_key: bytes
    meta: dict[str, Any]
    regions: dict[str, tuple[int, int]]
    other: bytes
    other_ci_key: str
    other_regions: dict[str, tuple[int, int]]

    def __repr__(self) -> str:  # keeps failure reports short and free of key material
        return f"Prepared(<vault A: {len(self.data)} bytes>, <vault B: {len(self.other)} bytes>)"

    def other_region(self, name: str) -> bytes:
        start, end = self.other_regions[name]
        return self.other[start:end]


def _clean_env(home: Path) -> dict[str, str]:
    """The isolation of conftest's `isolated_env`, for module-scoped set-up."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_RUNTIME_DIR=str(home / "run"),
        NO_COLOR="1",
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    return env


def _make_vault(path: Path, env: dict[str, str], records: Mapping[str, dict[str, Any]]) -> str:
    """Init through the CLI, add a CI key through the CLI, records through the library."""

    def cli(*args: str, **extra: str) -> str:
        result = subprocess.run(
            [*credctl_command(), *args],
            input="",
            capture_output=True,
            text=True,
            env={**env, "CREDCTL_VAULT": str(path), **extra},
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("init", *CHEAP_KDF, CREDCTL_PASSPHRASE=PASSPHRASE)
    ci_key = cli("key", "add-ci", CREDCTL_PASSPHRASE=PASSPHRASE).strip()
    with Vault(path).edit(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})) as txn:
        for record_id, (name, record) in enumerate(records.items(), start=1):
            txn.body.put(record_id, name, record)
    return ci_key


def layout(data: bytes) -> dict[str, tuple[int, int]]:
    """Byte ranges of every field of a vault with one passphrase and one CI slot."""
    parsed = parse_file(data)
    header = parsed.header
    regions: dict[str, tuple[int, int]] = {}
    position = 0

    def take(name: str, size: int) -> None:
        nonlocal position
        regions[name] = (position, position + size)
        position += size

    for name, size in [
        ("magic", len(MAGIC)),
        ("version", 2),
        ("flags", 2),
        ("header_length", 4),
        ("vault_id", VAULT_ID_SIZE),
        ("generation", 8),
        ("body_salt", BODY_SALT_SIZE),
        ("body_nonce", NONCE_SIZE),
        ("data_key_check", CHECK_SIZE),
        ("slot_count", 2),
    ]:
        take(name, size)
    assert position == FIXED_HEADER_END
    kinds = sorted(slot.slot_type for slot in header.slots)
    assert kinds == [SlotType.PASSPHRASE, SlotType.CI_KEY], kinds
    for slot in header.slots:
        p = "pp" if slot.slot_type is SlotType.PASSPHRASE else "ci"
        start = position
        take(f"{p}.id", 4)
        take(f"{p}.type", 1)
        take(f"{p}.created", 8)
        take(f"{p}.label_len", 1)
        if slot.label:
            take(f"{p}.label", len(slot.label.encode()))
        if p == "pp":
            take("pp.kdf_memory", 4)
            take("pp.kdf_time", 4)
            take("pp.kdf_parallelism", 4)
        take(f"{p}.salt", len(slot.salt))
        take(f"{p}.check", CHECK_SIZE)
        take(f"{p}.nonce", NONCE_SIZE)
        take(f"{p}.wrapped_key", WRAPPED_KEY_SIZE - TAG_SIZE)
        take(f"{p}.wrap_tag", TAG_SIZE)
        regions[p] = (start, position)
        assert data[start:position] == slot.encode()
        assert data[slice(*regions[f"{p}.salt"])] == slot.salt
        assert data[slice(*regions[f"{p}.check"])] == slot.check
    assert position == len(parsed.header_bytes)
    regions["header"] = (0, position)
    end = len(data) - CHECKSUM_SIZE
    regions["body"] = (position, end - TAG_SIZE)
    regions["body_tag"] = (end - TAG_SIZE, end)
    regions["checksum"] = (end, len(data))
    assert data[slice(*regions["vault_id"])] == header.vault_id
    assert data[slice(*regions["body_nonce"])] == header.body_nonce
    assert data[slice(*regions["data_key_check"])] == header.data_key_check
    return regions


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """Vault A and vault B, made once per module; tests copy their bytes."""
    root = tmp_path_factory.mktemp("prepared")
    env = _clean_env(root / "home")
    a_path = root / "a" / VAULT_NAME
    b_path = root / "b" / VAULT_NAME
    a_key = _make_vault(
        a_path,
        env,
        {
            "github": {"credential_type": "token", "data": {"token": "ghp_fake_a"}},
            "aws_prod": {"credential_type": "api_key", "data": {"key": "AKIA-fake"}},
            "smtp-relay": {"credential_type": "basic_auth", "data": {"password": "pw-fake"}},
        },
    )
    b_key = _make_vault(
        b_path, env, {"github": {"credential_type": "token", "data": {"token": "ghp_fake_b"}}}
    )
    opened = Vault(a_path).open(EnvironmentUnlocker(env={"CREDCTL_KEY": a_key}))
    data, other = a_path.read_bytes(), b_path.read_bytes()
    regions, other_regions = layout(data), layout(other)
    assert regions["header"] == other_regions["header"]  # same slot sizes: splicing works
    return Prepared(
        data=data,
        ci_key=a_key,
        data_key=opened.data_key,
        meta=dict(opened.body.meta),
        regions=regions,
        other=other,
        other_ci_key=b_key,
        other_regions=other_regions,
    )


# -- byte surgery ----------------------------------------------------------------------


def fix_checksum(data: bytes) -> bytes:
    """Recompute the trailing SHA-256, as a deliberate tamperer would."""
    content = data[:-CHECKSUM_SIZE]
    return content + checksum(content)


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    """Flip one bit."""
    return data[:position] + bytes([data[position] ^ (1 << bit)]) + data[position + 1 :]


def replace(data: bytes, region: tuple[int, int], value: bytes) -> bytes:
    """Put `value` where `region` was (same length or not)."""
    start, end = region
    return data[:start] + value + data[end:]


def resolve(prepared: Prepared, spec: str) -> int:
    """An offset named `region`, `region+N` or `end-N`."""
    if spec.startswith("end-"):
        return len(prepared.data) - int(spec[4:])
    name, _, extra = spec.partition("+")
    return prepared.regions[name][0] + int(extra or 0)


# -- checking one hostile case ---------------------------------------------------------


Snapshot = dict[str, tuple[str, object]]


def snapshot(root: Path) -> Snapshot:
    """Every entry under `root` (links as links, special files by type)."""
    found: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            info = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[key] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[key] = ("dir", None)
            elif stat.S_ISREG(info.st_mode):
                found[key] = ("file", path.read_bytes())
            else:
                found[key] = ("special", stat.S_IFMT(info.st_mode))
    return found


# What a refused command must leave alone inside VAULT.d; other files there (usage or
# audit journals) may record the failure.
GUARDED_IN_SIDECAR = {"backups", "sessions", "anchor", "anchor.tmp", "keyring"}


def _guarded(key: str) -> bool:
    sidecar = VAULT_NAME + ".d"
    if key != sidecar and not key.startswith(sidecar + "/"):
        return True  # the vault, its .tmp and .lock, victims and link targets
    return key.split("/")[1] in GUARDED_IN_SIDECAR if "/" in key else False


def snapshot_changes(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed in the folder, apart from a new empty lock file, new folders and
    journal files in VAULT.d."""
    problems: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new or not _guarded(key):
            continue
        if old is None and (
            new == ("dir", None) or (key.endswith(".lock") and new == ("file", b""))
        ):
            continue
        if old is None:
            problems.append(f"{key} was created")
        elif new is None:
            problems.append(f"{key} was removed")
        else:
            problems.append(f"{key} was changed")
    return problems


def verdict(
    result: subprocess.CompletedProcess[str],
    code: int,
    *,
    error_has: Sequence[str] = (),
    hint: bool = False,
    secrets: Iterable[str] = (),
) -> list[str]:
    """Everything wrong with how a refused command behaved."""
    problems: list[str] = []
    if result.returncode != code:
        problems.append(
            f"exit {result.returncode}, expected {code}; stderr {result.stderr.strip()!r}"
        )
    if result.stdout:
        problems.append(f"stdout is not empty: {result.stdout!r}")
    if "Traceback" in result.stderr or "Traceback" in result.stdout:
        problems.append(f"a traceback reached the user: {result.stderr!r}")
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("credctl: error: ")]
    others = [
        line for line in lines if not line.startswith(("credctl: error: ", "credctl: hint: "))
    ]
    if len(errors) != 1 or lines[0] != errors[0] or others:
        problems.append(f"stderr is not one `credctl: error:` line (+ hints): {result.stderr!r}")
    lowered = result.stderr.lower()
    problems += [f"stderr does not mention {w!r}" for w in error_has if w.lower() not in lowered]
    if hint and not any(line.startswith("credctl: hint: ") for line in lines):
        problems.append("no `credctl: hint:` line")
    problems += [
        "a secret appears on stderr" for s in secrets if len(s) >= 12 and s in result.stderr
    ]
    return problems


Content = bytes | Callable[[Path], None]


@dataclass(repr=False)
class Hostile:
    """Runs the commands against a hostile vault, one private folder per combination."""

    tmp_path: Path
    run_cli: RunCli
    prepared: Prepared

    def __repr__(self) -> str:
        return f"Hostile({self.tmp_path})"

    def sources(self) -> dict[str, dict[str, str]]:
        """The two standard unlock sources of vault A."""
        return {
            "passphrase": {"CREDCTL_PASSPHRASE": PASSPHRASE},
            "ci": {"CREDCTL_KEY": self.prepared.ci_key},
        }

    def check(
        self,
        content: Content,
        expect: int | Mapping[Combo, int],
        *,
        combos: Iterable[Combo] = ALL,
        **options: Any,
    ) -> None:
        """Assert every combination fails closed with its expected exit code."""
        __tracebackhide__ = True
        runs = [
            ("", content, combo, expect if isinstance(expect, int) else expect[combo])
            for combo in combos
        ]
        self.check_runs(runs, **options)

    def check_runs(
        self,
        runs: Sequence[tuple[str, Content, Combo, int]],
        *,
        sources: Mapping[str, dict[str, str]] | None = None,
        error_has: Sequence[str] = (),
        hint: bool = False,
        timeout: float = 30.0,
        max_seconds: float | None = None,
    ) -> None:
        """Run (label, content, combination, exit code) cases, four at a time."""
        __tracebackhide__ = True
        source_envs = {**self.sources(), **(sources or {})}

        def one(number: int) -> list[str]:
            label, content, (command, source), code = runs[number]
            folder = self.tmp_path / f"{number}-{command}-{source}"
            folder.mkdir()
            vault = folder / VAULT_NAME
            if isinstance(content, bytes):
                vault.write_bytes(content)
                vault.chmod(0o600)
            else:
                content(vault)
            before = snapshot(folder)
            env = source_envs[source]
            what = f"{label}{': ' if label else ''}{command} with {source}"
            started = time.monotonic()
            try:
                result = self.run_cli(*COMMANDS[command], vault=vault, env=env, timeout=timeout)
            except subprocess.TimeoutExpired:
                return [f"{what}: no answer within {timeout:g} s (it hangs)"]
            elapsed = time.monotonic() - started
            problems = verdict(
                result,
                code,
                error_has=error_has,
                hint=hint,
                secrets=[v for k, v in env.items() if k in {"CREDCTL_PASSPHRASE", "CREDCTL_KEY"}],
            )
            problems += snapshot_changes(before, snapshot(folder))
            if max_seconds is not None and elapsed > max_seconds:
                problems.append(f"took {elapsed:.1f} s (limit {max_seconds:g} s)")
            return [f"{what}: {p}" for p in problems]

        with ThreadPoolExecutor(max_workers=min(4, len(runs))) as pool:
            problems = [p for found in pool.map(one, range(len(runs))) for p in found]
        assert not problems, "\n".join(problems)


@pytest.fixture
def hostile(tmp_path: Path, run_cli: RunCli, prepared: Prepared) -> Hostile:
    """The case runner for one test."""
    return Hostile(tmp_path, run_cli, prepared)


# -- empty, truncated, trailing garbage --------------------------------------------------


def test_empty_file(hostile: Hostile) -> None:
    hostile.check(b"", 6)


DENSE_CHUNK = 8


@pytest.mark.parametrize(
    "first",
    range(1, FIXED_HEADER_END, DENSE_CHUNK),
    ids=lambda first: f"{first}-{min(first + DENSE_CHUNK, FIXED_HEADER_END) - 1}",
)
def test_truncated_in_prefix_or_fixed_header(hostile: Hostile, first: int) -> None:
    """Every cut inside the first 102 bytes: one run per length, rotating through the four
    combinations (such a cut is found before any key is used; keeps ~100 runs cheap)."""
    data = hostile.prepared.data
    lengths = range(first, min(first + DENSE_CHUNK, FIXED_HEADER_END))
    hostile.check_runs([(f"cut to {n} bytes", data[:n], ALL[n % len(ALL)], 6) for n in lengths])


TRUNCATION_POINTS = [
    "pp",
    "pp.type",
    "pp.label+5",
    "pp.kdf_memory+2",
    "pp.salt+8",
    "pp.nonce+6",
    "pp.wrapped_key+20",
    "pp.wrap_tag+15",
    "ci",
    "ci.salt+8",
    "ci.wrapped_key+40",
    "body",
    "body+40",
    "body_tag+8",
    "checksum",
    "end-1",
]


@pytest.mark.parametrize("point", TRUNCATION_POINTS)
def test_truncated_in_slots_and_body(hostile: Hostile, point: str) -> None:
    data = hostile.prepared.data
    combos = paired(point, TRUNCATION_POINTS)
    hostile.check(data[: resolve(hostile.prepared, point)], 6, combos=combos)


RECOMPUTED_CUTS = ["pp.wrap_tag", "ci.salt", "body", "body+40", "body_tag+8"]


@pytest.mark.parametrize("point", RECOMPUTED_CUTS)
def test_truncated_with_recomputed_checksum(hostile: Hostile, point: str) -> None:
    """A cut file whose checksum was made to match: authentication still refuses it."""
    cut = hostile.prepared.data[: resolve(hostile.prepared, point)]
    hostile.check(cut + checksum(cut), 6, combos=paired(point, RECOMPUTED_CUTS))


TRAILING = {
    "one_zero_byte": lambda data: data + b"\0",
    "garbage": lambda data: data + os.urandom(100),
    "file_twice": lambda data: data + data,
    "garbage_checksum_recomputed": lambda data: fix_checksum(data + os.urandom(64) + b"\0" * 32),
    "old_checksum_then_new_checksum": lambda data: data + checksum(data),
}


@pytest.mark.parametrize("case", sorted(TRAILING))
def test_trailing_garbage(hostile: Hostile, case: str) -> None:
    combos = paired(case, sorted(TRAILING))
    hostile.check(TRAILING[case](hostile.prepared.data), 6, combos=combos)


# -- bit flips -------------------------------------------------------------------------

FLIP_REGIONS = [
    "magic",
    "version",
    "flags",
    "header_length",
    "vault_id",
    "generation",
    "body_salt",
    "body_nonce",
    "data_key_check",
    "slot_count",
    "pp.id",
    "pp.type",
    "pp.created",
    "pp.label_len",
    "pp.label",
    "pp.kdf_memory",
    "pp.kdf_time",
    "pp.kdf_parallelism",
    "pp.salt",
    "pp.check",
    "pp.nonce",
    "pp.wrapped_key",
    "pp.wrap_tag",
    "ci.id",
    "ci.type",
    "ci.created",
    "ci.label_len",
    "ci.salt",
    "ci.check",
    "ci.nonce",
    "ci.wrapped_key",
    "ci.wrap_tag",
    "body",
    "body_tag",
]

# Recomputed-checksum flips of the inputs of the slot that the key itself targets: such a
# slot is what a slot for another key looks like (see the module docstring), so exit 5.
# The flip is bit 0 of the region's last byte: m 19456 -> 19457 KiB and t 2 -> 3 stay in
# range (p 1 -> 0 does not, and is refused as a downgrade: 6); CI slot id 2 -> 3.
INDISTINGUISHABLE_FROM_WRONG_KEY = {
    ("pp.kdf_memory", "passphrase"),
    ("pp.kdf_time", "passphrase"),
    ("pp.salt", "passphrase"),
    ("pp.check", "passphrase"),
    ("ci.id", "ci"),
    ("ci.salt", "ci"),
    ("ci.check", "ci"),
}


DAMAGE_REGIONS = [*FLIP_REGIONS, "checksum"]


@pytest.mark.parametrize("regions", chunked(DAMAGE_REGIONS), ids=chunk_id)
def test_bit_flip_damage(hostile: Hostile, regions: tuple[str, ...]) -> None:
    """A flipped bit anywhere, checksum left alone: damage, exit 6, whatever the key.

    The checksum catches it before any key is used, so each region gets one run,
    rotating through the four combinations.
    """
    runs = []
    for region in regions:
        start, end = hostile.prepared.regions[region]
        data = flip(hostile.prepared.data, (start + end) // 2, bit=7)
        combo = ALL[DAMAGE_REGIONS.index(region) % len(ALL)]
        runs.append((f"bit flip in {region}", data, combo, 6))
    hostile.check_runs(runs)


# Regions whose flip breaks the header's structure: refused while parsing, before any key.
PARSE_LEVEL = {
    "magic",
    "version",
    "flags",
    "header_length",
    "slot_count",
    "pp.type",
    "pp.label_len",
    "pp.kdf_parallelism",
    "ci.type",
    "ci.label_len",
}


@pytest.mark.parametrize("region", FLIP_REGIONS)
def test_bit_flip_tamper_with_recomputed_checksum(hostile: Hostile, region: str) -> None:
    """A flipped bit that passes the checksum: parsing or authentication refuses it.

    All four combinations run, since which slot a key opens decides the outcome;
    flips refused while parsing run two.
    """
    _start, end = hostile.prepared.regions[region]
    data = fix_checksum(flip(hostile.prepared.data, end - 1, bit=0))
    expect = {
        (command, source): 5 if (region, source) in INDISTINGUISHABLE_FROM_WRONG_KEY else 6
        for command, source in ALL
    }
    combos = paired(region, sorted(PARSE_LEVEL)) if region in PARSE_LEVEL else ALL
    hostile.check(data, expect, combos=combos)


def test_bit_flip_damage_with_wrong_passphrase_is_still_6(hostile: Hostile) -> None:
    """Damage is reported as damage: the checksum is checked before the passphrase."""
    start, end = hostile.prepared.regions["body"]
    data = flip(hostile.prepared.data, (start + end) // 2)
    wrong = {"wrong": {"CREDCTL_PASSPHRASE": "not the passphrase"}}
    hostile.check(data, 6, combos=[("read", "wrong"), ("write", "wrong")], sources=wrong)


# -- unsupported version, flags, slot types, malformed headers ---------------------------


def _set(prepared: Prepared, region: str, value: bytes, *, fix: bool = True) -> bytes:
    data = replace(prepared.data, prepared.regions[region], value)
    return fix_checksum(data) if fix else data


def _header_variant(prepared: Prepared, **changes: Any) -> bytes:
    """A canonical header with different fields, over A's body, checksum recomputed."""
    parsed = parse_file(prepared.data)
    fields = {**parsed.header._asdict(), **changes}
    return assemble(Header(**fields).encode(), parsed.body_ciphertext)


UNSUPPORTED: dict[str, tuple[Callable[[Prepared], bytes], str]] = {
    "version_0": (lambda p: _set(p, "version", struct.pack(">H", 0)), "version"),
    "version_2": (lambda p: _set(p, "version", struct.pack(">H", 2)), "version"),
    "version_ffff": (lambda p: _set(p, "version", b"\xff\xff"), "version"),
    "version_2_raw": (lambda p: _set(p, "version", struct.pack(">H", 2), fix=False), "version"),
    "flags_1": (lambda p: _set(p, "flags", struct.pack(">H", 1)), "flag"),
    "flags_8000": (lambda p: _set(p, "flags", struct.pack(">H", 0x8000)), "flag"),
    "pp_slot_type_0": (lambda p: _set(p, "pp.type", b"\x00"), "type"),
    "pp_slot_type_3": (lambda p: _set(p, "pp.type", b"\x03"), "type"),
    "ci_slot_type_255": (lambda p: _set(p, "ci.type", b"\xff"), "type"),
    "ci_slot_type_as_passphrase": (lambda p: _set(p, "ci.type", b"\x01"), ""),
    "pp_slot_type_as_ci": (lambda p: _set(p, "pp.type", b"\x02"), ""),
    "slot_count_0": (lambda p: _set(p, "slot_count", b"\x00\x00"), ""),
    "slot_count_1": (lambda p: _set(p, "slot_count", b"\x00\x01"), ""),
    "slot_count_65535": (lambda p: _set(p, "slot_count", b"\xff\xff"), ""),
    "header_length_0": (lambda p: _set(p, "header_length", b"\0\0\0\0"), ""),
    "header_length_huge": (lambda p: _set(p, "header_length", b"\xff\xff\xff\xff"), ""),
    "label_length_255": (lambda p: _set(p, "pp.label_len", b"\xff"), ""),
    "label_not_utf8": (lambda p: _set(p, "pp.label", b"\xff" * 10), ""),
    "duplicate_slot_ids": (
        lambda p: _header_variant(p, slots=(parse_file(p.data).header.slots[0],) * 2),
        "",
    ),
    "sixty_five_slots": (
        lambda p: _header_variant(p, slots=(parse_file(p.data).header.slots[1],) * 65),
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_or_malformed_header(hostile: Hostile, case: str) -> None:
    build, word = UNSUPPORTED[case]
    combos = paired(case, sorted(UNSUPPORTED))
    hostile.check(build(hostile.prepared), 6, combos=combos, error_has=[word] if word else [])


# -- KDF parameters out of range ------------------------------------------------------

KDF_CASES = {
    "memory_below_floor": ("pp.kdf_memory", 19 * 1024 - 1),
    "memory_1_mib": ("pp.kdf_memory", 1024),
    "memory_zero": ("pp.kdf_memory", 0),
    "memory_above_4_gib": ("pp.kdf_memory", 4 * 1024 * 1024 + 1),
    "memory_max_u32": ("pp.kdf_memory", 0xFFFFFFFF),
    "time_1": ("pp.kdf_time", 1),
    "time_0": ("pp.kdf_time", 0),
    "time_11": ("pp.kdf_time", 11),
    "time_max_u32": ("pp.kdf_time", 0xFFFFFFFF),
    "parallelism_0": ("pp.kdf_parallelism", 0),
    "parallelism_17": ("pp.kdf_parallelism", 17),
    "parallelism_max_u32": ("pp.kdf_parallelism", 0xFFFFFFFF),
}


@pytest.mark.parametrize("case", sorted(KDF_CASES))
def test_kdf_parameters_out_of_range(hostile: Hostile, case: str) -> None:
    """Lowered below OWASP's floor or raised to absurd values: a downgrade, refused at once."""
    region, value = KDF_CASES[case]
    data = _set(hostile.prepared, region, struct.pack(">I", value))
    combos = paired(case, sorted(KDF_CASES))
    hostile.check(data, 6, combos=combos, error_has=["key-derivation"], max_seconds=10)


def test_kdf_downgrade_without_recomputed_checksum(hostile: Hostile) -> None:
    data = _set(hostile.prepared, "pp.kdf_memory", struct.pack(">I", 1024), fix=False)
    hostile.check(data, 6)


# -- slots or body moved between vaults ---------------------------------------------------


def _splice(p: Prepared, region: str, *, fix: bool = True) -> bytes:
    data = replace(p.data, p.regions[region], p.other_region(region))
    return fix_checksum(data) if fix else data


def _other_body_under_a(p: Prepared, *, fix: bool = True) -> bytes:
    header_end = p.regions["header"][1]
    data = p.data[:header_end] + p.other[header_end:]
    return fix_checksum(data) if fix else data


def _a_body_under_other_header(p: Prepared) -> bytes:
    header_end = p.regions["header"][1]
    return fix_checksum(p.other[:header_end] + p.data[header_end:])


def _all_slots_of_other(p: Prepared) -> bytes:
    start = p.regions["pp"][0]
    end = p.regions["header"][1]
    return fix_checksum(p.data[:start] + p.other[start:end] + p.data[end:])


SWAPS: dict[str, tuple[Callable[[Prepared], bytes], bool]] = {
    # name: (build, unlock with B's CI key instead of A's)
    "passphrase_slot_of_b_into_a": (lambda p: _splice(p, "pp"), False),
    "passphrase_slot_of_b_into_a_raw": (lambda p: _splice(p, "pp", fix=False), False),
    "ci_slot_of_b_into_a": (lambda p: _splice(p, "ci"), True),
    "all_slots_of_b_into_a": (_all_slots_of_other, True),
    "body_of_b_into_a": (_other_body_under_a, False),
    "body_of_b_into_a_raw": (lambda p: _other_body_under_a(p, fix=False), False),
    "body_of_a_under_header_of_b": (_a_body_under_other_header, True),
    "wrapped_key_of_b_into_a": (lambda p: _splice(p, "pp.wrapped_key"), False),
}


@pytest.mark.parametrize("case", sorted(SWAPS))
def test_slots_or_body_swapped_between_vaults(hostile: Hostile, case: str) -> None:
    """Both vaults share the passphrase, so a moved slot must read as tampering, not 5.

    With a moved CI slot the CI key used is the one that belongs to that slot (B's):
    A's own key would meet a slot that is not its own, which is a wrong key (5).
    """
    build, other_key = SWAPS[case]
    sources = {"ci": {"CREDCTL_KEY": hostile.prepared.other_ci_key}} if other_key else None
    hostile.check(build(hostile.prepared), 6, sources=sources)


# -- rollback: an older generation or another vault put in place -----------------------


def _written_through_the_cli(hostile: Hostile, vault: Path, writes: int = 1) -> None:
    """Vault A at `vault`, then `writes` real writes (new generations, anchor, backups)."""
    vault.write_bytes(hostile.prepared.data)
    vault.chmod(0o600)
    env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
    for _ in range(writes):
        result = hostile.run_cli(*WRITE, vault=vault, env=env)
        assert result.returncode == 0, result.stderr
    assert (vault.parent / f"{VAULT_NAME}.d" / "anchor").exists()


def _after_one_write(hostile: Hostile, vault: Path, replacement: bytes) -> None:
    _written_through_the_cli(hostile, vault)
    assert vault.read_bytes() != replacement
    vault.write_bytes(replacement)


def test_older_generation_put_back(hostile: Hostile) -> None:
    """A copy taken before a write, copied back after it (the anchor is newer)."""
    old = hostile.prepared.data
    hostile.check(lambda vault: _after_one_write(hostile, vault, old), 6, hint=True)


def test_intermediate_generation_from_the_backups_put_back(hostile: Hostile) -> None:
    """Two writes, then the generation between them (a kept backup) copied into place."""

    def setup(vault: Path) -> None:
        _written_through_the_cli(hostile, vault, writes=2)
        backups = sorted((vault.parent / f"{VAULT_NAME}.d" / "backups").iterdir())
        assert len(backups) == 2, backups
        previous = backups[-1].read_bytes()  # the newest backup: one generation back
        generation = parse_file(previous).header.generation
        assert generation == parse_file(vault.read_bytes()).header.generation - 1
        assert generation == parse_file(hostile.prepared.data).header.generation + 1
        vault.write_bytes(previous)

    hostile.check(setup, 6, hint=True)


def test_another_vault_copied_over_the_path(hostile: Hostile) -> None:
    """B opens with the same passphrase and its own CI key: only the anchor can refuse it."""
    other = hostile.prepared.other
    hostile.check(
        lambda vault: _after_one_write(hostile, vault, other),
        6,
        hint=True,
        sources={"ci": {"CREDCTL_KEY": hostile.prepared.other_ci_key}},
    )


# -- hostile decrypted JSON ------------------------------------------------------------


def body_plaintext(meta: bytes, index: bytes = b"", records: bytes = b"") -> bytes:
    """A body laid out as credctl/vault/body.py reads it, built by hand."""
    return struct.pack(">I", len(meta)) + meta + struct.pack(">I", len(index)) + index + records


def reseal(prepared: Prepared, plaintext: bytes) -> bytes:
    """A correctly encrypted vault with A's header fields and slots and a newer generation."""
    header = parse_file(prepared.data).header
    return seal_vault(
        header.vault_id,
        header.generation + 1,
        list(header.slots),
        prepared.data_key,
        plaintext,
    )


DEEP = b"[" * 100_000 + b"]" * 100_000
LEN = struct.Struct(">I")


def _meta(p: Prepared) -> bytes:
    return dump_json(p.meta)


def _index(*lines: tuple[object, object, object, object]) -> bytes:
    out = b""
    for fields in lines:
        out += b"\t".join(f if isinstance(f, bytes) else str(f).encode() for f in fields) + b"\n"
    return out


R = GOOD_RECORD
N = len(GOOD_RECORD)

# Whole-body damage: `Body.decode` refuses it, so even `unlock` fails.
BODY_CASES: dict[str, Callable[[Prepared], bytes]] = {
    "empty_body": lambda p: b"",
    "three_byte_body": lambda p: b"\0\0\0",
    "meta_length_past_end": lambda p: LEN.pack(10**6) + _meta(p),
    "meta_length_max": lambda p: LEN.pack(0xFFFFFFFF) + _meta(p) + LEN.pack(0),
    "index_length_past_end": lambda p: LEN.pack(len(_meta(p))) + _meta(p) + LEN.pack(10**6),
    "index_without_final_newline": lambda p: body_plaintext(_meta(p), b"1\tgithub\t0\t%d" % N, R),
    "meta_empty": lambda p: body_plaintext(b""),
    "meta_list": lambda p: body_plaintext(b"[]"),
    "meta_null": lambda p: body_plaintext(b"null"),
    "meta_string": lambda p: body_plaintext(b'"meta"'),
    "meta_number": lambda p: body_plaintext(b"42"),
    "meta_nan": lambda p: body_plaintext(b'{"backup_count":NaN}'),
    "meta_infinity": lambda p: body_plaintext(b'{"last_slot_id":-Infinity}'),
    "meta_deep_nesting": lambda p: body_plaintext(b'{"a":' + DEEP + b"}"),
    "meta_invalid_utf8": lambda p: body_plaintext(b'{"a":"\xff\xfe"}'),
    "meta_truncated_json": lambda p: body_plaintext(b'{"a":'),
    "meta_trailing_data": lambda p: body_plaintext(_meta(p) + b" {}"),
}


@pytest.mark.parametrize("case", sorted(BODY_CASES))
def test_hostile_body_layout_or_settings(hostile: Hostile, case: str) -> None:
    data = reseal(hostile.prepared, BODY_CASES[case](hostile.prepared))
    hostile.check(data, 6, combos=paired(case, sorted(BODY_CASES)))


@pytest.mark.parametrize("case", sorted(BODY_CASES))
def test_hostile_body_layout_or_settings_library(
    tmp_path: Path, prepared: Prepared, case: str
) -> None:
    path = tmp_path / VAULT_NAME
    path.write_bytes(reseal(prepared, BODY_CASES[case](prepared)))
    with pytest.raises(VaultCorruptError):
        Vault(path).open(EnvironmentUnlocker(env={"CREDCTL_KEY": prepared.ci_key}))


def _with_index(index: bytes, records: bytes) -> Callable[[Prepared], bytes]:
    return lambda p: body_plaintext(_meta(p), index, records)


# Index damage: records are found through the index, which a writer checks in full first.
INDEX_CASES: dict[str, Callable[[Prepared], bytes]] = {
    "length_past_records": _with_index(_index((1, "github", 0, 9999)), R),
    "offset_past_records": _with_index(_index((1, "github", 5000, N)), R),
    "three_fields": _with_index(_index((1, "github", 0, N))[:-3] + b"\n", R),
    "five_fields": _with_index(b"1\tgithub\t0\t%d\textra\n" % N, R),
    "empty_line": _with_index(b"\n" + _index((1, "github", 0, N)), R),
    "id_not_a_number": _with_index(_index((b"x", "github", 0, N)), R),
    "negative_length": _with_index(_index((1, "github", 0, -5)), R),
    "leading_zero_id": _with_index(_index((b"01", "github", 0, N)), R),
    "number_too_long": _with_index(_index((1, "github", 0, b"9" * 40)), R),
    "crlf_line": _with_index(b"1\tgithub\t0\t%d\r\n" % N, R),
    "duplicate_name": _with_index(_index((1, "github", 0, N), (2, "github", N, N)), R + R),
    "duplicate_id": _with_index(_index((1, "github", 0, N), (1, "gitlab", N, N)), R + R),
    "invalid_name_space": _with_index(_index((1, b"bad name", 0, N)), R),
    "invalid_name_dot": _with_index(_index((1, b"git.hub", 0, N)), R),
    "invalid_name_empty": _with_index(_index((1, b"", 0, N)), R),
    "invalid_name_utf8": _with_index(_index((1, b"\xff\xfe", 0, N)), R),
    "name_too_long": _with_index(_index((1, b"a" * 129, 0, N)), R),
    "gap_between_records": _with_index(
        _index((1, "github", 0, N), (2, "gitlab", N + 5, N)), R + b"xxxxx" + R
    ),
    "overlapping_records": _with_index(_index((1, "github", 0, N), (2, "gitlab", 0, N)), R),
    "unindexed_trailing_bytes": _with_index(_index((1, "github", 0, N)), R + b"{}"),
    "records_without_index": _with_index(b"", R),
}


@pytest.mark.parametrize("cases", chunked(sorted(INDEX_CASES)), ids=chunk_id)
def test_hostile_index_refused_before_a_write(hostile: Hostile, cases: tuple[str, ...]) -> None:
    """`unlock` never reads the index; `key add-ci` checks all of it before it writes.

    One write per case, the unlock source alternating.
    """
    runs = [
        (
            f"index {case}",
            reseal(hostile.prepared, INDEX_CASES[case](hostile.prepared)),
            WRITES[sorted(INDEX_CASES).index(case) % 2],
            6,
        )
        for case in cases
    ]
    hostile.check_runs(runs)


@pytest.mark.parametrize("case", sorted(INDEX_CASES))
def test_hostile_index_library(tmp_path: Path, prepared: Prepared, case: str) -> None:
    path = tmp_path / VAULT_NAME
    path.write_bytes(reseal(prepared, INDEX_CASES[case](prepared)))
    opened = Vault(path).open(EnvironmentUnlocker(env={"CREDCTL_KEY": prepared.ci_key}))
    with pytest.raises(VaultCorruptError):
        list(opened.body.entries())
    reopened = Vault(path).open(EnvironmentUnlocker(env={"CREDCTL_KEY": prepared.ci_key}))
    with pytest.raises(VaultCorruptError):
        reopened.body.names()


# Records that are not JSON objects: the body layer itself refuses them.
RECORD_JSON_CASES: dict[str, bytes] = {
    "list": b"[1,2]",
    "null": b"null",
    "string": b'"token"',
    "number": b"1",
    "empty": b"",
    "nan": GOOD_RECORD.replace(b'"tok-fake-value-1"', b"NaN"),
    "infinity": GOOD_RECORD.replace(b'"tok-fake-value-1"', b"Infinity"),
    "deep_nesting": GOOD_RECORD.replace(b'"tok-fake-value-1"', DEEP),
    "invalid_utf8": GOOD_RECORD.replace(b"tok-fake-value-1", b"\xff\xfe"),
    "truncated_json": GOOD_RECORD[:-10],
    "trailing_data": GOOD_RECORD + b"{}",
}


def _record(**changes: Any) -> bytes:
    """TOKEN_RECORD with some members changed (None removes one)."""
    record = {**TOKEN_RECORD, **changes}
    return dump_json({k: v for k, v in record.items() if v is not None})


# JSON objects that are not credential records credctl could have written.
RECORD_SHAPE_CASES: dict[str, bytes] = {
    "no_id_no_name": _record(id=None, name=None),
    "id_disagrees_with_index": _record(id=2),
    "id_as_string": _record(id="1"),
    "name_disagrees_with_index": _record(name="gitlab"),
    "no_type": _record(type=None),
    "type_not_a_string": _record(type=["token"]),
    "type_unknown": _record(type="no_such_type"),
    "data_a_string": _record(data="tok-fake-value-1"),
    "data_a_list": _record(data=["tok-fake-value-1"]),
    "token_an_object": _record(data={"token": {"nested": "tok-fake-value-1"}}),
    "oauth2_data_a_string": _record(type="oauth2", data="x"),
    "oauth2_expiry_garbage": _record(
        type="oauth2", data={"access_token": "tok-fake-value-1", "token_expiry": "soon"}
    ),
    "oauth2_expiry_a_number": _record(
        type="oauth2", data={"access_token": "tok-fake-value-1", "token_expiry": 5}
    ),
}
RECORD_CASES = {**RECORD_JSON_CASES, **RECORD_SHAPE_CASES}
TOKEN_PAIRS: tuple[tuple[Combo, Combo], ...] = (
    (("token-by-name", "passphrase"), ("token-by-id", "ci")),
    (("token-by-name", "ci"), ("token-by-id", "passphrase")),
)


def _one_record_vault(prepared: Prepared, record: bytes) -> bytes:
    index = _index((1, "github", 0, len(record)))
    return reseal(prepared, body_plaintext(_meta(prepared), index, record))


def test_well_formed_record_reads_back(hostile: Hostile) -> None:
    """The baseline of the record cases: the hand-built vault is good and readable."""
    vault = hostile.tmp_path / VAULT_NAME
    vault.write_bytes(_one_record_vault(hostile.prepared, GOOD_RECORD))
    for ref, env in [
        ("github", {"CREDCTL_PASSPHRASE": PASSPHRASE}),
        ("1", hostile.sources()["ci"]),
    ]:
        result = hostile.run_cli("get-token", ref, vault=vault, env=env)
        assert (result.returncode, result.stdout) == (0, "tok-fake-value-1\n"), result.stderr


@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_hostile_record_refused_by_a_reader(hostile: Hostile, case: str) -> None:
    """`get-token` (by name and by id) reads the record: a hostile one is 6, not 1, 3, 9 or 0.

    A record credctl could not have written (checked at creation: id and name match
    the index, a known type, data an object of the type's fields) is a forged body.
    """
    data = _one_record_vault(hostile.prepared, RECORD_CASES[case])
    combos = TOKEN_PAIRS[sorted(RECORD_CASES).index(case) % 2]
    hostile.check(data, 6, combos=combos)


@pytest.mark.parametrize("case", sorted(RECORD_JSON_CASES))
def test_hostile_record_library(tmp_path: Path, prepared: Prepared, case: str) -> None:
    """Records parse lazily, so every way of reading the hostile one must raise 6's error."""
    bad = RECORD_JSON_CASES[case]
    index = _index((1, "github", 0, N), (2, "aws_prod", N, len(bad)))
    path = tmp_path / VAULT_NAME
    path.write_bytes(reseal(prepared, body_plaintext(_meta(prepared), index, R + bad)))
    unlocker = EnvironmentUnlocker(env={"CREDCTL_KEY": prepared.ci_key})
    vault = Vault(path)
    with pytest.raises(VaultCorruptError):
        list(vault.open(unlocker).body.entries())
    with pytest.raises(VaultCorruptError):
        vault.open(unlocker).body.get_by_name("aws_prod")
    with pytest.raises(VaultCorruptError):
        vault.open(unlocker).body.get_by_id(2)
    opened = vault.open(unlocker)
    opened.body.names()  # the index itself is sound
    with pytest.raises(VaultCorruptError):
        opened.body.get_by_name("aws_prod")


# Settings that decode as a JSON object but hold values a writer cannot use.
META_VALUE_CASES: dict[str, bytes] = {
    "last_slot_id_string": b'"x"',
    "last_slot_id_null": b"null",
    "last_slot_id_list": b"[]",
    "last_slot_id_object": b"{}",
    "last_slot_id_overflowing_float": b"1e999",
    "last_slot_id_u32_max": b"4294967295",
    "last_slot_id_huge": b"1" + b"0" * 30,
}


@pytest.mark.parametrize("case", sorted(META_VALUE_CASES))
def test_hostile_settings_values_refused_by_a_writer(hostile: Hostile, case: str) -> None:
    """A writer that meets settings it cannot use reports damage (6), not a crash (1).

    `unlock` does not use these settings, so only the writer is run.
    """
    p = hostile.prepared
    placeholder = dump_json({**p.meta, "last_slot_id": "@placeholder@"})
    meta = placeholder.replace(b'"@placeholder@"', META_VALUE_CASES[case])
    index = _index((1, "github", 0, N))
    hostile.check(reseal(p, body_plaintext(meta, index, R)), 6, combos=WRITES)


# -- symbolic links and special files ---------------------------------------------------


def test_vault_path_is_a_symlink(hostile: Hostile) -> None:
    def setup(vault: Path) -> None:
        target = vault.parent / "elsewhere" / "real.credctl"
        target.parent.mkdir()
        target.write_bytes(hostile.prepared.data)
        vault.symlink_to(target)

    hostile.check(setup, 6)


@pytest.mark.parametrize("companion", [".tmp", ".lock"])
@pytest.mark.parametrize("dangling", [False, True], ids=["to_victim", "dangling"])
def test_companion_path_is_a_symlink(hostile: Hostile, companion: str, dangling: bool) -> None:
    """A planted VAULT.tmp or VAULT.lock link: the write is refused and nothing is followed."""

    def setup(vault: Path) -> None:
        vault.write_bytes(hostile.prepared.data)
        vault.chmod(0o600)
        victim = vault.parent / "victim.txt"
        if not dangling:
            victim.write_bytes(b"precious bytes that must survive\n")
        vault.with_name(VAULT_NAME + companion).symlink_to(victim)

    hostile.check(setup, 6, combos=WRITES)


@pytest.mark.parametrize("kind", ["fifo", "directory"])
def test_vault_path_is_a_special_file(hostile: Hostile, kind: str) -> None:
    """Not a regular file: refused at once (a FIFO must not block the reader forever)."""

    def setup(vault: Path) -> None:
        if kind == "fifo":
            os.mkfifo(vault, 0o600)
        else:
            vault.mkdir()

    hostile.check(setup, 6, timeout=8)


# -- unlock sources: locked, wrong passphrase, wrong or stale keys ------------------------

TWO = (("read", "x"), ("write", "x"))


def test_no_unlock_source_and_no_terminal_exits_4_at_once(hostile: Hostile) -> None:
    hostile.check(
        hostile.prepared.data,
        4,
        combos=TWO,
        sources={"x": {}},
        error_has=["CREDCTL_PASSPHRASE", "CREDCTL_KEY"],
        timeout=20,
        max_seconds=5,
    )


def test_wrong_passphrase_env(hostile: Hostile) -> None:
    wrong = {"x": {"CREDCTL_PASSPHRASE": "not the passphrase at all"}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=wrong)


def test_wrong_passphrase_file(hostile: Hostile, tmp_path: Path) -> None:
    secret_file = tmp_path / "passphrase.txt"
    secret_file.write_text("not the passphrase at all\n")
    secret_file.chmod(0o600)  # a readable one is warned about, which is not this test's point
    wrong = {"x": {"CREDCTL_PASSPHRASE_FILE": str(secret_file)}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=wrong)


def _key_with(slot: str, secret: bytes) -> str:
    """A CI key string with any slot field (CiKey.encode only takes integers)."""
    encoded = base64.urlsafe_b64encode(secret).rstrip(b"=").decode()
    return f"{CI_KEY_PREFIX}-{slot}-{encoded}"


MALFORMED_KEYS = {
    "garbage": "garbage-not-a-key",
    "prefix_only": "credctl-ci1",
    "no_secret": "credctl-ci1-2",
    "slot_not_a_number": _key_with("x", b"k" * 32),
    "slot_superscript_digit": _key_with("\u00b2", b"k" * 32),
    "slot_huge": _key_with("9" * 40, b"k" * 32),
    "secret_too_short": _key_with("2", b"k" * 31),
    "secret_too_long": _key_with("2", b"k" * 33),
    "secret_not_base64": "credctl-ci1-2-!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    "other_version": _key_with("2", b"k" * 32).replace("ci1", "ci9"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_KEYS))
def test_malformed_ci_key(hostile: Hostile, case: str) -> None:
    sources = {"x": {"CREDCTL_KEY": MALFORMED_KEYS[case]}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=sources)


def test_ci_key_with_a_wrong_secret(hostile: Hostile) -> None:
    slot = hostile.prepared.ci_key.split("-")[2]
    sources = {"x": {"CREDCTL_KEY": _key_with(slot, os.urandom(32))}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=sources)


def test_ci_key_naming_the_passphrase_slot(hostile: Hostile) -> None:
    sources = {"x": {"CREDCTL_KEY": _key_with("1", os.urandom(32))}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=sources)


def test_ci_key_of_another_vault(hostile: Hostile) -> None:
    assert hostile.prepared.other_ci_key.split("-")[2] == hostile.prepared.ci_key.split("-")[2]
    sources = {"x": {"CREDCTL_KEY": hostile.prepared.other_ci_key}}
    hostile.check(hostile.prepared.data, 5, combos=TWO, sources=sources)


def test_ci_key_of_a_removed_slot(hostile: Hostile) -> None:
    slot = hostile.prepared.ci_key.split("-")[2]

    def setup(vault: Path) -> None:
        vault.write_bytes(hostile.prepared.data)
        vault.chmod(0o600)
        env = {"CREDCTL_PASSPHRASE": PASSPHRASE}
        result = hostile.run_cli("key", "remove", slot, vault=vault, env=env)
        assert result.returncode == 0, result.stderr

    sources = {"x": {"CREDCTL_KEY": hostile.prepared.ci_key}}
    hostile.check(setup, 5, combos=TWO, sources=sources, error_has=[f"slot {slot}"])
