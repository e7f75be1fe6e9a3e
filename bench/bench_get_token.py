"""`credctl get-token` and `credctl create` against `pass`, as users install and run them.

Usage:
    python bench/bench_get_token.py                    # 40 rounds
    python bench/bench_get_token.py --quick            # 10 rounds, for a quick look
    python bench/bench_get_token.py --json out.json --markdown out.md
    python bench/bench_get_token.py --keep             # keep the temp dir (venv, vaults, store)
    python bench/bench_get_token.py --ref HEAD         # measure a commit, not the working tree

Setup (30–40 s, all in one temporary folder):
  * a fresh venv (`python -m venv`) with this repository installed NON-editable by
    pip, which compiles bytecode at install, as pip and pipx do for users.  The
    interpreter that runs this script may carry start-up costs users do not have
    (an editable-install finder, sandbox `.pth` files, PYTHONDONTWRITEBYTECODE);
    the venv does not, and every credctl and Python row below runs from it;
  * Debian's `pass` and `gnupg`, installed with apt-get when missing and running as
    root; if they cannot be installed, the `pass` rows and their bars are SKIPPED
    with a loud message;
  * a throw-away GNUPGHOME with a key without passphrase, and a PASSWORD_STORE_DIR
    with 1,000 entries (encrypted by one `gpg --multifile` run);
  * vaults of 1, 1,000 and 10,000 `token` credentials (plus a second 1,000 one
    that `create` writes to), each filled by one `CredentialManager.batch_create`
    call in the venv (Argon2id at the floor, 19 MiB t=2 p=1: the rows use a
    session, so the KDF is not on the measured path), and one `credctl unlock`
    session per vault, passed as CREDCTL_SESSION.

Measurement: every row is a fresh process timed from spawn to exit (stdout and
stderr captured, stdin not a terminal), and each output is checked.  After two
warm-up runs per row, all rows run once per round in a shuffled order, so that
drift of the machine's speed hits every row alike.  The table gives the median,
p90 and minimum per row; the bars of the issue are ratios of medians measured in
the same run.  The script exits 0 when a bar fails (it is a report), but says
FAIL loudly.  Only the standard library is needed to run it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SIZES = {"1": 1, "1k": 1_000, "10k": 10_000}
CHEAP_KDF = ["--kdf-memory", "19", "--kdf-time", "2", "--kdf-parallelism", "1"]
PASSPHRASE = "benchmark passphrase (not a secret)"
PASS_ENTRIES = 1_000
PASS_PROBE = "entry-0500"
SESSION_PREFIX = "export CREDCTL_SESSION='"

# Run in the venv: fill a vault through the public library API in one write.
FILL_SCRIPT = """\
import sys
from credctl import CredentialInput, CredentialManager

path, count = sys.argv[1], int(sys.argv[2])
manager = CredentialManager.builder().vault_path(path).build()
items = [
    CredentialInput("token", {"token": f"tok-{i:05d}-" + "x" * 40}, name=f"tok-{i:05d}")
    for i in range(count)
]
results = manager.batch_create(items)
failed = [r for r in results if not isinstance(r, int)]
if failed:
    sys.exit(f"batch_create failed for {len(failed)} items: {failed[0]!r}")
"""

# Run in the venv: the "bare Python" reference.  It imports AES-GCM,
# decrypts a blob as large as a 1,000-credential vault body, finds one token
# and prints it; no vault format, no session, no checks.
FLOOR_SETUP = """\
import json, os, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

records = {
    f"tok-{i:05d}": {"id": i + 1, "name": f"tok-{i:05d}", "type": "token",
                     "data": {"token": f"tok-{i:05d}-" + "x" * 40}, "description": "",
                     "tags": [], "metadata": {}, "owner": "local",
                     "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
                     "version": 1}
    for i in range(int(sys.argv[2]))
}
key, nonce = AESGCM.generate_key(256), os.urandom(12)
blob = AESGCM(key).encrypt(nonce, json.dumps(records).encode(), None)
with open(sys.argv[1], "wb") as handle:
    handle.write(key + nonce + blob)
"""
FLOOR_SCRIPT = """\
import json, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

with open(sys.argv[1], "rb") as handle:
    raw = handle.read()
plain = AESGCM(raw[:32]).decrypt(raw[32:44], raw[44:], None)
sys.stdout.write(json.loads(plain)[sys.argv[2]]["data"]["token"] + "\\n")
"""

Invocation = tuple[list[str], bytes | None, Callable[[bytes], bool]]


@dataclass
class Row:
    """One measured command: `make(n)` gives the n-th run's argv, stdin and output check."""

    key: str
    label: str
    make: Callable[[int], Invocation]
    env: dict[str, str]
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    runs: int = 0

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p90_ms(self) -> float:
        if len(self.samples) < 2:
            return self.median_ms
        return statistics.quantiles(self.samples, n=10, method="inclusive")[8] * 1000

    @property
    def min_ms(self) -> float:
        return min(self.samples) * 1000

    @property
    def cpu_ms(self) -> float:
        """Median CPU time (user + system) of the process and the children it waited for.

        Less sensitive than wall time to other load on the machine: it is reported
        beside the wall-clock medians, which the bars use.
        """
        return statistics.median(self.cpu) * 1000 if self.cpu else float("nan")


@dataclass(frozen=True)
class Bar:
    """A ratio of two rows' medians that the issue bounds."""

    label: str
    numerator: str
    denominator: str
    limit: float


BARS = (
    Bar("get-token 1k / pass show", "get-token-1k", "pass-show", 1.6),
    Bar("get-token 10k / get-token 1k", "get-token-10k", "get-token-1k", 1.3),
    Bar("create / pass insert", "create", "pass-insert", 2.5),
    Bar("env 1k / pass show", "env-1k", "pass-show", 1.6),
    Bar("exec 1k -- true / pass show", "exec-1k", "pass-show", 1.6),
)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def loud(message: str) -> None:
    line = "!" * 78
    say(f"\n{line}\n!!! {message}\n{line}\n")


def run(
    argv: list[str], env: dict[str, str], *, cwd: Path, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a setup step; exit with its output if it fails."""
    result = subprocess.run(
        argv,
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=cwd,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(
            f"setup step failed ({result.returncode}): {' '.join(argv)}\n"
            f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
        )
    return result


def child_env(home: Path) -> dict[str, str]:
    """The caller's environment as a user's shell would have it, in a private HOME.

    No credctl variable leaks in, the keyring is off (a session is the unlock
    source), and PYTHONDONTWRITEBYTECODE is dropped: users do not set it (the venv
    has its bytecode compiled anyway).
    """
    drop = ("CREDCTL_", "PYTHON", "VIRTUAL_ENV", "GNUPGHOME", "PASSWORD_STORE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_STATE_HOME=str(home / ".local/state"),
        XDG_RUNTIME_DIR=str(home / "run"),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        NO_COLOR="1",
        LC_ALL="C.UTF-8",
    )
    return env


# -- setup: venv -------------------------------------------------------------------------


def base_interpreter() -> str:
    """The interpreter beneath this one (outside any venv)."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


def source_tree(folder: Path, ref: str | None) -> Path:
    """What to install: the working tree as it is, or a git ref exported to `folder`."""
    if ref is None:
        return REPO
    tree = folder / "src"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        sys.exit(f"git archive {ref} failed: {archive.stderr.decode(errors='replace')}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def describe_source(ref: str | None) -> str:
    """Which code was measured, for the report."""

    def git(*words: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(REPO), *words], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else "?"

    commit = git("rev-parse", "--short", ref or "HEAD")
    if ref is not None:
        return f"git {ref} ({commit})"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "credctl", "pyproject.toml")
    return f"working tree at {commit}" + (" with uncommitted changes" if dirty else "")


def make_venv(folder: Path, env: dict[str, str], work: Path, source: Path) -> Path:
    """A fresh venv with `source` installed non-editable; its bin folder."""
    venv = folder / "venv"
    started = time.perf_counter()
    say(f"creating a venv in {venv} and installing {source} into it (non-editable) ...")
    run([base_interpreter(), "-m", "venv", str(venv)], env, cwd=work)
    # pip runs with the caller's own HOME and settings: the machine's package sources.
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run(
        [str(venv / "bin/python"), "-m", "pip", "install", "--quiet", str(source)],
        pip_env,
        cwd=work,
    )
    bin_dir = venv / "bin"
    imported = run(
        [str(bin_dir / "python"), "-c", "import credctl; print(credctl.__file__)"], env, cwd=work
    )
    package = Path(imported.stdout.decode().strip()).parent
    if source in package.parents or not str(package).startswith(str(venv)):
        sys.exit(f"the venv imports credctl from {package}, not from its own site-packages")
    sources = list(package.rglob("*.py"))
    compiled = [
        s for s in sources if list((s.parent / "__pycache__").glob(f"{s.stem}.cpython-*.pyc"))
    ]
    say(
        f"  installed in {time.perf_counter() - started:.1f} s: {package} "
        f"({len(compiled)}/{len(sources)} modules byte-compiled)"
    )
    if len(compiled) < len(sources):
        loud(f"{len(sources) - len(compiled)} credctl modules have no .pyc in the venv")
    return bin_dir


# -- setup: pass ---------------------------------------------------------------------------


def ensure_pass() -> str | None:
    """Install Debian's pass and gnupg if needed; None if usable, else why not."""
    if shutil.which("pass") and shutil.which("gpg"):
        return None
    if os.geteuid() != 0:
        return "pass/gpg are not installed and this is not root (cannot apt-get install)"
    if not shutil.which("apt-get"):
        return "pass/gpg are not installed and there is no apt-get"
    say("installing Debian's pass and gnupg with apt-get ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "pass", "gnupg"]
    attempt = subprocess.run(install, env=env, capture_output=True, check=False)
    if attempt.returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        attempt = subprocess.run(install, env=env, capture_output=True, check=False)
    if attempt.returncode != 0 or not (shutil.which("pass") and shutil.which("gpg")):
        tail = attempt.stderr.decode(errors="replace").strip().splitlines()[-3:]
        return "apt-get install pass gnupg failed: " + " | ".join(tail)
    return None


def make_pass_store(folder: Path, env: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A GNUPGHOME with a key and a store of PASS_ENTRIES entries: (env, plaintexts)."""
    started = time.perf_counter()
    gnupg, store = folder / "gnupg", folder / "password-store"
    gnupg.mkdir(mode=0o700)
    pass_env = {**env, "GNUPGHOME": str(gnupg), "PASSWORD_STORE_DIR": str(store)}
    say(f"creating a gpg key and a pass store of {PASS_ENTRIES} entries ...")
    run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "",
         "--quick-gen-key", "credctl bench <bench@credctl.invalid>", "default", "default",
         "never"],
        pass_env, cwd=folder,
    )  # fmt: skip
    listing = run(["gpg", "--batch", "--with-colons", "--list-secret-keys"], pass_env, cwd=folder)
    fingerprint = next(
        line.split(":")[9]
        for line in listing.stdout.decode().splitlines()
        if line.startswith("fpr:")
    )
    run(["pass", "init", fingerprint], pass_env, cwd=folder)
    rng = random.Random(1)
    secrets = {
        f"entry-{i:04d}": "".join(rng.choices("abcdefghijkmnpqrstuvwxyz23456789", k=24))
        for i in range(PASS_ENTRIES)
    }
    for name, secret in secrets.items():
        (store / name).write_text(secret + "\n")
    # One gpg process encrypts every file to NAME.gpg, with pass's own options.
    run(
        ["gpg", "--batch", "--yes", "--quiet", "--compress-algo=none", "--no-encrypt-to",
         "--recipient", fingerprint, "--multifile", "--encrypt", *secrets],
        pass_env, cwd=store,
    )  # fmt: skip
    for name in secrets:
        (store / name).unlink()
    shown = run(["pass", "show", PASS_PROBE], pass_env, cwd=folder).stdout.decode().strip()
    if shown != secrets[PASS_PROBE]:
        sys.exit(f"pass show {PASS_PROBE} printed {shown!r}, not the stored entry")
    say(f"  pass store ready in {time.perf_counter() - started:.1f} s ({store})")
    return pass_env, secrets


# -- setup: vaults -----------------------------------------------------------------------


def make_vault(
    folder: Path, bin_dir: Path, env: dict[str, str], key: str, count: int, work: Path
) -> dict[str, str]:
    """A vault of `count` token credentials and a session on it: the env that uses it."""
    started = time.perf_counter()
    vault = folder / "vaults" / key / "bench.credctl"
    vault_env = {**env, "CREDCTL_VAULT": str(vault)}
    setup_env = {**vault_env, "CREDCTL_PASSPHRASE": PASSPHRASE}
    credctl = str(bin_dir / "credctl")
    run([credctl, "init", *CHEAP_KDF], setup_env, cwd=work)
    fill = folder / "fill.py"
    if not fill.exists():
        fill.write_text(FILL_SCRIPT)
    run([str(bin_dir / "python"), str(fill), str(vault), str(count)], setup_env, cwd=work)
    export = run([credctl, "unlock", "--ttl", "8h"], setup_env, cwd=work).stdout.decode().strip()
    if not (export.startswith(SESSION_PREFIX) and export.endswith("'")):
        sys.exit(f"credctl unlock printed {export!r}, not an export line")
    session = export[len(SESSION_PREFIX) : -1]
    # For --keep: `. env-KEY.sh` gives a shell this vault, its session and the venv.
    exports = {"CREDCTL_VAULT": str(vault), "CREDCTL_SESSION": session,
               "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}  # fmt: skip
    (folder / f"env-{key}.sh").write_text(
        "".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items())
    )
    size = vault.stat().st_size
    say(
        f"  vault {key:>9}: {count:>6} credentials, {size / 1024:7.0f} KiB, "
        f"{time.perf_counter() - started:.1f} s"
    )
    return {**vault_env, "CREDCTL_SESSION": session}


def create_problem(credctl: str, env: dict[str, str], work: Path) -> str | None:
    """Why `credctl create token NAME --field token=@-` cannot be measured, or None."""
    trials = (([credctl, "create", "--help"], None), ([credctl, "create", "token", "probe",
              "--field", "token=@-"], b"probe-secret\n"))  # fmt: skip
    for argv, data in trials:
        result = subprocess.run(
            argv,
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            env=env,
            cwd=work,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            if data is None:
                return "`credctl create` is not available in this version"
            message = result.stderr.decode(errors="replace").strip().splitlines()
            return f"`credctl create` failed (exit {result.returncode}): {' '.join(message[:2])}"
    return None


# -- measuring -------------------------------------------------------------------------------


def equals(expected: str) -> Callable[[bytes], bool]:
    return lambda out: out == (expected + "\n").encode()


def is_id(out: bytes) -> bool:
    return out.strip().isdigit()


def fixed(argv: list[str], check: Callable[[bytes], bool]) -> Callable[[int], Invocation]:
    return lambda _n: (argv, None, check)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(row: Row, work: Path) -> float:
    """Wall time of one fresh process, spawn to exit; exits if the output is wrong.

    Its CPU time (with that of the processes it waited for, such as pass's gpg) is
    appended to `row.cpu`.
    """
    argv, data, check = row.make(row.runs)
    row.runs += 1
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(
        argv,
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True,
        env=row.env,
        cwd=work,
        check=False,
    )
    elapsed = time.perf_counter() - started
    row.cpu.append(_children_cpu() - cpu_before)
    if result.returncode != 0 or not check(result.stdout):
        sys.exit(
            f"{row.label}: {' '.join(argv)} failed (exit {result.returncode}), "
            f"stdout {len(result.stdout)} bytes, stderr: {result.stderr.decode(errors='replace')}"
        )
    return elapsed


def measure(rows: list[Row], rounds: int, seed: int, work: Path) -> None:
    """Two warm-up runs per row, then `rounds` rounds of every row in shuffled order."""
    for row in rows:
        for _ in range(2):
            run_once(row, work)
        row.cpu.clear()
    rng = random.Random(seed)
    for number in range(rounds):
        order = rows[:]
        rng.shuffle(order)
        for row in order:
            row.samples.append(run_once(row, work))
        print(f"\rround {number + 1}/{rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


# -- reporting -----------------------------------------------------------------------------


def verdicts(rows: dict[str, Row], skipped: dict[str, str]) -> list[dict[str, Any]]:
    """Each bar's ratio and PASS/FAIL, or SKIPPED and why."""
    found = []
    for bar in BARS:
        entry: dict[str, Any] = {"bar": bar.label, "limit": bar.limit}
        missing = [k for k in (bar.numerator, bar.denominator) if k not in rows]
        if missing:
            entry.update(
                ratio=None, verdict="SKIPPED", why="; ".join(skipped.get(k, k) for k in missing)
            )
        else:
            ratio = rows[bar.numerator].median_ms / rows[bar.denominator].median_ms
            entry.update(ratio=ratio, verdict="PASS" if ratio <= bar.limit else "FAIL")
        found.append(entry)
    return found


def text_report(
    rows: list[Row], bars: list[dict[str, Any]], skipped: dict[str, str], meta: dict[str, Any]
) -> str:
    reference = next(r for r in rows if r.key == "python")
    lines = [
        f"credctl get-token benchmark, {meta['date']}: {meta['rounds']} rounds, rows interleaved",
        f"{meta['machine']}; {meta['load']}",
        f"credctl {meta['credctl']} from the {meta['source']}, in a fresh venv "
        "(non-editable, byte-compiled); "
        f"{meta['pass'] or 'pass: not available'}",
        "",
        f"{'command':<52} {'median ms':>9} {'p90 ms':>8} {'min ms':>8} {'x python':>9} "
        f"{'cpu ms':>7}",
        f"{'-' * 52} {'-' * 9} {'-' * 8} {'-' * 8} {'-' * 9} {'-' * 7}",
    ]
    for row in rows:
        lines.append(
            f"{row.label:<52} {row.median_ms:>9.1f} {row.p90_ms:>8.1f} {row.min_ms:>8.1f} "
            f"{row.median_ms / reference.median_ms:>9.2f} {row.cpu_ms:>7.1f}"
        )
    for key, why in skipped.items():
        lines.append(f"{key:<52} {'-':>9}  {why}")
    lines += ["", f"{'bar (ratio of medians)':<34} {'ratio':>6} {'limit':>6}  verdict"]
    lines.append(f"{'-' * 34} {'-' * 6} {'-' * 6}  -------")
    for bar in bars:
        ratio = f"{bar['ratio']:.2f}" if bar["ratio"] is not None else "-"
        verdict = bar["verdict"] + (f" ({bar['why']})" if bar["verdict"] == "SKIPPED" else "")
        lines.append(f"{bar['bar']:<34} {ratio:>6} {'≤ ' + str(bar['limit']):>6}  {verdict}")
    return "\n".join(lines)


def markdown_report(
    rows: list[Row], bars: list[dict[str, Any]], skipped: dict[str, str], meta: dict[str, Any]
) -> str:
    reference = next(r for r in rows if r.key == "python")
    lines = [
        f"Run on {meta['date']} with `{meta['command']}` "
        f"({meta['rounds']} rounds, rows interleaved in shuffled order).",
        "",
        f"- Machine: {meta['machine']}; {meta['load']}",
        f"- credctl {meta['credctl']} from the {meta['source']}, installed non-editable "
        "(byte-compiled) in a fresh venv",
        f"- {meta['pass'] or 'pass: not available'}; {meta['gpg'] or ''}".rstrip("; "),
        "",
        "| command | median ms | p90 ms | min ms | × `python -c pass` | CPU ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.median_ms:.1f} | {row.p90_ms:.1f} | {row.min_ms:.1f} "
            f"| {row.median_ms / reference.median_ms:.2f} | {row.cpu_ms:.1f} |"
        )
    for key, why in skipped.items():
        lines.append(f"| {key} | – | – | – | {why} |")
    lines += ["", "| bar (ratio of medians) | ratio | limit | verdict |", "|---|---:|---:|---|"]
    for bar in bars:
        ratio = f"{bar['ratio']:.2f}" if bar["ratio"] is not None else "–"
        verdict = f"**{bar['verdict']}**" + (
            f" ({bar['why']})" if bar["verdict"] == "SKIPPED" else ""
        )
        lines.append(f"| {bar['bar']} | {ratio} | ≤ {bar['limit']} | {verdict} |")
    return "\n".join(lines) + "\n"


def version_line(argv: list[str], env: dict[str, str], work: Path, pick: str) -> str | None:
    try:
        out = subprocess.run(argv, env=env, cwd=work, capture_output=True, check=False).stdout
    except OSError:
        return None
    for line in out.decode(errors="replace").splitlines():
        if pick in line:
            return " ".join(line.split())
    return None


# -- main ------------------------------------------------------------------------------------


def build_rows(
    folder: Path,
    bin_dir: Path,
    env: dict[str, str],
    pass_env: dict[str, str] | None,
    secrets: dict[str, str],
    work: Path,
    pass_missing: str,
) -> tuple[list[Row], dict[str, str]]:
    """Every row to measure, and the rows that cannot be measured with the reason."""
    python, credctl = str(bin_dir / "python"), str(bin_dir / "credctl")
    skipped: dict[str, str] = {}
    rows = [
        Row("python", "python -c pass (venv; the reference)", fixed([python, "-c", "pass"],
            lambda out: out == b""), env),
        Row("python-base", "python -c pass (base interpreter; info)",
            fixed([base_interpreter(), "-c", "pass"], lambda out: out == b""), env),
    ]  # fmt: skip
    floor_blob, floor_script = folder / "floor.bin", folder / "floor.py"
    (folder / "floor_setup.py").write_text(FLOOR_SETUP)
    floor_script.write_text(FLOOR_SCRIPT)
    run([python, str(folder / "floor_setup.py"), str(floor_blob), "1000"], env, cwd=work)
    rows.append(
        Row("floor", "python: import AESGCM, decrypt 1k blob, print (info)",
            fixed([python, str(floor_script), str(floor_blob), "tok-00500"],
                  equals("tok-00500-" + "x" * 40)), env)
    )  # fmt: skip
    if pass_env is not None:
        rows.append(
            Row("pass-show", f"pass show {PASS_PROBE} (store of 1,000)",
                fixed(["pass", "show", PASS_PROBE], equals(secrets[PASS_PROBE])), pass_env)
        )  # fmt: skip
    else:
        skipped["pass-show"] = pass_missing
    say("creating vaults (cheap KDF) and sessions ...")
    for key, count in SIZES.items():
        session_env = make_vault(folder, bin_dir, env, key, count, work)
        probe = f"tok-{count // 2:05d}"
        rows.append(
            Row(f"get-token-{key}", f"credctl get-token {probe} (vault of {count:,})",
                fixed([credctl, "get-token", probe], equals(f"{probe}-" + "x" * 40)),
                session_env)
        )  # fmt: skip
        if key == "1k":
            variable = probe.upper().replace("-", "_") + "_TOKEN"
            rows.append(
                Row("env-1k", f"credctl env {probe} (vault of {count:,})",
                    fixed([credctl, "env", probe],
                          equals(f"export {variable}='{probe}-" + "x" * 40 + "'")),
                    session_env)
            )  # fmt: skip
            rows.append(
                Row("exec-1k", f"credctl exec {probe} -- true (vault of {count:,})",
                    fixed([credctl, "exec", probe, "--", "true"], lambda out: out == b""),
                    session_env)
            )  # fmt: skip
    if pass_env is not None:
        rows.append(
            Row("pass-insert", "pass insert -f -e new/entry-N (stdin)",
                lambda n: (["pass", "insert", "-f", "-e", f"new/entry-{n:04d}"],
                           f"new-secret-{n:04d}\n".encode(), lambda out: True), pass_env)
        )  # fmt: skip
    else:
        skipped["pass-insert"] = pass_missing
    create_env = make_vault(folder, bin_dir, env, "1k-create", SIZES["1k"], work)
    problem = create_problem(credctl, create_env, work)
    if problem is None:
        rows.append(
            Row("create", "credctl create token new-N --field token=@- (1,000)",
                lambda n: ([credctl, "create", "token", f"new-{n:04d}", "--field", "token=@-"],
                           f"new-secret-{n:04d}\n".encode(), is_id), create_env)
        )  # fmt: skip
    else:
        skipped["create"] = problem
    return rows, skipped


def common_arguments(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script in bench/ takes."""
    parser = argparse.ArgumentParser(description=description.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 rounds instead of 40")
    parser.add_argument("--rounds", type=int, help="rounds (overrides --quick)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write results as JSON")
    parser.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write a Markdown table"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the interleaving order")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--ref",
        metavar="GIT_REF",
        help="install this commit (git archive) instead of the working tree as it is",
    )
    return parser


def rounds_of(args: argparse.Namespace) -> int:
    """How many rounds the options ask for."""
    return int(args.rounds or (10 if args.quick else 40))


def run_meta(
    script: str,
    argv: list[str] | None,
    args: argparse.Namespace,
    load: tuple[float, float],
    credctl_version: str | None,
) -> dict[str, Any]:
    """What a report says about the run: command, machine, load, source, version."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", f"bench/{script}", *(argv or sys.argv[1:])]),
        "rounds": rounds_of(args),
        "seed": args.seed,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()} ({platform.platform()})",
        "load": f"1-minute load average {load[0]:.1f} before, {load[1]:.1f} after",
        "source": describe_source(args.ref),
        "credctl": (credctl_version or "?").removeprefix("credctl "),
    }


def rows_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The measured rows as JSON objects, with every sample."""
    return [
        {
            "key": row.key,
            "label": row.label,
            "median_ms": round(row.median_ms, 3),
            "p90_ms": round(row.p90_ms, 3),
            "min_ms": round(row.min_ms, 3),
            "samples_ms": [round(s * 1000, 3) for s in row.samples],
            "cpu_ms": round(row.cpu_ms, 3) if row.cpu else None,
        }
        for row in rows
    ]


def main(argv: list[str] | None = None) -> int:
    args = common_arguments(__doc__ or "").parse_args(argv)
    rounds = rounds_of(args)
    started = time.perf_counter()

    folder = Path(tempfile.mkdtemp(prefix="credctl-bench-get-token-"))
    work, home = folder / "work", folder / "home"
    work.mkdir()
    home.mkdir(mode=0o700)
    env = child_env(home)
    pass_env: dict[str, str] | None = None
    try:
        bin_dir = make_venv(folder, env, work, source_tree(folder, args.ref))
        why_not = ensure_pass()
        secrets: dict[str, str] = {}
        if why_not is None:
            pass_env, secrets = make_pass_store(folder, env)
        else:
            loud(f"SKIPPING the pass comparison: {why_not}")
        rows, skipped = build_rows(folder, bin_dir, env, pass_env, secrets, work, why_not or "")
        for key, why in skipped.items():
            loud(f"NOT MEASURED: {key}: {why}")
        say(f"setup done in {time.perf_counter() - started:.0f} s; measuring {len(rows)} rows")
        load_before = os.getloadavg()[0]
        measure(rows, rounds, args.seed, work)
        load_after = os.getloadavg()[0]
        credctl_version = version_line(
            [str(bin_dir / "credctl"), "--version"], env, work, "credctl"
        )
        meta = run_meta(
            "bench_get_token.py", argv, args, (load_before, load_after), credctl_version
        )
        meta["pass"] = version_line(["pass", "version"], env, work, "v1.") if pass_env else None
        meta["gpg"] = version_line(["gpg", "--version"], env, work, "GnuPG") if pass_env else None
        if meta["pass"]:
            meta["pass"] = "pass " + meta["pass"].strip("= ").replace("password store ", "")
    finally:
        if pass_env is not None:
            subprocess.run(
                ["gpgconf", "--kill", "gpg-agent"], env=pass_env, capture_output=True, check=False
            )
        if args.keep:
            say(
                f"kept {folder}: `. {folder}/env-1k.sh` (or env-1.sh, env-10k.sh, "
                "env-1k-create.sh) sets up a shell"
            )
        else:
            shutil.rmtree(folder, ignore_errors=True)

    by_key = {row.key: row for row in rows}
    bars = verdicts(by_key, skipped)
    print(text_report(rows, bars, skipped, meta))
    for bar in bars:
        if bar["verdict"] == "FAIL":
            loud(f"FAIL: {bar['bar']} = {bar['ratio']:.2f}, above the bar of {bar['limit']}")
        elif bar["verdict"] == "SKIPPED":
            loud(f"SKIPPED: {bar['bar']}: {bar['why']}")
    if args.markdown:
        args.markdown.write_text(markdown_report(rows, bars, skipped, meta))
        say(f"wrote {args.markdown}")
    if args.json:
        result = {
            "benchmark": "get-token",
            **meta,
            "rows": rows_json(rows),
            "skipped": skipped,
            "bars": bars,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
