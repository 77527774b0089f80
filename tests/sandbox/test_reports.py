"""Pricing reports over real HTTP: shapes, string amounts, filters, and totals that agree across endpoints."""

from collections import defaultdict

import pytest

from cloudmc_frames.sandbox import errors

from .conftest import error_of, first_key
from .usage_support import busiest_org, day, instant, raw_usage, summary


def pricing(api, org_id, days=30, **params):
    """``data`` of ``/reports/organization_pricing`` over the last ``days`` days."""
    store = api.server.store
    return api.data(
        "/reports/organization_pricing",
        params={
            "organization_id": org_id,
            "start_date": instant(store, days),
            "end_date": instant(store, 0),
            **params,
        },
    )


def customers(api, org_id, days=30, **params):
    """The ``organizations`` rows of ``/reports/customers`` over the last ``days`` days."""
    store = api.server.store
    data = api.data(
        "/reports/customers",
        params={
            "organization_id": org_id,
            "start_date": instant(store, days),
            "end_date": instant(store, 0),
            **params,
        },
    )
    assert data["reportGenerated"] is True and data["startDate"] == instant(store, days)
    return data["organizations"]


def products(report):
    """Every product of a pricing report."""
    return [p for cur in report["currencies"] for cat in cur["categories"] for p in cat["products"]]


def test_pricing_report_amounts_are_strings_that_add_up(api, store):
    report = pricing(api, store.root_id)
    assert report["reportGenerated"] is True and report["startDate"] == instant(store, 30)
    (currency,) = report["currencies"]
    assert currency["currency"] == "CAD"
    for category in currency["categories"]:
        assert category["subTotal"] == f"{sum(float(p['cost']) for p in category['products']):.2f}"
    assert currency["total"] == f"{sum(float(c['subTotal']) for c in currency['categories']):.2f}"
    lines = {ln.sku: ln for t in store.usage.prices.values() for ln in t.lines.values()}
    for product in products(report):
        line = lines[product["sku"]]
        (tier,) = product["pricingTiers"]
        assert tier == {"usage": product["usage"], "price": tier["price"], "cost": product["cost"]}
        assert float(tier["price"]) == line.price and float(product["usage"]) > 0
        assert product["cost"] == f"{round(float(product['usage']) * line.price, 2):.2f}"
        assert (
            product["unit"] == {"unit": line.product.pricing_unit, "name": {}} and product["period"] == "HOUR"
        )
    assert [c["name"]["en"] for c in currency["categories"]] == ["Compute", "Disk", "Networking"]


def test_pricing_customers_and_usage_summary_agree(api, store):
    reseller = store.root_id
    rows = customers(api, reseller)
    for org_id in {r["id"] for r in rows}:
        report = pricing(api, org_id)
        mine = [r for r in rows if r["id"] == org_id]
        assert report["currencies"][0]["total"] == f"{sum(float(r['total']) for r in mine):.2f}"
        summed = sum(
            r["utilityCost"]
            for r in summary(api, org_id, day(store, 30), day(store, 0), period="DAY", include_deleted="true")
        )
        assert float(report["currencies"][0]["total"]) == pytest.approx(
            summed, abs=0.005 * len(products(report))
        )


def test_report_usage_equals_the_raw_records(api, store):
    org_id = busiest_org(store)
    raw = defaultdict(float)
    data = raw_usage(
        api,
        start_date=instant(store, 30),
        end_date=instant(store, 0),
        organization_id=org_id,
        granularity="MONTHLY",
    )
    assert data["metadata"]["next_page_token"] is None
    for r in data["records"]:
        sku = store.usage.prices[r["connectionId"]].line(r["usageType"]).sku
        raw[sku] += r["usage"]
    assert {p["sku"]: float(p["usage"]) for p in products(pricing(api, org_id))} == pytest.approx(
        dict(raw), abs=1e-4
    )


def test_connection_and_environment_filters(api, store):
    org_id = busiest_org(store)
    item = store.usage.by_org[org_id][0]
    table = store.usage.prices[item.connection_id]
    only_conn = products(pricing(api, org_id, service_connection_id=item.connection_id))
    assert only_conn and {p["sku"] for p in only_conn} <= {ln.sku for ln in table.lines.values()}
    only_env = products(
        pricing(api, org_id, service_connection_id=item.connection_id, environment_id=item.env_id)
    )
    expected = defaultdict(float)
    for i in store.usage.by_org[org_id]:
        if i.env_id == item.env_id:
            expected[table.line(i.usage_type).sku] += i.usage(store.usage.now - 30 * 86400, store.usage.now)
    assert {p["sku"]: float(p["usage"]) for p in only_env} == pytest.approx(dict(expected), abs=1e-4)
    response = api.get(
        "/reports/organization_pricing",
        params={
            "organization_id": org_id,
            "environment_id": item.env_id,
            "start_date": instant(store, 1),
            "end_date": instant(store, 0),
        },
    )
    assert response.status_code == 400


def test_customers_cover_the_subtree_with_deleted_orgs_marked(api, store):
    rows = customers(api, store.root_id)
    metered = {o for o in store.subtree(store.root_id, True) if o in store.usage.by_org}
    assert {r["id"] for r in rows} == metered
    for row in rows:
        org = store.orgs[row["id"]]
        assert row["orgDeleted"] == str(org["deleted"]).lower() and row["name"] == org["name"]
        assert (
            row["appliedPricing"]["id"] in {t.id for t in store.usage.prices.values()}
            and row["currency"] == "CAD"
        )
        assert row["total"] == f"{sum(float(c['subTotal']) for c in row['categories']):.2f}"
    assert {"true", "false"} == {r["orgDeleted"] for r in rows}
    conn = next(iter(store.usage.prices))
    filtered = customers(api, store.root_id, service_connection_id=conn)
    assert filtered == [r for r in rows if r["appliedPricing"]["id"] == store.usage.prices[conn].id]


def test_customers_needs_a_reseller(api, store):
    leaf = next(o for o in store.orgs.values() if not o["isReseller"])
    response = api.get(
        "/reports/customers",
        params={
            "organization_id": leaf["id"],
            "start_date": instant(store, 1),
            "end_date": instant(store, 0),
        },
    )
    assert response.status_code == 400 and error_of(response)["context"]["parameter"] == "organization_id"


def test_window_echo_and_limits(api, store):
    params = {"start_date": "2026-03-30T00:00:00Z", "end_date": "2026-04-01T23:59:59.999Z"}
    report = api.data("/reports/organization_pricing", params=params)
    assert (report["startDate"], report["endDate"]) == (params["start_date"], params["end_date"])
    for path in ("/reports/organization_pricing", "/reports/customers"):
        too_long = api.get(path, params={"start_date": instant(store, 367), "end_date": instant(store, 0)})
        assert too_long.status_code == 400 and error_of(too_long)["code"] == errors.SPAN_TOO_LONG
        assert api.get(path, params={"start_date": instant(store, 1)}).status_code == 400


def test_empty_window_has_no_currencies(api, store):
    report = api.data(
        "/reports/organization_pricing",
        params={"start_date": "2001-01-01T00:00:00Z", "end_date": "2001-02-01T00:00:00Z"},
    )
    assert report["currencies"] == [] and report["reportGenerated"] is True


def test_rbac(api, store):
    params = {"start_date": instant(store, 1), "end_date": instant(store, 0)}
    user = first_key(store, "User")
    for path in ("/reports/organization_pricing", "/reports/customers"):
        assert api.get(path, key=user.key, params=params).status_code == 403
    admin = first_key(store, "Administrator", admin_of_sub_org=True)
    outside = api.get(
        "/reports/organization_pricing", key=admin.key, params={**params, "organization_id": store.root_id}
    )
    assert outside.status_code == 403
