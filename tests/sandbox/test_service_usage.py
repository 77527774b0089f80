"""Raw usage records over real HTTP: pages in both metadata spellings, cursors, filters, CSV, limits, RBAC."""

import csv
import io
from collections import defaultdict

import pytest

from cloudmc_frames.sandbox import errors

from .conftest import Api, error_of, first_key, make_server
from .usage_support import busiest_org, day, instant, raw_usage, summary

CAMEL = {"totalCount", "totalPageCount", "count", "page"}
SNAKE = {"total_record_count", "total_page_count", "page_size", "page"}


@pytest.fixture(scope="module")
def snake():
    """A sandbox started with the other metadata spelling (its switches may be flipped)."""
    srv = make_server(usage_metadata="snake")
    yield srv
    srv.stop()


def window(store, days=3):
    """``start_date``/``end_date`` of the last ``days`` days, scoped to the busiest sub-org."""
    return {
        "start_date": instant(store, days),
        "end_date": instant(store, 0),
        "organization_id": busiest_org(store),
    }


def every_page(api, params, size):
    """All records of a paged query, and the first page's metadata."""
    first = api.data("/service/usage", params={**params, "page_size": size})
    records = list(first["records"])
    pages = first["metadata"].get("totalPageCount", first["metadata"].get("total_page_count"))
    for page in range(2, pages + 1):
        records += api.data("/service/usage", params={**params, "page_size": size, "page": page})["records"]
    return records, first["metadata"]


def every_batch(api, params):
    """All records of a cursor query (following next_page_token), and the number of calls."""
    records, token, calls = [], None, 0
    while True:
        data = api.data("/service/usage", params={**params, **({"next_page_token": token} if token else {})})
        records += data["records"]
        calls += 1
        token = data["metadata"]["next_page_token"]
        if token is None:
            return records, calls


def test_default_page_is_the_first_100_with_camel_metadata(api, store):
    data = raw_usage(api, **window(store))
    metadata = data["metadata"]
    assert (
        set(metadata) == CAMEL and metadata["page"] == 1 and metadata["count"] == len(data["records"]) == 100
    )
    assert metadata["totalPageCount"] == -(-metadata["totalCount"] // 100) > 1


def test_pages_cover_every_record_exactly_once(api, store):
    records, metadata = every_page(api, window(store), 250)
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == metadata["totalCount"]
    past_end = raw_usage(api, **window(store), page_size=250, page=metadata["totalPageCount"] + 1)
    assert past_end["records"] == [] and past_end["metadata"]["count"] == 0


def test_snake_spelling_and_the_runtime_switch(snake, store):
    api = Api(snake)
    metadata = raw_usage(api, **window(store), page_size=7, page=2)["metadata"]
    assert set(metadata) == SNAKE and metadata["page_size"] == 7 and metadata["page"] == 2
    assert metadata["total_page_count"] == -(-metadata["total_record_count"] // 7)
    snake.usage_metadata = "camel"
    try:
        assert set(raw_usage(api, **window(store))["metadata"]) == CAMEL
    finally:
        snake.usage_metadata = "snake"
    with pytest.raises(ValueError):
        snake.usage_metadata = "kebab"


def test_cursor_reaches_the_end_without_duplicates_and_matches_the_pages(api, store):
    params = {**window(store, 20), "granularity": "DAILY", "page_size": 300}
    batched, calls = every_batch(api, params)
    paged, metadata = every_page(api, window(store, 20), 1000)
    assert calls == -(-metadata["totalCount"] // 300) > 2
    assert len({r["id"] for r in batched}) == len(batched) and batched == paged


def test_cursor_batches_default_to_1000_and_carry_the_token(api, store):
    data = raw_usage(api, **window(store, 3), granularity="HOURLY")
    assert len(data["records"]) == 1000 and data["metadata"]["count"] == 1000
    assert data["metadata"]["totalCount"] > 1000 and isinstance(data["metadata"]["next_page_token"], str)


@pytest.mark.parametrize(
    "token", ["garbage", "eyJvZmZzZXQiOiAzfQ", "W10"], ids=["not base64", "no query", "a list"]
)
def test_foreign_or_malformed_tokens_are_400(api, store, token):
    response = api.get(
        "/service/usage", params={**window(store), "granularity": "DAILY", "next_page_token": token}
    )
    assert response.status_code == 400 and error_of(response)["context"]["parameter"] == "next_page_token"


def test_a_token_only_fits_its_own_query(api, store):
    token = raw_usage(api, **window(store), granularity="DAILY", page_size=5)["metadata"]["next_page_token"]
    other = {**window(store), "granularity": "DAILY", "usage_type": "cpu_type", "next_page_token": token}
    assert api.get("/service/usage", params=other).status_code == 400


def test_hourly_records_exist_only_inside_the_hourly_window(api, store):
    recent = raw_usage(api, **window(store, 1), granularity="HOURLY", page_size=1000)["records"]
    assert recent and {r["endDate"][11:] for r in recent} <= {f"{h:02d}:00:00Z" for h in range(24)}
    old = {
        "start_date": instant(store, 60),
        "end_date": instant(store, 58),
        "organization_id": busiest_org(store),
    }
    assert raw_usage(api, **old, granularity="HOURLY")["records"] == []
    assert raw_usage(api, **old, granularity="DAILY")["records"]


def test_coarser_granularities_clip_to_the_window_and_keep_the_totals(api, store):
    params = {
        "start_date": instant(store, 75, hours=6),
        "end_date": instant(store, 0),
        "organization_id": busiest_org(store),
    }

    def per_item(granularity):
        out = defaultdict(float)
        for r in every_batch(api, {**params, "granularity": granularity})[0]:
            out[r["id"].split(":")[0]] += r["usage"]
        return out

    monthly = every_batch(api, {**params, "granularity": "MONTHLY"})[0]
    assert min(r["startDate"] for r in monthly) == params["start_date"]
    assert len({r["startDate"][:7] for r in monthly}) in (3, 4)
    daily, yearly = per_item("DAILY"), per_item("YEARLY")
    assert daily.keys() == yearly.keys() and all(daily[k] == pytest.approx(yearly[k]) for k in daily)


def test_filters_are_anded(api, store):
    org = busiest_org(store)
    env_id = store.usage.by_org[org][0].env_id
    conn_id = store.environments[env_id]["serviceConnection"]["id"]
    base = window(store)
    for params, check in [
        ({"environment_Id": env_id}, lambda r: r["environmentId"] == env_id),
        ({"connection_id": conn_id}, lambda r: r["connectionId"] == conn_id),
        (
            {"usage_type": "storage_type"},
            lambda r: r["usageType"] == "storage_type" and r["unit"] == "gigabyte-hour",
        ),
        (
            {"fields.resourceType": "volume", "fields.volumeType": "os"},
            lambda r: r["fields"]["resourceType"] == "volume" and r["fields"]["volumeType"] == "os",
        ),
        ({"usage_type": "cpu_type", "fields.resourceType": "volume"}, None),
    ]:
        records = raw_usage(api, **base, **params, page_size=1000)["records"]
        assert (records == []) if check is None else (records and all(check(r) for r in records)), params


def test_default_scope_is_the_callers_org_and_deleted_orgs_stay_readable(api, store):
    records = raw_usage(api, start_date=instant(store, 2), end_date=instant(store, 0), page_size=1000)[
        "records"
    ]
    assert records and {r["organizationId"] for r in records} == {store.root_id}
    deleted = next(o for o in store.usage.deleted_at if o in store.usage.by_org)
    assert raw_usage(api, start_date=instant(store, 60), end_date=instant(store, 0), organization_id=deleted)[
        "records"
    ]


def test_raw_records_add_up_to_the_usage_summary(api, store):
    org = busiest_org(store)
    records = every_batch(
        api,
        {
            "start_date": instant(store, 10),
            "end_date": instant(store, 0),
            "organization_id": org,
            "granularity": "DAILY",
        },
    )[0]
    raw = defaultdict(float)
    for r in records:
        raw[(r["connectionId"], r["usageType"])] += r["usage"]
    summed = defaultdict(float)
    for r in summary(api, org, day(store, 10), day(store, 0), period="DAY"):
        product = next(
            ln.product
            for ln in store.usage.prices[r["serviceConnectionId"]].lines.values()
            if ln.product.secondary_type == r["secondaryType"]
        )
        summed[(r["serviceConnectionId"], product.usage_type)] += r["utilityUsage"]
    assert raw.keys() == summed.keys() and all(raw[k] == pytest.approx(summed[k]) for k in raw)


def test_csv_is_every_record_unpaged_with_an_optional_bom(snake, store):
    api = Api(snake)
    params = window(store)
    response = api.get("/service/usage", params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    records, _ = every_page(api, params, 1000)
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert all(
        row["fields.resourceId"] == rec["fields"]["resourceId"]
        and float(row["usage"]) == rec["usage"]
        and row["metadata.serviceCode"] == rec["metadata"]["serviceCode"]
        for row, rec in zip(rows, records, strict=False)
    )
    snake.csv_bom = True
    try:
        with_bom = api.get("/service/usage", params=params, headers={"Accept": "text/csv"}).content
    finally:
        snake.csv_bom = False
    assert with_bom.startswith(b"\xef\xbb\xbf") and with_bom[3:] == response.content
    assert next(csv.reader(io.StringIO(with_bom.decode("utf-8"))))[0] == "\ufeffid", (
        "a BOM left in garbles the header"
    )
    assert next(csv.reader(io.StringIO(with_bom.decode("utf-8-sig"))))[0] == "id"


@pytest.mark.parametrize(
    "params,code",
    [
        ({"page_size": "1001"}, errors.BAD_PARAMETER),
        ({"page_size": "0"}, errors.BAD_PARAMETER),
        ({"page": "0"}, errors.BAD_PARAMETER),
        ({"page": "x"}, errors.BAD_PARAMETER),
        ({"granularity": "WEEKLY"}, errors.BAD_PARAMETER),
        ({"granularity": "HOURLY", "page_size": "1001"}, errors.BAD_PARAMETER),
        ({"start_date": "yesterday"}, errors.BAD_PARAMETER),
        ({"end_date": None}, errors.BAD_PARAMETER),
    ],
    ids=[
        "page_size>1000",
        "page_size 0",
        "page 0",
        "page x",
        "granularity",
        "cursor page_size",
        "bad date",
        "no end",
    ],
)
def test_bad_parameters_are_400(api, store, params, code):
    merged = {k: v for k, v in {**window(store), **params}.items() if v is not None}
    response = api.get("/service/usage", params=merged)
    assert response.status_code == 400 and error_of(response)["code"] == code


@pytest.mark.parametrize(
    "granularity,days,status",
    [("HOURLY", 31, 200), ("HOURLY", 32, 400), ("", 366, 200), ("DAILY", 367, 400), ("MONTHLY", 367, 400)],
)
def test_span_limits(api, store, granularity, days, status):
    params = {
        "start_date": instant(store, days),
        "end_date": instant(store, 0),
        "page_size": 1,
        **({"granularity": granularity} if granularity else {}),
    }
    response = api.get("/service/usage", params=params)
    assert response.status_code == status
    if status == 400:
        assert error_of(response)["code"] == errors.SPAN_TOO_LONG
    reversed_span = api.get(
        "/service/usage", params={**params, "start_date": instant(store, 0), "end_date": instant(store, 1)}
    )
    assert reversed_span.status_code == 400


def test_rbac(api, store):
    params = {"start_date": instant(store, 1), "end_date": instant(store, 0)}
    user = first_key(store, "User")
    assert api.get("/service/usage", key=user.key, params=params).status_code == 403
    admin = first_key(store, "Administrator", admin_of_sub_org=True)
    assert api.get("/service/usage", key=admin.key, params=params).status_code == 200
    outside = api.get("/service/usage", key=admin.key, params={**params, "organization_id": store.root_id})
    assert outside.status_code == 403 and error_of(outside)["code"] == errors.FORBIDDEN
    assert api.get("/service/usage", params={**params, "organization_id": "nope"}).status_code == 404
