"""Paging rules, driven by a fake page fetcher (no HTTP)."""

import pytest

from cloudmc_frames.errors import ResponseFormatError
from cloudmc_frames.paging import Page, iter_records


def pages_of(records, size, *, total=None, honour=True, meta=True):
    """A fetcher over ``records`` that pages like CloudMC (or ignores paging when honour=False)."""
    asked = []

    def fetch(params):
        asked.append(dict(params))
        number = params["page_number"] if honour else 1
        chunk = records[(number - 1) * size: number * size]
        metadata = {"pageSize": size, "pageCurrent": number,
                    "recordCount": len(records) if total is None else total} if meta else None
        return Page(chunk if honour or not meta else chunk, metadata)

    return fetch, asked


def read(fetch, size=3, max_pages=50, **kw):
    return [r["id"] for r in iter_records(fetch, page_size=size, max_pages=max_pages, **kw)]


RECORDS = [{"id": f"r{i}"} for i in range(8)]


def test_three_pages_read_in_order_with_paging_params():
    fetch, asked = pages_of(RECORDS, 3)
    assert read(fetch) == [f"r{i}" for i in range(8)]
    assert [a["page_number"] for a in asked] == [1, 2, 3]
    assert all(a["page_size"] == 3 for a in asked)


def test_full_last_page_is_confirmed_by_an_empty_one():
    fetch, asked = pages_of(RECORDS[:6], 3)
    assert read(fetch) == [f"r{i}" for i in range(6)]
    assert len(asked) == 3


def test_reply_without_metadata_is_the_whole_list_read_once():
    def fetch(params):
        fetch.calls += 1
        return Page(RECORDS, None)
    fetch.calls = 0
    assert read(fetch) == [r["id"] for r in RECORDS]
    assert fetch.calls == 1


def test_record_count_only_metadata_means_complete():
    fetch = lambda p: Page(RECORDS, {"recordCount": 8})  # noqa: E731 (service-list shape)
    assert len(read(fetch)) == 8


def test_server_ignoring_page_number_is_stopped_not_duplicated():
    fetch, _ = pages_of(RECORDS, 3, honour=False)
    with pytest.raises(ResponseFormatError, match="asked for page 2 but the server answered page 1"):
        read(fetch)


def test_server_repeating_a_page_with_correct_numbers_raises():
    def fetch(params):
        n = params["page_number"]
        return Page(RECORDS[:3], {"pageSize": 3, "pageCurrent": n, "recordCount": 9})
    with pytest.raises(ResponseFormatError, match="repeats page"):
        read(fetch)


def test_max_pages_bounds_an_endless_list():
    def fetch(params):
        n = params["page_number"]
        return Page([{"id": f"{n}-{i}"} for i in range(3)],
                    {"pageSize": 3, "pageCurrent": n, "recordCount": 10**9})
    with pytest.raises(ResponseFormatError, match="max_pages=5"):
        read(fetch, max_pages=5)


@pytest.mark.parametrize("total, match", [(20, "announced recordCount=20 but sent 8"),
                                           (4, "sent 6 records but announced recordCount=4")])
def test_record_count_that_lies_raises(total, match):
    fetch, _ = pages_of(RECORDS, 3, total=total)
    with pytest.raises(ResponseFormatError, match=match):
        read(fetch)


def test_record_count_too_low_on_a_page_boundary_is_caught():
    fetch, _ = pages_of(RECORDS[:6], 3, total=3)
    with pytest.raises(ResponseFormatError, match="recordCount=3"):
        read(fetch)


@pytest.mark.parametrize("data, match", [({"id": 1}, "not a list"), (["x"], "not a JSON object"),
                                          (None, "not a list")])
def test_data_of_the_wrong_type_raises(data, match):
    with pytest.raises(ResponseFormatError, match=match):
        read(lambda p: Page(data, None))


def test_sort_parameters_are_sent_when_asked():
    fetch, asked = pages_of(RECORDS, 10)
    read(fetch, size=10, sort_by="name", sort_order="DESC")
    assert asked[0]["sort_by"] == "name" and asked[0]["sort_order"] == "DESC"


def test_metadata_lost_after_page_one_raises():
    def fetch(params):
        if params["page_number"] == 1:
            return Page(RECORDS[:3], {"pageSize": 3, "pageCurrent": 1, "recordCount": 8})
        return Page(RECORDS[3:6], None)
    with pytest.raises(ResponseFormatError, match="without the paging metadata"):
        read(fetch)


# -- request economy: consistent metadata is trusted -------------------------------------------------

def echo_server(records, cap=None):
    """Pages like the vendor's example: ``pageSize`` is what this page holds (capped at ``cap``)."""
    asked = []

    def fetch(params):
        asked.append(dict(params))
        size = min(params["page_size"], cap or params["page_size"])
        number = params["page_number"]
        chunk = records[(number - 1) * size: number * size]
        return Page(chunk, {"pageSize": len(chunk) or size, "pageCurrent": number,
                            "recordCount": len(records)})

    return fetch, asked


def test_a_list_that_fits_one_page_costs_one_request_even_when_page_size_echoes_the_count():
    fetch, asked = echo_server(RECORDS[:2])
    assert read(fetch, size=500) == ["r0", "r1"]
    assert len(asked) == 1


def test_a_short_last_page_that_completes_the_count_is_not_confirmed():
    fetch, asked = pages_of(RECORDS, 5)
    assert read(fetch, size=5) == [f"r{i}" for i in range(8)]
    assert len(asked) == 2


def test_a_server_granting_fewer_than_asked_is_followed_and_its_grant_reported():
    grants = []
    fetch, asked = echo_server([{"id": f"r{i}"} for i in range(10)], cap=4)
    assert len(read(fetch, size=500, on_grant=grants.append)) == 10
    assert len(asked) == 3 and grants == [4]


def test_a_full_page_at_the_grant_is_confirmed_so_a_low_count_cannot_hide_rows():
    records = [{"id": f"r{i}"} for i in range(8)]

    def fetch(params):
        number = params["page_number"]
        chunk = records[(number - 1) * 4: number * 4]
        return Page(chunk, {"pageSize": 4, "pageCurrent": number, "recordCount": 4})  # lies: 8

    with pytest.raises(ResponseFormatError, match="sent 8 records but announced recordCount=4"):
        read(fetch, size=4)


def test_pages_smaller_than_announced_are_followed_while_records_remain():
    def fetch(params):  # announces page_size 500 but serves 3 per page (ignores page_size)
        number = params["page_number"]
        return Page(RECORDS[(number - 1) * 3: number * 3],
                    {"pageSize": 500, "pageCurrent": number, "recordCount": 8})

    assert read(fetch, size=500) == [f"r{i}" for i in range(8)]


@pytest.mark.parametrize("count, sent, total, size, full, expected", [
    (3, 3, None, 3, 3, True), (2, 5, None, 3, 3, False),
    (3, 3, 8, 500, 500, True), (0, 5, 8, 3, 3, False),
    (2, 8, 8, 3, 3, False), (3, 6, 6, 3, 3, True), (4, 8, 8, 4, 500, False),
], ids=["no-count-full", "no-count-short", "more-announced", "empty-before-count",
        "short-and-complete", "full-and-complete", "echo-complete"])
def test_more_pages_decision_table(count, sent, total, size, full, expected):
    from cloudmc_frames.paging import more_pages

    assert more_pages(count, sent=sent, total=total, size=size, full=full) is expected
