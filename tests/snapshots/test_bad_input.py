"""Bad input and faults around snapshots: each refused before harm, or read around, with a clear error."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.errors import ConfigError, SnapshotError
from cloudmc_frames.snapshots import layout, write_manifest, write_parts, writer

SMALL = ["users", "instances"]


def test_a_root_that_is_not_writable_is_refused_before_crawling(sb, client, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    sent = len(sb.requests)
    with pytest.raises(ConfigError, match="not writable"):
        cmf.snapshot(client, blocked / "history", collections=SMALL)
    if os.geteuid() != 0:  # root may write anywhere: a read-only folder proves nothing there
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o500)
        with pytest.raises(ConfigError, match="not writable"):
            cmf.snapshot(client, readonly, collections=SMALL)
    assert len(sb.requests) == sent  # nothing was read


def test_a_crash_before_the_manifest_leaves_an_incomplete_snapshot(client, tmp_path, monkeypatch):
    good = cmf.snapshot(client, tmp_path, collections=SMALL)

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    with monkeypatch.context() as patch:
        patch.setattr(writer, "write_manifest_file", crash)
        with pytest.raises(OSError, match="disk full"):
            cmf.snapshot(client, tmp_path, collections=SMALL)
    listed = cmf.snapshots(tmp_path)
    assert listed["snapshot_id"].tolist() == [good.id]
    everything = cmf.snapshots(tmp_path, include_incomplete=True)
    assert everything["complete"].tolist() == [True, False]
    crashed = everything["snapshot_id"].iloc[1]
    assert cmf.load(tmp_path, "instances")["snapshot_id"].eq(good.id).all()  # latest = last complete
    with pytest.raises(SnapshotError, match="incomplete"):
        cmf.load(tmp_path, "instances", at=crashed)
    assert cmf.query(tmp_path, "SELECT DISTINCT snapshot_id FROM instances")["snapshot_id"].tolist() == [
        good.id
    ]
    cleaned = cmf.snapshot(client, tmp_path, collections=SMALL, clean_incomplete=True)
    everything = cmf.snapshots(tmp_path, include_incomplete=True)
    assert everything["snapshot_id"].tolist() == [good.id, cleaned.id]
    assert not list(tmp_path.rglob(f"{crashed}*"))


def test_two_snapshots_in_the_same_second_never_share_a_file(client, tmp_path):
    when = pd.Timestamp("2026-11-30 12:00:00", tz="UTC")
    first = cmf.snapshot(client, tmp_path, collections=SMALL, taken_at=when)
    second = cmf.snapshot(client, tmp_path, collections=SMALL, taken_at=when)
    assert first.id != second.id and first.taken_at == second.taken_at
    for snap in (first, second):
        assert cmf.load(tmp_path, "users", at=snap.id)["snapshot_id"].eq(snap.id).all()
    files = list((tmp_path / "users").rglob("*.parquet"))
    assert len(files) == 2 and len({f.name for f in files}) == 2
    assert cmf.snapshots(tmp_path)["snapshot_id"].tolist() == sorted([first.id, second.id])


def test_a_root_of_another_key_is_refused_and_never_mixed(sb, client, tmp_path):
    cmf.snapshot(client, tmp_path, collections=SMALL)
    other_user = next(
        k
        for k in sb.keys
        if k.org_id != sb.store.root_id and k.role == "Administrator" and k.status == "ACTIVE"
    )
    with sb.client(other_user, progress=False) as other:
        sent = len(sb.requests)
        with pytest.raises(ConfigError, match="another endpoint or API key"):
            cmf.snapshot(other, tmp_path, collections=SMALL)
        assert len(sb.requests) == sent
        apart = tmp_path / "theirs"
        theirs = cmf.snapshot(other, apart, collections=SMALL)
    # a manifest copied over from the other root: listed apart by fingerprint, never diffed
    (tmp_path / layout.MANIFESTS / f"{theirs.id}.json").write_text(
        (apart / layout.MANIFESTS / f"{theirs.id}.json").read_text()
    )
    for folder in ("users", "instances", "coverage", "issues", "organizations"):
        for path in (apart / folder).rglob("*.parquet"):
            target = tmp_path / path.relative_to(apart)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    listed = cmf.snapshots(tmp_path)
    assert listed["credential_fingerprint"].nunique() == 2
    with pytest.raises(SnapshotError, match="endpoints or keys"):
        cmf.diff(tmp_path, "instances")
    with pytest.raises(SnapshotError, match="different endpoints or API keys"):
        cmf.diff(tmp_path, "instances", a=listed["snapshot_id"].iloc[0], b=listed["snapshot_id"].iloc[1])


def test_a_damaged_file_names_itself_and_other_snapshots_still_load(client, tmp_path):
    first = cmf.snapshot(client, tmp_path, collections=SMALL)
    second = cmf.snapshot(client, tmp_path, collections=SMALL)
    damaged = next((tmp_path / "instances").rglob(f"{second.id}-*.parquet"))
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    with pytest.raises(SnapshotError, match=damaged.name):
        cmf.load(tmp_path, "instances", at=second.id)
    assert len(cmf.load(tmp_path, "instances", at=first.id)) == first.tables["instances"]
    assert len(cmf.load(tmp_path, "users", at=second.id)) == second.tables["users"]
    with pytest.raises(SnapshotError, match="cannot be read"):
        cmf.query(tmp_path, "SELECT count(*) FROM instances")
    with pytest.raises(SnapshotError):
        cmf.diff(tmp_path, "instances")


def test_a_collection_missing_from_the_older_snapshot_is_named(client, tmp_path):
    cmf.snapshot(client, tmp_path, collections=["users"])
    cmf.snapshot(client, tmp_path, collections=["users", "volumes"])
    with pytest.raises(ConfigError, match=r"'volumes' is not in snapshot .* taken before it was collected"):
        cmf.diff(tmp_path, "volumes")
    report = cmf.reports.drift(tmp_path)
    assert any(n.startswith("volumes: not compared") for n in report.notes)
    assert any(n.startswith("instances: not compared") for n in report.notes)


def test_at_naming_nothing_lists_what_exists(client, tmp_path):
    snap = cmf.snapshot(client, tmp_path, collections=SMALL, label="only")
    for at in ("2001-01-01", "previous", "20991231T000000.000000Z-abcd", "yesterday-ish", 42):
        with pytest.raises(ConfigError, match=snap.id):
            cmf.load(tmp_path, "users", at=at)
    assert cmf.load(tmp_path, "users", at=snap.taken_at.strftime("%Y-%m-%d")).shape[0] == snap.tables["users"]
    with pytest.raises(ConfigError, match="has no collection 'volumes'"):
        cmf.load(tmp_path, "volumes")
    with pytest.raises(ConfigError, match="not a folder"):
        cmf.snapshots(tmp_path / "missing")
    with pytest.raises(ConfigError, match="unknown collection"):
        cmf.snapshot(client, tmp_path, collections=["bogus"])
    with pytest.raises(ConfigError, match="columns"):
        cmf.load(tmp_path, "users", columns=["nope"])


def test_load_filters_organizations_and_columns(client, tmp_path):
    cmf.snapshot(client, tmp_path, collections=SMALL)
    every = cmf.load(tmp_path, "instances")
    path = every["organization_path"].iloc[0]
    parent = path.rsplit("/", 1)[0] if "/" in path else path
    some = cmf.load(tmp_path, "instances", orgs=parent + "/*", columns=["id", "vcpus"])
    assert list(some.columns) == ["id", "vcpus"] and some["vcpus"].dtype == "Int64"
    expected = every[every["organization_path"].str.startswith(parent + "/")]
    assert sorted(some["id"]) == sorted(expected["id"])
    one = cmf.load(tmp_path, "instances", orgs=[every["organization_id"].iloc[0]])
    assert set(one["organization_id"]) == {every["organization_id"].iloc[0]}


# -- the seam for sharded writers (a later Dask crawl): one process per shard, one manifest --------


def _write_shard(root: str, sid: str, shard: int, frame: pd.DataFrame, taken_at: pd.Timestamp):
    return write_parts(root, sid, frames={"instances": frame}, taken_at=taken_at, shard=shard)


def test_shards_written_by_separate_processes_make_one_snapshot(client, tmp_path):
    vms = cmf.instances(client)
    taken_at = pd.Timestamp.now(tz="UTC")
    sid = layout.snapshot_id(taken_at)
    shard_of = vms["organization_id"].astype(object).map(lambda org: int(org[-1], 16) % 2)
    halves = [vms[(shard_of == n).to_numpy()].reset_index(drop=True) for n in (0, 1)]
    with ProcessPoolExecutor(2) as pool:
        written = list(pool.map(_write_shard, [str(tmp_path)] * 2, [sid] * 2, [0, 1], halves, [taken_at] * 2))
    parts = [p for shard in written for p in shard]
    assert cmf.snapshots(tmp_path, include_incomplete=True)["complete"].tolist() == [False]
    names = sorted(f for p in parts for f in p.files)
    assert [layout.parse_part_name(n.rsplit("/", 1)[1])[1] for n in names] == [0, 1]
    write_manifest(
        tmp_path,
        sid,
        parts=parts,
        taken_at=taken_at,
        endpoint_fingerprint="e",
        credential_fingerprint=client.fingerprint,
    )
    listed = cmf.snapshots(tmp_path)
    assert listed["rows_instances"].tolist() == [len(vms)] and listed["complete"].all()
    back = cmf.load(tmp_path, "instances", at=sid)
    assert sorted(back["id"]) == sorted(vms["id"])
    assert back[vms.columns].dtypes.astype(str).tolist() == vms.dtypes.astype(str).tolist()
    with pytest.raises(SnapshotError, match="already has a manifest"):
        write_manifest(
            tmp_path,
            sid,
            parts=parts,
            taken_at=taken_at,
            endpoint_fingerprint="e",
            credential_fingerprint=client.fingerprint,
        )
