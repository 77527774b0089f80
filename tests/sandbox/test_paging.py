"""Paging and sorting (REFERENCE 1.5) plus the ``paging`` module's edges."""
import pytest

from cloudmc_frames.sandbox import errors, paging

from .conftest import error_of, make_server

INSTANCES = "/services/compute-qc/prod/instances"


def test_service_list_without_paging_has_record_count_only(api):
    body = api.get(INSTANCES).json()
    assert body["metadata"] == {"recordCount": len(body["data"])}


def test_admin_list_without_paging_has_no_metadata(api):
    assert set(api.get("/organizations").json()) == {"data"}


def test_page_size_one_walks_every_record_without_overlap(api):
    everything = api.data("/organizations")
    seen = []
    for number in range(1, len(everything) + 1):
        body = api.get("/organizations", params={"page_size": 1, "page_number": number}).json()
        assert body["metadata"] == {"pageSize": 1, "pageCurrent": number, "recordCount": len(everything),
                                    "sortField": "id", "sortOrder": "ASC"}
        seen.extend(o["id"] for o in body["data"])
    assert seen == sorted(o["id"] for o in everything)


def test_last_partial_page_and_page_beyond_the_end(api):
    total = len(api.data(INSTANCES))
    size = 4 if total % 4 else 5
    last = -(-total // size)
    body = api.get(INSTANCES, params={"page_size": size, "page_number": last}).json()
    assert 0 < len(body["data"]) < size and body["metadata"]["recordCount"] == total
    beyond = api.get(INSTANCES, params={"page_size": size, "page_number": last + 1}).json()
    assert beyond["data"] == [] and beyond["metadata"]["pageCurrent"] == last + 1


def test_page_number_alone_uses_default_size(api):
    meta = api.get("/users", params={"page_number": 1}).json()["metadata"]
    assert meta["pageSize"] == paging.DEFAULT_PAGE_SIZE


@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_sort_by_name(api, order):
    body = api.get("/organizations", params={"sort_by": "name", "sort_order": order, "page_size": 100}).json()
    names = [o["name"] for o in body["data"]]
    assert names == sorted(names, reverse=order == "DESC")
    assert body["metadata"]["sortField"] == "name" and body["metadata"]["sortOrder"] == order


def test_sort_by_nested_field_and_numbers(api):
    data = api.data(INSTANCES, params={"sort_by": "cpuCount", "sort_order": "DESC"})
    assert [i["cpuCount"] for i in data] == sorted((i["cpuCount"] for i in data), reverse=True)
    users = api.data("/users", params={"sort_by": "primaryRoleBinding.role.name"})
    roles = [u["primaryRoleBinding"]["role"]["name"] for u in users]
    assert roles == sorted(roles)


def test_nulls_sort_last_in_both_directions(api, store):
    for order in ("ASC", "DESC"):
        users = api.data("/users", params={"sort_by": "lastLogin", "sort_order": order})
        values = [u["lastLogin"] for u in users]
        nulls = values.count(None)
        assert values[len(values) - nulls:] == [None] * nulls


@pytest.mark.parametrize("params", [{"page_size": "0"}, {"page_size": "ten"}, {"page_number": "0"},
                                    {"page_number": "-1"}, {"sort_order": "UP"}, {"sort_by": "noSuchField"}])
def test_bad_paging_values_are_400(api, params):
    for path in ("/organizations", INSTANCES):
        response = api.get(path, params=params)
        assert response.status_code == 400 and error_of(response)["code"] == errors.BAD_PARAMETER


def test_ignore_paging_switch():
    with make_server(ignore_paging=True) as srv:
        import requests
        headers = {"MC-Api-Key": srv.api_key}
        body = requests.get(srv.api_url + "/organizations", params={"page_size": 1, "page_number": 2},
                            headers=headers, timeout=5).json()
        assert set(body) == {"data"} and len(body["data"]) == len(srv.store.visible_org_ids(srv.api_key))
        assert requests.get(srv.api_url + "/users", params={"page_size": "0"}, headers=headers,
                            timeout=5).status_code == 200
        service = requests.get(srv.api_url + INSTANCES, params={"page_size": 1}, headers=headers,
                               timeout=5).json()
        assert service["metadata"]["pageSize"] == 1 and len(service["data"]) == 1


def test_sort_records_unit():
    records = [{"id": "b", "n": 2}, {"id": "a", "n": None}, {"id": "c", "n": 2}, {"id": "d", "n": 1}]
    assert [r["id"] for r in paging.sort_records(records, "n", "ASC")] == ["d", "b", "c", "a"]
    assert [r["id"] for r in paging.sort_records(records, "n", "DESC")] == ["b", "c", "d", "a"]
    assert [r["id"] for r in paging.sort_records(records, "id", "DESC")] == ["d", "c", "b", "a"]
    with pytest.raises(errors.ApiError):
        paging.sort_records(records, "zzz", "ASC")
    assert paging.sort_records([], "zzz", "ASC") == []
