"""Stable frames: documented columns and dtypes whatever came back; categoricals that concat,
compare and group; every accessor frame survives a Parquet round trip (issue 11 items 4, 5, 13)."""

from __future__ import annotations

import io
import warnings

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames import catalog
from cloudmc_frames.frames import empty_frame

# accessor name -> how to call it with an orgs= selection
COLLECTIONS = {
    "users": lambda c, orgs: cmf.users(c, orgs=orgs),
    "environments": lambda c, orgs: cmf.environments(c, orgs=orgs),
    "environment_members": lambda c, orgs: cmf.environment_members(c, orgs=orgs),
    "service_connections": lambda c, orgs: cmf.service_connections(c, orgs=orgs),
    "quotas": lambda c, orgs: cmf.quotas(c, orgs=orgs),
    "activity_log": lambda c, orgs: cmf.activity_log(c, orgs=orgs),
    "instances": lambda c, orgs: cmf.instances(c, orgs=orgs),
    "volumes": lambda c, orgs: cmf.volumes(c, orgs=orgs),
    "snapshots": lambda c, orgs: cmf.resources(c, "snapshots", orgs=orgs),
    "publicipaddresses": lambda c, orgs: cmf.resources(c, "publicipaddresses", orgs=orgs),
}


@pytest.fixture(scope="module")
def crawl(sb):
    """Every collection read three ways: all organizations, a subset without GCP, none."""
    client = sb.client(cache_backend="memory")
    envs = cmf.environments(client)
    gcp_orgs = set(envs.loc[envs["connection_type"] == "gcp", "organization_id"])
    with_envs = [o for o in envs["organization_id"].unique() if o not in gcp_orgs]
    subset = with_envs[:4]
    frames = {
        name: {"all": read(client, None), "subset": read(client, subset), "none": read(client, [])}
        for name, read in COLLECTIONS.items()
    }
    frames["organizations"] = {"all": cmf.organizations(client)}
    yield client, frames, subset
    client.close()


def _signature(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return [(name, str(dtype)) for name, dtype in frame.dtypes.items()]


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_columns_and_dtypes_do_not_depend_on_what_came_back(crawl, name):
    _, frames, _ = crawl
    documented = list(catalog.SCHEMAS[name])
    every, subset, none = (frames[name][k] for k in ("all", "subset", "none"))
    assert len(every) > len(subset) > 0 and len(none) == 0
    for frame in (every, subset, none):
        assert list(frame.columns[: len(documented)]) == documented
        assert (
            _signature(frame)[: len(documented)]
            == _signature(empty_frame(name, service=True))[: len(documented)]
        )
    assert _signature(subset) == _signature(none)  # the sandbox sends only documented fields
    assert _signature(every)[: len(documented)] == _signature(none)


def test_instances_have_the_same_columns_with_or_without_gcp(crawl):
    _, frames, _ = crawl
    counts = {k: frames["instances"][k].shape[1] for k in ("all", "subset", "none")}
    assert counts == {"all": len(catalog.SCHEMAS["instances"])} | {
        "subset": len(catalog.SCHEMAS["instances"]),
        "none": len(catalog.SCHEMAS["instances"]),
    }
    assert set(frames["instances"]["subset"]["connection_type"]) == {"cloudstack"}


def test_unknown_fields_come_after_the_documented_ones():
    from cloudmc_frames.frames import build_frame

    ctx = {
        "organization_id": "o1",
        "organization_name": "A",
        "organization_path": "a",
        "service_code": "c",
        "connection_type": "cloudstack",
        "environment_id": "e",
        "environment_name": "prod",
    }
    frame = build_frame("instances", [(ctx, [{"id": "i", "brandNew": 3, "state": "Running"}])], service=True)
    assert list(frame.columns[-1:]) == ["brand_new"]
    assert list(frame.columns[:-1]) == list(catalog.SCHEMAS["instances"])


def test_one_created_column_in_utc(crawl):
    _, frames, _ = crawl
    for name in (
        "organizations",
        "users",
        "environments",
        "environment_members",
        "quotas",
        "activity_log",
        "instances",
        "volumes",
        "snapshots",
    ):
        frame = frames[name]["all"]
        assert str(frame["created"].dtype) == "datetime64[ns, UTC]", name
        assert not {"creation_date", "creation_timestamp", "launch_time"} & set(frame.columns), name
    vms, vols, snaps = (frames[n]["all"] for n in ("instances", "volumes", "snapshots"))
    assert vms.loc[vms["connection_type"] == "gcp", "created"].notna().all()
    assert vols["created"].notna().all()
    # CloudStack snapshots have no creation field: created is parsed from the name's suffix
    stamp = snaps["name"].str.extract(r"_(\d{14})$", expand=False)
    assert snaps["created"].notna().all()
    assert (snaps["created"].dt.strftime("%Y%m%d%H%M%S") == stamp).all()


def test_two_crawls_concat_compare_assign_and_group(crawl):
    client, frames, subset = crawl
    others = [o for o in frames["instances"]["all"]["organization_id"].unique() if o not in subset]
    first = frames["instances"]["subset"]
    second = cmf.instances(client, orgs=others)
    both = pd.concat([first, second], ignore_index=True)
    assert _signature(both) == _signature(first) == _signature(second)  # nothing became object
    assert both["power_state"].cat.categories.tolist() == list(catalog.POWER_STATES)
    assert set(both["power_state"].dropna()) <= set(catalog.POWER_STATES)
    assert {"Running", "RUNNING"} <= set(both["state"])  # raw provider values kept in state
    n = min(len(first), len(second))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same_power = first["power_state"].head(n).reset_index(drop=True) == second["power_state"].head(
            n
        ).reset_index(drop=True)
        same_state = first["state"].head(n).reset_index(drop=True) == second["state"].head(n).reset_index(
            drop=True
        )
        assert len(same_power) == len(same_state) == n
        both.loc[0, "state"] = "Migrating"  # a state no crawl has seen yet
        both.loc[1, "power_state"] = "stopped"
        both.loc[2, "organization_path"] = "somewhere/new"
        per_org = both.groupby("organization_path")["vcpus"].sum()
        per_state = both.groupby(["connection_type", "state"]).size()
        per_power = both.groupby("power_state", observed=True).size()
    assert per_org.loc["somewhere/new"] >= 0 and per_state.loc[("cloudstack", "Migrating")] == 1
    assert per_power.sum() == len(both)
    with pytest.raises(TypeError):  # power_state keeps its vocabulary
        both.loc[3, "power_state"] = "Running"


def _round_trip(frame: pd.DataFrame) -> pd.DataFrame:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow")
    buffer.seek(0)
    return pd.read_parquet(buffer, engine="pyarrow")


@pytest.mark.parametrize("name", sorted([*COLLECTIONS, "organizations"]))
def test_every_accessor_frame_survives_parquet(crawl, name):
    _, frames, _ = crawl
    for which, frame in frames[name].items():
        if which == "none":
            continue  # below: zero-row frames
        back = _round_trip(frame)
        assert _signature(back) == _signature(frame), which
        pd.testing.assert_frame_equal(back, frame, check_exact=True)


@pytest.mark.parametrize("name", sorted(COLLECTIONS))
def test_empty_frames_survive_parquet_but_for_fixed_categories(crawl, name):
    """Parquet keeps no dictionary for a column without rows: a zero-row power_state comes back
    with no categories (cmf.load restores them from the schema)."""
    _, frames, _ = crawl
    frame = frames[name]["none"]
    back = _round_trip(frame)
    assert list(back.columns) == list(frame.columns)
    for column in frame.columns:
        if column in catalog.CATEGORIES:
            assert isinstance(back[column].dtype, pd.CategoricalDtype)
        else:
            assert back[column].dtype == frame[column].dtype, column


def test_activity_log_event_context_comes_back_as_sent(crawl):
    _, frames, _ = crawl
    log = frames["activity_log"]["all"]
    contexts = [v for v in log["event_context"] if isinstance(v, dict)]
    assert len({tuple(sorted(c)) for c in contexts}) > 1  # objects with different keys
    back = _round_trip(log)
    assert back["event_context"].tolist() == log["event_context"].tolist()
    for sent, read in zip(log["event_context"], back["event_context"], strict=False):
        if isinstance(sent, dict):
            assert set(read) == set(sent)  # no None for keys only other rows have


def test_issues_and_coverage_frames_survive_parquet(crawl):
    client, _, _ = crawl
    for frame in (client.issues, client.coverage):
        back = _round_trip(frame)
        assert _signature(back) == _signature(frame)
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
