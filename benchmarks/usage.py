"""Usage benchmark: the time-axis accessors against their baselines, side by side in one run, as ratios.

Run:  python benchmarks/usage.py [--orgs 200] [--instances 1000] [--latency-ms 20] [--workers 8]

A sandbox with injected latency serves from a separate process (a real CloudMC is remote). In
this process, one after the other, for two workloads:

* summary: a year of daily ``usage_summary`` for every live organization of ``--orgs``;
* metrics: 30 days of hourly CPU (``instance.cpu.utilization``, avg per hour) for about
  ``--instances`` instances (the first organizations, in tree order, that hold that many);

each measured as

* cold: ``cmf.usage_summary`` / ``cmf.metrics`` on a new client (empty SQLite cache), and warm:
  the same call again on that client;
* naive: what a user writes first: one requests.Session, sequential GETs of the organizations
  (and, for metrics, their environments and connections), one GET per organization or
  environment, ``pd.json_normalize`` per reply and one ``pd.concat``; target: cold >= 5x faster;
* floor: the naive loop's requests sent again by a bare thread pool of the same size (plain
  requests + json, no cache, no pandas): what this machine and this sandbox can serve at all (the
  sandbox computes every answer, on the same two cores);
* frame build: the accessor's typed frame built from the replies' records (``build_frame``, as
  the accessor does) against ``pd.DataFrame.from_records`` of the same rows pre-flattened;
  target <= 2x;
* frame memory: the typed frame against the same data held in plain object columns; target <= 0.5x.

Only ratios measured in this run are targets; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pandas as pd
import requests
from sandbox_process import start_sandbox
from tabulate import tabulate

import cloudmc_frames as cmf
from cloudmc_frames.frames import build_frame
from cloudmc_frames.sandbox import generate_scenario

METRIC = "instance.cpu.utilization"


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


class Naive:
    """Sequential requests + json_normalize, as a user would write it (keeps the records it read)."""

    def __init__(self, endpoint: str, key: str) -> None:
        self.api, self.session = endpoint + "/api/v2", requests.Session()
        self.session.headers["MC-Api-Key"] = key
        self.sent, self.log = 0, []

    def get(self, path: str, **params):
        self.sent += 1
        self.log.append((path, params))
        reply = self.session.get(self.api + path, params=params, timeout=120)
        reply.raise_for_status()
        return reply.json()["data"]

    def summary(self, start: str, end: str) -> tuple[pd.DataFrame, list]:
        orgs = [o for o in self.get("/organizations") if not o.get("deleted")]
        parts, chunks = [], []
        for org in orgs:
            records = self.get(f"/usage_summary/organizations/{org['id']}", start_date=start, end_date=end,
                               period="DAY")
            part = pd.json_normalize(records)
            part["organization_name"] = org["name"]
            parts.append(part)
            chunks.append(({"organization_id": org["id"], "organization_name": org["name"],
                            "organization_path": org["entryPoint"]}, records))
        return pd.concat(parts, ignore_index=True), chunks

    def metrics(self, org_ids: list[str], start: str, end: str) -> tuple[pd.DataFrame, list]:
        orgs = {o["id"]: o for o in self.get("/organizations")}
        parts, chunks, connections = [], [], {}
        for org_id in org_ids:
            for env in self.get("/environments", org_id=org_id):
                if env.get("deleted"):
                    continue
                cid = env["serviceConnection"]["id"]
                if cid not in connections:
                    connections[cid] = self.get(f"/services/connections/{cid}")
                conn = connections[cid]
                if conn["type"] != "cloudstack":
                    continue
                data = self.get(f"/metrics/{conn['serviceCode']}/{METRIC}", environment=env["name"],
                                org_id=org_id, startDate=start, endDate=end, size=1, unit="HOURS")
                points = data[METRIC]
                part = pd.json_normalize(points)
                part["environment_name"] = env["name"]
                parts.append(part)
                chunks.append(({"organization_id": org_id, "organization_name": orgs[org_id]["name"],
                                "organization_path": orgs[org_id]["entryPoint"],
                                "service_code": conn["serviceCode"], "connection_type": conn["type"],
                                "environment_id": env["id"], "environment_name": env["name"]}, points))
        return pd.concat(parts, ignore_index=True), chunks


def floor(endpoint: str, key: str, sent: list[tuple[str, dict]], workers: int) -> int:
    """The same requests, concurrently, plain requests + json: the machine's (and sandbox's) floor."""
    session = requests.Session()
    session.headers["MC-Api-Key"] = key
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=workers * 2))

    def get(item):
        path, params = item
        return len(session.get(endpoint + "/api/v2" + path, params=params, timeout=120).json()["data"])

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(get, sent))


def metric_orgs(store, instances: int) -> list[str]:
    """The first live organizations (parents first) holding ``instances`` metered instances in all."""
    chosen, count = [], 0
    for org_id in store.visible_org_ids(store.root_key):
        here = sum(len(store.usage.metric_entities.get(env_id, ()))
                   for env_id, env in store.environments.items()
                   if env["organization"]["id"] == org_id and not env.get("deleted"))
        if here:
            chosen.append(org_id)
            count += here
        if count >= instances:
            break
    return chosen


def frame_ratios(entity: str, chunks: list, rename: dict | None = None) -> dict[str, float]:
    """Typed build vs from_records of pre-flattened rows; memory vs object columns."""
    flat = [{**ctx, **record} for ctx, records in chunks for record in records]
    build_s, frame = timed(build_frame, entity, chunks, rename=rename)
    records_s, plain = timed(pd.DataFrame.from_records, flat)
    typed_mb = frame.memory_usage(deep=True).sum() / 2**20
    object_mb = plain.astype(object).memory_usage(deep=True).sum() / 2**20
    return {"rows": len(frame), "build_s": build_s, "from_records_s": records_s, "typed_mb": typed_mb,
            "object_mb": object_mb}


def workload(name: str, run, naive: Naive, naive_run, entity: str, rename: dict | None = None,
             workers: int = 8) -> list[list]:
    """The rows of one workload: cold and warm toolkit, the naive loop, the floor, the frame build."""
    cold_s, (frame, client) = timed(run)
    sent = client.stats["sent"]
    warm_s, warm = timed(run, client)
    pd.testing.assert_frame_equal(frame, warm[0])
    naive.sent, naive.log = 0, []
    naive_s, (plain, chunks) = timed(naive_run)
    floor_s, _ = timed(floor, naive.api[: -len("/api/v2")], naive.session.headers["MC-Api-Key"], naive.log,
                       workers)
    assert len(plain) == len(frame), f"{name}: naive loop {len(plain)} rows, toolkit {len(frame)}"
    fr = frame_ratios(entity, chunks, rename)
    print(f"{name}: {len(frame):,} rows; requests: toolkit {sent} (cold), naive loop {naive.sent}")
    return [
        [f"{name}: naive sequential vs cold", f"{naive_s:.2f} s", f"{cold_s:.2f} s", naive_s / cold_s,
         ">= 5"],
        [f"{name}: cold vs machine floor", f"{cold_s:.2f} s", f"{floor_s:.2f} s", cold_s / floor_s,
         "(report)"],
        [f"{name}: warm (same client) vs cold", f"{warm_s:.3f} s", f"{cold_s:.2f} s", warm_s / cold_s,
         "(report)"],
        [f"{name}: {fr['rows']:,}-row frame build vs from_records", f"{fr['build_s']:.3f} s",
         f"{fr['from_records_s']:.3f} s", fr["build_s"] / fr["from_records_s"], "<= 2"],
        [f"{name}: frame memory vs object columns", f"{fr['typed_mb']:.1f} MiB", f"{fr['object_mb']:.1f} MiB",
         fr["typed_mb"] / fr["object_mb"], "<= 0.5"],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    store = generate_scenario(orgs=args.orgs, seed=7)  # the child's scenario: same arguments, same ids
    now = pd.Timestamp(store.now)
    year = (now - timedelta(days=365), now)
    month = (now - timedelta(days=30), now)
    orgs = metric_orgs(store, args.instances)
    proc, endpoint, key = start_sandbox("--orgs", str(args.orgs), "--latency-ms", str(args.latency_ms))
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            def client_for(client=None):
                return client or cmf.connect(endpoint, key, cache_dir=cache_dir, max_workers=args.workers,
                                             progress=False)

            def summary(client=None):
                client = client_for(client)
                return cmf.usage_summary(client, start=year[0], end=year[1], period="DAY"), client

            def metrics(client=None):
                client = client_for(client)
                return cmf.metrics(client, METRIC, start=month[0], end=month[1], orgs=orgs), client

            naive = Naive(endpoint, key)

            def naive_summary():
                return naive.summary(f"{year[0]:%Y-%m-%d}", f"{year[1]:%Y-%m-%d}")

            def naive_metrics():
                return naive.metrics(orgs, f"{month[0]:%Y-%m-%dT%H:%M:%SZ}", f"{month[1]:%Y-%m-%dT%H:%M:%SZ}")

            table = workload("summary", summary, naive, naive_summary, "usage_summary", workers=args.workers)
            table += workload("metrics", metrics, naive, naive_metrics, "metrics", {"label": "timestamp"},
                              workers=args.workers)
    finally:
        proc.terminate()
        proc.wait(10)
    entities = sum(len(store.usage.metric_entities.get(e, ())) for e, env in store.environments.items()
                   if env["organization"]["id"] in set(orgs) and not env.get("deleted"))
    print(f"sandbox: {args.orgs} orgs, {args.latency_ms} ms latency per request, {args.workers} workers, "
          f"{os.cpu_count()} CPUs; metrics: {len(orgs)} organizations, {entities} instances, load "
          f"{os.getloadavg()[0]:.2f}\n")
    print(tabulate(table, headers=["measure", "value", "against", "ratio", "target"], floatfmt=".3f",
                   tablefmt="github"))


if __name__ == "__main__":
    main()
