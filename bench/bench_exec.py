"""`credctl exec NAME -- true` against `credctl get-token NAME` and `true`, as users run them.

Usage:
    python bench/bench_exec.py                    # 40 rounds
    python bench/bench_exec.py --quick            # 10 rounds
    python bench/bench_exec.py --json out.json --markdown out.md
    python bench/bench_exec.py --ref HEAD         # measure a commit, not the working tree

The bar (from the exec issue), a ratio of medians measured in the same run:

    exec NAME -- true  <=  1.3 x get-token NAME  +  true

i.e. what exec adds to the command it runs costs at most 1.3 times a get-token.
Reported as ``(exec - true) / get-token`` with the limit 1.3.

Setup reuses `bench_get_token.py` (same folder): a fresh venv with the repository
installed non-editable (byte-compiled, as pip and pipx do for users), a vault of
one `token` credential (Argon2id at the floor; the KDF is not on the measured
path) and a `credctl unlock` session on it, passed as CREDCTL_SESSION.  Setup
checks once that `exec` really exports the variable.

Rows, every one a fresh process timed from spawn to exit (stdout and stderr
captured, stdin not a terminal), interleaved in shuffled rounds after two
warm-up runs each:

  * `python -c pass` (venv): the reference for the x column;
  * `true`: the child's own time;
  * `credctl get-token tok-00000`;
  * `credctl exec tok-00000 -- true`: the measured row (credctl replaces itself
    with `true` through execve);
  * `credctl exec -- true` (information): no credential, so no vault is opened;
  * `credctl exec --mask tok-00000 -- true` (information): credctl stays as the
    parent and relays the output through the masker.

The script exits 0 when the bar fails (it is a report) but says FAIL loudly.
Only the standard library is needed to run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_get_token as base  # the sibling script: venv, vault and measuring helpers

LIMIT = 1.3
PROBE = "tok-00000"
VARIABLE = "TOK_00000_TOKEN"
SECRET = f"{PROBE}-" + "x" * 40


def check_exec_exports(credctl: str, env: dict[str, str], work: Path) -> None:
    """`credctl exec` sets the variable (once, before measuring `-- true`)."""
    shown = subprocess.run(
        [credctl, "exec", PROBE, "--", "sh", "-c", f'printf %s "${VARIABLE}"'],
        env=env, cwd=work, capture_output=True, check=False,
    )  # fmt: skip
    if shown.returncode != 0 or shown.stdout != SECRET.encode():
        sys.exit(
            f"credctl exec did not export {VARIABLE} (exit {shown.returncode}): "
            f"{shown.stderr.decode(errors='replace')}"
        )


def build_rows(bin_dir: Path, env: dict[str, str], session_env: dict[str, str]) -> list[base.Row]:
    python, credctl = str(bin_dir / "python"), str(bin_dir / "credctl")
    true = shutil.which("true") or "/bin/true"

    def nothing(out: bytes) -> bool:  # `true` prints nothing, and exec adds nothing
        return out == b""

    return [
        base.Row("python", "python -c pass (venv; the reference)",
                 base.fixed([python, "-c", "pass"], nothing), env),
        base.Row("true", f"{true} (the child alone)", base.fixed([true], nothing), env),
        base.Row("get-token", f"credctl get-token {PROBE}",
                 base.fixed([credctl, "get-token", PROBE], base.equals(SECRET)), session_env),
        base.Row("exec", f"credctl exec {PROBE} -- true",
                 base.fixed([credctl, "exec", PROBE, "--", true], nothing), session_env),
        base.Row("exec-bare", "credctl exec -- true (no credential; info)",
                 base.fixed([credctl, "exec", "--", true], nothing), session_env),
        base.Row("exec-mask", f"credctl exec --mask {PROBE} -- true (info)",
                 base.fixed([credctl, "exec", "--mask", PROBE, "--", true], nothing),
                 session_env),
    ]  # fmt: skip


def verdict(rows: dict[str, base.Row]) -> dict[str, Any]:
    exec_ms, token_ms, true_ms = (rows[k].median_ms for k in ("exec", "get-token", "true"))
    ratio = (exec_ms - true_ms) / token_ms
    return {
        "bar": "(exec NAME -- true - true) / get-token NAME",
        "limit": LIMIT,
        "ratio": ratio,
        "budget_ms": LIMIT * token_ms + true_ms,
        "exec_ms": exec_ms,
        "verdict": "PASS" if ratio <= LIMIT else "FAIL",
    }


def text_report(rows: list[base.Row], bar: dict[str, Any], meta: dict[str, Any]) -> str:
    by_key = {row.key: row for row in rows}
    reference, token = by_key["python"], by_key["get-token"]
    lines = [
        f"credctl exec benchmark, {meta['date']}: {meta['rounds']} rounds, rows interleaved",
        f"{meta['machine']}; {meta['load']}",
        f"credctl {meta['credctl']} from the {meta['source']}, in a fresh venv "
        "(non-editable, byte-compiled); vault of 1 credential, session unlock",
        "",
        f"{'command':<48} {'median ms':>9} {'p90 ms':>8} {'min ms':>8} {'x python':>9} "
        f"{'x get-token':>11}",
        f"{'-' * 48} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 9} {'-' * 11}",
    ]
    for row in rows:
        lines.append(
            f"{row.label:<48} {row.median_ms:>9.1f} {row.p90_ms:>8.1f} {row.min_ms:>8.1f} "
            f"{row.median_ms / reference.median_ms:>9.2f} {row.median_ms / token.median_ms:>11.2f}"
        )
    lines += [
        "",
        f"bar: exec ≤ {LIMIT} × get-token + true = {bar['budget_ms']:.1f} ms; "
        f"exec = {bar['exec_ms']:.1f} ms",
        f"     (exec - true) / get-token = {bar['ratio']:.2f} (limit {LIMIT}): {bar['verdict']}",
    ]
    return "\n".join(lines)


def markdown_report(rows: list[base.Row], bar: dict[str, Any], meta: dict[str, Any]) -> str:
    by_key = {row.key: row for row in rows}
    reference, token = by_key["python"], by_key["get-token"]
    lines = [
        f"Run on {meta['date']} with `{meta['command']}` "
        f"({meta['rounds']} rounds, rows interleaved in shuffled order).",
        "",
        f"- Machine: {meta['machine']}; {meta['load']}",
        f"- credctl {meta['credctl']} from the {meta['source']}, installed non-editable "
        "(byte-compiled) in a fresh venv; a vault of one credential, unlocked by a session",
        "",
        "| command | median ms | p90 ms | min ms | × `python -c pass` | × get-token |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.median_ms:.1f} | {row.p90_ms:.1f} | {row.min_ms:.1f} "
            f"| {row.median_ms / reference.median_ms:.2f} "
            f"| {row.median_ms / token.median_ms:.2f} |"
        )
    lines += [
        "",
        "| bar (ratio of medians) | ratio | limit | verdict |",
        "|---|---:|---:|---|",
        f"| (exec NAME -- true − true) / get-token NAME | {bar['ratio']:.2f} | ≤ {LIMIT} "
        f"| **{bar['verdict']}** |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = base.common_arguments(__doc__ or "").parse_args(argv)
    rounds = base.rounds_of(args)
    started = time.perf_counter()

    folder = Path(tempfile.mkdtemp(prefix="credctl-bench-exec-"))
    work, home = folder / "work", folder / "home"
    work.mkdir()
    home.mkdir(mode=0o700)
    env = base.child_env(home)
    try:
        bin_dir = base.make_venv(folder, env, work, base.source_tree(folder, args.ref))
        session_env = base.make_vault(folder, bin_dir, env, "1", 1, work)
        check_exec_exports(str(bin_dir / "credctl"), session_env, work)
        rows = build_rows(bin_dir, env, session_env)
        elapsed = time.perf_counter() - started
        base.say(f"setup done in {elapsed:.0f} s; measuring {len(rows)} rows")
        load_before = os.getloadavg()[0]
        base.measure(rows, rounds, args.seed, work)
        load_after = os.getloadavg()[0]
        credctl_version = base.version_line(
            [str(bin_dir / "credctl"), "--version"], env, work, "credctl"
        )
    finally:
        if args.keep:
            base.say(f"kept {folder}: `. {folder}/env-1.sh` sets up a shell")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    meta = base.run_meta("bench_exec.py", argv, args, (load_before, load_after), credctl_version)
    bar = verdict({row.key: row for row in rows})
    print(text_report(rows, bar, meta))
    if bar["verdict"] == "FAIL":
        base.loud(f"FAIL: (exec - true) / get-token = {bar['ratio']:.2f}, above {LIMIT}")
    if args.markdown:
        args.markdown.write_text(markdown_report(rows, bar, meta))
        base.say(f"wrote {args.markdown}")
    if args.json:
        result = {
            "benchmark": "exec",
            **meta,
            "rows": base.rows_json(rows),
            "bar": bar,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        base.say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
