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
