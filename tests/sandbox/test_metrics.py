"""Plugin descriptors and metrics over real HTTP: flags, buckets, aggregations, seeded profiles, errors."""

import statistics

import pytest

from cloudmc_frames.sandbox import clock, errors, rbac, signals
from cloudmc_frames.sandbox.services import ENTITIES

from .conftest import error_of, first_key
from .usage_support import instant

CPU = "/metrics/compute-qc/instance.cpu.utilization"


def points(api, path=CPU, key=..., **params):
    """The points of one metric query (asserting 200)."""
    data = api.data(path, key=key, params=params)
    assert len(data) == 1
    return next(iter(data.values()))


def by_entity(found):
    """``{entityId: [values]}``."""
    out = {}
    for point in found:
        out.setdefault(point["entityId"], []).append(point["value"])
    return out


def prod_window(store, days=1, **params):
    """Parameters of an hourly query on the root's ``prod`` environment over the last ``days``."""
    return {
        "startDate": instant(store, days),
        "endDate": instant(store, 0),
        "environment": "prod",
        "size": 1,
        "unit": "HOURS",
        **params,
    }


# -------------------------------------------------------------- descriptors
def test_descriptors_say_what_each_plugin_supports(api, store):
    cloudstack, gcp = (api.data(f"/services/descriptors/{t}") for t in ("cloudstack", "gcp"))
    assert (cloudstack["supportsUsage"], cloudstack["supportsMetric"]) == (True, True)
    assert (gcp["supportsUsage"], gcp["supportsMetric"], gcp["metricDescriptors"]) == (False, False, [])
    assert [m["metricIdentifier"] for m in cloudstack["metricDescriptors"]] == list(signals.METRICS)
    assert {m["entityType"] for m in cloudstack["metricDescriptors"]} == {"instances"}
    for descriptor in (cloudstack, gcp):
        assert [e["type"] for e in descriptor["entityDescriptors"]] == list(ENTITIES[descriptor["type"]])
    instances = next(e for e in cloudstack["entityDescriptors"] if e["type"] == "instances")
    assert {"create", "delete", "start", "stop", "reboot"} <= set(instances["operations"])
    assert instances["operations"]["stop"]["defaultOperationType"] == "EXECUTE"
    gcp_conn = store.connection_by_code("gcp-lab")
    assert (gcp_conn["supportsUsage"], gcp_conn["metricsEnabled"]) == (False, False)


def test_descriptor_errors_and_access(api, store):
    assert api.get("/services/descriptors/aws").status_code == 404
    assert api.get("/services/descriptors/gcp", key=first_key(store, "Guest").key).status_code == 200
    assert api.get("/services/descriptors/gcp", key=None).status_code == 401


# ------------------------------------------------------------------ metrics
def test_hourly_points_follow_the_compute_history(api, store):
    found = points(api, **prod_window(store))
    env = store.env_by_name(store.root_id, "prod")
    expected = {
        i for i, intervals in store.usage.metric_entities[env["id"]] if intervals[-1][1] == store.usage.now
    }
    assert set(by_entity(found)) == expected and len(found) == 24 * len(expected)
    assert {p["label"][13:] for p in found} == {":00:00.000"} and all(
        isinstance(p["value"], float) for p in found
    )
    assert [(p["entityId"], p["label"]) for p in found] == sorted((p["entityId"], p["label"]) for p in found)
    stopped = [
        i for i in store.resources[env["id"]]["instances"].values() if i["state"] in ("Stopped", "Destroyed")
    ]
    assert stopped and not set(by_entity(found)) & {i["id"] for i in stopped}


def sampled_now(store, kind):
    """(instance id, environment) of ``kind`` instances in a compute state through the last 30 days."""
    month_ago = store.usage.now - 30 * 86400
    for env_id, entities in store.usage.metric_entities.items():
        for entity, intervals in entities:
            start, end = intervals[-1]
            if store.usage_profiles[entity] == kind and start <= month_ago and end == store.usage.now:
                yield entity, store.environments[env_id]


@pytest.mark.parametrize("kind", signals.PROFILE_KINDS)
def test_seeded_profiles_show_in_the_last_30_days(api, store, kind):
    found = list(sampled_now(store, kind))[:3]
    assert found
    for entity, env in found:
        conn = store.env_connection(env)
        series = [
            p["value"]
            for p in points(
                api,
                f"/metrics/{conn['serviceCode']}/instance.cpu.utilization",
                **prod_window(
                    store, 30, environment=env["name"], entityId=entity, org_id=env["organization"]["id"]
                ),
            )
        ]
        assert len(series) == 30 * 24
        high, median = max(series), statistics.median(series)
        assert {
            "idle": high < 5,
            "busy": min(series) >= 70 and statistics.quantiles(series, n=20)[-1] > 90,
            "spiky": high >= 85 and median < 15,
            "normal": min(series) >= 10 and median < 40,
        }[kind]


def test_idle_instances_have_been_running_without_a_break_since_before_they_went_idle(store):
    idle = [i for i, k in store.usage_profiles.items() if k == "idle"]
    assert idle
    for inst in idle:
        past, since = store.usage.histories[inst], store.usage.profiles[inst].since
        start, end = past.spans()[-1]
        assert past.state == "Running" and end == store.now
        assert clock.epoch(start) < since <= store.usage.now - 35 * 86400


def test_aggregations_are_consistent(api, store):
    daily = {
        a: points(api, **prod_window(store, 3, size=1, unit="days", aggregationType=a))
        for a in ("avg", "sum", "count", "min", "max")
    }
    assert (
        points(api, **prod_window(store, 3, size=1, unit="days", aggregationType="AVERAGE")) == daily["avg"]
    )
    hourly = by_entity(points(api, **prod_window(store, 3)))
    assert len({len(v) for v in daily.values()}) == 1
    for avg, total, count, low, high in zip(*daily.values(), strict=False):
        assert avg["label"][11:] == "00:00:00.000" and count["value"] == 24.0
        assert total["value"] == pytest.approx(avg["value"] * 24, abs=0.2)
        assert low["value"] <= avg["value"] <= high["value"]
    first = daily["avg"][0]
    assert first["value"] == pytest.approx(statistics.mean(hourly[first["entityId"]][:24]), abs=0.01)


def test_default_five_minute_buckets_keep_the_hourly_samples(api, store):
    params = prod_window(store)
    del params["size"], params["unit"]
    assert points(api, **params) == points(api, **prod_window(store))


def test_buckets_align_on_their_width(api, store):
    params = prod_window(store, 2, size=12)
    params["startDate"] = instant(store, 2, hours=5)
    labels = {p["label"][11:] for p in points(api, **params)}
    assert labels == {"00:00:00.000", "12:00:00.000"}


def test_entity_and_type_filters(api, store):
    everything = points(api, **prod_window(store))
    entity = everything[0]["entityId"]
    assert points(api, **prod_window(store, entityId=entity)) == [
        p for p in everything if p["entityId"] == entity
    ]
    assert points(api, **prod_window(store, entityId="nope")) == []
    assert points(api, **prod_window(store, entityType="volumes")) == []
    assert points(api, **prod_window(store, entityType="instances")) == everything


def test_without_environment_every_environment_of_the_org_is_covered(api, store):
    org = next(
        o
        for o in store.orgs.values()
        if len(
            [
                e
                for e in store.environments.values()
                if e["organization"]["id"] == o["id"]
                and store.env_connection(e)["serviceCode"] == "compute-qc"
            ]
        )
        > 1
    )
    envs = [
        e
        for e in store.environments.values()
        if e["organization"]["id"] == org["id"] and store.env_connection(e)["serviceCode"] == "compute-qc"
    ]
    params = {**prod_window(store), "org_id": org["id"]}
    del params["environment"]
    union = [p for e in envs for p in points(api, **{**params, "environment": e["name"]})]
    assert union and points(api, **params) == sorted(union, key=lambda p: (p["entityId"], p["label"]))


@pytest.mark.parametrize(
    "path,params,status,code",
    [
        ("/metrics/compute-qc/instance.disk.iops", {}, 404, errors.NOT_FOUND),
        ("/metrics/gcp-lab/instance.cpu.utilization", {}, 400, errors.UNSUPPORTED),
        ("/metrics/nope/instance.cpu.utilization", {}, 404, errors.NOT_FOUND),
        (CPU, {"environment": "nope"}, 404, errors.NOT_FOUND),
        (CPU, {"aggregationType": "median"}, 400, errors.BAD_PARAMETER),
        (CPU, {"unit": "fortnights"}, 400, errors.BAD_PARAMETER),
        (CPU, {"size": "0"}, 400, errors.BAD_PARAMETER),
        (CPU, {"size": "1", "unit": "MINUTES"}, 400, errors.SPAN_TOO_LONG),
        (CPU, {"startDate": "2025-01-01T00:00:00Z", "size": 1, "unit": "DAYS"}, 400, errors.SPAN_TOO_LONG),
        (CPU, {"startDate": None}, 400, errors.BAD_PARAMETER),
        (CPU, {"endDate": "2020-01-01T00:00:00Z"}, 400, errors.BAD_PARAMETER),
    ],
    ids=[
        "unknown metric",
        "plugin without metrics",
        "unknown connection",
        "unknown environment",
        "aggregation",
        "unit",
        "size",
        "too many buckets",
        "span",
        "no start",
        "end before start",
    ],
)
def test_errors(api, store, path, params, status, code):
    merged = {
        k: v
        for k, v in {"startDate": instant(store, 10), "endDate": instant(store, 0), **params}.items()
        if v is not None
    }
    response = api.get(path, params=merged)
    assert response.status_code == status and error_of(response)["code"] == code
    if path.endswith("iops"):
        assert error_of(response)["context"]["metricIdentifiers"] == sorted(signals.METRICS)
    if "gcp" in path:
        assert error_of(response)["context"]["flag"] == "supportsMetric"


def test_rbac_follows_environment_membership(api, store):
    user = next(
        k
        for k in store.keys
        if k.role == "User"
        and k.status == "ACTIVE"
        and k.org_id == store.root_id
        and rbac.is_member(store, k, store.env_by_name(store.root_id, "prod")["id"])
    )
    own = points(api, key=user.key, **prod_window(store))
    assert own == points(api, **prod_window(store))
    staging = api.get(
        "/metrics/compute-on/instance.cpu.utilization",
        key=user.key,
        params={**prod_window(store), "environment": "staging"},
    )
    assert staging.status_code == 403
    everywhere = {**prod_window(store)}
    del everywhere["environment"]
    assert by_entity(points(api, key=user.key, **everywhere)).keys() == by_entity(own).keys()
    admin = first_key(store, "Administrator", admin_of_sub_org=True)
    outside = api.get(CPU, key=admin.key, params={**prod_window(store), "org_id": store.root_id})
    assert outside.status_code == 403
