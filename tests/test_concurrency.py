"""SPEC §9: many processes reading while several write.

"At least 8 processes x 100 writes each while 16 processes read in a loop: no
lost write (exact final count), no failed read."

Every worker is a separate OS process that runs this file as a script and uses
the real library (`Vault.edit` / `Vault.open`) on one vault.  Workers unlock
with a CI key (`CREDCTL_KEY`), so no process pays Argon2id.  They all wait on
a "go" file so that the readers are already looping when the first write lands.

Run by hand (prints the runtime):  python -m pytest tests/test_concurrency.py -s
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from credctl.vault import EnvironmentUnlocker, KdfParams, OpenVault, Vault
from credctl.vault.format import parse_file
from credctl.vault.health import Level, examine
from credctl.vault.store import decrypt_body

if __name__ != "__main__":
    # Worker processes run this file as a script; they skip pytest's ~80 ms import.
    import pytest

    pytestmark = [
        pytest.mark.slow,
        pytest.mark.skipif(sys.platform == "win32", reason="flock and fork are POSIX-only"),
    ]

WRITERS = 8
WRITES_PER_WRITER = 100
READERS = 16
PASSPHRASE = "concurrency test passphrase (fake)"
CHEAP_KDF = KdfParams(19 * 1024, 2, 1)
WORKER_ENV = {"CREDCTL_LOCK_TIMEOUT": "60"}
MAX_REPORTED_ERRORS = 20
READER_NICENESS = 10


# -- the vault under test -----------------------------------------------------------------


def create_vault_with_ci_key(path: Path) -> str:
    """A cheap-KDF vault with counter 0 and one CI key slot; returns CREDCTL_KEY."""
    vault = Vault(path)
    vault.create(PASSPHRASE.encode(), CHEAP_KDF, meta={"counter": 0})
    # The same slot `credctl key add-ci` adds.
    with vault.edit(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})) as txn:
        return txn.add_ci_key("workers").encode()


def assert_fully_valid(path: Path, ci_key: str) -> OpenVault:
    """Full vault-level validation of a vault at rest (after the workers).

    Both key slots open it, every record parses, the anchor, backups and folder
    are in order, and `health.examine` finds nothing.  (The records here are
    test records, not credentials, so the credential-level checks that
    `credctl doctor` adds on top do not apply.)
    """
    vault = Vault(path)
    by_key = vault.open(EnvironmentUnlocker(env={"CREDCTL_KEY": ci_key}))
    by_passphrase = vault.open(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE}))
    assert by_key.data_key == by_passphrase.data_key
    assert by_key.generation == by_passphrase.generation
    by_key.body.validate()
    assert len(list(by_key.body.entries())) == len(by_key.body)
    # The rollback anchor names this vault and its newest generation.
    assert vault.file.read_anchor() == (by_key.vault_id, by_key.generation)
    # Kept generations are whole, authentic, older, and no more than configured.
    backups = vault.file.backups()
    assert len(backups) <= by_key.backup_count
    for generation, backup in backups:
        parsed = parse_file(backup.read_bytes())
        assert parsed.header.generation == generation < by_key.generation
        decrypt_body(parsed, by_key.data_key).validate()
    # Nothing left behind by the writers: no temporary file, no stray companions.
    name = path.name
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(
        [name, f"{name}.d", f"{name}.lock"]
    )
    assert sorted(p.name for p in vault.file.sidecar.iterdir()) == ["anchor", "backups"]
    report = examine(vault, EnvironmentUnlocker(env={"CREDCTL_KEY": ci_key}))
    assert report.status is Level.OK, report.checks
    return by_key


# -- worker processes (this file run as a script) ------------------------------------------


def _wait_for_go(control: Path, role: str) -> None:
    (control / f"ready-{role}").touch()
    deadline = time.monotonic() + 300
    while not (control / "go").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{role}: no go signal within 300 s")
        time.sleep(0.005)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def run_writer(vault_path: str, control: str, writer: int, writes: int) -> dict[str, Any]:
    """`writes` transactions, each bumping meta.counter and adding record w<writer>-<i>."""
    vault = Vault(vault_path)
    unlocker = EnvironmentUnlocker()  # CREDCTL_KEY from the environment
    _wait_for_go(Path(control), f"w{writer}")
    committed: list[int] = []
    generations: list[int] = []
    errors: list[str] = []
    for i in range(writes):
        try:
            with vault.edit(unlocker) as txn:
                counter = int(txn.body.meta["counter"]) + 1
                txn.body.meta["counter"] = counter
                record = {"writer": writer, "i": i, "counter": counter}
                txn.body.put(counter, f"w{writer}-{i}", record)
            committed.append(counter)
            generations.append(txn.generation)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent
            errors.append(_describe(exc))
    return {"committed": committed, "generations": generations, "errors": errors}


def run_reader(vault_path: str, control: str, reader: int) -> dict[str, Any]:
    """Open the vault in a loop until told to stop; check each generation is whole."""
    # Readers yield the CPU to writers first, so that 16 busy loops on a 2-core
    # machine do not stretch the writers' commits (and the test) several-fold; they
    # still read back to back whenever a writer waits on fsync or on the lock.
    os.nice(READER_NICENESS)
    vault = Vault(vault_path)
    unlocker = EnvironmentUnlocker()
    stop = Path(control) / "stop"
    rng = random.Random(reader)
    _wait_for_go(Path(control), f"r{reader}")
    reads = 0
    errors: list[str] = []
    generations: list[int] = []
    known_name: str | None = None
    last = (-1, -1)
    while True:
        try:
            opened = vault.open(unlocker)
            generation, counter = opened.generation, int(opened.body.meta["counter"])
            if generation < last[0] or counter < last[1]:
                errors.append(f"went back from {last} to {(generation, counter)}")
            last = (generation, counter)
            # A name seen in an earlier generation is still there (nothing is deleted);
            # looked up before names() so that the lazy index path is exercised too.
            if known_name is not None and opened.body.get_by_name(known_name) is None:
                errors.append(f"generation {generation} lost record {known_name}")
            names = opened.body.names()
            if len(names) != counter:
                errors.append(f"generation {generation}: counter {counter}, {len(names)} records")
            if names:
                newest = max(names.values())
                found = opened.body.get_by_id(newest)
                if found is None or found[1]["counter"] != newest:
                    errors.append(f"generation {generation}: record {newest} is wrong")
                known_name = rng.choice(list(names))
            if not generations or generations[-1] != generation:
                generations.append(generation)
            reads += 1
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent
            errors.append(_describe(exc))
        if len(errors) > MAX_REPORTED_ERRORS or stop.exists():
            break
    return {"reads": reads, "generations": generations, "errors": errors}


def _worker_main(argv: list[str]) -> int:
    role, vault_path, control, number = argv[:4]
    if role == "writer":
        result = run_writer(vault_path, control, int(number), int(argv[4]))
    else:
        result = run_reader(vault_path, control, int(number))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


# -- the test ------------------------------------------------------------------------------


def _spawn(*args: object, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *map(str, args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _result(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker {proc.args} exited {proc.returncode}:\n{err}"
    return dict(json.loads(out))


def _wait_until_ready(control: Path, procs: list[subprocess.Popen[str]], count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(control.glob("ready-*"))) < count:
        for proc in procs:
            if proc.poll() is not None:
                _out, err = proc.communicate()
                pytest.fail(f"worker {proc.args} died before starting:\n{err}")
        assert time.monotonic() < deadline, "workers did not start within 120 s"
        time.sleep(0.01)


def test_many_readers_and_writers_lose_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    vault_path = tmp_path / "vaults" / "shared.credctl"
    ci_key = create_vault_with_ci_key(vault_path)
    initial = Vault(vault_path).open(EnvironmentUnlocker(env={"CREDCTL_KEY": ci_key}))
    initial_generation = initial.generation
    control = tmp_path / "control"
    control.mkdir()
    env = {**os.environ, **WORKER_ENV, "CREDCTL_KEY": ci_key}

    procs: list[subprocess.Popen[str]] = []
    try:
        readers = [_spawn("reader", vault_path, control, n, env=env) for n in range(READERS)]
        writers = [
            _spawn("writer", vault_path, control, n, WRITES_PER_WRITER, env=env)
            for n in range(WRITERS)
        ]
        procs = readers + writers
        _wait_until_ready(control, procs, len(procs))
        spawned = time.monotonic()
        (control / "go").touch()
        writer_results = [_result(proc, timeout=300) for proc in writers]
        writing = time.monotonic() - spawned
        (control / "stop").touch()
        reader_results = [_result(proc, timeout=60) for proc in readers]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # No writer failed, and every commit got its own counter value: no lost update.
    for number, result in enumerate(writer_results):
        assert result["errors"] == [], f"writer {number}: {result['errors']}"
        assert len(result["committed"]) == WRITES_PER_WRITER
        assert result["generations"] == sorted(result["generations"])
    total = WRITERS * WRITES_PER_WRITER
    all_counters = sorted(c for result in writer_results for c in result["committed"])
    assert all_counters == list(range(1, total + 1))

    # No reader failed; each saw whole generations, never going back.
    for number, result in enumerate(reader_results):
        assert result["errors"] == [], f"reader {number}: {result['errors']}"
        assert result["reads"] > 0
        assert result["generations"] == sorted(result["generations"]), f"reader {number}"
    final_generation = initial_generation + total
    seen = {g for result in reader_results for g in result["generations"]}
    assert seen <= set(range(initial_generation, final_generation + 1))
    # The reads really overlapped the writes (readers saw generations in between).
    assert seen - {initial_generation, final_generation}, seen

    # The exact final state: counter, records, generation — and a fully valid vault.
    opened = assert_fully_valid(vault_path, ci_key)
    assert opened.body.meta["counter"] == total
    assert opened.generation == final_generation
    expected_names = {f"w{w}-{i}" for w in range(WRITERS) for i in range(WRITES_PER_WRITER)}
    assert set(opened.body.names()) == expected_names
    for record_id, name, record in opened.body.entries():
        assert record["counter"] == record_id
        assert name == f"w{record['writer']}-{record['i']}"

    reads = [result["reads"] for result in reader_results]
    per_reader = [len(result["generations"]) for result in reader_results]
    print(
        f"\nconcurrency: {WRITERS}x{WRITES_PER_WRITER} writes in {writing:.1f} s "
        f"({total / writing:.0f}/s) while {READERS} readers did {sum(reads)} reads "
        f"(min {min(reads)} per reader; {len(seen)} distinct generations seen, "
        f"{min(per_reader)}-{max(per_reader)} per reader); "
        f"whole test {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
