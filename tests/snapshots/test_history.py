"""Snapshots of a real sandbox over HTTP: the diff is exactly what changed, a failed scope is
``not_covered`` (never removed), DuckDB and pyarrow.dataset read the files, ``load`` restores
every collection's dtypes, and the DuckDB and pandas engines agree."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule

from .conftest import add_user, detached_data_volume, running_instances

COLLECTIONS = [
    "users",
    "environments",
    "environment_members",
    "quotas",
    "instances",
    "volumes",
    "snapshots",
    "activity_log",
]


@pytest.fixture(scope="module")
def history(sb, tmp_path_factory):
    """Two snapshots around known operations: two instances stopped, one volume deleted, one user added."""
    root = tmp_path_factory.mktemp("history")
    with sb.client(progress=False) as client:
        first = cmf.snapshot(client, root, label="before", collections=COLLECTIONS)
        stopped = running_instances(sb, 2)
        for org, code, env, vm in stopped:
            cmf.operate(client, code, env, "instances", vm, "stop", org_id=org).wait(timeout=30, interval=0.1)
        org, code, env, volume = detached_data_volume(sb)
        cmf.delete(client, code, env, "volumes", volume, org_id=org).wait(timeout=30, interval=0.1)
        user_org = sb.store.root_id
        user = add_user(client, sb, user_org, "snapshot-newcomer")
        second = cmf.snapshot(client, root, label="after", collections=COLLECTIONS, fresh=True)
    return {
        "root": root,
        "first": first,
        "second": second,
        "stopped": {v[3] for v in stopped},
        "volume": volume,
        "user": user,
        "user_org": user_org,
    }


def test_snapshots_are_listed_with_their_facts(history):
    listed = cmf.snapshots(history["root"])
    assert listed["snapshot_id"].tolist() == [history["first"].id, history["second"].id]
    assert listed["label"].tolist() == ["before", "after"]
    assert listed["complete"].all() and not listed["partial"].any()
    assert listed["rows_instances"].tolist() == [history["first"].tables["instances"]] * 2
    assert str(listed["taken_at"].dtype) == "datetime64[ns, UTC]"
    assert history["first"].complete and not history["first"].partial


def test_the_diff_is_exactly_the_operations(history):
    root = history["root"]
    vms = cmf.diff(root, "instances")
    assert vms.engine == "duckdb" and vms.a == history["first"].id and vms.b == history["second"].id
    assert vms.added.empty and vms.removed.empty and vms.not_covered.empty
    assert set(vms.changed["id"]) == history["stopped"]
    assert set(vms.changed["column"]) == {"state", "power_state", "is_running"}
    power = vms.changed[vms.changed["column"] == "power_state"]
    assert set(zip(power["old"], power["new"], strict=False)) == {("running", "stopped")}
    assert vms.unchanged == history["first"].tables["instances"] - 2

    vols = cmf.diff(root, "volumes")
    assert vols.removed["id"].tolist() == [history["volume"]]
    assert vols.added.empty and vols.changed.empty and vols.not_covered.empty

    users = cmf.diff(root, "users")
    assert users.added["id"].tolist() == [history["user"]]
    assert users.added["tfa_enabled"].tolist() == [False]
    assert users.removed.empty and users.changed.empty

    orgs = cmf.diff(root, "organizations")  # the organization lists its users
    assert set(orgs.changed["id"]) == {history["user_org"]} and set(orgs.changed["column"]) == {"users"}
    for name in ("environments", "environment_members", "quotas", "snapshots"):
        same = cmf.diff(root, name)
        assert same.added.empty and same.removed.empty and same.changed.empty, name
        assert same.unchanged == history["first"].tables[name], name


def test_summary_counts_per_organization(history):
    vms = cmf.diff(history["root"], "instances")
    summary = vms.summary
    assert list(summary.columns) == [
        "collection",
        "organization_id",
        "organization_path",
        "added",
        "removed",
        "changed",
        "unchanged",
        "not_covered",
    ]
    assert int(summary["changed"].sum()) == 2
    assert int(summary[["changed", "unchanged"]].sum().sum()) == history["first"].tables["instances"]
    assert summary["organization_path"].notna().all()


def test_duckdb_and_pandas_engines_agree(history):
    root = history["root"]
    for name, _columns in (("instances", None), ("volumes", None), ("users", None)):
        on_files = cmf.diff(root, name)
        a = cmf.load(root, name, at="previous")
        b = cmf.load(root, name, at="latest")
        context = {k: cmf.load(root, k, at="latest") for k in ("coverage", "issues", "organizations")}
        in_memory = cmf.diff(
            a,
            b,
            collection=name,
            coverage_b=context["coverage"],
            issues_b=context["issues"],
            organizations_b=context["organizations"],
        )
        assert in_memory.engine == "pandas"
        pd.testing.assert_frame_equal(on_files.changed, in_memory.changed)
        pd.testing.assert_frame_equal(on_files.added, in_memory.added)
        pd.testing.assert_frame_equal(on_files.removed, in_memory.removed)
        assert on_files.unchanged == in_memory.unchanged
        pd.testing.assert_frame_equal(on_files.summary, in_memory.summary)


def test_load_gives_the_live_accessors_dtypes_for_every_collection(sb, history):
    root, second = history["root"], history["second"]
    with sb.client(progress=False) as client:
        live = {"organizations": cmf.organizations(client, include_deleted=True)}
        live.update(
            {
                name: (cmf.resources(client, name) if name == "snapshots" else getattr(cmf, name)(client))
                for name in COLLECTIONS
            }
        )
    for name, frame in live.items():
        loaded = cmf.load(root, name, at=second.id)
        assert list(loaded.columns[: frame.shape[1]]) == list(frame.columns), name
        assert list(loaded.columns[frame.shape[1] :]) == [
            "snapshot_id",
            "snapshot_at",
            "fetched_at",
            "from_cache",
        ], (name, list(frame.columns)[-3:])
        assert (
            loaded.dtypes.iloc[: frame.shape[1]].astype(str).tolist() == frame.dtypes.astype(str).tolist()
        ), name
        assert len(loaded) == len(frame), name
        if name in ("activity_log",):
            continue  # the activity log grew by the operations since the snapshot
        key = ["id"] if name != "quotas" else ["organization_id", "quota_id", "detail_id"]
        left = loaded[frame.columns].sort_values(key).reset_index(drop=True)
        right = frame.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=name)
    assert loaded["snapshot_id"].eq(second.id).all()
    assert loaded["fetched_at"].notna().all() and loaded["from_cache"].notna().all()


def test_rows_say_when_they_were_fetched_and_from_the_cache(sb, tmp_path):
    with sb.client(progress=False) as client:
        cold = cmf.snapshot(client, tmp_path, collections=["instances"])
        warm = cmf.snapshot(client, tmp_path, collections=["instances"])
    first = cmf.load(tmp_path, "instances", at=cold.id)
    second = cmf.load(tmp_path, "instances", at=warm.id)
    assert not first["from_cache"].any() and second["from_cache"].all()
    assert (first["fetched_at"] <= second["snapshot_at"]).all()
    assert (first["fetched_at"] >= first["snapshot_at"]).all()


def test_a_failed_organization_is_not_covered_not_removed(sb, tmp_path):
    with sb.client(progress=False) as client:
        before = cmf.snapshot(client, tmp_path, collections=["users", "instances"])
        vms = cmf.load(tmp_path, "instances")
        org = vms["organization_id"].value_counts().index[0]
        users_org = cmf.load(tmp_path, "users")["organization_id"].iloc[0]
        sb.faults.add(FaultRule("status", path="/services/*", org_id=org, status=403))
        sb.faults.add(FaultRule("status", path="/users", org_id=users_org, status=503))
        try:
            after = cmf.snapshot(client, tmp_path, collections=["users", "instances"], fresh=True)
        finally:
            sb.faults.clear()
    assert after.partial and not before.partial and len(after.issues) > 0
    d = cmf.diff(tmp_path, "instances")
    expected = vms[vms["organization_id"] == org]
    assert d.removed.empty and d.changed.empty
    assert sorted(d.not_covered["id"]) == sorted(expected["id"])
    assert d.not_covered["reason"].str.startswith("forbidden").all()
    row = d.summary.set_index("organization_id").loc[org]
    assert row["not_covered"] == len(expected) and row["removed"] == 0
    users = cmf.diff(tmp_path, "users")
    assert users.removed.empty and len(users.not_covered) > 0
    assert users.not_covered["reason"].str.contains("error").all()
    listed = cmf.snapshots(tmp_path)
    assert listed["partial"].tolist() == [False, True]


def test_an_organization_outside_the_selection_is_not_covered(sb, tmp_path):
    with sb.client(progress=False) as client:
        cmf.snapshot(client, tmp_path, collections=["instances"])
        vms = cmf.load(tmp_path, "instances")
        keep = vms["organization_path"].iloc[0]
        cmf.snapshot(client, tmp_path, collections=["instances"], orgs=[keep])
    d = cmf.diff(tmp_path, "instances")
    assert d.removed.empty
    assert len(d.not_covered) == int((vms["organization_path"] != keep).sum())
    assert (d.not_covered["reason"] == "organization not selected in this snapshot (orgs=)").all()


def test_duckdb_reads_the_dataset_with_a_date_partition(history):
    root = history["root"]
    glob = str(root / "instances" / "*" / "*.parquet")
    con = duckdb.connect()
    rel = con.sql(
        f"SELECT * FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true, "
        "hive_types = {'snapshot_date': DATE})"
    )
    types = dict(zip(rel.columns, map(str, rel.types), strict=False))
    assert types["snapshot_date"] == "DATE"
    counts = con.sql(
        f"SELECT snapshot_id, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [n for _, n in counts] == [history["first"].tables["instances"]] * 2
    through_query = cmf.query(root, "SELECT snapshot_date, count(*) AS n FROM instances GROUP BY 1")
    assert through_query["n"].sum() == 2 * history["first"].tables["instances"]
    assert isinstance(through_query["snapshot_date"].iloc[0], dt.date | pd.Timestamp)
    listed = cmf.query(root, "SELECT snapshot_id, label FROM manifests ORDER BY 1")
    assert listed["label"].tolist() == ["before", "after"]


def test_pyarrow_dataset_reads_the_dataset_with_a_date_partition(history):
    root = history["root"]
    partitioning = ds.partitioning(pa.schema([("snapshot_date", pa.date32())]), flavor="hive")
    dataset = ds.dataset(root / "volumes", format="parquet", partitioning=partitioning)
    assert dataset.schema.field("snapshot_date").type == pa.date32()
    table = dataset.to_table(columns=["snapshot_id", "snapshot_date", "size_gib"])
    assert table.num_rows == history["first"].tables["volumes"] + history["second"].tables["volumes"]
    assert set(table.column("snapshot_date").to_pylist()) == {history["second"].taken_at.date()}
    # the files keep the Parquet metadata of the toolkit
    meta = ds.dataset(root / "volumes", format="parquet").schema.metadata
    assert b"cloudmc_frames" in meta and b"snapshot_id" in meta[b"cloudmc_frames"]


def test_rows_are_sorted_by_organization_environment_and_id(history):
    import pyarrow.parquet as pq

    files = sorted((history["root"] / "instances").rglob("*.parquet"))
    table = pq.read_table(files[0], columns=["organization_id", "environment_id", "id"]).to_pandas()
    assert table.equals(table.sort_values(["organization_id", "environment_id", "id"]).reset_index(drop=True))


def test_drift_report_states_what_changed_and_what_was_not_read(history):
    report = cmf.reports.drift(history["root"])
    counts = dict(zip(report.summary["section"], report.summary["count"], strict=False))
    assert counts["state changes"] == 2 and counts["volumes removed"] == 1
    assert counts["new users without 2FA"] == 1 and counts["not covered"] == 0
    assert counts["instances added"] == counts["instances removed"] == 0
    assert report.summary["section"].iloc[0] == "not covered"
    assert report.complete and report.notes[0].startswith("Every scope")
    text = report.to_text()
    assert "snapshot-newcomer" in text and "state changes" in text
    for render in (report.to_markdown, report.to_html, report.to_csv, report.to_json):
        assert "state changes" in render()
