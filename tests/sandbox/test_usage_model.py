"""The usage model against the inventory: histories, accrual, cost = usage x price, determinism, knobs."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from cloudmc_frames.sandbox import SandboxServer, clock, generate_scenario

from .conftest import Api
from .test_scenario import snapshot
from .usage_support import day, instant, raw_usage, summary

NOW = datetime(2025, 6, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def scen():
    """The default scenario at a fixed reference time."""
    return generate_scenario(orgs=20, seed=7, now=NOW)


def cloudstack_instances(store):
    """``(env, instance)`` of every CloudStack instance."""
    for env in store.environments.values():
        if store.env_connection(env)["type"] == "cloudstack":
            for inst in store.resources[env["id"]]["instances"].values():
                yield env, inst


def instance_usage(api, store, inst_id, start, end, **params):
    """Raw daily records of one resource in ``[start, end)`` days ago."""
    return raw_usage(
        api,
        start_date=instant(store, start),
        end_date=instant(store, end),
        granularity="DAILY",
        organization_id=params.pop("org"),
        **{"fields.resourceId": inst_id},
        **params,
    )["records"]


# ---------------------------------------------------------------- histories
def test_every_cloudstack_instance_has_a_history_ending_in_its_state(scen):
    pairs = list(cloudstack_instances(scen))
    assert len(scen.usage.histories) == len(pairs) and pairs
    for env, inst in pairs:
        past = scen.usage.histories[inst["id"]]
        times = [t for t, _ in past.events]
        assert past.state == inst["state"] and past.events[0][1] == "Running"
        assert (
            times == sorted(set(times)) and times[-1] < NOW and all(t.minute == t.second == 0 for t in times)
        )
        assert past.created >= clock.floor_hour(clock.parse_instant(env["creationDate"]))
        root = next(
            v
            for v in scen.resources[env["id"]]["volumes"].values()
            if v.get("instanceId") == inst["id"] and v["type"] == "os"
        )
        assert past.created >= clock.floor_hour(clock.parse_instant(root["creationDate"]))
    gcp = [
        i["id"]
        for e in scen.environments.values()
        if scen.env_connection(e)["type"] == "gcp"
        for i in scen.resources[e["id"]]["instances"].values()
    ]
    assert gcp and not set(gcp) & set(scen.usage.histories)


def test_deleted_orgs_stop_at_their_deletion(scen):
    assert set(scen.usage.deleted_at) == {o for o, org in scen.orgs.items() if org["deleted"]}
    for org_id, when in scen.usage.deleted_at.items():
        assert clock.parse_instant(scen.orgs[org_id]["creationDate"]) < when < NOW
        items = scen.usage.by_org.get(org_id, [])
        assert all(end <= clock.epoch(when) for item in items for _, end in item.intervals)


def test_usage_draws_leave_the_inventory_untouched():
    default = generate_scenario(orgs=20, seed=7, now=NOW)
    other = generate_scenario(orgs=20, seed=7, now=NOW, usage_days=30, hourly_days=0)
    assert snapshot(default) == snapshot(other)
    again = generate_scenario(orgs=20, seed=7, now=NOW)
    assert (default.usage.histories, default.usage.profiles, default.usage.commitments) == (
        again.usage.histories,
        again.usage.profiles,
        again.usage.commitments,
    )
    assert [i.key for i in default.usage.items] == [i.key for i in again.usage.items]


def test_default_usage_numbers_match_the_package_docs(scen):
    usage = scen.usage
    kinds = Counter(scen.usage_profiles.values())
    assert (len(usage.histories), len(usage.items), len(usage.commitments), len(usage.deleted_at)) == (
        278,
        1112,
        4,
        2,
    )
    assert (kinds["idle"], kinds["busy"], kinds["spiky"], kinds["normal"]) == (27, 52, 49, 150)
    assert Counter(c["status"] for c in usage.commitments.values()) == {
        "IN_PROGRESS": 2,
        "EXPIRED": 1,
        "UPCOMING": 1,
    }
    assert sorted(usage.commitment_fit.values()) == ["above", "above", "below"]


@pytest.mark.parametrize("usage_days,hourly_days", [(0, 0), (30, 31), (30, -1)])
def test_knobs_are_validated(usage_days, hourly_days):
    with pytest.raises(ValueError):
        generate_scenario(orgs=3, now=NOW, usage_days=usage_days, hourly_days=hourly_days)


# ------------------------------------------------------- accrual over HTTP
def test_an_instance_stopped_for_the_whole_window_accrues_storage_but_no_compute(api, store):
    cutoff = store.now - timedelta(days=31)
    env, inst = next(
        (e, i)
        for e, i in cloudstack_instances(store)
        if i["state"] == "Stopped"
        and store.usage.histories[i["id"]].events[-1][0] < cutoff
        and e["organization"]["id"] not in store.usage.deleted_at
    )
    org = env["organization"]["id"]
    assert instance_usage(api, store, inst["id"], 30, 0, org=org) == []
    root = next(
        v
        for v in store.resources[env["id"]]["volumes"].values()
        if v.get("instanceId") == inst["id"] and v["type"] == "os"
    )
    storage = instance_usage(api, store, root["id"], 30, 0, org=org)
    assert len(storage) == 30 and {r["usage"] for r in storage} == {root["sizeInGb"] * 24.0}


def test_a_running_instance_accrues_its_allocation_every_hour(api, store):
    env, inst = next(
        (e, i)
        for e, i in cloudstack_instances(store)
        if i["state"] == "Running"
        and store.usage.histories[i["id"]].spans()[-1][0] < store.now - timedelta(days=11)
    )
    records = instance_usage(api, store, inst["id"], 10, 0, org=env["organization"]["id"])
    per_type = {t: {r["usage"] for r in records if r["usageType"] == t} for t in ("cpu_type", "memory_type")}
    assert per_type == {
        "cpu_type": {inst["cpuCount"] * 24.0},
        "memory_type": {inst["memoryInMB"] / 1024 * 24},
    }


def test_a_destroyed_instance_stops_accruing_at_its_destruction(api, store):
    def destroyed_at(inst):
        """When ``inst`` was destroyed, if it was destroyed more than 3 days after its creation and since."""
        past = store.usage.histories[inst["id"]]
        when = past.events[-1][0]
        ok = inst["state"] == "Destroyed" and past.created < when - timedelta(days=3) < store.now - timedelta(
            days=6
        )
        return when if ok and when > store.now - timedelta(days=300) else None

    env, inst, destroyed = next(
        (e, i, destroyed_at(i))
        for e, i in cloudstack_instances(store)
        if destroyed_at(i) and e["organization"]["id"] not in store.usage.deleted_at
    )
    days_ago = (store.now - destroyed).days
    root = next(
        v
        for v in store.resources[env["id"]]["volumes"].values()
        if v.get("instanceId") == inst["id"] and v["type"] == "os"
    )
    org = env["organization"]["id"]
    records = instance_usage(api, store, root["id"], days_ago + 2, 0, org=org)
    assert records and max(r["startDate"] for r in records) < clock.iso_seconds(destroyed)
    since = store.now - timedelta(days=days_ago + 2)
    assert sum(r["usage"] for r in records) == pytest.approx(root["sizeInGb"] * ((destroyed - since) / HOUR))
    assert instance_usage(api, store, inst["id"], days_ago - 1, 0, org=org) == []


def test_total_cost_is_usage_times_price_across_endpoints(api, store):
    records = summary(
        api,
        store.root_id,
        day(store, 7),
        day(store, 0),
        period="DAY",
        include_sub_orgs="true",
        include_deleted="true",
    )
    cost = sum(r["utilityCost"] for r in records)
    priced = 0.0
    for org_id in {r["organizationId"] for r in records}:
        data = raw_usage(
            api,
            start_date=instant(store, 7),
            end_date=instant(store, 0),
            organization_id=org_id,
            granularity="YEARLY",
        )
        priced += sum(
            r["usage"] * store.usage.prices[r["connectionId"]].line(r["usageType"]).price
            for r in data["records"]
        )
    assert cost > 0 and cost == pytest.approx(priced, abs=1e-4)


# ------------------------------------------------------------------- scale
def test_a_year_of_hourly_data_for_200_orgs_is_computed_on_demand():
    begin = time.perf_counter()
    with SandboxServer(orgs=200, seed=7, hourly_days=365) as srv:
        started = time.perf_counter() - begin
        api, store = Api(srv), srv.store
        org = max(store.usage.by_org, key=lambda o: len(store.usage.by_org[o]))
        begin = time.perf_counter()
        hours = summary(api, org, day(store, 364), day(store, 333), period="HOUR")
        served = time.perf_counter() - begin
        assert {r["startDate"][:10] for r in hours} >= {day(store, 364), day(store, 334)}
        year = summary(api, org, day(store, 365), day(store, 0), period="DAY")
        assert len({r["startDate"] for r in year}) == 365
    print(
        f"\nsandbox orgs=200, hourly_days=365: start {started:.2f} s, "
        f"31 days hourly for one org {served:.3f} s, "
        f"{len(store.usage.items)} metered items"
    )
