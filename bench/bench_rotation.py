"""`credctl rotate --due --dry-run` over 100, 1,000 and 10,000 credentials, and one
rotation on a 1,000-credential vault against `credctl create` in the same run.

Usage:
    python bench/bench_rotation.py                    # 20 interleaved rounds
    python bench/bench_rotation.py --quick            # 10 rounds, for a quick look
    python bench/bench_rotation.py --json out.json --markdown out.md
    python bench/bench_rotation.py --ref HEAD         # measure a commit, not the working tree

What the rotation issue asks to show:

* ``rotate --due --dry-run`` costs time linear in the number of credentials.  Every
  credential has a policy (an interval, every third a cron schedule, so cron is
  evaluated too); the report is printed as JSON.  The check: the cost per credential
  (start-up removed) from 1,000 to 10,000 is within a factor of 2 of the cost per
  credential from 100 to 1,000;
* ``rotate NAME --generate`` (one vault commit: the new data is known and there is no
  test command) against ``create token NAME --field token=@-`` on a vault of 1,000,
  each run on another credential.  `create` runs on the Typer-free fast path and
  `rotate` through Typer, so each is also compared with a read through the same
  path on the same vault (``get-token``, ``show --json``): the bar is on what the
  write adds, (rotate − show) / (create − get-token) at most 2.0; the plain ratio
  rotate / create is printed too.

Setup reuses `bench_get_token`'s: a fresh venv with this repository installed
non-editable (byte-compiled), vaults filled through the library in one write each
(Argon2id at the floor; the rows use a `credctl unlock` session, so the KDF is not
measured).  Every row is a fresh process timed from spawn to exit with its output
checked; rows run once per round in shuffled order after two warm-up runs each.
Only the standard library is needed.  Exits 0 when a bar fails (it is a report) but
says FAIL loudly.  The machine's load average before and after is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_get_token import (  # the sibling script, found through sys.path
    CHEAP_KDF,
    PASSPHRASE,
    SESSION_PREFIX,
    Row,
    child_env,
    common_arguments,
    fixed,
    is_id,
    loud,
    make_venv,
    measure,
    rows_json,
    run,
    run_meta,
    say,
    source_tree,
    version_line,
)

SIZES = {"100": 100, "1k": 1_000, "10k": 10_000}
LINEAR_LIMIT = 2.0
ROTATE_LIMIT = 2.0

# Run in the venv: fill a vault in one write, then give every credential a policy in
# one more (a cron schedule for every third, an interval otherwise).
FILL_SCRIPT = """\
import sys
from credctl import CredentialInput, CredentialManager, RotationPolicy
from credctl.records import rotation_state
from credctl.records.activity import Actor
import datetime as dt

path, count = sys.argv[1], int(sys.argv[2])
manager = CredentialManager.builder().vault_path(path).build()
items = [
    CredentialInput("token", {"token": f"tok-{i:05d}-" + "x" * 40}, name=f"tok-{i:05d}")
    for i in range(count)
]
failed = [r for r in manager.batch_create(items) if not isinstance(r, int)]
if failed:
    sys.exit(f"batch_create failed for {len(failed)} items: {failed[0]!r}")
interval = RotationPolicy(interval=dt.timedelta(days=90)).checked().to_stored()
cron = RotationPolicy(schedule="0 3 * * MON").checked().to_stored()
with manager.records.transaction("policy_set", Actor("bench")) as txn:
    for n, credential in enumerate(txn.all()):
        policy = cron if n % 3 == 0 else interval
        txn.update(credential, extra=rotation_state.with_state(credential, policy=policy))
"""


def make_vault(
    folder: Path, bin_dir: Path, env: dict[str, str], key: str, count: int, work: Path
) -> dict[str, str]:
    """A vault of `count` credentials with policies, and a session on it."""
    vault = folder / "vaults" / key / "bench.credctl"
    setup_env = {**env, "CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": PASSPHRASE}
    credctl = str(bin_dir / "credctl")
    started = time.perf_counter()
    run([credctl, "init", *CHEAP_KDF], setup_env, cwd=work)
    fill = folder / "fill_rotation.py"
    if not fill.exists():
        fill.write_text(FILL_SCRIPT)
    run([str(bin_dir / "python"), str(fill), str(vault), str(count)], setup_env, cwd=work)
    export = run([credctl, "unlock", "--ttl", "8h"], setup_env, cwd=work).stdout.decode().strip()
    if not (export.startswith(SESSION_PREFIX) and export.endswith("'")):
        sys.exit(f"credctl unlock printed {export!r}, not an export line")
    say(f"  vault {key:>9}: {count:>6} credentials, {vault.stat().st_size / 1024:7.0f} KiB, "
        f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    return {
        **env,
        "CREDCTL_VAULT": str(vault),
        "CREDCTL_SESSION": export[len(SESSION_PREFIX) : -1],
    }


def report_of(count: int) -> Any:
    """An output check: a JSON array of `count` statuses, none overdue."""

    def check(out: bytes) -> bool:
        found = json.loads(out)
        return len(found) == count and all(item["status"] in ("ok", "warning") for item in found)

    return check


def build_rows(folder: Path, bin_dir: Path, env: dict[str, str], work: Path) -> list[Row]:
    python, credctl = str(bin_dir / "python"), str(bin_dir / "credctl")
    rows = [Row("python", "python -c pass (venv; reference)",
                fixed([python, "-c", "pass"], lambda out: out == b""), env)]  # fmt: skip
    say("creating vaults (cheap KDF) with policies, and sessions ...")
    for key, count in SIZES.items():
        session_env = make_vault(folder, bin_dir, env, key, count, work)
        rows.append(
            Row(f"due-{key}", f"credctl rotate --due --dry-run --json ({count:,})",
                fixed([credctl, "rotate", "--due", "--dry-run", "--json"], report_of(count)),
                session_env)
        )  # fmt: skip
    write_env = make_vault(folder, bin_dir, env, "1k-write", SIZES["1k"], work)
    probe = "tok-00500"
    rows.append(
        Row("get-token", f"credctl get-token {probe} (1,000; fast path, read)",
            fixed([credctl, "get-token", probe], lambda out: out.startswith(b"tok-00500-")),
            write_env)
    )  # fmt: skip
    rows.append(
        Row("show", f"credctl show {probe} --json (1,000; Typer, read)",
            fixed([credctl, "show", probe, "--json"], lambda out: b'"rotation"' in out),
            write_env)
    )  # fmt: skip
    rows.append(
        Row("create", "credctl create token new-N --field token=@- (1,000)",
            lambda n: ([credctl, "create", "token", f"new-{n:04d}", "--field", "token=@-"],
                       f"new-secret-{n:04d}\n".encode(), is_id), write_env)
    )  # fmt: skip
    rows.append(
        Row("rotate", "credctl rotate tok-N --generate (1,000)",
            lambda n: ([credctl, "rotate", f"tok-{n % 1000:05d}", "--generate"], None, is_id),
            write_env)
    )  # fmt: skip
    return rows


def verdicts(by_key: dict[str, Row]) -> dict[str, Any]:
    base = by_key["python"].median_ms
    small, mid, large = (by_key[f"due-{k}"].median_ms for k in SIZES)
    per_small = (mid - small) / (SIZES["1k"] - SIZES["100"])
    per_large = (large - mid) / (SIZES["10k"] - SIZES["1k"])
    linear = per_large / per_small if per_small > 0 else float("inf")
    rotate = by_key["rotate"].median_ms / by_key["create"].median_ms
    rotate_write = by_key["rotate"].median_ms - by_key["show"].median_ms
    create_write = by_key["create"].median_ms - by_key["get-token"].median_ms
    write = rotate_write / create_write if create_write > 0 else float("inf")
    return {
        "per_credential_ms_100_to_1k": round(per_small, 4),
        "per_credential_ms_1k_to_10k": round(per_large, 4),
        "linearity": round(linear, 3),
        "linear_verdict": "PASS" if 1 / LINEAR_LIMIT <= linear <= LINEAR_LIMIT else "FAIL",
        "rotate_over_create": round(rotate, 3),
        "rotate_write_ms": round(rotate_write, 1),
        "create_write_ms": round(create_write, 1),
        "write_ratio": round(write, 3),
        "rotate_verdict": "PASS" if write <= ROTATE_LIMIT else "FAIL",
        "startup_over_python_ms": round(small - base, 1),
    }


def report(rows: list[Row], result: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"credctl rotation benchmark, {meta['date']}: {meta['rounds']} rounds, rows interleaved",
        f"{meta['machine']}; {meta['load']}",
        f"credctl {meta['credctl']} from the {meta['source']}, in a fresh venv "
        "(non-editable, byte-compiled); session unlock",
        "",
        f"{'command':<52} {'median ms':>9} {'p90 ms':>8} {'min ms':>8}",
        f"{'-' * 52} {'-' * 9} {'-' * 8} {'-' * 8}",
    ]
    for row in rows:
        lines.append(f"{row.label:<52} {row.median_ms:>9.1f} {row.p90_ms:>8.1f} "
                     f"{row.min_ms:>8.1f}")  # fmt: skip
    lines += [
        "",
        f"rotate --due --dry-run per credential: {result['per_credential_ms_100_to_1k']:.4f} ms "
        f"(100→1k), {result['per_credential_ms_1k_to_10k']:.4f} ms (1k→10k); ratio "
        f"{result['linearity']:.2f} (linear within ×{LINEAR_LIMIT})  {result['linear_verdict']}",
        f"rotate / create = {result['rotate_over_create']:.2f} (rotate goes through Typer)",
        f"bar: what the write adds, (rotate − show) / (create − get-token) = "
        f"{result['rotate_write_ms']:.1f} / {result['create_write_ms']:.1f} ms = "
        f"{result['write_ratio']:.2f} (limit {ROTATE_LIMIT})  {result['rotate_verdict']}",
    ]
    return "\n".join(lines)


def markdown(rows: list[Row], result: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        f"Run on {meta['date']} with `{meta['command']}` ({meta['rounds']} rounds, interleaved).",
        "",
        f"- Machine: {meta['machine']}; {meta['load']}",
        f"- credctl {meta['credctl']} from the {meta['source']}, non-editable, byte-compiled",
        "",
        "| command | median ms | p90 ms | min ms |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row.label} | {row.median_ms:.1f} | {row.p90_ms:.1f} | "
                     f"{row.min_ms:.1f} |")  # fmt: skip
    lines += [
        "",
        f"- `rotate --due --dry-run`, per credential: {result['per_credential_ms_100_to_1k']:.4f}"
        f" ms from 100 to 1,000, {result['per_credential_ms_1k_to_10k']:.4f} ms from 1,000 to "
        f"10,000 (ratio {result['linearity']:.2f}; linear within ×{LINEAR_LIMIT}): "
        f"**{result['linear_verdict']}**",
        f"- rotate / create = {result['rotate_over_create']:.2f} (rotate goes through Typer)",
        f"- what the write adds, (rotate − show) / (create − get-token) = "
        f"{result['rotate_write_ms']:.1f} / {result['create_write_ms']:.1f} ms = "
        f"**{result['write_ratio']:.2f}** (≤ {ROTATE_LIMIT}): **{result['rotate_verdict']}**",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = common_arguments(__doc__ or "").parse_args(argv)
    rounds = int(args.rounds or (10 if args.quick else 20))
    args.rounds = rounds
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="credctl-bench-rotation-"))
    work, home = folder / "work", folder / "home"
    work.mkdir()
    home.mkdir(mode=0o700)
    env = child_env(home)
    try:
        bin_dir = make_venv(folder, env, work, source_tree(folder, args.ref))
        rows = build_rows(folder, bin_dir, env, work)
        say(f"setup done in {time.perf_counter() - started:.0f} s; measuring {len(rows)} rows")
        load_before = os.getloadavg()[0]
        measure(rows, rounds, args.seed, work)
        load_after = os.getloadavg()[0]
        version = version_line([str(bin_dir / "credctl"), "--version"], env, work, "credctl")
        meta = run_meta("bench_rotation.py", argv, args, (load_before, load_after), version)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    result = verdicts({row.key: row for row in rows})
    print(report(rows, result, meta))
    failures = (
        ("linear_verdict", "rotate --due is not linear"),
        ("rotate_verdict", "what rotate writes costs over twice what create writes"),
    )
    for key, what in failures:
        if result[key] == "FAIL":
            loud(f"FAIL: {what}")
    if args.markdown:
        args.markdown.write_text(markdown(rows, result, meta))
        say(f"wrote {args.markdown}")
    if args.json:
        payload = {"benchmark": "rotation", **meta, "rows": rows_json(rows), "result": result}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
