"""Commitments over real HTTP: lists, filters, shapes, RBAC, committed amounts below and above actual use."""

from datetime import timedelta

import pytest

from cloudmc_frames.sandbox import clock, errors

from .conftest import error_of, first_key
from .usage_support import summary


def commitments(store):
    """Every generated commitment record."""
    return list(store.usage.commitments.values())


def test_list_is_the_organizations_commitments_in_start_order(api, store):
    for org_id in store.orgs:
        served = api.data("/commitments", params={"organization_id": org_id})
        expected = [c for c in commitments(store) if c["organization"]["id"] == org_id]
        assert served == sorted(expected, key=lambda c: (c["startDate"], c["id"]))
    assert api.data("/commitments") == [] and len(commitments(store)) >= 4


def test_status_follows_the_dates_and_every_status_occurs(store):
    now = clock.iso_seconds(store.now)
    for c in commitments(store):
        expected = "UPCOMING" if c["startDate"] > now else "EXPIRED" if c["endDate"] <= now else "IN_PROGRESS"
        assert c["status"] == expected and c["type"] == "RESOURCE" and c["terminated"] is False
    assert {c["status"] for c in commitments(store)} == {"IN_PROGRESS", "EXPIRED", "UPCOMING"}


def test_pricing_methods_and_products_belong_to_the_connection(store):
    methods = set()
    for c in commitments(store):
        methods.add(c["pricingMethod"])
        fixed = c["pricingMethod"] == "FIXED_PRICE"
        assert ("fixedPrice" in c and "fixedPriceTaxCode" in c) == fixed and ("rateType" in c) == (not fixed)
        skus = {p["product"]["sku"] for p in c["committedProducts"]}
        table = next(t for t in store.usage.prices.values() if skus <= {ln.sku for ln in t.lines.values()})
        for product in c["committedProducts"]:
            line = next(ln for ln in table.lines.values() if ln.sku == product["product"]["sku"])
            assert product["product"]["id"] == line.product_id and product["committedAmount"] > 0
            assert ("discountAmount" in product) == (not fixed)
            assert product.get("fixedRateReferencePrice", line.price) == line.price
        assert store.orgs[c["organization"]["id"]]["reseller"]["id"] == c["reseller"]["id"]
    assert methods == {"FIXED_PRICE", "UTILITY_DISCOUNT"}


def test_from_to_keeps_overlapping_commitments(api, store):
    org_id = commitments(store)[0]["organization"]["id"]
    every = api.data("/commitments", params={"organization_id": org_id})
    start = every[0]["startDate"][:10]
    later = (clock.parse_instant(every[0]["endDate"]) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert api.data("/commitments", params={"organization_id": org_id, "from": start, "to": later}) == every
    far = api.data(
        "/commitments", params={"organization_id": org_id, "from": "2001-01-01", "to": "2001-02-01"}
    )
    assert far == []


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-01-01"}, {"to": "2026-01-01"}, {"from": "January", "to": "2026-01-01"}],
    ids=["from alone", "to alone", "bad"],
)
def test_bad_from_to_is_400(api, store, params):
    response = api.get("/commitments", params=params)
    assert response.status_code == 400 and error_of(response)["code"] == errors.BAD_PARAMETER


def test_retrieve_and_rbac(api, store):
    record = commitments(store)[0]
    assert api.data(f"/commitments/{record['id']}") == record
    assert api.get("/commitments/nope").status_code == 404
    holder = record["organization"]["id"]
    outsider = next(
        k
        for k in store.keys
        if k.role == "Administrator"
        and k.status == "ACTIVE"
        and k.org_id != store.root_id
        and k.org_id not in [holder, *store.ancestors(holder)]
    )
    assert api.get(f"/commitments/{record['id']}", key=outsider.key).status_code == 403
    assert api.get("/commitments", key=outsider.key, params={"organization_id": holder}).status_code == 403
    user = first_key(store, "User")
    assert api.get("/commitments", key=user.key).status_code == 403
    assert api.post("/commitments", json={}).status_code == 405


@pytest.mark.parametrize("fit", ["below", "above"])
def test_committed_capacity_against_actual_usage(api, store, fit):
    """Below: actual usage exceeds the capacity (the rest is utility); above: part of it goes unused."""
    chosen = [c for c in commitments(store) if store.usage.commitment_fit.get(c["id"]) == fit]
    assert chosen
    for c in chosen:
        start = max(clock.parse_instant(c["startDate"]), store.now - timedelta(days=store.usage.usage_days))
        end = min(clock.parse_instant(c["endDate"]), store.now)
        hours = (end - start) / timedelta(hours=1)
        table = next(
            t
            for t in store.usage.prices.values()
            if c["committedProducts"][0]["product"]["sku"] in {ln.sku for ln in t.lines.values()}
        )
        records = summary(
            api,
            c["organization"]["id"],
            start.strftime("%Y-%m-%d"),
            end.strftime("%Y-%m-%d"),
            top_level=True,
            period="PERIOD",
            service_connection_id=table.connection_id,
        )
        for product in c["committedProducts"]:
            secondary = next(ln.product.secondary_type for ln in table.lines.values()
                             if ln.sku == product["product"]["sku"])
            record = next(r for r in records if r["secondaryType"] == secondary)
            capacity = product["committedAmount"] * hours
            actual = record["utilityUsage"] + record["resourceCommitmentUsage"]
            assert record["resourceCommitmentUsage"] <= capacity + 1e-6
            if fit == "below":
                assert actual > capacity and record["utilityUsage"] > 0
            else:
                assert actual < capacity and record["resourceCommitmentUsage"] < capacity
