"""usage(): cost per period checked against the sandbox's ledger (cost = usage x price), changes, rollup."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from matplotlib.axes import Axes

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import clock


def months_before(store, months):
    """UTC midnight of the first day of the month ``months`` before the scenario's month."""
    return pd.Timestamp(clock.month_start(store.now, -months))


@pytest.fixture(scope="module")
def window(sb):
    return months_before(sb.store, 6), months_before(sb.store, 0)


@pytest.fixture(scope="module")
def report(client, window):
    return cmf.reports.usage(client, start=window[0], end=window[1])


def ledger_cost(store, org_id, low, high):
    """What the sandbox bills an organization over [low, high): each series' usage x its price."""
    total = 0.0
    for (_, conn_id, usage_type), series in store.usage.org_series(org_id):
        price = store.usage.prices[conn_id].line(usage_type).price
        total += series.integral(clock.epoch(low), clock.epoch(high)) * price
    return total


def test_cost_per_organization_and_month_is_the_ledgers_usage_times_price(sb, report, window):
    store = sb.store
    frame = report.frame
    per_org = frame.groupby(["organization_id", "period"])["cost"].sum()
    months = pd.date_range(window[0], window[1], freq="MS", tz="UTC")
    checked = 0
    for org_id in store.subtree(store.root_id, include_deleted=True):
        for low, high in zip(months, months[1:], strict=False):
            expected = ledger_cost(store, org_id, low.to_pydatetime(), high.to_pydatetime())
            got = per_org.get((org_id, f"{low:%Y-%m}"), 0.0)
            assert got == pytest.approx(expected, abs=1e-3), (org_id, low)
            checked += expected > 0
    assert checked > 50


def test_every_group_has_a_row_in_every_period_and_changes_add_up(report):
    frame = report.frame
    periods = frame["period"].unique()
    assert list(periods) == ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10", "2026-11"] or \
        len(periods) == 6
    groups = frame.groupby(["organization_id", "secondary_type"]).size()
    assert (groups == len(periods)).all()
    first = frame["period"] == periods[0]
    assert frame.loc[first, "previous_cost"].isna().all()
    later = frame[~first]
    assert ((later["cost"] - later["previous_cost"] - later["cost_change"]).abs() < 1e-6).all()
    moved = later[later["previous_cost"] > 0]
    expected_pct = (100 * moved["cost_change"] / moved["previous_cost"]).round(1)
    assert ((moved["cost_change_pct"] - expected_pct).abs() < 0.051).all()
    assert str(frame["cost"].dtype) == "Float64" and str(frame["period_start"].dtype) == "datetime64[ns, UTC]"


def test_summary_is_the_total_per_period(report):
    totals = report.frame.groupby("period")["cost"].sum().round(2)
    summary = report.summary.set_index("period")
    assert (summary["cost"] - totals).abs().max() < 0.011
    assert pd.isna(summary["cost_change"].iloc[0])
    assert summary["cost_change"].iloc[1] == pytest.approx(summary["cost"].iloc[1] - summary["cost"].iloc[0],
                                                           abs=0.011)


def test_a_deleted_organization_keeps_its_past_cost_and_then_costs_nothing(sb, client):
    store = sb.store
    org_id, when = min(((o, w) for o, w in store.usage.deleted_at.items() if store.usage.by_org.get(o)),
                       key=lambda item: item[1])
    deleted_day = pd.Timestamp(when).floor("D")
    report = cmf.reports.usage(client, start=deleted_day - timedelta(days=4), end=pd.Timestamp(store.now),
                               by="organization", period="DAY")
    mine = report.frame[report.frame["organization_id"] == org_id].set_index("period_start")["cost"]
    assert (mine[mine.index < deleted_day] > 0).all() and len(mine[mine.index < deleted_day]) == 4
    assert (mine[mine.index > deleted_day] == 0).all()
    assert mine[deleted_day] == pytest.approx(ledger_cost(store, org_id, deleted_day.to_pydatetime(),
                                                          (deleted_day + timedelta(days=1)).to_pydatetime()),
                                              abs=1e-4)
    assert org_id in set(report.tables["rollup"]["organization_id"])


def test_rollup_adds_every_selected_descendant(report, client):
    rollup = report.tables["rollup"].set_index("organization_path")
    own = rollup["own_cost"]
    for path, row in rollup.iterrows():
        below = [p for p in rollup.index if p == path or p.startswith(path + "/")]
        assert row["cost"] == pytest.approx(own[below].sum(), abs=0.02)
        assert row["organizations"] == len(below)
    root = rollup.iloc[0]
    assert root["cost"] == pytest.approx(report.frame["cost"].sum(), abs=0.05)
    assert root["cost_last_period"] == pytest.approx(report.summary["cost"].iloc[-1], abs=0.05)


def test_top_movers_are_the_largest_changes_of_the_last_period(report):
    movers = report.tables["top_movers"]
    last = report.frame[report.frame["period"] == report.frame["period"].max()]
    biggest = last["cost_change"].abs().sort_values(ascending=False).head(len(movers))
    assert list(movers["cost_change"].abs().round(6)) == list(biggest.round(6))
    assert set(movers["period"]) == {last["period"].iloc[0]}


def test_by_connection_per_quarter(client, window, report):
    quarterly = cmf.reports.usage(client, start=window[0], end=window[1], by="connection", period="QUARTER")
    assert list(quarterly.frame.columns[:3]) == ["period", "period_start", "service_code"]
    assert quarterly.frame["usage"].isna().all()  # vCPU-hours and GiB-hours are not added up
    assert set(quarterly.frame["period"]) <= {"2026Q2", "2026Q3", "2026Q4"}
    assert quarterly.frame["cost"].sum() == pytest.approx(report.frame["cost"].sum(), abs=0.01)


def test_by_period_table_and_the_chart(report):
    table = report.tables["by_period"]
    assert table.iloc[-1]["organization_path"] == "total"
    ax = report.plot()
    assert isinstance(ax, Axes) and ax.get_title() == "Cost over time"
    assert ax.get_ylabel().startswith("cost [") and len(ax.patches) > 0
    assert "CloudMC usage and cost" in report.to_html() and report.to_text().count("\n") > 10


@pytest.mark.parametrize("kwargs, message", [
    ({"by": "environment"}, "by must name one or more of organization, usage_type, connection"),
    ({"period": "FORTNIGHT"}, "period must be one of DAY, WEEK, MONTH, QUARTER, YEAR"),
    ({"start": "2026-03-01", "end": "2026-02-01"}, "must be before"),
    ({"start": "2026-01-01T12:00"}, "not a whole day"),
])
def test_bad_arguments(client, kwargs, message):
    arguments = {"start": "2026-01-01", "end": "2026-02-01", **kwargs}
    with pytest.raises(cmf.ConfigError, match=message):
        cmf.reports.usage(client, **arguments)


def test_an_unreadable_organization_is_an_issue_and_the_rest_is_reported(start_sandbox):
    from cloudmc_frames.sandbox import FaultRule
    sb = start_sandbox("small")
    victim = next(o for o in sb.store.visible_org_ids(sb.api_key) if o != sb.store.root_id)
    sb.faults.add(FaultRule("status", path=f"/usage_summary/organizations/{victim}", status=403))
    end = months_before(sb.store, 0)
    with sb.client(progress=False) as client:
        report = cmf.reports.usage(client, start=end - timedelta(days=60), end=end, by="organization")
    assert not report.complete and set(report.issues["organization_id"]) == {victim}
    assert report.frame.loc[report.frame["organization_id"] != victim, "cost"].sum() > 0
    assert "incomplete" in report.to_html()
