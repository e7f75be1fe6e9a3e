"""SPEC §9: "a writer killed at any instant leaves the previous or the next generation".

"At least 200 writers killed with SIGKILL at random instants: the vault always
opens and holds either the previous or the next generation."

Several lanes run side by side, each with its own vault.  In a lane, one
long-lived writer process (this file run as a script, using the real library)
commits in a loop: each commit bumps ``meta.counter`` and adds record
``c<counter>`` holding the generation it intends to create.  After each commit
has returned, the writer reports ``committed <counter> <generation>`` on its
stdout (flushed), so the parent always knows the last commit that surely landed.
The parent kills the writer with SIGKILL, checks the vault in-process (it opens,
is whole and authentic, holds exactly the reported commit or the one after it,
its anchor does not trigger a false rollback), sometimes writes once itself (a
leftover VAULT.tmp must be cleaned by that next write, no stray files remain),
and starts the next writer, which also has to cope with whatever was left.

Two kinds of kill, alternating:

* plain: the writer runs the library untouched; the parent kills it after a
  random delay, either during start-up and the first unlock or while it is
  committing back to back, so kills land wherever real commits spend their time;
* traced: the writer wraps the steps of `VaultFile.commit` (without changing
  their order or what they do) so that it prints each phase it enters; the
  parent picks a phase (round robin over all of them) and an occurrence (the
  1st to 3rd commit of that writer), the writer parks when it gets there, and
  the parent kills it.  Every phase of a commit is hit many times, and the test
  knows exactly which of "previous" and "next" it must find, whether VAULT.tmp
  must be there, and where the rollback anchor must point.

Set CREDCTL_CRASH_SEED to replay a run.  Run by hand (prints runtime and the
tally of phases hit):  python -m pytest tests/test_crash_safety.py -s
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credctl.vault import EnvironmentUnlocker, KdfParams, OpenVault, Vault
from credctl.vault.format import parse_file
from credctl.vault.health import Level, examine
from credctl.vault.store import decrypt_body

if __name__ != "__main__":
    # Writer processes run this file as a script; they skip pytest's ~80 ms import.
    import pytest

    pytestmark = [
        pytest.mark.slow,
        pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX-only"),
    ]

LANES = 4
KILLS_PER_LANE = 52  # 208 kills in all
PASSPHRASE = "crash test passphrase (fake)"
CHEAP_KDF = KdfParams(19 * 1024, 2, 1)
WRITER_MAX_SECONDS = 60.0  # a writer whose parent vanished stops by itself

# The phases a traced writer announces, in the order one commit goes through them.
# The writer prints "phase X" on entering X; in its target phase it parks until killed.
PHASES = (
    "open",  # before Vault.edit: unlocking outside the lock
    "locked",  # inside the transaction: lock held, file re-read and decrypted
    "tmp-write",  # VAULT.tmp created, only the first half of the bytes written
    "tmp-fsync",  # every byte written, before fsync
    "read-back",  # VAULT.tmp complete, being read back and verified
    "backup",  # before the current file is hard-linked into backups/
    "rename",  # just before os.replace(VAULT.tmp, VAULT)
    "renamed",  # just after the rename, before the folder's fsync
    "prune",  # before old backups are pruned
    "anchor",  # before the rollback anchor is written
    "anchor-rename",  # anchor.tmp written, before it replaces the anchor
    "returned",  # edit() returned, before the writer reports the commit
)
# A kill in these phases must leave the previous generation; after them, the next.
BEFORE_RENAME = set(PHASES[: PHASES.index("renamed")])
AFTER_RENAME = set(PHASES[PHASES.index("renamed") :])
# Between creating VAULT.tmp and renaming it, a kill leaves it behind.
TMP_EXISTS = set(PHASES[PHASES.index("tmp-write") : PHASES.index("renamed")])
# After a kill that left the next generation, the anchor lags behind it exactly when
# the kill fell between the rename and the anchor's update.
ANCHOR_LAGS = {"renamed", "prune", "anchor", "anchor-rename"}


# -- the writer process (this file run as a script) ----------------------------------------


def _emit(line: str) -> None:
    os.write(1, f"{line}\n".encode())  # unbuffered: the parent sees it before a kill


def install_tracing(target: str, occurrence: int) -> Callable[[str], None]:
    """Announce each step of `VaultFile.commit`; park in the target step until killed.

    The steps keep their order and do what they always do; the wrappers only
    print a line before (or, for a split write, inside) a step, and stop in the
    chosen one so that the parent's SIGKILL surely lands there.
    """
    import credctl.vault.file as vault_file

    real_os = os
    real_read = vault_file.read_regular_file
    cls = vault_file.VaultFile
    remaining = [occurrence]

    def mark(phase: str) -> None:
        _emit(f"phase {phase}")
        if phase == target:
            remaining[0] -= 1
            if remaining[0] == 0:
                _emit("parked")
                time.sleep(WRITER_MAX_SECONDS)

    class TracedOs:
        """The `os` module as credctl.vault.file sees it, with marks around the key calls."""

        half_written = False

        def __getattr__(self, name: str) -> Any:
            return getattr(real_os, name)

        def write(self, fd: int, data: Any) -> int:
            if not self.half_written and len(data) > 1:
                self.half_written = True  # write half, stop there, then the rest
                written = real_os.write(fd, data[: len(data) // 2])
                mark("tmp-write")
                return written
            self.half_written = False
            return real_os.write(fd, data)

        def fsync(self, fd: int) -> None:
            import stat

            if stat.S_ISREG(real_os.fstat(fd).st_mode):
                mark("tmp-fsync")
            real_os.fsync(fd)

        def replace(self, src: Any, dst: Any, **dir_fds: Any) -> None:
            if Path(dst).name == "anchor":
                mark("anchor-rename")
                real_os.replace(src, dst, **dir_fds)
                return
            mark("rename")
            real_os.replace(src, dst, **dir_fds)
            mark("renamed")

    def traced_read(path: Path, *, missing: Exception) -> bytes:
        if path.name.endswith(".tmp"):
            mark("read-back")
        return real_read(path, missing=missing)

    def before(phase: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            mark(phase)
            return method(*args, **kwargs)

        return wrapper

    vault_file.os = TracedOs()  # type: ignore[assignment]
    vault_file.read_regular_file = traced_read
    cls.keep_backup = before("backup", cls.keep_backup)  # type: ignore[method-assign]
    cls.prune_backups = before("prune", cls.prune_backups)  # type: ignore[method-assign]
    cls.write_anchor = before("anchor", cls.write_anchor)  # type: ignore[method-assign]
    return mark


def run_writer(vault_path: str, target: str | None = None, occurrence: int = 1) -> int:
    """Commit forever (until killed); report each commit once edit() has returned."""
    mark = install_tracing(target, occurrence) if target else (lambda phase: None)
    vault = Vault(vault_path)
    unlocker = EnvironmentUnlocker()  # CREDCTL_KEY from the environment
    deadline = time.monotonic() + WRITER_MAX_SECONDS
    _emit("ready")
    while time.monotonic() < deadline:
        mark("open")
        with vault.edit(unlocker) as txn:
            mark("locked")
            counter = int(txn.body.meta["counter"]) + 1
            txn.body.meta["counter"] = counter
            record = {"counter": counter, "generation": txn.generation + 1, "pid": os.getpid()}
            txn.body.put(counter, f"c{counter}", record)
        mark("returned")
        _emit(f"committed {counter} {txn.generation}")
    _emit("gave up: never killed")
    return 3


# -- checks ------------------------------------------------------------------------------


def create_vault_with_ci_key(path: Path) -> str:
    """A cheap-KDF vault with counter 0 and one CI key slot; returns CREDCTL_KEY."""
    vault = Vault(path)
    vault.create(PASSPHRASE.encode(), CHEAP_KDF, meta={"counter": 0})
    # The same slot `credctl key add-ci` adds.
    with vault.edit(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE})) as txn:
        return txn.add_ci_key("writers").encode()


def check_backups(vault: Vault, opened: OpenVault, *, pruned: bool) -> None:
    """Kept generations are whole, authentic and not newer than the vault.

    Writers killed between the rename and the pruning of old backups leave one
    extra each; only after a completed write is their number bounded.
    """
    backups = vault.file.backups()
    if pruned:
        assert len(backups) <= opened.backup_count, backups
    for generation, backup in backups:
        parsed = parse_file(backup.read_bytes())
        assert parsed.header.generation == generation <= opened.generation
        decrypt_body(parsed, opened.data_key).validate()


def check_contents(opened: OpenVault) -> int:
    """Counter, records and generation agree: this is one whole generation."""
    counter = int(opened.body.meta["counter"])
    opened.body.validate()
    assert len(opened.body.names()) == counter
    if counter:
        found = opened.body.get_by_name(f"c{counter}")
        assert found is not None
        assert found[1]["counter"] == counter
        # The newest record was written by the commit that made this generation.
        assert found[1]["generation"] == opened.generation
    return counter


def check_no_stray_files(vault: Vault) -> None:
    """After a completed write: no VAULT.tmp, no anchor.tmp, nothing unexpected."""
    name = vault.path.name
    assert sorted(p.name for p in vault.path.parent.iterdir()) == sorted(
        [name, f"{name}.d", f"{name}.lock"]
    )
    assert sorted(p.name for p in vault.file.sidecar.iterdir()) == ["anchor", "backups"]


def assert_fully_valid(path: Path, ci_key: str) -> OpenVault:
    """Full vault-level validation of a vault at rest (after a completed write).

    Both key slots open it, every record parses, the anchor, backups and folder
    are in order, and `health.examine` finds nothing.  (The records here are
    test records, not credentials, so the credential-level checks that
    `credctl doctor` adds on top do not apply.)
    """
    vault = Vault(path)
    by_key = vault.open(EnvironmentUnlocker(env={"CREDCTL_KEY": ci_key}))
    by_passphrase = vault.open(EnvironmentUnlocker(env={"CREDCTL_PASSPHRASE": PASSPHRASE}))
    assert by_key.data_key == by_passphrase.data_key
    check_contents(by_key)
    assert vault.file.read_anchor() == (by_key.vault_id, by_key.generation)
    check_backups(vault, by_key, pruned=True)
    assert all(generation < by_key.generation for generation, _ in vault.file.backups())
    check_no_stray_files(vault)
    report = examine(vault, EnvironmentUnlocker(env={"CREDCTL_KEY": ci_key}))
    assert report.status is Level.OK, report.checks
    return by_key


# -- one lane: kill, check, repeat ---------------------------------------------------------


@dataclass
class Lane:
    """One vault and the writers killed over it."""

    number: int
    path: Path
    ci_key: str
    rng: random.Random
    counter: int = 0  # the last commit known to have landed
    generation: int = 0
    anchor_generation: int = 0
    tmp_left: bool = False  # a killed writer left VAULT.tmp and nobody has written since
    kills: int = 0
    tally: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CREDCTL_KEY": self.ci_key, "CREDCTL_LOCK_TIMEOUT": "60"}

    def unlocker(self) -> EnvironmentUnlocker:
        return EnvironmentUnlocker(env={"CREDCTL_KEY": self.ci_key})


@dataclass
class Kill:
    """What the parent saw of one killed writer."""

    mode: str
    lines: list[str]
    target: str | None = None

    @property
    def phase(self) -> str | None:
        """Where a traced writer was when it died: the last phase it announced."""
        phases = [line.split()[1] for line in self.lines if line.startswith("phase ")]
        return phases[-1] if phases else None

    def last_commit(self) -> tuple[int, int] | None:
        commits = [line.split()[1:] for line in self.lines if line.startswith("committed ")]
        return (int(commits[-1][0]), int(commits[-1][1])) if commits else None


@contextlib.contextmanager
def writer_process(lane: Lane, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A writer that is surely dead (and reaped) when the block ends."""
    proc = subprocess.Popen(
        [sys.executable, __file__, str(lane.path), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lane.env,
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def kill_one_writer(lane: Lane, target: str | None) -> Kill:
    """Start a writer, SIGKILL it at a random instant, return everything it printed."""
    lines: list[str] = []
    args = [target, str(lane.rng.randint(1, 3))] if target else []
    with writer_process(lane, *args) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        if target:
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if line == "parked\n":
                    break
            time.sleep(lane.rng.uniform(0, 0.002))
        elif lane.rng.random() < 0.15:
            # During start-up, the first unlock or the first commit.
            time.sleep(lane.rng.uniform(0.0, 0.15))
        else:
            lines.append(proc.stdout.readline().rstrip("\n"))
            time.sleep(lane.rng.uniform(0.0, 0.2))
        proc.send_signal(signal.SIGKILL)
        lines.extend(proc.stdout.read().splitlines())
        errors = proc.stderr.read()
        returncode = proc.wait()
    assert returncode == -signal.SIGKILL, f"writer exited {returncode} on its own:\n{errors}"
    assert not any(line.startswith("gave up") for line in lines)
    if target:
        assert "parked" in lines, lines[-5:]
    return Kill("traced" if target else "plain", lines, target)


def check_after_kill(lane: Lane, kill: Kill) -> None:
    """The vault opens and holds exactly the last reported commit or the next one."""
    reported = kill.last_commit() or (lane.counter, lane.generation)
    vault = Vault(lane.path)
    # Opening checks the anchor: a false rollback error would be raised here.
    opened = vault.open(lane.unlocker())
    counter = check_contents(opened)
    state = (counter, opened.generation)
    previous, following = reported, (reported[0] + 1, reported[1] + 1)
    assert state in (previous, following), f"{state} is neither {previous} nor {following}"
    outcome = "previous" if state == previous else "next"
    phase = kill.phase
    assert phase == kill.target, (phase, kill.target)
    if phase in BEFORE_RENAME:
        assert outcome == "previous", phase
    elif phase in AFTER_RENAME:
        assert outcome == "next", phase

    # The anchor never names a newer generation than the file (no false rollback).
    # It is what the interrupted commit found, unless that commit got as far as
    # updating it; kills after a rename can leave it several generations behind.
    anchor = vault.file.read_anchor()
    assert anchor is not None
    assert anchor[0] == opened.vault_id
    found = reported[1] if kill.last_commit() else lane.anchor_generation
    assert anchor[1] in (found, opened.generation), (anchor[1], found, opened.generation)
    if outcome == "previous" or phase in ANCHOR_LAGS:
        assert anchor[1] == found, phase
    elif phase == "returned":
        assert anchor[1] == opened.generation, phase
    anchor_behind = anchor[1] < opened.generation
    check_backups(vault, opened, pruned=False)
    leftover_tmp = vault.file.tmp_path.exists()
    if phase in TMP_EXISTS:
        assert leftover_tmp, phase
    elif phase in AFTER_RENAME:
        assert not leftover_tmp, phase

    if lane.tmp_left and kill.last_commit():
        lane.tally["VAULT.tmp cleaned by next writer process"] += 1
    lane.counter, lane.generation = state
    lane.anchor_generation = anchor[1]
    lane.tmp_left = leftover_tmp
    lane.kills += 1
    lane.tally[f"{kill.mode}:{outcome}"] += 1
    if phase is not None:
        lane.tally[f"phase:{phase}"] += 1
    if leftover_tmp:
        lane.tally["left VAULT.tmp"] += 1
    if anchor_behind:
        lane.tally["anchor behind"] += 1

    # Half the time the parent writes next (otherwise the next writer process
    # meets the leftovers): the write succeeds and cleans up after the dead one.
    if lane.rng.random() < 0.5:
        write_once(lane, opened)
        if leftover_tmp:
            lane.tally["VAULT.tmp cleaned by parent write"] += 1


def write_once(lane: Lane, opened: OpenVault) -> None:
    """One commit from the parent, then nothing stale may remain."""
    vault = Vault(lane.path, lock_timeout=60)
    with vault.edit(data_key=opened.data_key) as txn:
        counter = int(txn.body.meta["counter"]) + 1
        assert counter == lane.counter + 1
        txn.body.meta["counter"] = counter
        record = {"counter": counter, "generation": txn.generation + 1, "pid": os.getpid()}
        txn.body.put(counter, f"c{counter}", record)
    lane.counter, lane.generation = counter, txn.generation
    lane.anchor_generation = txn.generation
    lane.tmp_left = False
    assert vault.file.read_anchor() == (opened.vault_id, txn.generation)
    check_backups(vault, txn, pruned=True)
    check_no_stray_files(vault)


def run_lane(lane: Lane, stop: threading.Event) -> Lane:
    offset = lane.rng.randrange(len(PHASES))
    while lane.kills < KILLS_PER_LANE and not stop.is_set():
        try:
            if lane.kills % 2:
                target = PHASES[(offset + lane.kills // 2) % len(PHASES)]
                kill = kill_one_writer(lane, target)
            else:
                kill = kill_one_writer(lane, None)
            check_after_kill(lane, kill)
        except BaseException:
            stop.set()
            raise
    return lane


# -- the test ------------------------------------------------------------------------------


def test_writers_killed_at_random_instants_leave_a_whole_vault(tmp_path: Path) -> None:
    started = time.monotonic()
    seed = int(os.environ.get("CREDCTL_CRASH_SEED") or random.SystemRandom().getrandbits(32))
    lanes = []
    for number in range(LANES):
        path = tmp_path / f"lane{number}" / "crash.credctl"
        ci_key = create_vault_with_ci_key(path)
        lane = Lane(number, path, ci_key, random.Random(f"{seed}-{number}"))
        opened = Vault(path).open(lane.unlocker())
        lane.counter, lane.generation = int(opened.body.meta["counter"]), opened.generation
        lane.anchor_generation = opened.generation
        lanes.append(lane)

    stop = threading.Event()
    with ThreadPoolExecutor(LANES) as pool:
        futures = [pool.submit(run_lane, lane, stop) for lane in lanes]
        try:
            for future in futures:
                future.result()
        except BaseException as exc:
            stop.set()
            exc.add_note(f"replay with CREDCTL_CRASH_SEED={seed}")
            raise

    tally: collections.Counter[str] = collections.Counter()
    for lane in lanes:
        tally.update(lane.tally)
        # No stale state breaks later writes: one more commit, then a vault at rest
        # that passes every check, and whose counter is exactly the commits known.
        write_once(lane, Vault(lane.path).open(lane.unlocker()))
        final = assert_fully_valid(lane.path, lane.ci_key)
        assert (final.body.meta["counter"], final.generation) == (lane.counter, lane.generation)

    kills = sum(lane.kills for lane in lanes)
    assert kills >= 200
    # Every phase of a commit was the place of death at least once, and kills
    # landed on both sides of the rename.
    missed = [phase for phase in PHASES if not tally[f"phase:{phase}"]]
    assert not missed, f"no kill landed in {missed}; tally {dict(tally)} (seed {seed})"
    assert tally["plain:previous"] and tally["plain:next"], dict(tally)
    assert tally["left VAULT.tmp"] and tally["anchor behind"], dict(tally)
    # Leftover temporary files were met, and cleaned, by both kinds of next write.
    assert tally["VAULT.tmp cleaned by parent write"], dict(tally)
    assert tally["VAULT.tmp cleaned by next writer process"], dict(tally)
    print(
        f"\ncrash safety: {kills} writers killed in {time.monotonic() - started:.1f} s "
        f"(seed {seed}); " + json.dumps(dict(sorted(tally.items())))
    )


if __name__ == "__main__":
    sys.exit(run_writer(sys.argv[1], *sys.argv[2:3], *map(int, sys.argv[3:4])))
