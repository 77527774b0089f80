"""Usage summaries over real HTTP: every parameter, the hourly window, span limits, top level, RBAC."""

import csv
import io
from collections import defaultdict

import pytest

from cloudmc_frames.sandbox import clock, errors

from .conftest import error_of, first_key
from .usage_support import busiest_org, day, summary

VENDOR_KEYS = {
    "organizationId",
    "serviceConnectionId",
    "serviceConnectionPricingId",
    "utilityCost",
    "utilityUsage",
    "startDate",
    "endDate",
    "usageType",
    "secondaryType",
}


def totals(records, field="utilityUsage"):
    """``{(org, connection, usageType, secondaryType): summed field}``."""
    out = defaultdict(float)
    for r in records:
        out[(r["organizationId"], r["serviceConnectionId"], r["usageType"], r["secondaryType"])] += r[field]
    return dict(out)


def assert_same_totals(left, right):
    """Two ``totals`` dicts agree (to float noise)."""
    assert left.keys() == right.keys() and left
    assert all(left[k] == pytest.approx(right[k], abs=1e-5) for k in left)


def test_day_records_have_the_vendor_keys_and_cost_is_usage_times_price(api, store):
    records = summary(api, store.root_id, day(store, 3), day(store, 0), period="DAY")
    assert records and all(set(r) == VENDOR_KEYS for r in records)
    assert {r["startDate"][10:] for r in records} == {"T00:00:00.000Z"}
    for r in records:
        table = store.usage.prices[r["serviceConnectionId"]]
        line = next(ln for ln in table.lines.values() if ln.product.secondary_type == r["secondaryType"])
        assert r["serviceConnectionPricingId"] == table.id and r["usageType"] == line.product.summary_type
        assert r["utilityUsage"] > 0 and r["utilityCost"] == pytest.approx(
            r["utilityUsage"] * line.price, abs=1e-6
        )
    assert [r["startDate"] for r in records] == sorted(r["startDate"] for r in records)


def test_hour_day_and_period_buckets_add_up_to_the_same_usage(api, store):
    org = busiest_org(store)
    hours = summary(api, org, day(store, 2), day(store, 0), period="HOUR")
    days = summary(api, org, day(store, 2), day(store, 0), period="DAY")
    period = summary(api, org, day(store, 2), day(store, 0), period="PERIOD")
    assert len({r["startDate"] for r in hours}) == 48 and len({r["startDate"] for r in days}) == 2
    assert {(r["startDate"], r["endDate"]) for r in period} == {
        (f"{day(store, 2)}T00:00:00.000Z", f"{day(store, 0)}T00:00:00.000Z")
    }
    assert_same_totals(totals(hours), totals(days))
    assert_same_totals(totals(days), totals(period))


def test_period_defaults_to_hour(api, store):
    records = summary(api, store.root_id, day(store, 1), day(store, 0))
    assert {r["startDate"][11:13] for r in records} == {f"{h:02d}" for h in range(24)}


def test_hourly_queries_over_old_days_are_empty_as_documented(api, store):
    old, window = day(store, 60), store.usage.hourly_days
    assert summary(api, store.root_id, old, day(store, 59), period="DAY")
    assert summary(api, store.root_id, old, day(store, 59), period="HOUR") == []
    straddling = summary(api, store.root_id, day(store, window + 2), day(store, window - 1), period="HOUR")
    assert {r["startDate"][:10] for r in straddling} == {day(store, window)}


@pytest.mark.parametrize(
    "period,days,status",
    [("HOUR", 31, 200), ("HOUR", 32, 400), ("DAY", 366, 200), ("DAY", 367, 400), ("PERIOD", 367, 400)],
)
def test_span_limits(api, store, period, days, status):
    response = api.get(
        f"/usage_summary/organizations/{store.root_id}",
        params={"start_date": day(store, days), "end_date": day(store, 0), "period": period},
    )
    assert response.status_code == status, response.text
    if status == 400:
        error = error_of(response)
        assert error["code"] == errors.SPAN_TOO_LONG
        assert error["context"]["maxDays"] == (31 if period == "HOUR" else 366)


@pytest.mark.parametrize(
    "params",
    [
        {"end_date": "2026-01-02"},
        {"start_date": "2026-01-02"},
        {"start_date": "2026-01-02", "end_date": "2026-01-02"},
        {"start_date": "2026-01-03", "end_date": "2026-01-02"},
        {"start_date": "2026-01-02T00:00:00Z", "end_date": "2026-01-03"},
        {"start_date": "2026-01-02", "end_date": "2026-01-03", "period": "WEEK"},
        {"start_date": "2026-01-02", "end_date": "2026-01-03", "format": "xml"},
    ],
    ids=["no start", "no end", "empty span", "reversed", "date-time", "bad period", "bad format"],
)
def test_bad_parameters_are_400(api, store, params):
    response = api.get(f"/usage_summary/organizations/{store.root_id}", params=params)
    assert response.status_code == 400 and error_of(response)["code"] == errors.BAD_PARAMETER


def test_include_sub_orgs_adds_each_live_descendant_with_its_own_records(api, store):
    own = summary(api, store.root_id, day(store, 1), day(store, 0), period="DAY")
    tree = summary(api, store.root_id, day(store, 1), day(store, 0), period="DAY", include_sub_orgs="true")
    assert {r["organizationId"] for r in own} == {store.root_id}
    metered = {o for o in store.subtree(store.root_id) if o in store.usage.by_org}
    assert {r["organizationId"] for r in tree} == metered and len(metered) > 3
    assert [r for r in tree if r["organizationId"] == store.root_id] == own


def test_deleted_organization_keeps_its_past_usage(api, store):
    org_id, deleted_at = next((o, t) for o, t in store.usage.deleted_at.items() if o in store.usage.by_org)
    start, end = day(store, 60), day(store, 0)
    response = api.get(
        f"/usage_summary/organizations/{org_id}", params={"start_date": start, "end_date": end}
    )
    assert response.status_code == 404
    records = summary(api, org_id, start, end, period="DAY", include_deleted="true")
    stamp = clock.iso_ms(deleted_at)
    assert records and all(r["startDate"] < stamp for r in records), "nothing accrues after the deletion"
    assert any(r["endDate"] > stamp for r in records)
    assert min(r["startDate"] for r in records) == f"{start}T00:00:00.000Z"
    parent = store.orgs[org_id]["parent"]["id"]
    without = summary(api, parent, start, end, period="DAY", include_sub_orgs="true")
    with_deleted = summary(
        api, parent, start, end, period="DAY", include_sub_orgs="true", include_deleted="true"
    )
    assert org_id not in {r["organizationId"] for r in without}
    assert [r for r in with_deleted if r["organizationId"] == org_id] == records


def test_service_connection_filter(api, store):
    conn = next(iter(store.usage.prices))
    records = summary(
        api, store.root_id, day(store, 1), day(store, 0), period="DAY", service_connection_id=conn
    )
    assert records and {r["serviceConnectionId"] for r in records} == {conn}
    gcp = store.connection_by_code("gcp-lab")["id"]
    assert summary(api, store.root_id, day(store, 1), day(store, 0), service_connection_id=gcp) == []


def test_include_cost_false_drops_the_cost_fields(api, store):
    records = summary(api, store.root_id, day(store, 1), day(store, 0), period="DAY", include_cost="false")
    assert records and all(
        set(r) == VENDOR_KEYS - {"utilityCost", "serviceConnectionPricingId"} for r in records
    )


def test_include_free_usage_false_drops_free_records(api, store):
    everything = summary(api, store.root_id, day(store, 1), day(store, 0), period="DAY")
    paid = summary(api, store.root_id, day(store, 1), day(store, 0), period="DAY", include_free_usage="false")
    free = [r for r in everything if r["utilityCost"] == 0]
    assert free and {r["secondaryType"] for r in free} == {"SOURCE_NAT"}
    assert paid == [r for r in everything if r["utilityCost"] > 0]


def test_combine_usage_types_sums_cost_per_org_connection_and_bucket(api, store):
    params = {"period": "DAY", "include_sub_orgs": "true"}
    plain = summary(api, store.root_id, day(store, 2), day(store, 0), **params)
    combined = summary(api, store.root_id, day(store, 2), day(store, 0), combine_usage_types="true", **params)
    assert combined and all(
        set(r) == {"organizationId", "serviceConnectionId", "utilityCost", "startDate", "endDate"}
        for r in combined
    )
    expected = defaultdict(float)
    for r in plain:
        expected[(r["organizationId"], r["serviceConnectionId"], r["startDate"])] += r["utilityCost"]
    assert {
        (r["organizationId"], r["serviceConnectionId"], r["startDate"]): pytest.approx(
            r["utilityCost"], abs=1e-5
        )
        for r in combined
    } == expected


def test_csv_format_matches_the_json_records(api, store):
    params = {"start_date": day(store, 2), "end_date": day(store, 0), "period": "DAY", "format": "csv"}
    response = api.get(f"/usage_summary/organizations/{store.root_id}", params=params)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert not response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert list(rows[0]) == [
        "organizationId",
        "serviceConnectionId",
        "startDate",
        "endDate",
        "usageType",
        "secondaryType",
        "serviceConnectionPricingId",
        "utilityCost",
        "utilityUsage",
    ]
    records = summary(api, store.root_id, day(store, 2), day(store, 0), period="DAY")
    assert len(rows) == len(records)
    for row, record in zip(rows, records, strict=False):
        assert row["utilityCost"] == f"{record['utilityCost']:.6f}"
        assert float(row["utilityUsage"]) == record["utilityUsage"]
        assert row["startDate"] == record["startDate"] and row["secondaryType"] == record["secondaryType"]


def test_admin_list_paging_applies(api, store):
    body = api.get(
        f"/usage_summary/organizations/{store.root_id}",
        params={"start_date": day(store, 2), "end_date": day(store, 0), "page_size": 3},
    ).json()
    assert len(body["data"]) == 3 and body["metadata"]["recordCount"] > 3


# ---------------------------------------------------------------- top level
def committed_org(store, fit):
    """(org id, connection id, commitment) of an IN_PROGRESS commitment with ``fit`` ("below"/"above")."""
    for commitment in store.usage.commitments.values():
        if commitment["status"] == "IN_PROGRESS" and store.usage.commitment_fit[commitment["id"]] == fit:
            org_id = commitment["organization"]["id"]
            sku = commitment["committedProducts"][0]["product"]["sku"]
            conn = next(
                c for c, t in store.usage.prices.items() if any(ln.sku == sku for ln in t.lines.values())
            )
            return org_id, conn, commitment
    raise LookupError(fit)


def test_top_level_splits_actual_usage_into_commitment_and_utility(api, store):
    org_id, conn, commitment = committed_org(store, "below")
    plain = summary(api, org_id, day(store, 3), day(store, 0), period="DAY")
    top = summary(api, org_id, day(store, 3), day(store, 0), period="DAY", top_level=True)
    assert len(top) == len(plain) and {r["startDate"][10:] for r in top} == {"T00:00:00Z"}
    covered = [r for r in top if r["resourceCommitmentUsage"] > 0]
    assert covered and {r["serviceConnectionId"] for r in covered} == {conn}
    for p, t in zip(plain, top, strict=False):
        assert t["utilityUsage"] + t["resourceCommitmentUsage"] == pytest.approx(p["utilityUsage"], abs=1e-6)
        price = p["utilityCost"] / p["utilityUsage"] if p["utilityUsage"] else 0
        assert t["utilityCost"] == pytest.approx(t["utilityUsage"] * price, abs=1e-5)
    cap = {
        ln.product.secondary_type: a["committedAmount"]
        for a in commitment["committedProducts"]
        for ln in store.usage.prices[conn].lines.values()
        if ln.sku == a["product"]["sku"]
    }
    hourly = summary(
        api, org_id, day(store, 1), day(store, 0), period="HOUR", top_level=True, service_connection_id=conn
    )
    committed = [r for r in hourly if r["secondaryType"] in cap]
    assert committed and all(
        r["resourceCommitmentUsage"] <= cap[r["secondaryType"]] + 1e-9 for r in committed
    )
    assert any(r["utilityUsage"] > 0 for r in committed), "usage above a below-actual commitment is utility"


def test_top_level_without_commitments_equals_the_plain_summary(api, store):
    committed = {c["organization"]["id"] for c in store.usage.commitments.values()}
    org_id = next(o for o in store.usage.by_org if o not in committed and not store.orgs[o]["deleted"])
    plain = summary(api, org_id, day(store, 2), day(store, 0), period="DAY")
    top = summary(api, org_id, day(store, 2), day(store, 0), period="DAY", top_level=True, format="csv")
    assert [t["resourceCommitmentUsage"] for t in top] == [0.0] * len(plain)
    assert [(t["utilityUsage"], t["utilityCost"]) for t in top] == [
        (p["utilityUsage"], p["utilityCost"]) for p in plain
    ]


# --------------------------------------------------------------------- RBAC
@pytest.mark.parametrize("top_level", [False, True], ids=["organizations", "top_level"])
def test_rbac(api, store, top_level):
    base = f"/usage_summary/{'top_level/' if top_level else ''}organizations"
    params = {"start_date": day(store, 1), "end_date": day(store, 0)}
    user = first_key(store, "User")
    assert api.get(f"{base}/{user.org_id}", key=user.key, params=params).status_code == 403
    admin = first_key(store, "Administrator", admin_of_sub_org=True)
    assert api.get(f"{base}/{admin.org_id}", key=admin.key, params=params).status_code == 200
    response = api.get(f"{base}/{store.root_id}", key=admin.key, params=params)
    assert response.status_code == 403 and error_of(response)["code"] == errors.FORBIDDEN
    assert api.get(f"{base}/nope", params=params).status_code == 404
    assert api.get(f"{base}/{store.root_id}", key=None, params=params).status_code == 401
