"""The time axis in capacity and the audit: commitments against actual use, idle running instances,
unused commitments; checked against what the sandbox seeded, and marked when their inputs fail.

The seeded facts (``sb.store.usage``): each commitment's ``commitment_fit`` says whether its committed
amount is half ("below") or 1.6 times ("above") the organization's actual rate over the passed part of
its term, and ``usage_profiles`` says which running instances were made idle (under 5% CPU for at least
35 days). The private sandboxes with faults show the marking: ``not evaluated`` with the input named,
never 0 or an empty list.
"""

from __future__ import annotations

import io
import json
import re

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule, clock

from .test_utilization_report import running_ids

NEW_RULES = ["idle_running_instances", "unused_commitments"]
BLIND = re.compile(r"not evaluated: (\w+) unreadable in (\d+) of \2 organizations?")


def seeded(store, org_ids):
    """``{commitment id: record}`` of the commitments of ``org_ids`` whose term has begun."""
    now = clock.iso_seconds(store.now)
    return {i: c for i, c in store.usage.commitments.items()
            if c["organization"]["id"] in org_ids and c["startDate"] < now}


def ledger_usage(store, org_id, sku, low, high):
    """What the sandbox metered for ``sku`` in one organization over ``[low, high)``."""
    line = next((t.connection_id, ln.product.usage_type) for t in store.usage.prices.values()
                for ln in t.lines.values() if ln.sku == sku)
    start, end = clock.epoch(low.to_pydatetime()), clock.epoch(high.to_pydatetime())
    return sum(item.usage(start, end) for item in store.usage.by_org.get(org_id, ())
               if (item.connection_id, item.usage_type) == line)


@pytest.fixture(scope="module")
def commitments_table(capacity):
    return capacity.tables["commitments"]


def test_commitment_rows_are_the_seeded_commitments_with_the_ledgers_usage(sb, commitments_table):
    store = sb.store
    table = commitments_table
    expected = seeded(store, set(store.visible_org_ids(store.root_key)))
    assert expected and set(table["commitment_id"]) == set(expected)
    products = sum(len(c["committedProducts"]) for c in expected.values())
    assert len(table) == products and (table["completeness"] == "complete").all()
    for row in table.itertuples(index=False):
        hours = (row.window_end - row.window_start) / pd.Timedelta(hours=1)
        assert row.committed == pytest.approx(row.committed_amount * hours, abs=1e-3)
        assert row.actual == pytest.approx(ledger_usage(store, row.organization_id, row.sku, row.window_start,
                                                        row.window_end), abs=1e-3)
        assert row.unused == pytest.approx(max(row.committed - row.actual, 0.0), abs=1e-3)
        assert row.over == pytest.approx(max(row.actual - row.committed, 0.0), abs=1e-3)


def test_under_and_over_use_follow_the_seeded_fit(sb, commitments_table):
    """'above' (1.6 x the actual rate) is under-used; 'below' (0.5 x) over-used wherever the ledger covers
    the whole term so far (before the ledger's first day nothing was metered)."""
    store = sb.store
    fits = store.usage.commitment_fit
    first_day = pd.Timestamp(store.usage.start, unit="s", tz="UTC")
    checked = set()
    for row in commitments_table.itertuples(index=False):
        if fits[row.commitment_id] == "above":
            assert row.use == "under-used" and row.used_percent < 100
            checked.add("above")
        elif row.window_start >= first_day:
            assert row.use == "over-used" and row.used_percent > 100
            checked.add("below")
    assert checked == {"above", "below"}


def test_commitments_table_renders_in_every_format(capacity):
    title = capacity.titles["commitments"]
    for rendering in (capacity.to_text(), capacity.to_markdown(), capacity.to_html()):
        assert title in rendering and "under-used" in rendering and "over-used" in rendering
    rows = json.loads(capacity.to_json())["tables"]["commitments"]
    assert {r["use"] for r in rows} == {"under-used", "over-used"}
    csv = pd.read_csv(io.StringIO(capacity.to_csv(table="commitments")))
    assert list(csv["commitment_id"]) == list(capacity.tables["commitments"]["commitment_id"])
    assert {"committed", "actual", "used_percent", "use", "completeness"} <= set(csv.columns)
    with pytest.raises(cmf.ConfigError, match="no table 'nope' in the capacity report; it has: closest"):
        capacity.to_csv(table="nope")


def test_unused_commitments_are_the_in_progress_ones_committed_above_use(sb, audit):
    store = sb.store
    fits = store.usage.commitment_fit
    expected = {i for i, c in store.usage.commitments.items()
                if c["status"] == "IN_PROGRESS" and fits.get(i) == "above"}
    found = audit.frame[audit.frame["rule"] == "unused_commitments"]
    assert expected and set(found["subject_id"]) == expected
    assert len(found) == sum(len(store.usage.commitments[i]["committedProducts"]) for i in expected)
    assert found["suggested_action"].str.contains("lower the committed amount").all()
    assert (found["completeness"] == "complete").all() and (found["severity"] == "medium").all()


def test_idle_running_instances_are_exactly_the_ones_the_scenario_made_idle(sb, client, audit):
    """The rule (14 days, p95 under 5%) and the utilization report over the same hours agree."""
    store = sb.store
    made_idle = {i for i, kind in store.usage_profiles.items() if kind == "idle"}
    assert made_idle and made_idle <= running_ids(store)
    found = audit.frame[audit.frame["rule"] == "idle_running_instances"]
    assert set(found["subject_id"]) == made_idle and len(found) == len(made_idle)
    assert found["suggested_action"].str.startswith("Stop it").all()
    assert found["detail"].str.contains(r"CPU p95 \d", regex=True).all()
    end = pd.Timestamp(store.now)
    report = cmf.reports.utilization(client, start=end - pd.Timedelta(days=14), end=end)
    assert set(report.tables["idle"]["id"]) == made_idle


def test_the_new_rules_are_registered_and_read_nothing_when_not_chosen(sb, client):
    assert set(NEW_RULES) <= set(cmf.reports.RULES)
    assert cmf.reports.RULES["idle_running_instances"].needs == ("environments", "instances", "metrics")
    before = len(sb.requests.snapshot())
    cmf.reports.audit(client, rules=["old_snapshots"], now=sb.store.now)
    paths = [r.path for r in sb.requests.snapshot()[before:]]
    assert not [p for p in paths if "/metrics/" in p or "/commitments" in p or "/reports/" in p]


@pytest.fixture(scope="module")
def metrics_and_pricing_down():
    """Capacity and audit with every metric series and every pricing report answering an HTML page."""
    with cmf.sandbox(orgs=20, seed=7, faults="html@/metrics/*;html@/reports/organization_pricing") as sb, \
            sb.client(progress=False, retries=0) as client:
        yield {"audit": cmf.reports.audit(client, now=sb.store.now, rules=[*NEW_RULES, "old_snapshots"]),
               "capacity": cmf.reports.capacity(client, now=sb.store.now)}


def test_rules_are_not_evaluated_when_metrics_or_pricing_fail(metrics_and_pricing_down):
    report = metrics_and_pricing_down["audit"]
    summary = report.summary.set_index("rule")
    for name, entity in zip(NEW_RULES, ("metrics", "pricing"), strict=True):
        assert summary.loc[name, "completeness"] == "not evaluated"
        assert pd.isna(summary.loc[name, "findings"])
        said = report.frame[report.frame["rule"] == name]
        assert list(said["subject_type"]) == ["rule"]  # one row saying why, no findings
        assert BLIND.fullmatch(said["detail"].iloc[0]).group(1) == entity
    assert summary.loc["old_snapshots", "completeness"] == "complete"
    for rendering in (report.to_text(), report.to_markdown(), report.to_html()):
        assert "metrics unreadable in" in rendering and "pricing unreadable in" in rendering
    assert set(report.issues["entity"]) == {"metrics", "pricing"}


def test_commitment_rows_without_their_pricing_report_have_no_actual(metrics_and_pricing_down):
    report = metrics_and_pricing_down["capacity"]
    table = report.tables["commitments"]
    assert len(table) > 0 and (table["completeness"] == "not evaluated").all()
    assert set(table["unread"]) == {"pricing"}
    assert table[["actual", "used_percent", "unused", "over", "use"]].isna().all(axis=None)
    assert table["committed"].notna().all()
    assert "not evaluated" in report.to_text()


def test_commitments_or_descriptors_unreadable_give_rows_and_not_evaluated(start_sandbox):
    """/commitments forbidden: one not-evaluated row per organization, not an empty table; plugin
    descriptors unreadable: no metric id to ask for, so the idle rule is not evaluated."""
    sb = start_sandbox()
    sb.faults.add(FaultRule("status", path="/commitments", status=403))
    sb.faults.add(FaultRule("html", path="/services/descriptors/*"))
    with sb.client(progress=False, retries=0) as client:
        capacity = cmf.reports.capacity(client, now=sb.store.now)
        audit = cmf.reports.audit(client, now=sb.store.now, rules=NEW_RULES)
    table = capacity.tables["commitments"]
    live = set(sb.store.visible_org_ids(sb.store.root_key))
    assert set(table["organization_id"]) == live and len(table) == len(live)
    assert (table["completeness"] == "not evaluated").all() and set(table["unread"]) == {"commitments"}
    summary = audit.summary.set_index("rule")
    assert set(summary["completeness"]) == {"not evaluated"}
    assert BLIND.fullmatch(summary.loc["idle_running_instances", "completeness"] + ": "
                           + summary.loc["idle_running_instances", "unread"]).group(1) == "metrics"
    assert "descriptors" in set(audit.issues["entity"])
