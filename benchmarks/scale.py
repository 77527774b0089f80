"""Scale: a 1,000-organization tenant crawled by one process, and snapshotted by Dask shards.

Run:  python benchmarks/scale.py [--orgs 1000] [--scale 5] [--workers 8] [--big]

A sandbox serves the tenant from its own process, with no added latency (``--big``: 3,000
organizations). Each measurement runs in a fresh child process, so its peak RSS is its own:

* crawl: organizations, users, environments, instances, volumes with the default memory budget;
* snapshot: ``cmf.snapshot`` of the same collections, one process (the threads engine);
* sharded: ``cmf.snapshot(engine="dask")`` on a ``LocalCluster`` of one worker process per core,
  started (and the toolkit imported on its workers) before the clock starts, as a team with a
  running cluster would use it; the start-up is printed apart. CPU and peak RSS are the
  coordinator's plus the workers' (summed: they run at once).

Printed: wall time, CPU, requests, peak RSS, rows/s per run, then the ratios with their targets
(issue 14): the crawl's peak RSS <= 300 MB; the sharded snapshot >= 1.6x faster than the
single-process one. Only what this run measured is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from tabulate import tabulate

CRAWL = ("organizations", "users", "environments", "instances", "volumes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=1000)
    parser.add_argument("--scale", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--big", action="store_true", help="3,000 organizations")
    parser.add_argument("--child", choices=("crawl", "snapshot", "sharded"), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.endpoint, os.environ["CLOUDMC_API_KEY"], args.workers)))
        return
    from sandbox_process import start_sandbox

    orgs = 3000 if args.big else args.orgs
    proc, endpoint, key = start_sandbox("--orgs", str(orgs), "--scale", str(args.scale), "--latency-ms", "0")
    try:
        runs = {mode: child(mode, endpoint, key, args.workers) for mode in ("crawl", "snapshot", "sharded")}
    finally:
        proc.terminate()
        proc.wait(10)
    report(orgs, args, runs)


def child(mode: str, endpoint: str, key: str, workers: int) -> dict:
    """One measurement in a fresh interpreter (the key through its environment, not its arguments)."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, os.path.join(here, "scale.py"), "--child", mode,
                          "--endpoint", endpoint, "--workers", str(workers)],
                         env={**os.environ, "CLOUDMC_API_KEY": key}, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(mode: str, endpoint: str, key: str, workers: int) -> dict:
    import cloudmc_frames as cmf

    cluster = start_cluster() if mode == "sharded" else None
    with tempfile.TemporaryDirectory() as folder:
        client = cmf.connect(endpoint, key, cache_dir=os.path.join(folder, "cache"), max_workers=workers,
                             progress=False)
        before = cluster["dask"].run(_usage) if cluster else {}
        started, cpu = time.perf_counter(), time.process_time()
        if mode == "crawl":
            frames = {name: getattr(cmf, name)(client) for name in CRAWL}
            rows, sent = sum(map(len, frames.values())), client.stats["sent"]
        else:
            snap = cmf.snapshot(client, os.path.join(folder, "history"), collections=list(CRAWL[1:]),
                                engine="dask" if cluster else "threads",
                                dask_client=cluster["dask"] if cluster else None)
            rows = sum(n for name, n in snap.tables.items() if name not in ("issues", "coverage"))
            sent = snap.requests
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"wall": wall, "cpu": cpu, "sent": sent, "rows": rows, "rss_mb": peak, "startup": 0.0}
    if cluster:
        after = cluster["dask"].run(_usage)
        result["cpu"] += sum(after[w][0] - before[w][0] for w in after)
        result["rss_mb"] += sum(after[w][1] for w in after)
        result["startup"] = cluster["startup"]
        cluster["dask"].close()
        cluster["cluster"].close()
    return result


def start_cluster() -> dict:
    """A LocalCluster of one process per core, with the toolkit imported on every worker."""
    import logging

    import distributed

    started = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, dashboard_address=None, silence_logs=logging.ERROR)
    dask = distributed.Client(cluster, set_as_default=False)
    dask.run(lambda: __import__("cloudmc_frames.snapshots.sharded"))
    return {"cluster": cluster, "dask": dask, "startup": time.perf_counter() - started}


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def report(orgs: int, args, runs: dict[str, dict]) -> None:
    table = [[mode, f"{r['wall']:.1f} s", f"{r['cpu']:.1f} s", r["sent"], f"{r['rss_mb']:.0f} MB",
              f"{r['rows']:,}", f"{r['rows'] / r['wall']:,.0f}"] for mode, r in runs.items()]
    print(f"tenant: {orgs} organizations, scale {args.scale:g}, no added latency; {args.workers} threads "
          f"per client; {os.cpu_count()} CPUs")
    print(tabulate(table, headers=["run", "wall", "CPU", "requests", "peak RSS", "rows", "rows/s"],
                   tablefmt="github"))
    speedup = runs["snapshot"]["wall"] / runs["sharded"]["wall"]
    targets = [["crawl peak RSS (default memory budget)", f"{runs['crawl']['rss_mb']:.0f} MB", "<= 300 MB"],
               ["sharded snapshot speed-up vs one process", f"{speedup:.2f}x", ">= 1.6x"]]
    print()
    print(tabulate(targets, headers=["target", "measured", "goal"], tablefmt="github"))
    print(f"\nthe Dask cluster ({os.cpu_count()} worker processes) took {runs['sharded']['startup']:.1f} s "
          "to start, outside the sharded run's time")


if __name__ == "__main__":
    main()
