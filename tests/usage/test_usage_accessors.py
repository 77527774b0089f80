"""Each usage accessor returns exactly the sandbox's records: compared with a raw crawl over HTTP.

Windows longer than one call allows are read by the accessor in several calls; the raw crawl cuts
them elsewhere on purpose (day, hour and metric buckets do not depend on where a window is cut).
"""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames import catalog

from .conftest import Raw, busiest_org, days_before, live_orgs, stamp

SUMMARY_KEY = ("organizationId", "serviceConnectionId", "serviceConnectionPricingId", "usageType",
               "secondaryType")


def summary_rows(records):
    return sorted((*(r.get(k) for k in SUMMARY_KEY), stamp(r["startDate"]), stamp(r["endDate"]),
                   round(r["utilityUsage"], 6), round(r["utilityCost"], 6),
                   round(r.get("resourceCommitmentUsage", 0.0), 6)) for r in records)


def frame_summary_rows(frame):
    cols = ["organization_id", "service_connection_id", "service_connection_pricing_id", "usage_type",
            "secondary_type", "start_date", "end_date", "utility_usage", "utility_cost",
            "resource_commitment_usage"]
    rows = []
    for row in frame[cols].astype(object).itertuples(index=False):
        *head, usage, cost, committed = row
        committed = 0.0 if pd.isna(committed) else round(committed, 6)
        rows.append((*head, round(usage, 6), round(cost, 6), committed))
    return sorted(rows)


def test_a_year_of_daily_summary_split_in_two_calls_is_exactly_the_raw_crawl(sb, client):
    org = busiest_org(sb.store)
    start, middle, end = days_before(sb.store, 400), days_before(sb.store, 150), days_before(sb.store, 0)
    frame = cmf.usage_summary(client, org, start=start, end=end)
    raw = Raw(sb)
    expected = [r for low, high in ((start, middle), (middle, end)) for r in raw.get(
        f"/usage_summary/organizations/{org}", start_date=f"{low:%Y-%m-%d}", end_date=f"{high:%Y-%m-%d}",
        period="DAY")]
    assert len(expected) > 1000
    assert frame_summary_rows(frame) == summary_rows(expected)
    coverage = client.coverage.query("accessor == 'usage_summary'")
    assert len(coverage) == 2 and set(coverage["status"]) == {"ok"}  # 400 days: 366 + 34
    assert client.issues.empty


def test_every_visible_organization_and_the_documented_columns(sb, client):
    start, end = days_before(sb.store, 30), days_before(sb.store, 0)
    frame = cmf.usage_summary(client, start=start.date(), end=f"{end:%Y-%m-%d}")
    raw = Raw(sb)
    expected = [r for org in live_orgs(sb.store) for r in raw.get(
        f"/usage_summary/organizations/{org}", start_date=f"{start:%Y-%m-%d}", end_date=f"{end:%Y-%m-%d}",
        period="DAY")]
    assert frame_summary_rows(frame) == summary_rows(expected)
    assert list(frame.columns) == list(catalog.USAGE_SCHEMAS["usage_summary"])
    paths = cmf.organizations(client).set_index("id")["path"]
    assert (frame["organization_path"] == frame["organization_id"].map(paths)).all()
    codes = {c["id"]: c["serviceCode"] for c in sb.store.connections.values()}
    assert (frame["service_code"] == frame["service_connection_id"].map(codes)).all()
    assert (frame["actual_usage"] == frame["utility_usage"]).all()


def test_top_level_hourly_summary_over_31_days_and_commitment_usage(sb, client):
    store = sb.store
    committed = {c["organization"]["id"] for c in store.usage.commitments.values()
                 if c["status"] == "IN_PROGRESS"}
    org = sorted(committed)[0]
    start, middle, end = days_before(store, 40), days_before(store, 17), days_before(store, 0)
    frame = cmf.usage_summary(client, org, start=start, end=end, period="HOUR", top_level=True)
    raw = Raw(sb)
    expected = [r for low, high in ((start, middle), (middle, end)) for r in raw.get(
        f"/usage_summary/top_level/organizations/{org}", start_date=f"{low:%Y-%m-%d}",
        end_date=f"{high:%Y-%m-%d}", period="HOUR")]
    assert frame_summary_rows(frame) == summary_rows(expected)
    assert (frame["end_date"] - frame["start_date"] == pd.Timedelta(hours=1)).all()
    assert frame["resource_commitment_usage"].sum() > 0
    parts = frame["utility_usage"] + frame["resource_commitment_usage"]
    assert (frame["actual_usage"] - parts).abs().max() < 1e-9
    plain = cmf.usage_summary(client, org, start=start, end=end, period="HOUR")
    merged = plain.merge(frame, on=["service_connection_pricing_id", "usage_type", "secondary_type",
                                    "start_date"], suffixes=("", "_top"))
    assert len(merged) == len(plain)
    assert (merged["utility_usage"] - merged["actual_usage_top"]).abs().max() < 1e-6


def test_sub_organizations_are_read_once_through_their_top(sb, client):
    store = sb.store
    top = next(o for o in live_orgs(store) if store.orgs[o].get("parent") and store.children.get(o))
    subtree = [o for o in store.subtree(top) if not store.orgs[o]["deleted"]]
    start, end = days_before(store, 10), days_before(store, 0)
    frame = cmf.usage_summary(client, subtree, start=start, end=end, include_sub_orgs=True)
    coverage = client.coverage.query("accessor == 'usage_summary'")
    assert coverage["organization_id"].tolist() == [top]
    expected = Raw(sb).get(f"/usage_summary/organizations/{top}", start_date=f"{start:%Y-%m-%d}",
                           end_date=f"{end:%Y-%m-%d}", period="DAY", include_sub_orgs="true")
    assert frame_summary_rows(frame) == summary_rows(expected)
    assert set(frame["organization_id"]) == {r["organizationId"] for r in expected}
    paths = cmf.organizations(client).set_index("id")["path"]
    assert (frame["organization_path"] == frame["organization_id"].map(paths)).all()


def test_a_deleted_organization_keeps_its_past_usage(sb, client):
    store = sb.store
    deleted = next(o for o, when in store.usage.deleted_at.items() if store.usage.by_org.get(o))
    start, end = days_before(store, 365), days_before(store, 0)
    live = cmf.usage_summary(client, start=start, end=end, period="PERIOD")
    assert deleted not in set(live["organization_id"])
    frame = cmf.usage_summary(client, deleted, start=start, end=end, period="PERIOD")
    assert len(frame) > 0 and set(frame["organization_id"]) == {deleted}
    assert frame["end_date"].max() <= pd.Timestamp(end)
    everyone = cmf.usage_summary(client, start=start, end=end, period="PERIOD", include_deleted=True)
    assert deleted in set(everyone["organization_id"])


def usage_rows(records, granular=False):
    return sorted((r["organizationId"], r["environmentId"], r["id"], r["usageType"], round(r["usage"], 6),
                   r["unit"], stamp(r["startDate"]), stamp(r["endDate"]),
                   tuple(sorted((k, v) for k, v in r["fields"].items()))) for r in records)


def frame_usage_rows(frame):
    fields = [c for c in frame.columns if c.startswith("field_")]
    rows = []
    for record in frame.to_dict("records"):
        named = tuple(sorted((_camel(c[len("field_"):]), record[c]) for c in fields
                             if not pd.isna(record[c])))
        rows.append((record["organization_id"], record["environment_id"], record["id"], record["usage_type"],
                     round(record["usage"], 6), record["unit"], record["start_date"], record["end_date"],
                     named))
    return sorted(rows)


def _camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)


@pytest.mark.parametrize("spelling", ["camel", "snake"])
def test_usage_records_page_by_page_in_both_metadata_spellings(start_sandbox, spelling):
    sb = start_sandbox("small", usage_metadata=spelling)
    store = sb.store
    start, end = days_before(store, 30), days_before(store, 0)
    with sb.client(progress=False) as client:
        frame = cmf.usage_records(client, start=start, end=end)
        raw = Raw(sb)
        expected = [r for org in live_orgs(store) for r in raw.usage_pages(
            start_date=f"{start:%Y-%m-%dT%H:%M:%SZ}", end_date=f"{end:%Y-%m-%dT%H:%M:%SZ}",
            organization_id=org)]
        assert len(expected) > 1000  # more than one page of 1,000 for some organizations
        assert frame_usage_rows(frame) == usage_rows(expected)
        assert client.issues.empty
    pages = [r for r in sb.requests.snapshot() if r.path.endswith("/service/usage") and "page" in r.query]
    assert any(r.query["page"] == "2" and r.query["page_size"] == "1000" for r in pages)


def test_usage_records_by_cursor_with_granularity(sb, client):
    store = sb.store
    org = busiest_org(store)
    start, end = days_before(store, 3), days_before(store, 0)
    before = len(sb.requests.snapshot())
    frame = cmf.usage_records(client, orgs=org, start=start, end=end, granularity="hourly")
    sent = [r for r in sb.requests.snapshot()[before:] if r.path.endswith("/service/usage")]
    expected = Raw(sb).usage_cursor(start_date=f"{start:%Y-%m-%dT%H:%M:%SZ}",
                                    end_date=f"{end:%Y-%m-%dT%H:%M:%SZ}", organization_id=org,
                                    granularity="HOURLY", page_size=1000)
    assert len(expected) > 2000
    assert frame_usage_rows(frame) == usage_rows(expected)
    tokens = [r.query.get("next_page_token") for r in sent]
    assert tokens[0] is None and len(tokens) >= 3 and all(tokens[1:])
    assert len(set(tokens[1:])) == len(tokens) - 1 and all("page" not in r.query for r in sent)


def test_usage_record_filters_and_columns(sb, client):
    store = sb.store
    org = busiest_org(store)
    env = next(e for e in store.environments.values() if e["organization"]["id"] == org
               and store.connections[e["serviceConnection"]["id"]]["type"] == "cloudstack")
    start, end = days_before(store, 2), days_before(store, 0)
    frame = cmf.usage_records(client, orgs=org, start=start, end=end, environment=env["name"],
                              usage_type="storage_type", fields={"volumeType": "os"},
                              connection=store.connections[env["serviceConnection"]["id"]]["serviceCode"])
    expected = Raw(sb).usage_pages(start_date=f"{start:%Y-%m-%dT%H:%M:%SZ}",
                                   end_date=f"{end:%Y-%m-%dT%H:%M:%SZ}", organization_id=org,
                                   environment_Id=env["id"], usage_type="storage_type",
                                   **{"fields.volumeType": "os"})
    assert expected and frame_usage_rows(frame) == usage_rows(expected)
    assert set(frame["field_volume_type"]) == {"os"} and set(frame["unit"]) == {"gigabyte-hour"}
    assert list(frame.columns[:16]) == list(catalog.USAGE_SCHEMAS["usage_records"])
    assert str(frame["usage"].dtype) == "Float64" and str(frame["start_date"].dtype) == "datetime64[ns, UTC]"


def test_metric_descriptors_are_each_connections_plugin_descriptor(sb, client):
    frame = cmf.metric_descriptors(client)
    raw = Raw(sb)
    expected = []
    for conn in sb.store.connections.values():
        descriptor = raw.get(f"/services/descriptors/{conn['type']}")
        ids = [m["metricIdentifier"] for m in descriptor["metricDescriptors"]] or [None]
        flags = (descriptor["supportsUsage"], descriptor["supportsMetric"])
        expected += [(conn["serviceCode"], conn["type"], *flags, m) for m in ids]
    got = [(r.service_code, r.connection_type, r.supports_usage, r.supports_metric,
            None if pd.isna(r.metric_identifier) else r.metric_identifier) for r in frame.itertuples()]
    assert sorted(got) == sorted(expected)
    gcp = frame[frame["connection_type"] == "gcp"]
    assert len(gcp) == 1 and not gcp["supports_metric"].iloc[0] and not gcp["supports_usage"].iloc[0]
    assert "instances" in frame["entity_types"].iloc[0]
    only = cmf.metric_descriptors(client, "compute-on")
    assert set(only["service_code"]) == {"compute-on"}


def metric_rows(points, env_id):
    return sorted((env_id, p["entityId"], stamp(p["label"] + "Z"), p["value"]) for p in points)


@pytest.mark.parametrize("bucket, aggregation, days",
                         [("1h", "avg", 2), ("1d", "max", 10), ("5min", "min", 36)],
                         ids=["hourly-avg", "daily-max", "5min-split"])
def test_metrics_are_the_raw_series_of_every_environment(sb, client, bucket, aggregation, days):
    store = sb.store
    start, end = days_before(store, days), days_before(store, 0)
    orgs = live_orgs(store)[:8]
    frame = cmf.metrics(client, "cpu", start=start, end=end, orgs=orgs, bucket=bucket,
                        aggregation=aggregation)
    raw = Raw(sb)
    size, unit = {"1h": (1, "HOURS"), "1d": (1, "DAYS"), "5min": (5, "MINUTES")}[bucket]
    middle = start + (end - start) / 2
    expected = []
    for env in store.environments.values():
        conn = store.connections[env["serviceConnection"]["id"]]
        if env["organization"]["id"] not in orgs or env.get("deleted") or conn["type"] != "cloudstack":
            continue
        for low, high in ((start, middle), (middle, end)):  # 36 days of 5 minutes: over 10,000 buckets
            data = raw.get(f"/metrics/{conn['serviceCode']}/instance.cpu.utilization",
                           environment=env["name"], org_id=env["organization"]["id"],
                           startDate=f"{low:%Y-%m-%dT%H:%M:%SZ}",
                           endDate=f"{high:%Y-%m-%dT%H:%M:%SZ}", aggregationType=aggregation, size=size,
                           unit=unit)
            expected += metric_rows(data["instance.cpu.utilization"], env["id"])
    got = sorted(zip(frame["environment_id"], frame["entity_id"], frame["timestamp"], frame["value"],
                     strict=True))
    assert len(expected) > 100 and got == sorted(expected)
    assert set(frame["metric"]) == {"instance.cpu.utilization"}
    assert list(frame.columns) == list(catalog.USAGE_SCHEMAS["metrics"])
    calls = client.coverage.query("accessor == 'metrics' and entity == 'metrics'")
    envs = frame["environment_id"].nunique()
    assert len(calls) >= envs * (2 if bucket == "5min" else 1)


def test_metrics_of_one_entity(sb, client):
    store = sb.store
    instance, profile = next((i, p) for i, p in store.usage_profiles.items() if p == "busy")
    frame = cmf.metrics(client, "instance.cpu.utilization", start=days_before(store, 1),
                        end=days_before(store, 0), entity_id=instance, entity_type="instances")
    assert set(frame["entity_id"]) == {instance} and len(frame) == 24
    assert frame["value"].min() >= 70


def commitment_rows(store, org_ids, window=None):
    rows = []
    for c in store.usage.commitments.values():
        if c["organization"]["id"] not in org_ids:
            continue
        low, high = (f"{w:%Y-%m-%d}" for w in window) if window else ("", "~")
        if not (c["startDate"] < high and c["endDate"] > low):
            continue
        rows += [(c["organization"]["id"], c["id"], c["status"], c["pricingMethod"], p["product"]["sku"],
                  p["committedAmount"], stamp(c["startDate"]), stamp(c["endDate"]))
                 for p in c["committedProducts"]]
    return sorted(rows)


def test_commitments_are_the_stores_committed_products(sb, client):
    store = sb.store
    frame = cmf.commitments(client)
    got = sorted(zip(frame["organization_id"], frame["commitment_id"], frame["status"],
                     frame["pricing_method"], frame["sku"], frame["committed_amount"], frame["start_date"],
                     frame["end_date"], strict=True))
    assert got == commitment_rows(store, set(live_orgs(store)))
    assert set(frame["status"]) == {"IN_PROGRESS", "EXPIRED", "UPCOMING"}
    start, end = days_before(store, 30), days_before(store, 0)
    current = cmf.commitments(client, start=start, end=end)
    assert set(current["status"]) == {"IN_PROGRESS"}
    assert len(current) == len(commitment_rows(store, set(live_orgs(store)), (start, end)))


def test_pricing_and_customer_costs_are_the_raw_reports(sb, client):
    store = sb.store
    start, end = days_before(store, 30), days_before(store, 0)
    window = {"start_date": f"{start:%Y-%m-%dT%H:%M:%SZ}", "end_date": f"{end:%Y-%m-%dT%H:%M:%SZ}"}
    org = busiest_org(store)
    frame = cmf.pricing(client, org, start=start, end=end)
    report = Raw(sb).get("/reports/organization_pricing", organization_id=org, **window)
    expected = sorted((cat["name"]["en"], p["sku"], float(p["usage"]), float(p["cost"]))
                      for cur in report["currencies"] for cat in cur["categories"] for p in cat["products"])
    got = sorted(zip(frame["category"], frame["sku"], frame["usage"], frame["cost"], strict=True))
    assert got == expected
    assert frame["currency_total"].iloc[0] == float(report["currencies"][0]["total"])
    customers = cmf.customer_costs(client, store.root_id, start=start, end=end)
    raw = Raw(sb).get("/reports/customers", organization_id=store.root_id, **window)["organizations"]
    assert sorted(zip(customers["organization_id"], customers["applied_pricing_id"], customers["total"],
                      strict=True)) == sorted((r["id"], r["appliedPricing"]["id"], float(r["total"]))
                                              for r in raw)
    assert customers["org_deleted"].any()  # a deleted sub-organization's past cost is listed


def test_cost_is_usage_times_price_across_accessors(sb, client):
    """The summary's cost per organization equals the pricing report's total (cost = usage x price)."""
    store = sb.store
    org = busiest_org(store)
    start, end = days_before(store, 60), days_before(store, 0)
    summary = cmf.usage_summary(client, org, start=start, end=end, period="PERIOD")
    priced = cmf.pricing(client, org, start=start, end=end)
    products = len(priced)
    assert abs(summary["utility_cost"].sum() - priced["currency_total"].iloc[0]) <= 0.005 * products
    prices = {(t.connection_id, line.product.secondary_type): line.price
              for t in store.usage.prices.values() for line in t.lines.values()}
    expected = sum(u * prices[(c, s)] for c, s, u in zip(summary["service_connection_id"],
                                                       summary["secondary_type"], summary["utility_usage"],
                                                       strict=True))
    assert summary["utility_cost"].sum() == pytest.approx(expected, abs=1e-4)


def test_usage_records_as_csv_with_a_byte_order_mark_are_the_json_records(start_sandbox, tmp_path):
    """One unpaged CSV export per window; the BOM dropped; the same columns and values as JSON; JSON and
    CSV of the same URL are different cache entries."""
    sb = start_sandbox("small", csv_bom=True)
    store = sb.store
    start, end = days_before(store, 4), days_before(store, 0)
    with sb.client(progress=False, cache_backend="sqlite", cache_dir=str(tmp_path)) as client:
        as_json = cmf.usage_records(client, start=start, end=end)
        before = len(sb.requests.snapshot())
        as_csv = cmf.usage_records(client, start=start, end=end, format="csv")
        sent = [r for r in sb.requests.snapshot()[before:] if r.path.endswith("/service/usage")]
        again = cmf.usage_records(client, start=start, end=end)
    assert len(sent) == len(live_orgs(store))  # one call per organization: no pages
    assert not any("page" in r.query for r in sent)
    assert sorted(as_csv.columns) == sorted(as_json.columns)
    key = ["organization_id", "id"]
    pd.testing.assert_frame_equal(as_csv[as_json.columns].sort_values(key).reset_index(drop=True),
                                  as_json.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(again, as_json)
    assert not any(c.startswith("\ufeff") for c in as_csv.columns)


def test_an_instance_stopped_for_the_whole_window_accrues_no_compute_usage(sb, client):
    """Through the accessor: no record of it (no CPU, no memory) while its organization's other
    instances have compute records; its root volume still accrues storage every day."""
    store = sb.store
    cutoff = store.now - pd.Timedelta(days=31).to_pytimedelta()
    live = set(live_orgs(store))
    env, inst = next((e, i) for e in store.environments.values() if e["organization"]["id"] in live
                     and store.connections[e["serviceConnection"]["id"]]["type"] == "cloudstack"
                     for i in store.resources[e["id"]]["instances"].values()
                     if i["state"] == "Stopped" and store.usage.histories[i["id"]].events[-1][0] < cutoff)
    org = env["organization"]["id"]
    start, end = days_before(store, 30), days_before(store, 0)
    records = cmf.usage_records(client, orgs=org, start=start, end=end, granularity="daily")
    assert records["field_resource_id"].notna().any()
    mine = records[records["field_resource_id"] == inst["id"]]
    assert mine.empty
    root = next(v for v in store.resources[env["id"]]["volumes"].values()
                if v.get("instanceId") == inst["id"] and v["type"] == "os")
    disk = records[records["field_resource_id"] == root["id"]]
    assert len(disk) == 30 and set(disk["usage"]) == {root["sizeInGb"] * 24.0}
    compute = records[records["usage_type"].isin(["cpu_type", "memory_type"])]
    assert len(compute) > 0 and inst["id"] not in set(compute["field_resource_id"].dropna())
