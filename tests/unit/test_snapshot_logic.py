"""The decisions behind snapshots, without sockets: ids and paths, the manifest, which scopes a
snapshot read, the pandas diff, and schema drift classification."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

from cloudmc_frames.errors import ConfigError
from cloudmc_frames.jsonarray import JsonDtype
from cloudmc_frames.snapshots import diff, layout
from cloudmc_frames.snapshots.drift import classify, warn_live
from cloudmc_frames.snapshots.manifest import Manifest, read_manifests, write_manifest_file
from cloudmc_frames.snapshots.schema import field_stats, restore, schema_of
from cloudmc_frames.snapshots.scopes import GONE, verdicts


def test_snapshot_ids_sort_by_time_and_never_repeat():
    when = pd.Timestamp("2026-12-01 14:55:01.000001", tz="UTC")
    ids = {layout.snapshot_id(when) for _ in range(200)}
    assert len(ids) == 200 and all(layout.is_snapshot_id(i) and ":" not in i for i in ids)
    later = layout.snapshot_id(when + pd.Timedelta(microseconds=1), token="0000")
    assert all(i < later for i in ids)
    assert layout.taken_at_of(later) == when + pd.Timedelta(microseconds=1)
    assert layout.parse_part_name(layout.part_name(later, shard=12, part=3)) == (later, 12, 3)
    assert layout.parse_part_name("notes.parquet") is None
    path = layout.partition_dir("root", "instances", when)
    assert path.as_posix() == "root/instances/snapshot_date=2026-12-01"
    with pytest.raises(ValueError):
        layout.partition_dir("root", "../etc", when)


def test_manifest_is_written_once_and_damaged_ones_are_skipped(tmp_path, caplog):
    sid = layout.snapshot_id(pd.Timestamp.now(tz="UTC"))
    m = Manifest(
        snapshot_id=sid,
        taken_at="2026-12-01T00:00:00+00:00",
        endpoint_fingerprint="e",
        credential_fingerprint="c",
        collections={"users": {"rows": 3, "schema": {"b": "string", "a": "Int64"}}},
    )
    write_manifest_file(tmp_path, m)
    assert read_manifests(tmp_path) == [m]
    assert list(read_manifests(tmp_path)[0].collections["users"]["schema"]) == ["b", "a"]  # order kept
    assert not list((tmp_path / layout.MANIFESTS).glob(".*"))  # no temporary file left
    with pytest.raises(Exception, match="already has a manifest"):
        write_manifest_file(tmp_path, m)
    (tmp_path / layout.MANIFESTS / "20261201T000000.000000Z-dead.json").write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
        assert [x.snapshot_id for x in read_manifests(tmp_path)] == [sid]
    assert "unreadable" in caplog.text


COV = pd.DataFrame(
    {
        "collection": ["instances"] * 4 + ["users"],
        "organization_id": ["o1", "o1", "o2", "o3", "o1"],
        "environment": [None, "prod", None, None, None],
        "entity": ["environments", "instances", "environments", "environments", "users"],
        "status": ["ok", "ok", "ok", "forbidden", "error"],
    }
)
ISSUES = pd.DataFrame(
    {
        "organization_id": ["o3", "o1"],
        "environment": [None, None],
        "message": ["no access to this organization", "HTML page from a proxy"],
    }
)
TREE = pd.DataFrame({"id": ["o1", "o2", "o3", "o4", "o5"], "deleted": [False, False, False, True, False]})


@pytest.mark.parametrize(
    "org, env, expected",
    [
        ("o1", "prod", None),  # its scope was read
        ("o2", "dev", None),  # environment gone, org's list read
        ("o3", "prod", "environments unreadable: forbidden: no access to this organization"),
        ("o4", "prod", GONE),  # organization deleted
        ("o6", "prod", GONE),  # organization gone from the tree
        ("o5", "prod", "organization not selected in this snapshot (orgs=)"),
    ],
    ids=["read", "env-gone", "env-list-failed", "org-deleted", "org-gone", "not-selected"],
)
def test_scope_verdicts_for_resources(org, env, expected):
    rows = pd.DataFrame({"organization_id": [org], "environment_name": [env]})
    got = verdicts(rows, "instances", coverage=COV, issues=ISSUES, tree=TREE, selected=["o1", "o2", "o3"])
    assert got.tolist() == [expected]


def test_scope_verdicts_for_organization_collections():
    rows = pd.DataFrame({"organization_id": ["o1", "o2"]})
    got = verdicts(rows, "users", coverage=COV, issues=ISSUES, tree=TREE, selected=["o1"])
    assert got.tolist() == [
        "error: HTML page from a proxy",
        "organization not selected in this snapshot (orgs=)",
    ]
    assert (
        verdicts(rows, "users", coverage=None, issues=None, tree=None, selected=None)
        .str.contains("no coverage")
        .all()
    )


def frame(rows, **kinds):
    out = pd.DataFrame(rows)
    return out.astype(dict(kinds.items())) if kinds else out


A = pd.DataFrame(
    {
        "organization_id": pd.array(["o1", "o1", "o2"], dtype="string"),
        "environment_id": pd.array(["e1", "e1", "e2"], dtype="string"),
        "id": pd.array(["a", "b", "c"], dtype="string"),
        "vcpus": pd.array([2, 4, None], dtype="Int64"),
        "memory_gib": pd.array([1.0, 2.0, 3.0], dtype="Float64"),
        "tags": pd.Series([{"x": 1, "y": 2}, None, [1]], dtype="json"),
        "seen": pd.array(["t1", "t1", "t1"], dtype="string"),
    }
)


def test_pandas_diff_with_tolerance_ignore_and_json():
    b = A.copy()
    b["memory_gib"] = pd.array([1.005, 2.5, 3.0], dtype="Float64")
    b["vcpus"] = pd.array([2, 4, 8], dtype="Int64")  # NA -> 8 is a change
    b["tags"] = pd.Series([{"y": 2, "x": 1}, None, [1, 2]], dtype="json")  # key order is not a change
    b["seen"] = pd.array(["t2"] * 3, dtype="string")
    b = pd.concat([b.iloc[1:], b.iloc[:0]]).reset_index(drop=True)  # row "a" missing from b
    new = A.iloc[:1].assign(id=pd.array(["z"], dtype="string"))
    b = pd.concat([b, new], ignore_index=True)
    d = diff(A, b, collection="instances", ignore=["se*"], tolerance={"memory_gib": 0.01})
    assert d.added["id"].tolist() == ["z"]
    assert d.not_covered["id"].tolist() == ["a"] and d.removed.empty  # no coverage: not covered
    got = set(zip(d.changed["id"], d.changed["column"], d.changed["old"], d.changed["new"], strict=False))
    assert got == {
        ("b", "memory_gib", "2.0", "2.5"),
        ("c", "vcpus", pd.NA, "8"),
        ("c", "tags", "[1]", "[1,2]"),
    }
    assert d.unchanged == 0
    cov = pd.DataFrame(
        {
            "collection": ["instances"],
            "organization_id": ["o1"],
            "environment": [None],
            "entity": ["environments"],
            "status": ["ok"],
        }
    )
    covered = diff(
        A,
        b,
        collection="instances",
        coverage_b=cov,
        ignore=["seen"],
        organizations_b=TREE,
        tolerance={"memory_gib": 0.6},
    )
    assert covered.removed["id"].tolist() == ["a"] and covered.not_covered.empty
    assert ("b", "memory_gib") not in set(zip(covered.changed["id"], covered.changed["column"], strict=False))
    assert covered.summary.set_index("organization_id").loc["o1", "removed"] == 1


def test_diff_refuses_bad_keys_and_tolerances():
    with pytest.raises(ConfigError, match="does not identify rows"):
        diff(A, pd.concat([A, A]), collection="instances")
    with pytest.raises(ConfigError, match="not columns"):
        diff(A, A, collection="instances", key=["nope"])
    with pytest.raises(ConfigError, match="numeric"):
        diff(A, A, collection="instances", tolerance={"tags": 1})
    with pytest.raises(ConfigError, match="two frames"):
        diff(A, "instances")


def test_restore_gives_back_every_kind():
    schema = schema_of(
        A.assign(power_state=pd.Categorical(["running"] * 3, categories=["running", "stopped"]))
    )
    plain = pd.DataFrame(
        {
            "organization_id": ["o1"] * 3,
            "environment_id": ["e"] * 3,
            "id": ["a", "b", "c"],
            "vcpus": [2.0, None, 1.0],
            "memory_gib": [1.0, 2.0, None],
            "tags": ['{"x":1}', None, "[1]"],
            "seen": ["s"] * 3,
            "power_state": ["running"] * 3,
        }
    )
    back = restore(plain, schema)
    assert back.dtypes.astype(str).tolist() == ["string"] * 3 + [
        "Int64",
        "Float64",
        "json",
        "string",
        "category",
    ]
    assert isinstance(back["tags"].dtype, JsonDtype) and back["tags"][0] == {"x": 1}
    assert back["power_state"].cat.categories.tolist()[:2] == ["running", "starting"]  # the fixed vocabulary


def entry(columns, present, rows=2, values=None, provider=""):
    return {
        "schema": columns,
        "stats": {provider: {"rows": rows, "present": present, "values": values or {}}},
    }


@pytest.mark.parametrize(
    "before, after, covered, expected",
    [
        (
            entry({"id": "string"}, {"id": 2}),
            entry({"id": "string", "zone": "string"}, {"id": 2, "zone": 1}),
            True,
            [("zone", "added", "info")],
        ),
        (
            entry({"id": "string", "hostname": "string"}, {"id": 2, "hostname": 2}),
            entry({"id": "string", "hostname": "string"}, {"id": 2, "hostname": 0}),
            True,
            [("hostname", "removed", "warn")],
        ),
        (
            entry({"id": "string", "hostname": "string"}, {"id": 2, "hostname": 2}),
            entry({"id": "string", "hostname": "string"}, {"id": 2, "hostname": 0}),
            False,
            [],
        ),
        (
            entry({"id": "string", "hostname": "string"}, {"id": 2, "hostname": 2}),
            entry({"id": "string", "hostname": "string"}, {}, rows=0),
            True,
            [],
        ),
        (
            entry({"id": "string", "cpu_count": "Int64"}, {"id": 2}),
            entry({"id": "string", "cpu_count": "string"}, {"id": 2}),
            True,
            [("cpu_count", "type_changed", "error")],
        ),
        (
            entry({"state": "string"}, {"state": 2}, values={"state": {"Running": 2}}),
            entry(
                {"state": "string"},
                {"state": 2},
                values={"state": {"Running": 1, "Migrating": 1, "Hibernating": 1}},
            ),
            True,
            [("state", "new_value", "warn"), ("state", "new_value", "info")],
        ),
    ],
    ids=["added", "removed", "removed-not-covered", "provider-gone", "type", "new-state"],
)
def test_drift_classification(before, after, covered, expected):
    rows = classify("instances", before, after, snapshot_id="s2", covered=covered)
    assert [(r["field"], r["change"], r["severity"]) for r in rows] == expected
    if expected and expected[0][1] == "new_value":
        assert [r["new"] for r in rows] == ["Hibernating", "Migrating"]


def test_live_drift_warns_once_per_field_per_session(caplog):
    vms = pd.DataFrame(
        {"organization_id": pd.array(["o"], dtype="string"), "brand_new": pd.array([1], dtype="Int64")}
    )
    with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
        first = warn_live({"instances": vms}, None)
        warn_live({"instances": vms}, None)
    assert ("brand_new", "added") in set(zip(first["field"], first["change"], strict=False))
    assert caplog.text.count("'brand_new' is new") == 1


def test_field_stats_count_per_provider():
    vms = pd.DataFrame(
        {
            "connection_type": ["gcp", "cloudstack", "gcp"],
            "state": ["RUNNING", "Running", None],
            "zone": [None, "z", None],
        }
    )
    stats = field_stats(vms)
    assert stats["gcp"]["rows"] == 2 and stats["gcp"]["present"]["zone"] == 0
    assert stats["gcp"]["values"]["state"] == {"RUNNING": 1} and stats["cloudstack"]["present"]["zone"] == 1
