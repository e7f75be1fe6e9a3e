"""How much does opening the vault cost, per unlock source and Argon2id setting?

Usage:
    python bench/bench_unlock.py                 # 21 fresh processes per row
    python bench/bench_unlock.py --quick         # 5 per row, for a quick look
    python bench/bench_unlock.py --json out.json # also write the results as JSON

For each Argon2id setting (19 MiB t=2 p=1, the floor `init` accepts; 64 MiB
t=3 p=4; 256 MiB t=3 p=4, the default) a vault is created with `credctl init`,
a CI key added with `credctl key add-ci` and a session started with
`credctl unlock`.  Then, for each unlock source (passphrase, CREDCTL_SESSION,
CREDCTL_KEY), `bench/open_vault.py` is run as a fresh process: it imports
credctl.vault, builds an EnvironmentUnlocker from os.environ and calls
Vault(path).open().  Each row is the median wall time of N such processes,
shown in ms and as a ratio to `python -c pass` measured in the same run.  All
rows are measured interleaved (one process per row per round, in shuffled
order), so that drift of the machine's speed hits every row alike.

The in-process column times Vault(path).open(unlocker) alone with
time.perf_counter in this process (imports already done): the cost of the
unlock itself, without interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from credctl.vault import EnvironmentUnlocker, Vault

OPEN_VAULT = Path(__file__).resolve().with_name("open_vault.py")
PASSPHRASE = "benchmark passphrase (not a secret)"
SETTINGS = [
    # (label, memory MiB, time cost, parallelism)
    ("19 MiB t=2 p=1", 19, 2, 1),
    ("64 MiB t=3 p=4", 64, 3, 4),
    ("256 MiB t=3 p=4 (default)", 256, 3, 4),
]
SOURCES = ("passphrase", "session", "ci-key")
# What OpenVault.source says for each, checked so that no row silently measures another.
SOURCE_NAMES = {"passphrase": "passphrase-env", "session": "session", "ci-key": "ci-key"}


@dataclass
class Row:
    """One measured thing: a command run as a fresh process, optionally an in-process open."""

    kdf: str
    source: str
    command: list[str]
    env: dict[str, str]
    vault: Path | None = None
    unlock_env: dict[str, str] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    in_process: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def in_process_ms(self) -> float | None:
        return statistics.median(self.in_process) * 1000 if self.in_process else None


def base_env() -> dict[str, str]:
    """The caller's environment without any credctl unlock source or setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDCTL_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["NO_COLOR"] = "1"
    return env


def credctl(*args: str, env: dict[str, str]) -> str:
    """Run the CLI through this interpreter; its stdout, or exit with its error."""
    result = subprocess.run(
        [sys.executable, "-m", "credctl", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"credctl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result.stdout.strip()


def prepare(folder: Path, label: str, memory: int, time_cost: int, lanes: int) -> list[Row]:
    """A vault with this setting, a CI key and a session; one row per unlock source."""
    vault = folder / f"m{memory}-t{time_cost}-p{lanes}" / "bench.credctl"
    env = {**base_env(), "CREDCTL_VAULT": str(vault)}
    with_passphrase = {**env, "CREDCTL_PASSPHRASE": PASSPHRASE}
    kdf = ["--kdf-memory", str(memory), "--kdf-time", str(time_cost)]
    credctl("init", *kdf, "--kdf-parallelism", str(lanes), env=with_passphrase)
    ci_key = credctl("key", "add-ci", "--label", "bench", env=with_passphrase)
    export = credctl("unlock", "--ttl", "2h", env=with_passphrase)
    prefix = "export CREDCTL_SESSION='"
    assert export.startswith(prefix), export
    assert export.endswith("'"), export
    sources = {
        "passphrase": {"CREDCTL_PASSPHRASE": PASSPHRASE},
        "session": {"CREDCTL_SESSION": export[len(prefix) : -1]},
        "ci-key": {"CREDCTL_KEY": ci_key},
    }
    return [
        Row(
            label,
            source,
            [sys.executable, str(OPEN_VAULT), str(vault)],
            {**env, **sources[source]},
            vault=vault,
            unlock_env=sources[source],
        )
        for source in SOURCES
    ]


def run_once(row: Row) -> float:
    """Wall time of one fresh process, from spawn to exit."""
    started = time.perf_counter()
    result = subprocess.run(
        row.command, env=row.env, stdin=subprocess.DEVNULL, capture_output=True, check=False
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{row.command} failed ({result.returncode}): {result.stderr.decode()}")
    if row.vault is not None and result.stdout.decode().strip() != SOURCE_NAMES[row.source]:
        sys.exit(f"{row.kdf}: expected to open with {row.source}, got {result.stdout!r}")
    return elapsed


def open_in_process(row: Row) -> float:
    """Vault(path).open(unlocker) in this process, imports already done."""
    assert row.vault is not None
    unlocker = EnvironmentUnlocker(env=dict(row.unlock_env))
    started = time.perf_counter()
    opened = Vault(row.vault).open(unlocker)
    elapsed = time.perf_counter() - started
    assert opened.source == SOURCE_NAMES[row.source], opened.source
    return elapsed


def measure(rows: list[Row], repetitions: int, seed: int) -> None:
    """Interleaved rounds: every row once per round, in a fresh shuffled order."""
    rng = random.Random(seed)
    for row in rows:  # warm-up: page cache, pyc files, lazy imports in this process
        run_once(row)
        if row.vault is not None:
            open_in_process(row)
    for round_number in range(repetitions):
        order = rows[:]
        rng.shuffle(order)
        for row in order:
            row.samples.append(run_once(row))
            if row.vault is not None:
                row.in_process.append(open_in_process(row))
        if sys.stderr.isatty():
            print(f"\rround {round_number + 1}/{repetitions}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)


def _line(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """Two left-aligned text columns, then right-aligned numbers."""
    return "  ".join(
        cell.ljust(width) if i < 2 else cell.rjust(width)
        for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
    )


def table(rows: list[Row], baseline: Row, repetitions: int) -> str:
    head = (
        f"credctl unlock benchmark: Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs; median of {repetitions} fresh processes "
        "per row, rows interleaved"
    )
    columns = ("Argon2id setting", "unlock source", "process ms", "x python", "in-process ms")
    widths = (26, 22, 11, 9, 14)
    lines = [head, ""]
    lines.append(_line(columns, widths))
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        ratio = row.median_ms / baseline.median_ms
        in_process = f"{row.in_process_ms:.2f}" if row.in_process_ms is not None else "-"
        cells = (row.kdf, row.source, f"{row.median_ms:.1f}", f"{ratio:.2f}", in_process)
        lines.append(_line(cells, widths))
    return "\n".join(lines)


def as_json(rows: list[Row], baseline: Row, repetitions: int, seed: int) -> dict[str, Any]:
    return {
        "benchmark": "unlock",
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "repetitions": repetitions,
        "seed": seed,
        "baseline": {"command": "python -c pass", "median_ms": round(baseline.median_ms, 3)},
        "rows": [
            {
                "kdf": row.kdf,
                "source": row.source,
                "process_median_ms": round(row.median_ms, 3),
                "ratio_to_python": round(row.median_ms / baseline.median_ms, 3),
                "in_process_median_ms": (
                    round(row.in_process_ms, 3) if row.in_process_ms is not None else None
                ),
                "process_samples_ms": [round(s * 1000, 3) for s in row.samples],
            }
            for row in rows
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 processes per row instead of 21")
    parser.add_argument("--repeat", type=int, help="processes per row (overrides --quick)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of the interleaving order")
    args = parser.parse_args(argv)
    repetitions = args.repeat or (5 if args.quick else 21)

    env = base_env()
    baseline = Row("-", "python -c pass", [sys.executable, "-c", "pass"], env)
    imports = Row("-", "import credctl.vault", [sys.executable, "-c", "import credctl.vault"], env)
    with tempfile.TemporaryDirectory(prefix="credctl-bench-") as folder:
        rows = [baseline, imports]
        for setting in SETTINGS:
            print(f"preparing a vault with Argon2id {setting[0]}", file=sys.stderr)
            rows += prepare(Path(folder), *setting)
        measure(rows, repetitions, args.seed)
    print(table(rows, baseline, repetitions))
    if args.json:
        args.json.write_text(json.dumps(as_json(rows, baseline, repetitions, args.seed), indent=2))
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
