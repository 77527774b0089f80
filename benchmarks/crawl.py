"""Crawl benchmark: the toolkit against its baselines, side by side in one run, as ratios.

Run:  python benchmarks/crawl.py [--orgs 200] [--latency-ms 20] [--slow-latency-ms 100] [--workers 8]
                                 [--rows 100000]

A sandbox with injected latency serves from a separate process (a real CloudMC is remote, so
it must not share this process's GIL). In this process, one after the other:

* cold: a new client with an empty SQLite cache crawls organizations, users, environments,
  instances and volumes (and the same with the in-memory cache backend, to show what storing
  replies in SQLite costs);
* warm: the same crawl again on the same client (served from memory), and on a new client over
  the same SQLite file (served by requests-cache);
* naive: what a user writes first: one requests.Session, sequential GETs, ``pd.json_normalize``
  per reply and one ``pd.concat``;
* floor: a bare thread pool of the same size sending the same requests as the naive loop with
  plain requests + json (no cache, no pandas): what this machine can do at all;
* ideal: requests the toolkit sent x latency / workers;
* slow link: the cold crawl and the floor again against a second sandbox with
  ``--slow-latency-ms`` (0 skips it), where the network dominates;
* requests: what the cold crawl sent against the naive loop (the toolkit pages; the naive loop
  asks for each whole list at once, so it is the least a complete crawl can send);
* frames: building a typed instance frame of ``--rows`` records against
  ``pd.DataFrame.from_records`` of the same rows pre-flattened, and its memory against the
  same data held in plain object columns.

Only ratios measured in this run are targets; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import requests
from sandbox_process import start_sandbox
from tabulate import tabulate

import cloudmc_frames as cmf
from cloudmc_frames.frames import build_frame
from cloudmc_frames.sandbox import generate_scenario

CRAWL = ("organizations", "users", "environments", "instances", "volumes")


def toolkit_crawl(client: cmf.Client, workers: int) -> dict[str, pd.DataFrame]:
    frames = {"organizations": cmf.organizations(client)}
    for name in CRAWL[1:]:
        frames[name] = getattr(cmf, name)(client, max_workers=workers, progress=False)
    return frames


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def naive_crawl(endpoint: str, key: str) -> tuple[dict[str, pd.DataFrame], list[tuple[str, dict]]]:
    """Sequential requests + json_normalize, written as a user would (and the URLs it sent)."""
    session = requests.Session()
    session.headers["MC-Api-Key"] = key
    api, sent = endpoint + "/api/v2", []

    def get(path, **params):
        sent.append((path, params))
        reply = session.get(api + path, params=params, timeout=30)
        reply.raise_for_status()
        return reply.json()["data"]

    org_records = get("/organizations")
    users, envs, env_records, connections = [], [], [], {}
    for org in org_records:
        users.append(pd.json_normalize(get("/users", org_id=org["id"])))
        found = get("/environments", org_id=org["id"])
        envs.append(pd.json_normalize(found))
        env_records += [(org["id"], env) for env in found]
    vms, vols = [], []
    for org_id, env in env_records:
        cid = env["serviceConnection"]["id"]
        if cid not in connections:
            connections[cid] = get(f"/services/connections/{cid}")
        conn = connections[cid]
        base = f"/services/{conn['serviceCode']}/{env['name']}"
        vms.append(pd.json_normalize(get(base + "/instances", org_id=org_id)))
        volume_entity = "disks" if conn["type"] == "gcp" else "volumes"
        vols.append(pd.json_normalize(get(f"{base}/{volume_entity}", org_id=org_id)))
    orgs = pd.json_normalize(org_records)
    envs_frame = pd.concat(envs, ignore_index=True)
    frames = {"organizations": orgs, "users": pd.concat(users, ignore_index=True),
              "environments": envs_frame, "instances": pd.concat(vms, ignore_index=True),
              "volumes": pd.concat(vols, ignore_index=True)}
    return frames, sent


def floor_crawl(endpoint: str, key: str, sent: list[tuple[str, dict]], workers: int) -> int:
    """The same requests, concurrently, plain requests + json: the machine's floor."""
    session = requests.Session()
    session.headers["MC-Api-Key"] = key
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=workers * 2)
    session.mount("http://", adapter)

    def get(item):
        path, params = item
        return len(session.get(endpoint + "/api/v2" + path, params=params, timeout=30).json()["data"])

    with ThreadPoolExecutor(workers) as pool:
        return sum(pool.map(get, sent))


def instance_chunks(rows: int, orgs: int) -> list[tuple[dict, list[dict]]]:
    """``rows`` instance records as the API serves them, with their context, from a sandbox
    scenario generated in this process (realistic names, ids, addresses and offerings)."""
    store = generate_scenario(orgs=orgs, seed=11, scale=40 * rows / 110_000)
    chunks, made = [], 0
    for env in store.environments.values():
        records = list(store.resources.get(env["id"], {}).get("instances", {}).values())
        org, conn = store.orgs[env["organization"]["id"]], store.connections[env["serviceConnection"]["id"]]
        context = {"organization_id": org["id"], "organization_name": org["name"],
                   "organization_path": org["entryPoint"], "service_code": conn["serviceCode"],
                   "connection_type": conn["type"], "environment_id": env["id"],
                   "environment_name": env["name"]}
        records = records[: rows - made]
        chunks.append((context, records))
        made += len(records)
        if made >= rows:
            break
    return chunks


def frame_benchmark(rows: int, orgs: int) -> dict[str, float]:
    """Typed frame build vs from_records of pre-flattened rows; memory vs object columns."""
    chunks = instance_chunks(rows, orgs)
    flat_rows = [{**ctx, **flat} for ctx, recs in chunks
                 for flat in pd.json_normalize(recs, sep="_").to_dict("records")]
    build_s, frame = timed(build_frame, "instances", chunks, service=True)
    records_s, plain = timed(pd.DataFrame.from_records, flat_rows)
    typed_mb = frame.memory_usage(deep=True).sum() / 2**20
    object_mb = plain.astype(object).memory_usage(deep=True).sum() / 2**20
    return {"rows": len(frame), "build_s": build_s, "from_records_s": records_s,
            "typed_mb": typed_mb, "object_mb": object_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--slow-latency-ms", type=int, default=100)
    args = parser.parse_args()
    proc, endpoint, key = start_sandbox("--orgs", str(args.orgs), "--latency-ms", str(args.latency_ms))
    try:
        table, naive_sent = measure(args, endpoint, key)
    finally:
        proc.terminate()
        proc.wait(10)
    if args.slow_latency_ms:
        slow = slow_link(args, naive_sent)
        table.insert(3, [f"cold crawl vs machine floor ({args.slow_latency_ms} ms)",
                         f"{slow['cold_s']:.2f} s", f"{slow['floor_s']:.2f} s",
                         slow["cold_s"] / slow["floor_s"], "<= 1.1"])
    print(tabulate(table, headers=["measure", "value", "against", "ratio", "target"],
                   floatfmt=".3f", tablefmt="github"))


def slow_link(args, naive_sent: list[tuple[str, dict]]) -> dict[str, float]:
    """Cold crawl and floor against a sandbox with ``--slow-latency-ms`` (network-bound); the same
    seeded scenario, so the naive loop's requests are the ones it sent to the first sandbox."""
    proc, endpoint, key = start_sandbox("--orgs", str(args.orgs), "--latency-ms", str(args.slow_latency_ms))
    try:
        with tempfile.TemporaryDirectory() as cache_dir:
            client = cmf.connect(endpoint, key, cache_dir=cache_dir, max_workers=args.workers)
            cold_s, _ = timed(toolkit_crawl, client, args.workers)
        floor_s, _ = timed(floor_crawl, endpoint, key, naive_sent, args.workers)
    finally:
        proc.terminate()
        proc.wait(10)
    return {"cold_s": cold_s, "floor_s": floor_s}


def measure(args, endpoint: str, key: str) -> tuple[list[list], list[tuple[str, dict]]]:
    """The table of the main run (printing its header lines), and the naive loop's requests."""
    with tempfile.TemporaryDirectory() as cache_dir:
        client = cmf.connect(endpoint, key, cache_dir=cache_dir, max_workers=args.workers)
        cold_s, frames = timed(toolkit_crawl, client, args.workers)
        sent = client.stats["sent"]
        warm_s, warm_frames = timed(toolkit_crawl, client, args.workers)
        second = cmf.connect(endpoint, key, cache_dir=cache_dir, max_workers=args.workers)
        sqlite_s, _ = timed(toolkit_crawl, second, args.workers)
        assert second.stats["sent"] == 0, "the warm SQLite crawl went to the server"
        in_memory = cmf.connect(endpoint, key, cache_backend="memory", max_workers=args.workers)
        memory_s, _ = timed(toolkit_crawl, in_memory, args.workers)
        for name in CRAWL:
            pd.testing.assert_frame_equal(frames[name], warm_frames[name])
    naive_s, (naive, naive_sent) = timed(naive_crawl, endpoint, key)
    floor_s, _ = timed(floor_crawl, endpoint, key, naive_sent, args.workers)
    ideal_s = sent * args.latency_ms / 1000 / args.workers
    rows = {name: len(f) for name, f in frames.items()}
    naive_rows = {name: len(f) for name, f in naive.items()}
    fb = frame_benchmark(args.rows, args.orgs)
    table = [
        ["cold crawl requests vs naive loop", f"{sent}", f"{len(naive_sent)}", sent / len(naive_sent),
         "<= 1.0"],
        ["cold crawl vs ideal bound", f"{cold_s:.2f} s", f"{ideal_s:.2f} s", cold_s / ideal_s, "<= 1.5"],
        [f"cold crawl vs machine floor ({args.latency_ms} ms)", f"{cold_s:.2f} s", f"{floor_s:.2f} s",
         cold_s / floor_s, "<= 1.25"],
        ["cold crawl, memory cache backend, vs ideal", f"{memory_s:.2f} s", f"{ideal_s:.2f} s",
         memory_s / ideal_s, "(report)"],
        ["machine floor vs ideal bound", f"{floor_s:.2f} s", f"{ideal_s:.2f} s", floor_s / ideal_s,
         "(report)"],
        ["naive sequential vs cold crawl", f"{naive_s:.2f} s", f"{cold_s:.2f} s", naive_s / cold_s, ">= 5"],
        ["warm crawl (same client) vs cold", f"{warm_s:.3f} s", f"{cold_s:.2f} s", warm_s / cold_s, "<= 0.1"],
        ["warm crawl (new client, SQLite) vs cold", f"{sqlite_s:.3f} s", f"{cold_s:.2f} s",
         sqlite_s / cold_s, "(report)"],
        [f"{fb['rows']:,}-row instance frame vs from_records", f"{fb['build_s']:.3f} s",
         f"{fb['from_records_s']:.3f} s", fb["build_s"] / fb["from_records_s"], "<= 3"],
        ["frame memory vs object columns", f"{fb['typed_mb']:.1f} MiB", f"{fb['object_mb']:.1f} MiB",
         fb["typed_mb"] / fb["object_mb"], "<= 0.5"],
    ]
    print(f"sandbox: {args.orgs} orgs, {args.latency_ms} ms latency per request, "
          f"{args.workers} workers, {os.cpu_count()} CPUs")
    print(f"toolkit requests sent (cold): {sent}; naive/floor requests: {len(naive_sent)}")
    print(f"rows: toolkit {json.dumps(rows)}; naive {json.dumps(naive_rows)}\n")
    return table, naive_sent


if __name__ == "__main__":
    main()
