"""utilization(): the idle instances the scenario made idle are exactly the ones reported; percentiles
recomputed from the sandbox's own samples; saturated, unmeasured and reclaimable capacity."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import clock, signals


@pytest.fixture(scope="module")
def window(sb):
    now = pd.Timestamp(sb.store.now)
    return now - timedelta(days=30), now


@pytest.fixture(scope="module")
def report(client, window):
    return cmf.reports.utilization(client, start=window[0], end=window[1])


def running_ids(store):
    """Instances running now in live organizations (what the report covers)."""
    live = set(store.visible_org_ids(store.root_key))
    return {i for env_id, env in store.environments.items() if env["organization"]["id"] in live
            and not env.get("deleted") for i, vm in store.resources[env_id]["instances"].items()
            if vm.get("state", vm.get("status")) in ("Running", "RUNNING")}


def test_the_idle_instances_are_exactly_the_ones_the_scenario_made_idle(sb, report):
    store = sb.store
    made_idle = {i for i, kind in store.usage_profiles.items() if kind == "idle"}
    assert made_idle and made_idle <= running_ids(store)
    assert set(report.frame.loc[report.frame["status"] == "idle", "id"]) == made_idle
    assert set(report.tables["idle"]["id"]) == made_idle
    assert (report.tables["idle"]["p95"] < 5).all()


def test_busy_running_instances_are_saturated_and_nothing_else_is(sb, report):
    store = sb.store
    saturated = set(report.frame.loc[report.frame["status"] == "saturated", "id"])
    busy = {i for i, kind in store.usage_profiles.items() if kind == "busy"} & running_ids(store)
    assert saturated <= busy and len(saturated) >= 0.9 * len(busy) > 0


def test_percentiles_are_those_of_the_hourly_samples(sb, report, window):
    store = sb.store
    low, high = clock.epoch(window[0].to_pydatetime()), clock.epoch(window[1].to_pydatetime())
    rows = report.frame.set_index("id")
    checked = 0
    for entities in store.usage.metric_entities.values():
        for entity_id, intervals in entities:
            if entity_id not in rows.index or checked >= 12:
                continue
            profile, seed = store.usage.profiles[entity_id], signals.seed_of(entity_id)
            values = [round(signals.value(profile, "instance.cpu.utilization", seed, hour), 2)
                      for start, end in intervals for hour in range(max(start, low), min(end, high), 3600)]
            row = rows.loc[entity_id]
            assert row["hours"] == len(values)
            assert row["p50"] == pytest.approx(np.percentile(values, 50), abs=0.006)
            assert row["p95"] == pytest.approx(np.percentile(values, 95), abs=0.006)
            assert row["max"] == pytest.approx(max(values))
            checked += 1
    assert checked == 12


def test_running_instances_without_metrics_are_listed_not_dropped(sb, report):
    frame = report.frame
    assert set(frame["id"]) == running_ids(sb.store)
    gcp = frame[frame["connection_type"] == "gcp"]
    assert len(gcp) > 0 and set(gcp["status"]) == {"no metrics"} and gcp["p95"].isna().all()
    assert frame.loc[frame["connection_type"] == "cloudstack", "hours"].notna().all()


def test_reclaimable_capacity_is_what_the_idle_instances_hold(sb, report):
    store = sb.store
    idle = {i for i, kind in store.usage_profiles.items() if kind == "idle"}
    vms = {i: vm for env in store.resources.values() for i, vm in env["instances"].items()}
    table = report.tables["reclaimable"]
    assert table["vcpus"].sum() == sum(vms[i]["cpuCount"] for i in idle)
    assert table["memory_gib"].sum() == pytest.approx(sum(vms[i]["memoryInMB"] / 1024 for i in idle))
    assert table["idle_instances"].sum() == len(idle)
    summary = report.summary.set_index("measure")["value"]
    assert summary["idle"] == len(idle) and summary["idle vCPU"] == table["vcpus"].sum()


def test_the_idle_list_goes_straight_into_an_operation_form(client, report):
    form = cmf.widgets.OperationForm(client, report.tables["idle"])
    assert len(form.rows) == len(report.tables["idle"]) and form.entity_type == "instances"


def test_chart_and_renderings(report):
    ax = report.plot()
    assert isinstance(ax, Axes) and ax.get_xlabel() == "p95 [%]" and len(ax.patches) > 0
    assert "CloudMC utilization: instance.cpu.utilization" in report.to_markdown()


def test_memory_utilization_and_bad_input(client, window):
    memory = cmf.reports.utilization(client, start=window[0], end=window[1], metric="memory",
                                     orgs="nimbus-cloud/acme-corp*")
    assert memory.title.endswith("instance.memory.utilization") and memory.frame["p50"].notna().any()
    with pytest.raises(cmf.ConfigError, match="unknown metric 'disk'"):
        cmf.reports.utilization(client, start=window[0], end=window[1], metric="disk")
    with pytest.raises(cmf.ConfigError, match="must be before"):
        cmf.reports.utilization(client, start=window[1], end=window[0])
