"""Paging over real HTTP: the sandbox's paged lists, and servers that ignore or repeat pages."""

import pytest

import cloudmc_frames as cmf
from tests.support.scripted import Reply


@pytest.fixture(scope="module")
def sb():
    with cmf.sandbox(orgs=20, seed=7) as sandbox:
        yield sandbox


def test_three_or_more_pages_are_followed_in_order(sb):
    client = sb.client(page_size=4)
    sb.requests.clear()
    listing = client.list("/organizations")
    expected = sb.store.visible_org_ids(sb.api_key)
    assert sorted(r["id"] for r in listing.records) == sorted(expected)
    assert len({r["id"] for r in listing.records}) == len(listing.records)
    pages = [r.query for r in sb.requests if r.path == "/organizations"]
    assert listing.pages == len(pages) >= 3
    assert [int(p["page_number"]) for p in pages] == list(range(1, len(pages) + 1))
    assert {p["page_size"] for p in pages} == {"4"}


def test_sort_parameters_reach_the_server(sb):
    names = [r["name"] for r in sb.client(page_size=5).paginate("/organizations", sort_by="name",
                                                                  sort_order="DESC")]
    assert names == sorted(names, reverse=True)


def test_admin_lists_that_ignore_paging_are_read_once(sb):
    sb.ignore_paging = True
    try:
        sb.requests.clear()
        listing = sb.client(page_size=3).list("/organizations")
    finally:
        sb.ignore_paging = False
    assert listing.pages == 1 and len(listing.records) == len(sb.store.visible_org_ids(sb.api_key))
    assert len([r for r in sb.requests if r.path == "/organizations"]) == 1


def test_server_ignoring_page_number_but_sending_metadata_is_refused(server, make_client):
    page = {"data": [{"id": "a"}, {"id": "b"}],
            "metadata": {"pageSize": 2, "pageCurrent": 1, "recordCount": 6}}
    server.route("/users", [Reply(200, page)])
    with pytest.raises(cmf.ResponseFormatError, match="asked for page 2"):
        make_client(page_size=2).list("/users")
    assert server.hits["/api/v2/users"] == 2


def test_no_metadata_full_page_is_not_followed(server, make_client):
    server.route("/users", [Reply(200, {"data": [{"id": str(i)} for i in range(5)]})])
    listing = make_client(page_size=5).list("/users")
    assert len(listing.records) == 5 and server.hits["/api/v2/users"] == 1
