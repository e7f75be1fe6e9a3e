"""Library `get_token` and write throughput on PostgreSQL, against the vault file.

Usage:
    python bench/bench_backends.py                 # 1k and 100k credentials (several minutes)
    python bench/bench_backends.py --quick         # 1k and 10k, fewer rounds
    python bench/bench_backends.py --json out.json

It starts a throw-away PostgreSQL (Debian's binaries, as the tests do) on a free
127.0.0.1 port, fills one vault space with 1k and one with 100k `token`
credentials (batch writes of 2,000), and measures:

* `get_token` through one warm `CredentialManager` (token cache off, so every call
  reads the database: root, bucket and record in one query, plus the activity log
  append), median of `--rounds` calls on random names; the bar: 100k ≤ 1.2 × 1k;
* write throughput: `create_credential` one at a time (one write each) on
  PostgreSQL and on a vault file holding 1k and 10k credentials; the file rewrites
  the whole vault per write, PostgreSQL writes a few rows.

Argon2id runs at the floor (19 MiB, t=2, p=1) and only once per manager.  The
script prints a Markdown table and exits 0 (it reports; it does not gate).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from credctl.manager import CredentialManager  # noqa: E402
from credctl.model import CacheConfig, StorageBackend  # noqa: E402
from credctl.vault import KdfParams, Vault  # noqa: E402
from tests.backend_support import PASSPHRASE, init_backend  # noqa: E402
from tests.peer_backends import postgres_server  # noqa: E402

FLOOR = KdfParams(19 * 1024, 2, 1)
BATCH = 2_000


def manager(backend: StorageBackend) -> CredentialManager:
    """A warm manager without the token cache (each call reads storage)."""
    built = CredentialManager.builder().storage_backend(backend).build()
    built.set_cache_config(CacheConfig(enabled=False))
    return built


def fill(target: CredentialManager, count: int) -> None:
    """`count` token credentials, written in batches straight to storage (the record
    layer would also log 100k activities, which is not what is measured here)."""
    from credctl._time import format_rfc3339, utc_now

    now = format_rfc3339(utc_now())
    for start in range(0, count, BATCH):
        with target.storage.writer() as draft:
            for i in range(start, min(count, start + BATCH)):
                draft.put({"id": i + 1, "name": f"cred-{i}", "type": "token",
                           "data": {"token": f"FAKE-BENCH-{i}"}, "description": "", "tags": [],
                           "metadata": {}, "owner": "local", "created_at": now,
                           "updated_at": now, "version": 1})  # fmt: skip
            draft.meta["next_id"] = min(count, start + BATCH) + 1


def time_get_token(target: CredentialManager, count: int, rounds: int) -> list[float]:
    """Milliseconds per `get_token` on random names."""
    target.get_token("cred-0")  # unlock and warm up
    samples = []
    for _ in range(rounds):
        name = f"cred-{random.randrange(count)}"
        started = time.perf_counter()
        target.get_token(name)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def time_writes(target: CredentialManager, writes: int, tag: str) -> float:
    """Writes per second of single `create_credential` calls."""
    started = time.perf_counter()
    for i in range(writes):
        target.create_credential("token", {"token": "FAKE-BENCH-w"}, name=f"w-{tag}-{i}")
    return writes / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    big = 10_000 if args.quick else 100_000
    rounds = 60 if args.quick else args.rounds
    os.environ["CREDCTL_PASSPHRASE"] = PASSPHRASE
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="credctl-bench-") as folder, postgres_server() as pg:
        os.environ["XDG_STATE_HOME"] = str(Path(folder) / "state")
        reads: dict[int, float] = {}
        for count in (1_000, big):
            url = pg.url(f"read{count}")
            from credctl.storage.postgres import PostgresBackend

            engine = PostgresBackend(url, space=f"read{count}")
            init_backend(engine)
            engine.close()
            target = manager(StorageBackend.database(url))
            started = time.perf_counter()
            fill(target, count)
            print(f"filled {count} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            samples = time_get_token(target, count, rounds)
            reads[count] = statistics.median(samples)
            results[f"get_token_pg_{count}"] = {
                "median_ms": round(statistics.median(samples), 3),
                "p90_ms": round(statistics.quantiles(samples, n=10)[-1], 3),
            }
        writes: dict[str, float] = {}
        for count in (1_000, 10_000):
            url = pg.url(f"write{count}")
            engine = PostgresBackend(url, space=f"write{count}")
            init_backend(engine)
            engine.close()
            on_pg = manager(StorageBackend.database(url))
            fill(on_pg, count)
            writes[f"postgresql_{count}"] = time_writes(on_pg, args.writes, "pg")
            path = Path(folder) / f"v{count}.credctl"
            Vault(path).create(PASSPHRASE.encode(), FLOOR, backup_count=0)
            on_file = manager(StorageBackend.file(path))
            fill(on_file, count)
            writes[f"file_{count}"] = time_writes(on_file, args.writes, "file")
        results["writes_per_s"] = {k: round(v, 1) for k, v in writes.items()}
    ratio = reads[big] / reads[1_000]
    results["bar_get_token_ratio"] = round(ratio, 3)
    print(f"| get_token on PostgreSQL | 1k | {big // 1000}k |\n|---|---:|---:|")
    print(f"| median ms | {reads[1_000]:.2f} | {reads[big]:.2f} |")
    print(
        f"\nratio {big // 1000}k/1k = {ratio:.2f} (bar ≤ 1.20: {'ok' if ratio <= 1.2 else 'FAIL'})"
    )
    print("\n| writes/s | 1k | 10k |\n|---|---:|---:|")
    for engine_name in ("postgresql", "file"):
        print(f"| {engine_name} | {writes[f'{engine_name}_1000']:.1f} | "
              f"{writes[f'{engine_name}_10000']:.1f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
