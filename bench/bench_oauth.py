"""How long does an OAuth login through a real browser take, and one refresh?

Usage:
    python bench/bench_oauth.py                 # 3 logins, 5 refreshes
    python bench/bench_oauth.py --rounds 1      # one of each
    python bench/bench_oauth.py --json out.json # also write the results as JSON

The peers are the OAuth tests' own (``tests/oauth``): the npm package oidc-provider on
127.0.0.1 and Debian's Chromium driven headless by playwright-core through the
provider's login and consent pages (``tests/oauth/browser.mjs`` as ``$BROWSER``).
They must be installed (``scripts/test`` does it: ``apt-get install chromium`` and
``npm ci`` in ``tests/oauth``); without them the script says so and exits 1.

Rows, each the median of its rounds, in seconds:

- ``login (browser)``: ``credctl oauth login`` as a fresh process, from start to exit:
  loopback listener, discovery, Chromium start, the provider's login and consent
  pages, the redirect, the code exchange (PKCE) and the vault write.  Its parts come
  from the browser's log: Chromium start-up until the login page is filled, and the
  rest;
- ``refresh (command)``: ``credctl refresh NAME`` as a fresh process (a refresh token
  grant under the vault lock, the rotated tokens stored);
- ``refresh (in process)``: the duration credctl records in the audit trail for the
  same refresh (lock, re-read, provider call, vault write), without start-up;
- ``get-token (refresh)``: ``credctl get-token`` when the token is inside the
  refresh-ahead window (the provider's tokens live 4 s here), so it refreshes first;
- references: ``get-token`` of a fresh token (the fast path) and ``python -c pass``.

The vault uses the cheapest Argon2id setting and is unlocked by a session, so the
numbers are the OAuth work and start-up, not key derivation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / "tests" / "oauth"
PASSPHRASE = "benchmark passphrase (not a secret)"
CHEAP_KDF = ["--kdf-memory", "19", "--kdf-time", "2", "--kdf-parallelism", "1"]
AT_TTL = 4  # seconds: the refresh-ahead window is its last half


def credctl() -> list[str]:
    found = shutil.which("credctl")
    return [found] if found else [sys.executable, "-m", "credctl"]


def timed(args: list[str], env: dict[str, str], timeout: float = 120) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"bench_oauth: {' '.join(args[:4])} failed: {done.stderr[-800:]}")
    return elapsed, done.stdout


def check_peers() -> str:
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("node")
    if not Path("/usr/bin/chromium").is_file():
        missing.append("/usr/bin/chromium (apt-get install chromium)")
    for package in ("oidc-provider", "playwright-core"):
        if not (PEERS / "node_modules" / package / "package.json").is_file():
            missing.append(f"{package} (npm ci in tests/oauth)")
    if missing:
        banner = "!" * 78
        sys.stderr.write(f"{banner}\nbench_oauth: NOT RUN, missing: {', '.join(missing)}\n"
                         f"{banner}\n")  # fmt: skip
        raise SystemExit(1)
    assert node is not None
    return node


def start_provider(node: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = workdir / "provider.out"
    with log.open("w") as out:
        process = subprocess.Popen(
            [node, str(PEERS / "provider.mjs"), "--port", "0", "--at-ttl", str(AT_TTL)],
            cwd=PEERS, stdout=out, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines()
        if lines:
            return process, str(json.loads(lines[0])["issuer"])
        time.sleep(0.05)
    process.kill()
    raise SystemExit("bench_oauth: oidc-provider did not start")


def browser_parts(log: Path) -> tuple[float, float]:
    """(seconds from the browser's start to the filled login page, the rest) of the last run."""
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    last_done = max(i for i, e in enumerate(entries) if e.get("done"))
    run = entries[: last_done + 1]
    start = next(e["t"] for e in reversed(run) if e.get("start"))
    login = next(e["t"] for e in run if e.get("step") == "login" and e["t"] >= start)
    return login - start, run[-1]["t"] - login


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="logins to time (refreshes: +2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    options = parser.parse_args()
    node = check_peers()
    rows: dict[str, list[float]] = {
        "login (browser)": [], "  chromium start to login page": [],
        "  login page to tokens stored": [], "refresh (command)": [],
        "refresh (in process)": [], "get-token (refresh)": [],
        "get-token (fresh token, fast path)": [], "python -c pass": [],
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="credctl-bench-oauth-") as tmp:
        workdir = Path(tmp)
        provider, issuer = start_provider(node, workdir)
        try:
            vault = workdir / "bench.credctl"
            env = {**os.environ, "CREDCTL_VAULT": str(vault), "CREDCTL_PASSPHRASE": PASSPHRASE}
            timed([*credctl(), "init", *CHEAP_KDF], env)
            _, session = timed([*credctl(), "unlock", "--ttl", "1h"], env)
            env.pop("CREDCTL_PASSPHRASE")
            browser_log = workdir / "browser.log"
            env.update(CREDCTL_SESSION=session.split("'")[1],
                       BROWSER=str(PEERS / "browser.mjs"),
                       CREDCTL_TEST_BROWSER_LOG=str(browser_log))  # fmt: skip

            def trail(count: int) -> list[dict[str, object]]:
                # The newest audit entries (the trail is sealed: read it through credctl).
                listed = timed([*credctl(), "audit", "list", "--json", "--limit", str(count)], env)
                return [e for e in json.loads(listed[1]) if e["action"] != "audit_list"]

            for round_number in range(options.rounds):
                name = f"bench{round_number}"
                with browser_log.open("a") as log:
                    log.write(json.dumps({"t": time.time(), "start": True}) + "\n")
                elapsed, _ = timed([*credctl(), "oauth", "login", name, "--issuer", issuer,
                                    "--client-id", "credctl-native"], env)  # fmt: skip
                rows["login (browser)"].append(elapsed)
                for _ in range(50):  # the browser logs `done` a moment after credctl exits
                    if '"done"' in browser_log.read_text().splitlines()[-1]:
                        break
                    time.sleep(0.1)
                startup, rest = browser_parts(browser_log)
                rows["  chromium start to login page"].append(startup)
                rows["  login page to tokens stored"].append(rest)
            name = "bench0"
            for _ in range(options.rounds + 2):
                rows["refresh (command)"].append(timed([*credctl(), "refresh", name], env)[0])
                last = trail(1)[-1]
                assert last["action"] == "refresh", last
                rows["refresh (in process)"].append(float(last["duration_ms"]) / 1000)
                # Wait until the token is inside the window: get-token refreshes first.
                time.sleep(AT_TTL / 2 + 0.5)
                rows["get-token (refresh)"].append(timed([*credctl(), "get-token", name], env)[0])
                refreshed, last = trail(3)[-2:]
                assert last["action"] == "get_token", last
                assert refreshed["action"] == "refresh", refreshed
                rows["get-token (fresh token, fast path)"].append(
                    timed([*credctl(), "get-token", name], env)[0]
                )
                rows["python -c pass"].append(timed([sys.executable, "-c", "pass"], env)[0])
        finally:
            provider.terminate()
            provider.wait(10)
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"credctl OAuth benchmark ({python}, {platform.machine()}, {os.cpu_count()} CPUs)")
    print(f"{'':38} {'median s':>9} {'min s':>7} {'n':>3}")
    results: dict[str, Any] = {}
    for label, values in rows.items():
        median, low = statistics.median(values), min(values)
        print(f"{label:38} {median:9.3f} {low:7.3f} {len(values):3}")
        results[label.strip()] = {"median_s": median, "min_s": low, "n": len(values)}
    if options.json:
        options.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
