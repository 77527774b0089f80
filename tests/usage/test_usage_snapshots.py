"""The usage summary in snapshots: read by default (the last whole UTC day), loaded back with its
documented dtypes, and diffed by its own key."""

from __future__ import annotations

import pandas as pd

import cloudmc_frames as cmf
from cloudmc_frames import catalog


def test_a_snapshot_holds_yesterdays_usage_and_diffs_by_its_key(sb, tmp_path):
    root = tmp_path / "history"
    orgs = "nimbus-cloud/acme-corp*"
    with sb.client(progress=False) as client:
        first = cmf.snapshot(client, root, orgs=orgs, collections=["usage_summary"])
        second = cmf.snapshot(client, root, orgs=orgs, collections=["usage_summary"])
        today = pd.Timestamp.now(tz="UTC").normalize()
        expected = cmf.usage_summary(client, orgs, start=today - pd.Timedelta(days=1), end=today)
    assert first.tables["usage_summary"] == len(expected) > 0
    loaded = cmf.load(root, "usage_summary")
    documented = list(catalog.USAGE_SCHEMAS["usage_summary"])
    assert [c for c in loaded.columns if c in documented] == documented
    assert str(loaded["utility_cost"].dtype) == "Float64"
    assert set(loaded["start_date"]) == {today - pd.Timedelta(days=1)}
    change = cmf.diff(root, "usage_summary", a=first.id, b=second.id)
    assert (change.added.empty, change.removed.empty, change.changed.empty) == (True, True, True)
