"""Paging quirks over HTTP: a page-size ceiling (400), a server that serves its own page size, and a
recordCount that lies; unpaged requests and the other knobs' defaults are untouched."""
import pytest

from cloudmc_frames.sandbox import PagingQuirks

from .conftest import Api, error_of, make_server


@pytest.fixture(scope="module")
def quirky():
    srv = make_server()
    yield srv
    srv.stop()


@pytest.fixture
def api(quirky):
    quirky.paging = PagingQuirks()
    yield Api(quirky)
    quirky.paging = PagingQuirks()


def users_of(store, org_id):
    return sorted(u["id"] for u in store.users.values()
                  if u["organization"]["id"] == org_id and not u["deleted"])


def test_page_sizes_above_the_ceiling_are_refused_with_400(quirky, api):
    quirky.paging = PagingQuirks(max_page_size=50)
    refused = api.get("/users", params={"page_size": 51})
    assert refused.status_code == 400
    error = error_of(refused)
    assert error["code"] == 9400 and error["context"] == {"parameter": "page_size", "value": "51", "max": 50}
    assert "page_size must be <= 50" in error["message"]
    assert api.get("/users", params={"page_size": 50}).status_code == 200
    assert api.get("/users").status_code == 200  # no page_size: nothing to refuse


def test_a_server_that_ignores_page_size_serves_its_own_and_says_so(quirky, api):
    quirky.paging = PagingQuirks(served_page_size=3)
    org = quirky.store.root_id
    everything = users_of(quirky.store, org)
    assert len(everything) > 3
    body = api.get("/users", params={"page_size": 100, "page_number": 2, "org_id": org}).json()
    assert [u["id"] for u in body["data"]] == everything[3:6]
    assert body["metadata"]["pageSize"] == 3 and body["metadata"]["pageCurrent"] == 2
    assert body["metadata"]["recordCount"] == len(everything)
    unpaged = api.get("/users", params={"org_id": org}).json()
    assert len(unpaged["data"]) == len(everything) and "metadata" not in unpaged


def test_a_service_list_ignores_page_size_too(quirky, api):
    quirky.paging = PagingQuirks(served_page_size=2)
    resources = quirky.store.resources
    env = next(e for e in quirky.store.environments.values() if len(resources[e["id"]]["instances"]) > 2)
    conn = quirky.store.connections[env["serviceConnection"]["id"]]
    body = api.get(f"/services/{conn['serviceCode']}/{env['name']}/instances",
                   params={"page_size": 50, "org_id": env["organization"]["id"]}).json()
    assert len(body["data"]) == 2 and body["metadata"]["pageSize"] == 2


@pytest.mark.parametrize("skew", [-3, 5, -10_000], ids=["too-low", "too-high", "never-negative"])
def test_record_count_lies_by_the_skew_and_the_records_are_all_there(quirky, api, skew):
    quirky.paging = PagingQuirks(record_count_skew=skew)
    org = quirky.store.root_id
    everything = users_of(quirky.store, org)
    body = api.get("/users", params={"page_size": 100, "org_id": org}).json()
    assert [u["id"] for u in body["data"]] == everything
    assert body["metadata"]["recordCount"] == max(0, len(everything) + skew)


def test_quirks_are_validated():
    with pytest.raises(ValueError, match="max_page_size"):
        PagingQuirks(max_page_size=0)
    with pytest.raises(ValueError, match="record_count_skew"):
        PagingQuirks(record_count_skew=1.5)
    assert not PagingQuirks().active and PagingQuirks(served_page_size=5).active
