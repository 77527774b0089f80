"""Stable frames for the time axis: the documented columns and dtypes whatever came back (everything, a
subset, nothing), frames that concat without turning to objects, and a Parquet round trip."""

from __future__ import annotations

import io

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames import catalog
from cloudmc_frames.frames import empty_frame

from .conftest import busiest_org, days_before


def readers(store):
    """accessor name -> how to call it for a selection of organizations (None: every one)."""
    week = {"start": days_before(store, 7), "end": days_before(store, 0)}
    return {
        "usage_summary": lambda c, orgs: cmf.usage_summary(c, orgs, **week),
        "usage_records": lambda c, orgs: cmf.usage_records(c, orgs=orgs, **week),
        "metrics": lambda c, orgs: cmf.metrics(c, "cpu", orgs=orgs, start=days_before(store, 1),
                                               end=days_before(store, 0)),
        "commitments": lambda c, orgs: cmf.commitments(c, orgs),
    }


@pytest.fixture(scope="module")
def frames(sb):
    store = sb.store
    committed = sorted({c["organization"]["id"] for c in store.usage.commitments.values()})
    subset = [busiest_org(store), *committed[:1]]
    with sb.client(progress=False) as client:
        out = {name: {"all": read(client, None), "subset": read(client, subset), "none": read(client, [])}
               for name, read in readers(store).items()}
        week = {"start": days_before(store, 7), "end": days_before(store, 0)}
        out["pricing"] = {"all": cmf.pricing(client, store.root_id, **week)}
        out["customer_costs"] = {"all": cmf.customer_costs(client, store.root_id, **week)}
        out["metric_descriptors"] = {"all": cmf.metric_descriptors(client),
                                     "subset": cmf.metric_descriptors(client, "gcp-lab")}
    return out


def signature(frame):
    return [(name, str(dtype)) for name, dtype in frame.dtypes.items()]


@pytest.mark.parametrize("name", sorted(catalog.USAGE_SCHEMAS))
def test_documented_columns_and_dtypes_whatever_came_back(frames, name):
    documented = list(catalog.USAGE_SCHEMAS[name])
    empty = signature(empty_frame(name))
    assert [c for c, _ in empty] == documented
    for which, frame in frames[name].items():
        assert list(frame.columns[: len(documented)]) == documented, which
        assert signature(frame)[: len(documented)] == empty, which
    sizes = {which: len(frame) for which, frame in frames[name].items()}
    assert sizes["all"] > 0 and sizes.get("none", 0) == 0
    assert sizes["all"] >= sizes.get("subset", 0)


@pytest.mark.parametrize("name", ["usage_summary", "usage_records", "metrics", "commitments"])
def test_two_reads_concat_without_objects(frames, name):
    both = pd.concat([frames[name]["subset"], frames[name]["none"], frames[name]["all"]], ignore_index=True)
    assert signature(both) == signature(frames[name]["all"])


@pytest.mark.parametrize("name", sorted(catalog.USAGE_SCHEMAS))
def test_every_time_axis_frame_survives_parquet(frames, name):
    for which, frame in frames[name].items():
        if frame.empty:
            continue
        buffer = io.BytesIO()
        frame.to_parquet(buffer, engine="pyarrow")
        buffer.seek(0)
        back = pd.read_parquet(buffer, engine="pyarrow")
        assert signature(back) == signature(frame), which
        pd.testing.assert_frame_equal(back, frame, check_exact=True)
