"""Soak: repeated full crawls under mixed faults for a bounded time; memory must not grow.

Run:  python benchmarks/soak.py [--minutes 2] [--orgs 20] [--workers 8] [--reuse-client]

On demand only (not in CI). A sandbox serves from a child process (so this process measures only
the toolkit) with mixed faults: transient 5xx, 429 with Retry-After, dropped connections, slow
bodies and latency, plus permanent ones (a forbidden organization, an environment that always
answers an HTML 502). Each round crawls organizations, users, environments, instances and volumes
with ``fresh=True`` into an SQLite cache (so every round meets the network and its faults) and
prints rows/s, requests, retries, issues, the round's peak traced memory, the memory still held
after the round (tracemalloc, after the client is closed and collected) and the process RSS.

Every round must return the same rows and the same issues (the permanent faults); after two
warm-up rounds, the memory held after a round must not grow: the script exits 1 and says so when
the last rounds hold more than ``--max-growth-mb`` over the first measured ones, or rows differ.

``--reuse-client`` keeps one client for every round (a long-lived dashboard): its
``client.issues``/``client.coverage`` ledger keeps every round's rows by design, so that mode
reports the ledger's size next to the memory.
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc

from sandbox_process import start_sandbox

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import generate_scenario

CRAWL = ("organizations", "users", "environments", "instances", "volumes")
TRANSIENT = "500:0.04;503:0.03;429:0.03,retry=1;drop:0.01;slow:0.03,ms=80;latency:1+2"
WARMUP_ROUNDS = 2


def permanent_faults(orgs: int, seed: int) -> tuple[str, set]:
    """A forbidden sub-organization and an environment behind an HTML 502 (same seed, same ids)."""
    store = generate_scenario(orgs=orgs, seed=seed)
    live = [o for o in store.orgs.values() if not o.get("deleted") and o.get("parent")]
    envs = [e for e in store.environments.values() if not e.get("deleted")]
    forbidden = next(o["id"] for o in live if any(e["organization"]["id"] == o["id"] for e in envs))
    env = next(e for e in envs if e["organization"]["id"] != forbidden
               and store.connections[e["serviceConnection"]["id"]]["serviceCode"] == "compute-qc")
    spec = (f"403,org={forbidden};"
            f"html,status=502,org={env['organization']['id']}@/services/compute-qc/{env['name']}/*")
    return spec, {forbidden, env["organization"]["id"]}


def crawl_round(client: cmf.Client) -> tuple[int, tuple, float]:
    """Rows, a fingerprint of what was read (row ids per collection + issue scopes), seconds."""
    ledger_before = len(client.ledger.snapshot()[0])
    started = time.perf_counter()
    frames = {name: getattr(cmf, name)(client, fresh=True) for name in CRAWL}
    seconds = time.perf_counter() - started
    issues = client.issues.iloc[ledger_before:]
    fingerprint = (tuple((n, tuple(sorted(f["id"].astype(str)))) for n, f in frames.items()),
                   tuple(sorted(zip(issues["accessor"].astype(str), issues["organization_id"].astype(str),
                                    issues["environment"].astype(str), issues["exception"].astype(str),
                                    strict=True))))
    return sum(len(f) for f in frames.values()), fingerprint, seconds


def settle(limit: float = 3.0) -> None:
    """Wait until the closed client's cache writer has ended (it does after a short idle)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(
            t.name == "cloudmc-frames-cache-writer" for t in threading.enumerate()):
        time.sleep(0.05)


def rss_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to soak (default 2)")
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-growth-mb", type=float, default=2.0,
                        help="memory held after a round may grow at most this much (default 2 MB)")
    parser.add_argument("--reuse-client", action="store_true", help="one client for every round")
    args = parser.parse_args()

    logging.getLogger("cloudmc_frames").setLevel(logging.ERROR)  # one warning per failed call: noise here
    permanent, failing_orgs = permanent_faults(args.orgs, args.seed)
    proc, endpoint, key = start_sandbox("--orgs", str(args.orgs), "--seed", str(args.seed),
                                        "--faults", f"{permanent};{TRANSIENT}")
    cache_dir = tempfile.mkdtemp(prefix="cmf-soak-")
    options = {"cache_backend": "sqlite", "cache_dir": cache_dir, "max_workers": args.workers,
               "retries": 6, "backoff_factor": 0.02, "backoff_max": 0.2, "read_timeout": 10}
    print(f"soak: {args.minutes:g} min, {args.orgs} orgs, faults: {TRANSIENT} + a forbidden org and an "
          f"HTML-502 environment; {'one client' if args.reuse_client else 'a new client per round'}")
    header = (f"{'round':>5} {'rows':>6} {'s':>6} {'rows/s':>7} {'requests':>8} {'retries':>7} "
              f"{'issues':>6} {'peak MB':>8} {'held MB':>8} {'RSS MB':>7}"
              + (" ledger" if args.reuse_client else ""))
    print(header)
    tracemalloc.start()
    shared = cmf.connect(endpoint, key, **options) if args.reuse_client else None
    deadline = time.monotonic() + args.minutes * 60
    held, fingerprints, problems = [], set(), []
    number = 0
    try:
        while time.monotonic() < deadline:
            number += 1
            tracemalloc.reset_peak()
            client = shared or cmf.connect(endpoint, key, **options)
            stats_before = dict(client.stats)
            issues_before = len(client.ledger.snapshot()[0])
            rows, fingerprint, seconds = crawl_round(client)
            stats = {k: client.stats[k] - stats_before.get(k, 0) for k in client.stats}
            issues = len(client.ledger.snapshot()[0]) - issues_before
            ledger = sum(map(len, client.ledger.snapshot()))
            if shared is None:
                client.close()
                del client
                settle()
            gc.collect()
            current, peak = tracemalloc.get_traced_memory()
            held.append(current / 2**20)
            fingerprints.add(fingerprint)
            print(f"{number:>5} {rows:>6} {seconds:>6.2f} {rows / seconds:>7.0f} {stats['sent']:>8} "
                  f"{stats['retries']:>7} {issues:>6} {peak / 2**20:>8.1f} {held[-1]:>8.2f} {rss_mb():>7.1f}"
                  + (f" {ledger:>6}" if args.reuse_client else ""), flush=True)
    finally:
        if shared is not None:
            shared.close()
        proc.terminate()
        proc.wait(timeout=10)

    measured = held[WARMUP_ROUNDS:]
    if len(measured) < 4:
        problems.append(f"only {len(held)} rounds: soak longer to judge memory (--minutes)")
    else:
        third = max(2, len(measured) // 3)
        first, last = statistics.median(measured[:third]), statistics.median(measured[-third:])
        growth = last - first
        print(f"memory held after a round: {first:.2f} MB "
              f"(rounds {WARMUP_ROUNDS + 1}-{WARMUP_ROUNDS + third}) -> {last:.2f} MB (last {third}): "
              f"{growth:+.2f} MB")
        if growth > args.max_growth_mb:
            problems.append(f"memory grows round over round: {growth:+.2f} MB > {args.max_growth_mb:g} MB")
    if len(fingerprints) != 1:
        problems.append(f"rounds disagree: {len(fingerprints)} different results (rows or issue scopes)")
    else:
        failed = {scope[1] for scope in next(iter(fingerprints))[1]}
        if failed != failing_orgs:
            problems.append(f"issues name {sorted(failed)}, expected exactly {sorted(failing_orgs)}")
    for problem in problems:
        print(f"FLAG: {problem}")
    print("OK: same rows and issues every round, memory flat" if not problems else "SOAK FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
