"""`credctl serve` under load, with wrk, against bare FastAPI endpoints in the same run.

Usage:
    nice python bench/bench_serve.py                  # 10 s per run
    nice python bench/bench_serve.py --duration 5     # a quicker look
    nice python bench/bench_serve.py --json out.json --markdown out.md

Setup (all in a temporary folder, removed afterwards):
  * Debian's `wrk`, installed with apt-get when missing (as root); without it the
    benchmark stops with a loud message;
  * a vault of 1,000 `token` credentials owned by the API user `bench` (one
    `batch_create`, Argon2id at the floor: the server unlocks once, at start), and
    one API token for `bench`, passed to wrk in a Lua script, never on a command line;
  * `credctl serve --port 0 --no-access-log` on 127.0.0.1, and `bench/bare_app.py`:
    a bare FastAPI app under uvicorn with the same settings.

Runs, each at 64 connections (wrk -t2 -c64) after a 2 s warm-up:
  bare          GET /bare on the bare app (one credential item, constant)
  get           GET /credentials/{id}, ids drawn at random from the 1,000
  bare-list     GET /bare-list (constant bytes, as large as the list answer)
  list          GET /credentials/ (all 1,000)
  mixed         90% GET /credentials/{id}, 10% PUT /credentials/{id} with new
                credential_data (each PUT is a vault write: lock, re-read,
                encrypt, fsync, rename)
  bare (again)  to see drift: the ratio uses the mean of both bare runs

Every run must end with zero errors (non-2xx answers, socket errors), and the
vault must still hold 1,000 credentials.  The bar of the issue: reads at least
0.5x the bare endpoint (GET /credentials/{id} against /bare, GET /credentials/
against /bare-list, which serves as many bytes).  Every request served is an
audit entry, durable before its answer (batched: one fsync per batch of requests
in flight).  The script reports; it exits 0 even when a bar fails, but says FAIL
loudly.  Only the standard library is needed, plus wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
N_CREDENTIALS = 1000
CONNECTIONS = 64
THREADS = 2

SETUP = """
import sys
from credctl import CredentialInput, CredentialManager
from credctl.model import StorageBackend, UserContext
manager = CredentialManager.builder().storage_backend(StorageBackend.file(sys.argv[1])).build()
results = manager.batch_create([CredentialInput(credential_type="token",
    data={"token": f"FAKE-bench-{i:04d}-0123456789abcdef"}, name=f"cred-{i}")
    for i in range(COUNT)], UserContext("bench"))
ids = [r for r in results if isinstance(r, int)]
assert len(ids) == COUNT, results[:3]
_, token = manager.issue_api_token("bench")
print(min(ids), max(ids), token.expose())
""".replace("COUNT", str(N_CREDENTIALS))

LUA_COMMON = """
wrk.headers["Authorization"] = "Bearer {token}"
wrk.headers["Content-Type"] = "application/json"
local first, last = {first}, {last}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) writes = 0; math.randomseed(os.time() + math.random(1000)) end
"""
LUA_GET = """
request = function()
  return wrk.format("GET", "/credentials/" .. math.random(first, last))
end
"""
LUA_MIXED = """
request = function()
  local id = math.random(first, last)
  if math.random(100) <= 10 then
    writes = writes + 1
    return wrk.format("PUT", "/credentials/" .. id, nil,
      '{{"credential_data": {{"token": "FAKE-bench-new-' .. writes .. '"}}}}')
  end
  return wrk.format("GET", "/credentials/" .. id)
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("writes") end
  io.write("writes " .. total .. "\\n")
end
"""


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        sys.stderr.write("installing Debian's wrk with apt-get …\n")
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"], check=False, stdout=subprocess.DEVNULL
        )
        found = shutil.which("wrk")
    if not found:
        sys.exit("FAIL: wrk is not installed and could not be installed (apt-get install wrk)")
    return found


def wait_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 120) -> str:
    """The first line of the process's output that matches `pattern` (stderr or stdout)."""
    stream = proc.stderr if "serving" in pattern else proc.stdout
    assert stream is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            sys.exit(f"FAIL: the process exited before printing {pattern!r}")
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    sys.exit(f"FAIL: no {pattern!r} within {timeout} s")


def fetch(url: str, token: str) -> bytes:
    """One GET with the token (loopback only)."""
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - our own server
        body: bytes = answer.read()
    return body


def parse_wrk(text: str) -> dict[str, Any]:
    def seconds(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p50 = seconds(re.search(r"\s50%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    p99 = seconds(re.search(r"\s99%\s+(\S+)", text).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    errors += sum(int(g) for g in sockets.groups()) if sockets else 0
    writes = re.search(r"writes (\d+)", text)
    return {
        "rps": rps,
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000,
        "requests": requests,
        "errors": errors,
        "writes": int(writes.group(1)) if writes else 0,
    }


def run_wrk(wrk: str, url: str, script: Path | None, duration: int) -> dict[str, Any]:
    base = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", "--latency", "--timeout", "10s"]
    if script is not None:
        base += ["-s", str(script)]
    subprocess.run([*base, "-d2s", url], capture_output=True, text=True, check=True)  # warm-up
    done = subprocess.run(
        [*base, f"-d{duration}s", url], capture_output=True, text=True, check=True
    )
    return parse_wrk(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown")
    args = parser.parse_args(argv)
    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="credctl-bench-serve-"))
    os.chmod(work, 0o700)
    processes: list[subprocess.Popen[str]] = []
    try:
        return measure(wrk, work, args, processes)
    finally:
        for proc in processes:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def measure(wrk: str, work: Path, args: Any, processes: list[subprocess.Popen[str]]) -> int:
    vault = work / "vault" / "bench.credctl"
    env = {**os.environ, "CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": "bench (fake)"}
    credctl = [sys.executable, "-m", "credctl"]
    subprocess.run(
        [*credctl, "init", "--kdf-memory", "19", "--kdf-time", "2", "--kdf-parallelism", "1"],
        env=env,
        check=True,
        capture_output=True,
    )
    made = subprocess.run(
        [sys.executable, "-c", SETUP, str(vault)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    first, last, token = int(made[0]), int(made[1]), made[2]
    server = subprocess.Popen(
        [*credctl, "serve", "--port", "0", "--no-access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(server)
    url = wait_line(server, r"serving the REST API on (\S+)")
    size_file = work / "size"
    listed = fetch(f"{url}/credentials/", token)
    assert json.loads(listed)["success"] is True
    size_file.write_text(str(len(listed)))
    bare = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "bare_app.py"), str(size_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(bare)
    bare_port = wait_line(bare, r"port (\d+)")
    bare_url = f"http://127.0.0.1:{bare_port}"
    common = LUA_COMMON.format(token=token, first=first, last=last)
    scripts = {}
    for name, body in (("auth", ""), ("get", LUA_GET), ("mixed", LUA_MIXED)):
        scripts[name] = work / f"{name}.lua"
        scripts[name].write_text(common + body.replace("{{", "{").replace("}}", "}"))
    load_before = os.getloadavg()
    runs = [
        ("bare", bare_url + "/bare", None),
        ("get", url + "/credentials/1", scripts["get"]),
        ("bare-list", bare_url + "/bare-list", None),
        ("list", url + "/credentials/", scripts["auth"]),
        ("mixed", url + "/credentials/1", scripts["mixed"]),
        ("bare (again)", bare_url + "/bare", None),
    ]
    results: dict[str, dict[str, Any]] = {}
    for name, target, script in runs:
        sys.stderr.write(f"running {name} for {args.duration} s …\n")
        results[name] = run_wrk(wrk, target, script, args.duration)
    load_after = os.getloadavg()
    kept = len(json.loads(fetch(f"{url}/credentials/", token))["data"])
    bare_rps = (results["bare"]["rps"] + results["bare (again)"]["rps"]) / 2
    ratios = {
        "get": results["get"]["rps"] / bare_rps,
        "list": results["list"]["rps"] / results["bare-list"]["rps"],
        "list vs bare": results["list"]["rps"] / bare_rps,
        "mixed": results["mixed"]["rps"] / bare_rps,
    }
    meta = {
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
        "connections": CONNECTIONS,
        "credentials": N_CREDENTIALS,
        "credentials_after": kept,
    }
    table = markdown(results, ratios, meta)
    sys.stdout.write(table)
    failures = [name for name, r in results.items() if r["errors"]]
    if kept != N_CREDENTIALS:
        failures.append(f"the vault holds {kept} credentials, not {N_CREDENTIALS}")
    if ratios["get"] < 0.5:
        failures.append(
            f"GET /credentials/{{id}} is {ratios['get']:.2f}x the bare endpoint (< 0.5)"
        )
    if ratios["list"] < 0.5:
        failures.append(
            f"GET /credentials/ is {ratios['list']:.2f}x the bare endpoint of its size (< 0.5)"
        )
    for failure in failures:
        sys.stdout.write(f"FAIL: {failure}\n")
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "ratios": ratios, "meta": meta}, indent=2)
        )
    if args.markdown:
        args.markdown.write_text(table)
    return 0


def markdown(
    results: dict[str, dict[str, Any]], ratios: dict[str, float], meta: dict[str, Any]
) -> str:
    lines = [
        f"{meta['connections']} connections, {meta['duration_s']} s per run, "
        f"{meta['credentials']} credentials; load average before "
        f"{meta['load_average_before']}, after {meta['load_average_after']} "
        f"({meta['cpus']} CPUs)",
        "",
        "| run | requests/s | p50 | p99 | errors | writes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms "
            f"| {r['errors']} | {r['writes'] or ''} |"
        )
    lines += [
        "",
        f"- GET /credentials/{{id}}: {ratios['get']:.2f}x the bare endpoint (bar: 0.5x)",
        f"- GET /credentials/ (1,000): {ratios['list']:.2f}x bare bytes of the same size "
        f"(bar: 0.5x), {ratios['list vs bare']:.2f}x the bare endpoint",
        f"- mixed 90/10: {ratios['mixed']:.2f}x the bare endpoint",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
