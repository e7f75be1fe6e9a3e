"""The audit trail: `audit verify` and `audit list` over 10k and 100k entries, a PDF of 20k.

Usage:
    python bench/bench_audit.py                    # 10 interleaved rounds
    python bench/bench_audit.py --quick            # 3 rounds, for a quick look
    python bench/bench_audit.py --json out.json --markdown out.md
    python bench/bench_audit.py --ref HEAD         # measure a commit, not the working tree

The bars of the audit issue: the cost of `audit verify` and of `audit list
--credential X` grows at most linearly with the trail (median at 100,000 entries
at most 11 times the median at 10,000), and `audit export --format pdf` of 20,000
entries takes seconds (here: at most 15 s).  `credctl get-token` with the trail on
is measured too, for information: the bar against `pass show` is
bench_get_token.py's.

Setup reuses `bench_get_token`'s: a fresh venv with this repository installed
non-editable with the `pdf` extra (byte-compiled, as users get it); three vaults
of ten `token` credentials whose trails are filled through the library with
10,000, 100,000 and 20,000 `get_token` entries (in batches of 5,000, one append
each), and one `credctl unlock` session per vault.  Every row is a fresh process
timed from spawn to exit with its output checked; all rows run once per round in
shuffled order after two warm-up runs each (every run adds its own entry, which
changes nothing measurable).  Only the standard library is needed.  The script
exits 0 when a bar fails (it is a report) but says FAIL loudly.
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
    equals,
    fixed,
    loud,
    measure,
    rows_json,
    run,
    run_meta,
    say,
    source_tree,
    version_line,
)

SIZES = {"10k": 10_000, "100k": 100_000, "20k": 20_000}
LINEAR_LIMIT = 11.0
PDF_LIMIT_MS = 15_000.0
PROBE = "tok-3"

FILL_SCRIPT = """\
import sys
from credctl import CredentialInput, CredentialManager
from credctl.records.activity import Activity, Actor

path, count = sys.argv[1], int(sys.argv[2])
manager = CredentialManager.builder().vault_path(path).build()
ids = manager.batch_create([CredentialInput("token", {"token": f"tok-{i}-" + "x" * 40},
                                            name=f"tok-{i}") for i in range(10)])
actor = Actor("bench", origin="library", execution_id="exec-0000", workflow_id="nightly")
done = 0
while done < count:
    batch = [Activity("get_token", ids[(done + i) % 10], f"tok-{(done + i) % 10}", actor=actor)
             for i in range(min(5000, count - done))]
    manager.records.log_all(batch)
    done += len(batch)
"""


def make_venv_with_pdf(folder: Path, env: dict[str, str], work: Path, source: Path) -> Path:
    """bench_get_token's venv, with the `pdf` extra."""
    from bench_get_token import make_venv

    bin_dir = make_venv(folder, env, work, source)
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", f"{source}[pdf]"],
        pip_env, cwd=work)  # fmt: skip
    return bin_dir


def make_vault(
    folder: Path, bin_dir: Path, env: dict[str, str], work: Path, size: str
) -> dict[str, str]:
    """A vault whose trail holds SIZES[size] entries, and a session on it."""
    vault = folder / f"vault-{size}" / "bench.credctl"
    setup_env = {**env, "CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": PASSPHRASE}
    credctl = str(bin_dir / "credctl")
    run([credctl, "init", *CHEAP_KDF], setup_env, cwd=work)
    fill = folder / "fill.py"
    fill.write_text(FILL_SCRIPT)
    started = time.perf_counter()
    run([str(bin_dir / "python"), str(fill), str(vault), str(SIZES[size])], setup_env, cwd=work)
    say(f"  {size}: {SIZES[size]:,} entries sealed in {time.perf_counter() - started:.1f} s")
    export = run([credctl, "unlock", "--ttl", "8h"], setup_env, cwd=work).stdout.decode().strip()
    if not (export.startswith(SESSION_PREFIX) and export.endswith("'")):
        sys.exit(f"credctl unlock printed {export!r}, not an export line")
    return {
        **env,
        "CREDCTL_VAULT": str(vault),
        "CREDCTL_SESSION": export[len(SESSION_PREFIX) : -1],
    }


def build_rows(
    bin_dir: Path, env: dict[str, str], envs: dict[str, dict[str, str]], out: Path
) -> list[Row]:
    python, credctl = str(bin_dir / "python"), str(bin_dir / "credctl")

    def verifies(out: bytes) -> bool:
        return out.startswith(b"the audit trail verifies:")

    def listed(expected: int) -> Any:
        def check(out: bytes) -> bool:
            entries = json.loads(out)
            # The get-token row adds reads of the same credential to the 10k trail.
            return len([e for e in entries if e["action"] == "get_token"]) >= expected

        return check

    rows = [
        Row("python", "python -c pass (venv; reference)",
            fixed([python, "-c", "pass"], lambda out: out == b""), env),
        Row("get-token", "credctl get-token (trail on; info)",
            fixed([credctl, "get-token", PROBE], equals(f"{PROBE}-" + "x" * 40)), envs["10k"]),
    ]  # fmt: skip
    for size in ("10k", "100k"):
        rows.append(Row(f"verify-{size}", f"credctl audit verify ({size} entries)",
                        fixed([credctl, "audit", "verify"], verifies), envs[size]))  # fmt: skip
        rows.append(Row(f"list-{size}", f"credctl audit list --credential {PROBE} --json ({size})",
                        fixed([credctl, "audit", "list", "--credential", PROBE, "--json"],
                              listed(SIZES[size] // 10)), envs[size]))  # fmt: skip
    pdf = out / "audit.pdf"
    rows.append(Row("pdf-20k", "credctl audit export --format pdf (20k entries)",
                    fixed([credctl, "audit", "export", "--format", "pdf", "-o", str(pdf)],
                          lambda stdout: stdout == b"" and pdf.stat().st_size > 100_000),
                    envs["20k"]))  # fmt: skip
    return rows


def bars(rows: dict[str, Row]) -> list[dict[str, Any]]:
    found = []
    for what in ("verify", "list"):
        ratio = rows[f"{what}-100k"].median_ms / rows[f"{what}-10k"].median_ms
        found.append({"bar": f"audit {what} 100k / 10k", "ratio": round(ratio, 2),
                      "limit": LINEAR_LIMIT,
                      "verdict": "PASS" if ratio <= LINEAR_LIMIT else "FAIL"})  # fmt: skip
    pdf = rows["pdf-20k"].median_ms
    verdict = "PASS" if pdf <= PDF_LIMIT_MS else "FAIL"
    found.append({"bar": "audit export pdf, 20k entries (ms)", "ratio": round(pdf),
                  "limit": PDF_LIMIT_MS, "verdict": verdict})  # fmt: skip
    return found


def report(rows: list[Row], verdicts: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"credctl audit benchmark, {meta['date']}: {meta['rounds']} rounds, rows interleaved",
        f"{meta['machine']}; {meta['load']}",
        f"credctl {meta['credctl']} from the {meta['source']}, in a fresh venv "
        "(non-editable, byte-compiled, with reportlab); session unlock",
        "",
        f"{'command':<58} {'median ms':>9} {'p90 ms':>8} {'min ms':>8}",
        f"{'-' * 58} {'-' * 9} {'-' * 8} {'-' * 8}",
    ]
    for row in rows:
        lines.append(
            f"{row.label:<58} {row.median_ms:>9.1f} {row.p90_ms:>8.1f} {row.min_ms:>8.1f}"
        )
    lines.append("")
    for bar in verdicts:
        lines.append(f"bar: {bar['bar']} = {bar['ratio']} (limit {bar['limit']})  "
                     f"{bar['verdict']}")  # fmt: skip
    return "\n".join(lines)


def markdown(rows: list[Row], verdicts: list[dict[str, Any]], meta: dict[str, Any]) -> str:
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
        lines.append(
            f"| {row.label} | {row.median_ms:.1f} | {row.p90_ms:.1f} | {row.min_ms:.1f} |"
        )
    lines.append("")
    for bar in verdicts:
        lines.append(
            f"- {bar['bar']}: **{bar['ratio']}** (≤ {bar['limit']}): **{bar['verdict']}**"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments(__doc__ or "")
    args = parser.parse_args(argv)
    rounds = int(args.rounds or (3 if args.quick else 10))
    args.rounds = rounds
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="credctl-bench-audit-"))
    work, home, out = folder / "work", folder / "home", folder / "out"
    work.mkdir()
    out.mkdir()
    home.mkdir(mode=0o700)
    env = child_env(home)
    try:
        bin_dir = make_venv_with_pdf(folder, env, work, source_tree(folder, args.ref))
        say("creating the vaults (cheap KDF) and filling their trails ...")
        envs = {size: make_vault(folder, bin_dir, env, work, size) for size in SIZES}
        rows = build_rows(bin_dir, env, envs, out)
        say(f"setup done in {time.perf_counter() - started:.0f} s; measuring {len(rows)} rows")
        load_before = os.getloadavg()[0]
        measure(rows, rounds, args.seed, work)
        load_after = os.getloadavg()[0]
        version = version_line([str(bin_dir / "credctl"), "--version"], env, work, "credctl")
        meta = run_meta("bench_audit.py", argv, args, (load_before, load_after), version)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    verdicts = bars({row.key: row for row in rows})
    print(report(rows, verdicts, meta))
    for bar in verdicts:
        if bar["verdict"] == "FAIL":
            loud(f"FAIL: {bar['bar']} = {bar['ratio']}, above the bar of {bar['limit']}")
    if args.markdown:
        args.markdown.write_text(markdown(rows, verdicts, meta))
        say(f"wrote {args.markdown}")
    if args.json:
        result = {"benchmark": "audit", **meta, "rows": rows_json(rows), "bars": verdicts}
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
