"""Snapshot benchmark: writing, loading and diffing against their pandas baselines, in one run.

Run:  python benchmarks/snapshots.py [--rows 100000] [--orgs 200] [--changes 0.01] [--repeat 3]

In one process, on one typed instance frame of ``--rows`` records (built from a sandbox scenario
generated here, so names, ids and offerings are realistic), each measured ``--repeat`` times
(best kept), side by side:

* write: ``write_parts`` + ``write_manifest`` (sort, per-row columns, field statistics, Parquet
  metadata, manifest) against ``DataFrame.to_parquet`` of the same frame; target <= 1.5;
* load: ``cmf.load`` of that snapshot against ``pd.read_parquet`` of the same file plus the
  dtype restoration (``snapshots.schema.restore``); target <= 1.5;
* diff: two snapshots, the second with ``--changes`` of the rows changed (80 %), removed (10 %)
  and added (10 %): ``cmf.diff`` on the files (DuckDB, coverage-aware) against a pandas
  ``merge(indicator=True)`` + per-column compare of the two frames already in memory; targets
  under 2 s and <= 0.5.

Only ratios measured in this run are targets; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

import cloudmc_frames as cmf
from cloudmc_frames.frames import build_frame, coverage_frame, issues_frame
from cloudmc_frames.ledger import Coverage
from cloudmc_frames.sandbox import generate_scenario
from cloudmc_frames.snapshots import layout, write_manifest, write_parts
from cloudmc_frames.snapshots.manifest import read_manifests
from cloudmc_frames.snapshots.schema import restore
from cloudmc_frames.snapshots.take import coverage_summary, stamp_rows


def instance_frame(rows: int, orgs: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``rows`` instances (typed, as ``cmf.instances`` returns them), the organizations, and one
    coverage row per environment read (all ``ok``)."""
    store = generate_scenario(orgs=orgs, seed=11, scale=40 * rows / 110_000)
    chunks, made, scopes = [], 0, []
    for env in store.environments.values():
        records = list(store.resources.get(env["id"], {}).get("instances", {}).values())[: rows - made]
        if not records:
            continue
        org, conn = store.orgs[env["organization"]["id"]], store.connections[env["serviceConnection"]["id"]]
        chunks.append(
            (
                {
                    "organization_id": org["id"],
                    "organization_name": org["name"],
                    "organization_path": org["entryPoint"],
                    "service_code": conn["serviceCode"],
                    "connection_type": conn["type"],
                    "environment_id": env["id"],
                    "environment_name": env["name"],
                },
                records,
            )
        )
        scopes.append(
            Coverage(
                1,
                "resources",
                org["id"],
                org["entryPoint"],
                env["name"],
                "instances",
                "ok",
                len(records),
                False,
                0.01,
                pd.Timestamp.now(tz="UTC").to_pydatetime(),
            )
        )
        made += len(records)
        if made >= rows:
            break
    orgs_frame = build_frame("organizations", [({}, list(store.orgs.values()))])
    orgs_frame["path"] = orgs_frame["entry_point"]
    coverage = coverage_frame(scopes)
    coverage.insert(0, "collection", pd.array(["instances"] * len(coverage), dtype="string"))
    return build_frame("instances", chunks, service=True), orgs_frame, coverage


def timed(fn, *args, repeat: int = 1, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def take(root: Path, frames: dict[str, pd.DataFrame], taken_at: pd.Timestamp) -> str:
    """One snapshot of ``frames`` written the way ``cmf.snapshot`` writes it (shard 0, then the manifest)."""
    sid = layout.snapshot_id(taken_at)
    stamped = {
        name: stamp_rows(frame, name, frames["coverage"], sid=sid, taken_at=taken_at)
        for name, frame in frames.items()
        if name not in ("coverage", "issues")
    }
    stamped["coverage"] = frames["coverage"].assign(
        snapshot_id=sid, snapshot_at=taken_at, fetched_at=frames["coverage"]["read_at"]
    )
    stamped["issues"] = issues_frame([]).assign(collection=pd.array([], dtype="string"))
    parts = write_parts(root, sid, frames=stamped, taken_at=taken_at)
    write_manifest(
        root,
        sid,
        parts=parts,
        taken_at=taken_at,
        endpoint_fingerprint="bench",
        credential_fingerprint="bench",
        organization_ids=list(frames["organizations"]["id"]),
        coverage=coverage_summary(frames["coverage"]),
    )
    return sid


def changed_copy(vms: pd.DataFrame, share: float, seed: int = 5) -> pd.DataFrame:
    """``vms`` with ``share`` of its rows touched: 80 % changed, 10 % removed, 10 % added."""
    rng = np.random.default_rng(seed)
    n = max(10, int(len(vms) * share))
    picked = rng.choice(len(vms), size=n, replace=False)
    change, drop, dup = picked[: n * 8 // 10], picked[n * 8 // 10 : n * 9 // 10], picked[n * 9 // 10 :]
    out = vms.copy()
    running = out["power_state"].to_numpy()[change] == "running"
    out.loc[change, "power_state"] = np.where(running, "stopped", "running")
    out.loc[change, "state"] = np.where(running, "Stopped", "Running")
    out.loc[change[::2], "vcpus"] = out.loc[change[::2], "vcpus"] + 2
    added = out.iloc[dup].copy()
    added["id"] = pd.array([f"new-{i}" for i in range(len(added))], dtype="string")
    return pd.concat([out.drop(index=drop), added], ignore_index=True)


def pandas_diff(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> tuple[int, int, int]:
    """The baseline: merge(indicator=True) on the key, then compare every shared column."""
    merged = a.merge(b, on=key, how="outer", suffixes=("_a", "_b"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    changed = 0
    for column in a.columns:
        if column in key:
            continue
        left = both[f"{column}_a"].to_numpy(dtype=object)
        right = both[f"{column}_b"].to_numpy(dtype=object)
        left_na, right_na = pd.isna(both[f"{column}_a"]).to_numpy(), pd.isna(both[f"{column}_b"]).to_numpy()
        present = ~left_na & ~right_na
        differs = left_na != right_na
        differs[present] = left[present] != right[present]
        changed += int(differs.sum())
    return (
        int((merged["_merge"] == "right_only").sum()),
        int((merged["_merge"] == "left_only").sum()),
        changed,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--changes", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("cloudmc_frames").setLevel(logging.ERROR)
    build_s, (vms, orgs, coverage) = timed(instance_frame, args.rows, args.orgs)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        frames = {"organizations": orgs, "instances": vms, "coverage": coverage}
        now = pd.Timestamp.now(tz="UTC")
        counter = iter(range(10_000))

        def write_snapshot():
            return take(work / f"w{next(counter)}", frames, now)

        def write_plain():
            vms.to_parquet(work / f"plain-{next(counter)}.parquet")

        write_s, _ = timed(write_snapshot, repeat=args.repeat)
        plain_s, _ = timed(write_plain, repeat=args.repeat)

        root = work / "history"
        first = take(root, frames, now - pd.Timedelta(days=1))
        file = next((root / "instances").rglob(f"{first}-*.parquet"))
        stored = read_manifests(root)[0].collections["instances"]["schema"]
        load_s, loaded = timed(cmf.load, root, "instances", at=first, repeat=args.repeat)
        read_s, _ = timed(lambda: restore(pd.read_parquet(file), stored), repeat=args.repeat)
        assert loaded[vms.columns].dtypes.astype(str).tolist() == vms.dtypes.astype(str).tolist()

        second_vms = changed_copy(vms, args.changes)
        take(root, {**frames, "instances": second_vms}, now)
        diff_s, d = timed(cmf.diff, root, "instances", repeat=args.repeat)
        key = ["environment_id", "id"]
        base_s, base = timed(pandas_diff, vms, second_vms, key, repeat=args.repeat)
    table = [
        [
            f"write a {len(vms):,}-instance snapshot vs to_parquet",
            f"{write_s:.3f} s",
            f"{plain_s:.3f} s",
            write_s / plain_s,
            "<= 1.5",
        ],
        [
            "cmf.load vs read_parquet + dtype restoration",
            f"{load_s:.3f} s",
            f"{read_s:.3f} s",
            load_s / read_s,
            "<= 1.5",
        ],
        [
            f"diff two {len(vms):,}-row snapshots ({args.changes:.0%} changed), DuckDB on files",
            f"{diff_s:.3f} s",
            "2 s",
            diff_s / 2.0,
            "< 1 (under 2 s)",
        ],
        [
            "diff vs pandas merge(indicator=True) + compare (frames in memory)",
            f"{diff_s:.3f} s",
            f"{base_s:.3f} s",
            diff_s / base_s,
            "<= 0.5",
        ],
    ]
    print(
        f"{len(vms):,} instances x {vms.shape[1]} columns (frame built in {build_s:.1f} s); "
        f"{os.cpu_count()} CPUs; best of {args.repeat}"
    )
    print(
        f"diff found: {len(d.added)} added, {len(d.removed)} removed, {d.changed_rows} changed rows "
        f"({len(d.changed)} values), {len(d.not_covered)} not covered; baseline: {base[0]} added, "
        f"{base[1]} removed\n"
    )
    print(
        tabulate(
            table,
            headers=["measure", "value", "against", "ratio", "target"],
            floatfmt=".3f",
            tablefmt="github",
        )
    )


if __name__ == "__main__":
    main()
