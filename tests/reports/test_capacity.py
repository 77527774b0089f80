"""capacity(): ceilings and use checked against the sandbox's quotas and its own usage counter."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.reports.capacity import METRICS

from . import oracle

RESOURCE = {"INSTANCE_VCPUS": ("vcpu", 1.0), "INSTANCE_MEMORY": ("memory", 1 / 1024),
            "DISK_SIZE": ("storage", 1.0), "INSTANCE_COUNT": ("instances", 1.0)}


def test_every_ceiling_is_a_row_with_the_sandbox_usage(capacity, sb):
    store = sb.store
    expected = oracle.quota_rows(store, set(oracle.org_ids(store)))
    frame = capacity.frame
    got = {(r.organization_id, r.service_code, r.metric_type): r for r in frame.itertuples(index=False)}
    assert set(got) == set(expected)
    for key, (ceiling, used) in expected.items():
        row = got[key]
        if key[2] not in RESOURCE:  # unknown metric: kept, not compared
            assert row.resource == "unknown" and pd.isna(row.used) and row.ceiling == ceiling
            continue
        resource, factor = RESOURCE[key[2]]
        assert row.resource == resource
        assert float(row.ceiling) == pytest.approx(ceiling * factor)
        assert float(row.used) == pytest.approx(used * factor, abs=0.01), key
        assert bool(row.over_ceiling) == (used > ceiling), key
        assert float(row.headroom) == pytest.approx((ceiling - used) * factor, abs=0.01)
        assert float(row.percent_used) == pytest.approx(100 * used / ceiling, abs=0.06)


def test_over_ceiling_pairs_match_the_sandbox(capacity, sb):
    store = sb.store
    over = {(o, c, m) for (o, c, m), (ceiling, used) in oracle.quota_rows(
        store, set(oracle.org_ids(store))).items() if used is not None and used > ceiling}
    assert over, "the scenario always puts one organization over its quota"
    flagged = capacity.frame[capacity.frame["over_ceiling"].fillna(False).astype(bool)]
    pairs = zip(flagged["organization_id"], flagged["service_code"], flagged["metric_type"], strict=True)
    assert set(pairs) == over


def test_unknown_metrics_are_listed_not_dropped(capacity):
    unknown = capacity.tables["unknown_metrics"]
    assert len(unknown) == int((capacity.frame["resource"] == "unknown").sum()) > 0
    assert set(unknown["metric_identifier"]) == {"workload_cpu_count"}
    assert "workload_cpu_count" not in METRICS


def test_summary_sums_the_frame(capacity):
    summary = capacity.summary.set_index("resource")
    frame = capacity.frame
    for resource in ("vcpu", "memory", "storage", "instances"):
        rows = frame[frame["resource"] == resource]
        assert summary.loc[resource, "ceilings"] == len(rows)
        assert float(summary.loc[resource, "used"]) == pytest.approx(float(rows["used"].sum()), abs=0.05)
        assert summary.loc[resource, "over_ceiling"] == int(rows["over_ceiling"].sum())
    assert set(summary["unit"]) == {"vCPU", "GiB", "instances"}


def test_closest_is_sorted_and_starts_with_the_fullest(capacity):
    closest = capacity.tables["closest"]
    percent = list(closest["percent_used"].astype(float))
    assert percent == sorted(percent, reverse=True)
    assert percent[0] == pytest.approx(float(capacity.frame["percent_used"].max()))


def test_orgs_pattern_narrows(client, capacity):
    part = cmf.reports.capacity(client, orgs="nimbus-cloud/acme-corp*")
    assert set(part.frame["organization_path"]) <= set(capacity.frame["organization_path"])
    assert all(p.startswith("nimbus-cloud/acme-corp") for p in part.frame["organization_path"])
