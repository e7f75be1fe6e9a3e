"""`credctl env` against `credctl get-token` in the same run, with an open session.

Usage:
    python bench/bench_env.py                    # 40 interleaved rounds
    python bench/bench_env.py --quick            # 10 rounds, for a quick look
    python bench/bench_env.py --json out.json --markdown out.md
    python bench/bench_env.py --ref HEAD         # measure a commit, not the working tree

The bar of the env issue: the median of ``credctl env NAME`` at most 1.2 times the
median of ``credctl get-token NAME`` on the same credential, measured in the same
run.  Both are start-up-bound fast-path commands; the ratio shows what resolving
the words and quoting the values add on top of reading one token.

Setup reuses `bench_get_token`'s: a fresh venv with this repository installed
non-editable (byte-compiled, as users get it), one vault of 1,000 `token`
credentials plus a `basic_auth` and a two-field `custom` one, filled in one
`batch_create` write, and one `credctl unlock` session passed as CREDCTL_SESSION.
Every row is a fresh process timed from spawn to exit with its output checked;
all rows run once per round in shuffled order after two warm-up runs each.
Only the standard library is needed.  The script exits 0 when the bar fails (it
is a report) but says FAIL loudly.
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
    make_venv,
    measure,
    rounds_of,
    rows_json,
    run,
    run_meta,
    say,
    source_tree,
    version_line,
)

PROBE = "tok-00500"
TOKEN = f"{PROBE}-" + "x" * 40
BAR_LIMIT = 1.2

FILL_SCRIPT = """\
import sys
from credctl import CredentialInput, CredentialManager

manager = CredentialManager.builder().vault_path(sys.argv[1]).build()
items = [
    CredentialInput("token", {"token": f"tok-{i:05d}-" + "x" * 40}, name=f"tok-{i:05d}")
    for i in range(1000)
]
items.append(CredentialInput("basic_auth", {"username": "bench", "password": "p'w $x"},
                             name="svc"))
items.append(CredentialInput("custom", {"access_key_id": "AKIA0BENCH",
                                        "secret_access_key": "s/e'c\\\\ret"}, name="aws"))
failed = [r for r in manager.batch_create(items) if not isinstance(r, int)]
if failed:
    sys.exit(f"batch_create failed for {len(failed)} items: {failed[0]!r}")
"""


def make_vault(folder: Path, bin_dir: Path, env: dict[str, str], work: Path) -> dict[str, str]:
    """The vault of 1,002 credentials and a session on it: the env that uses it."""
    vault = folder / "vault" / "bench.credctl"
    setup_env = {**env, "CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": PASSPHRASE}
    credctl = str(bin_dir / "credctl")
    run([credctl, "init", *CHEAP_KDF], setup_env, cwd=work)
    fill = folder / "fill.py"
    fill.write_text(FILL_SCRIPT)
    run([str(bin_dir / "python"), str(fill), str(vault)], setup_env, cwd=work)
    export = run([credctl, "unlock", "--ttl", "8h"], setup_env, cwd=work).stdout.decode().strip()
    if not (export.startswith(SESSION_PREFIX) and export.endswith("'")):
        sys.exit(f"credctl unlock printed {export!r}, not an export line")
    return {
        **env,
        "CREDCTL_VAULT": str(vault),
        "CREDCTL_SESSION": export[len(SESSION_PREFIX) : -1],
    }


def build_rows(bin_dir: Path, env: dict[str, str], session_env: dict[str, str]) -> list[Row]:
    """The reference, the two rows of the bar, and a few informative `env` forms."""
    python, credctl = str(bin_dir / "python"), str(bin_dir / "credctl")
    variable = PROBE.upper().replace("-", "_") + "_TOKEN"

    def env_row(key: str, label: str, args: list[str], expected: str) -> Row:
        return Row(key, label, fixed([credctl, "env", *args], equals(expected)), session_env)

    return [
        Row("python", "python -c pass (venv; reference)",
            fixed([python, "-c", "pass"], lambda out: out == b""), env),
        Row("get-token", f"credctl get-token {PROBE}",
            fixed([credctl, "get-token", PROBE], equals(TOKEN)), session_env),
        env_row("env", f"credctl env {PROBE}", [PROBE], f"export {variable}='{TOKEN}'"),
        env_row("env-json", f"credctl env --shell json {PROBE} (info)",
                ["--shell", "json", PROBE], json.dumps({variable: TOKEN})),
        env_row("env-fish", f"credctl env --shell fish {PROBE} (info)",
                ["--shell", "fish", PROBE], f"set -gx {variable} '{TOKEN}';"),
        env_row("env-3", f"credctl env {PROBE} svc aws (5 variables; info)", [PROBE, "svc", "aws"],
                f"export {variable}='{TOKEN}'\nexport SVC_USERNAME='bench'\n"
                "export SVC_PASSWORD='p'\\''w $x'\nexport AWS_ACCESS_KEY_ID='AKIA0BENCH'\n"
                "export AWS_SECRET_ACCESS_KEY='s/e'\\''c\\ret'"),
    ]  # fmt: skip


def report(rows: list[Row], ratio: float, meta: dict[str, Any]) -> str:
    """The table of medians, the ratios to get-token, and the bar's verdict."""
    by_key = {row.key: row for row in rows}
    reference, get_token = by_key["python"], by_key["get-token"]
    lines = [
        f"credctl env benchmark, {meta['date']}: {meta['rounds']} rounds, rows interleaved",
        f"{meta['machine']}; {meta['load']}",
        f"credctl {meta['credctl']} from the {meta['source']}, in a fresh venv "
        "(non-editable, byte-compiled); vault of 1,002 credentials, session unlock",
        "",
        f"{'command':<52} {'median ms':>9} {'p90 ms':>8} {'min ms':>8} {'x get-token':>11}",
        f"{'-' * 52} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 11}",
    ]
    for row in rows:
        lines.append(
            f"{row.label:<52} {row.median_ms:>9.1f} {row.p90_ms:>8.1f} {row.min_ms:>8.1f} "
            f"{row.median_ms / get_token.median_ms:>11.2f}"
        )
    verdict = "PASS" if ratio <= BAR_LIMIT else "FAIL"
    overhead = by_key["env"].median_ms - get_token.median_ms
    lines += [
        "",
        f"bar: env / get-token = {ratio:.2f} (limit {BAR_LIMIT})  {verdict}",
        f"env costs {overhead:+.1f} ms over get-token; python -c pass is "
        f"{reference.median_ms:.1f} ms",
    ]
    return "\n".join(lines)


def markdown(rows: list[Row], ratio: float, meta: dict[str, Any]) -> str:
    get_token = next(row for row in rows if row.key == "get-token")
    lines = [
        f"Run on {meta['date']} with `{meta['command']}` ({meta['rounds']} rounds, interleaved).",
        "",
        f"- Machine: {meta['machine']}; {meta['load']}",
        f"- credctl {meta['credctl']} from the {meta['source']}, non-editable, byte-compiled",
        "",
        "| command | median ms | p90 ms | min ms | × get-token |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.median_ms:.1f} | {row.p90_ms:.1f} | {row.min_ms:.1f} "
            f"| {row.median_ms / get_token.median_ms:.2f} |"
        )
    verdict = "PASS" if ratio <= BAR_LIMIT else "FAIL"
    lines += ["", f"Bar: env / get-token = **{ratio:.2f}** (≤ {BAR_LIMIT}): **{verdict}**"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = common_arguments(__doc__ or "").parse_args(argv)
    rounds = rounds_of(args)
    started = time.perf_counter()

    folder = Path(tempfile.mkdtemp(prefix="credctl-bench-env-"))
    work, home = folder / "work", folder / "home"
    work.mkdir()
    home.mkdir(mode=0o700)
    env = child_env(home)
    try:
        bin_dir = make_venv(folder, env, work, source_tree(folder, args.ref))
        say("creating the vault (cheap KDF) and a session ...")
        rows = build_rows(bin_dir, env, make_vault(folder, bin_dir, env, work))
        say(f"setup done in {time.perf_counter() - started:.0f} s; measuring {len(rows)} rows")
        load_before = os.getloadavg()[0]
        measure(rows, rounds, args.seed, work)
        load_after = os.getloadavg()[0]
        version = version_line([str(bin_dir / "credctl"), "--version"], env, work, "credctl")
        meta = run_meta("bench_env.py", argv, args, (load_before, load_after), version)
    finally:
        if args.keep:
            say(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    by_key = {row.key: row for row in rows}
    ratio = by_key["env"].median_ms / by_key["get-token"].median_ms
    print(report(rows, ratio, meta))
    if ratio > BAR_LIMIT:
        loud(f"FAIL: env / get-token = {ratio:.2f}, above the bar of {BAR_LIMIT}")
    if args.markdown:
        args.markdown.write_text(markdown(rows, ratio, meta))
        say(f"wrote {args.markdown}")
    if args.json:
        result = {
            "benchmark": "env",
            **meta,
            "rows": rows_json(rows),
            "bar": {"bar": "env / get-token", "ratio": round(ratio, 3), "limit": BAR_LIMIT,
                    "verdict": "PASS" if ratio <= BAR_LIMIT else "FAIL"},
        }  # fmt: skip
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
