"""Sharded snapshots on a real Dask cluster (a LocalCluster of worker processes) against the sandbox."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.snapshots import sharded
from cloudmc_frames.snapshots.crawl import ShardTask
from cloudmc_frames.snapshots.layout import parse_part_name, snapshot_id

distributed = pytest.importorskip("distributed")

ROW = ["snapshot_id", "snapshot_at", "fetched_at", "from_cache"]
COLLECTIONS = ["users", "environments", "instances", "volumes"]


@pytest.fixture(scope="module")
def dask_client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


def rows(root: Path, collection: str) -> pd.DataFrame:
    """A collection of the latest snapshot, without its per-snapshot columns, in a fixed order."""
    frame = cmf.load(root, collection).drop(columns=ROW)
    keys = [c for c in ("organization_id", "environment_id", "id") if c in frame]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def shards_of(snap) -> set[int]:
    return {parse_part_name(p.name)[1] for p in Path(snap.root).glob("*/*/*.parquet")
            if parse_part_name(p.name)[0] == snap.id}


def test_a_sharded_snapshot_holds_exactly_the_rows_of_a_single_process_one(sb, dask_client, tmp_path):
    single = cmf.snapshot(sb.client(), tmp_path / "one", collections=COLLECTIONS)
    sharded_snap = cmf.snapshot(sb.client(), tmp_path / "many", collections=COLLECTIONS, engine="dask",
                                dask_client=dask_client, shards=3)
    assert sharded_snap.complete and not sharded_snap.partial
    assert shards_of(sharded_snap) == {0, 1, 2, 3}  # the coordinator's tree, issues, coverage: 0
    assert 0 < single.requests <= sharded_snap.requests  # each worker also reads the tree once
    for name in ["organizations", *COLLECTIONS]:
        assert single.tables[name] == sharded_snap.tables[name] > 0, name
        pd.testing.assert_frame_equal(rows(tmp_path / "one", name), rows(tmp_path / "many", name))


def test_the_cluster_wide_cap_lets_one_shard_crawl_at_a_time(sb, dask_client, tmp_path):
    snap = cmf.snapshot(sb.client(), tmp_path / "h", collections=["users", "instances"], engine="dask",
                        dask_client=dask_client, shards=4, max_concurrent_shards=1)
    coverage = cmf.load(tmp_path / "h", "coverage")
    assert snap.complete and len(coverage)
    by_shard = []
    for org_ids in sharded.split(sorted(cmf.load(tmp_path / "h", "organizations")
                                        .query("deleted != True")["id"]), 4):
        times = coverage[coverage["organization_id"].isin(org_ids)]["fetched_at"]
        by_shard.append((times.min(), times.max()))
    by_shard.sort()
    assert all(earlier[1] <= later[0] for earlier, later in zip(by_shard, by_shard[1:], strict=False))


def test_a_worker_killed_mid_shard_is_replaced_and_no_row_is_lost_or_doubled(dask_client, tmp_path):
    with cmf.sandbox(orgs=20, seed=7, latency_ms=30) as slow:
        expected = cmf.snapshot(slow.client(), tmp_path / "one", collections=["instances"])
        result: dict = {}

        def take():
            result["snap"] = cmf.snapshot(slow.client(), tmp_path / "many", collections=["instances"],
                                          engine="dask", dask_client=dask_client, shards=2)

        thread = threading.Thread(target=take)
        thread.start()
        deadline = time.monotonic() + 30
        while not _busy(dask_client) and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = dask_client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)
        thread.join(120)
    snap = result["snap"]
    assert snap.complete and not snap.partial
    assert snap.tables["instances"] == expected.tables["instances"]
    pd.testing.assert_frame_equal(rows(tmp_path / "one", "instances"), rows(tmp_path / "many", "instances"))


def _busy(dask_client) -> bool:
    return any(dask_client.processing().values())


def test_a_shard_that_fails_for_good_leaves_its_organizations_in_coverage_and_issues(sb, dask_client,
                                                                                     tmp_path):
    client = sb.client()
    tree = cmf.organizations(client, include_deleted=True)
    bogus = pd.concat([tree.head(1).assign(id="no-such-org", path="gone/org")], ignore_index=True)
    task = _task(tmp_path, ("users", "instances"))
    results = sharded.crawl_sharded(client, task, bogus, dask_client=dask_client, shards=1)
    assert len(results) == 1 and results[0].parts == []
    coverage, issues = results[0].coverage, results[0].issues
    assert list(coverage["status"].astype(str)) == ["error", "error"]
    assert list(coverage["collection"]) == ["users", "instances"]
    assert list(coverage["entity"].astype(str)) == ["users", "environments"]
    assert set(issues["organization_id"]) == {"no-such-org"} and "no-such-org" in issues["message"].iloc[0]


def _task(root: Path, collections: tuple[str, ...]) -> ShardTask:
    stamp = pd.Timestamp.now(tz="UTC")
    return ShardTask(snapshot_id(stamp), stamp, str(root), collections, "e" * 16, {})


def test_an_unreachable_scheduler_gives_one_warning_and_the_snapshot_is_taken_here(sb, tmp_path, caplog,
                                                                                     monkeypatch):
    monkeypatch.setattr(sharded, "CONNECT_TIMEOUT", "1s")
    snap = cmf.snapshot(sb.client(), tmp_path / "h", collections=["users"], engine="dask",
                        dask_client="tcp://127.0.0.1:9")
    warnings = [r for r in caplog.records if "could not be reached" in r.getMessage()]
    assert snap.complete and snap.tables["users"] > 0 and len(warnings) == 1
    assert shards_of(snap) == {0, 1}


def test_the_key_reaches_workers_without_touching_their_disk_or_logs(sb, dask_client, tmp_path):
    cmf.snapshot(sb.client(), tmp_path / "h", collections=["users"], engine="dask", dask_client=dask_client)
    key = sb.api_key
    logs = [line for lines in dask_client.get_worker_logs().values() for _, line in lines]
    logs += [line for _, line in dask_client.get_scheduler_logs()]
    assert logs and not [line for line in logs if key in line]
    folders = dask_client.run(lambda dask_worker: dask_worker.local_directory)
    for folder in folders.values():
        for path in Path(folder).rglob("*"):
            assert not path.is_file() or key.encode() not in path.read_bytes(), path
    assert repr(sharded.Credential(key)) == "<api-key hidden>"


def test_split_is_stable_and_covers_every_organization_once():
    ids = [f"org-{n}" for n in range(50)]
    groups = sharded.split(ids, 4)
    assert sorted(i for g in groups for i in g) == sorted(ids) and len(groups) == 4
    assert sharded.split(list(reversed(ids)), 4) == [list(reversed(g)) for g in groups]


@pytest.mark.parametrize("kw, match", [({"engine": "spark"}, "engine must be one of"),
                                       ({"engine": "dask", "shards": 0}, "shards must be a positive integer"),
                                       ({"engine": "dask", "dask_client": 42}, "dask_client must be")],
                         ids=["engine", "shards", "client"])
def test_bad_engine_arguments_are_refused(sb, tmp_path, kw, match):
    with pytest.raises(cmf.ConfigError, match=match):
        cmf.snapshot(sb.client(), tmp_path / "h", collections=["users"], **kw)
