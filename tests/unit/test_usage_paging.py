"""``/service/usage`` paging, driven by fake fetchers: numbered pages in both metadata spellings, cursors."""

import pytest

from cloudmc_frames.errors import ResponseFormatError, ValidationError
from cloudmc_frames.paging import (
    Page,
    PageSize,
    iter_usage_cursor,
    iter_usage_pages,
    read_all,
    usage_metadata,
    usage_page,
)

RECORDS = [{"id": f"u{i}"} for i in range(7)]


def metadata(spelling, total, size, page, count):
    pages = -(-total // size)
    if spelling == "snake":
        return {"total_record_count": total, "total_page_count": pages, "page_size": size, "page": page}
    return {"totalCount": total, "totalPageCount": pages, "count": count, "page": page}


def numbered(records, spelling="camel", *, announce=None, meta=True):
    """A fetcher paging ``records`` like the sandbox (``announce`` overrides the total)."""
    asked = []

    def fetch(params):
        asked.append(dict(params))
        size, page = params["page_size"], params["page"]
        chunk = records[(page - 1) * size: page * size]
        total = len(records) if announce is None else announce
        return Page(chunk, metadata(spelling, total, size, page, len(chunk)) if meta else None)

    return fetch, asked


def ids(records):
    return [r["id"] for r in records]


@pytest.mark.parametrize("spelling", ["camel", "snake"])
@pytest.mark.parametrize("size, calls", [(3, 3), (7, 1), (100, 1), (1, 7)])
def test_numbered_pages_in_both_spellings(spelling, size, calls):
    fetch, asked = numbered(RECORDS, spelling)
    assert ids(iter_usage_pages(fetch, page_size=size, max_pages=50)) == ids(RECORDS)
    assert [a["page"] for a in asked] == list(range(1, calls + 1))
    assert all(a["page_size"] == size for a in asked)


def test_both_spellings_read_alike():
    camel = usage_metadata(metadata("camel", 13922, 1, 1, 1))
    snake = usage_metadata(metadata("snake", 13922, 1, 1, 1))
    assert (camel.total, camel.pages, camel.page) == (13922, 13922, 1)
    assert (snake.total, snake.pages, snake.page) == (13922, 13922, 1)


def test_without_metadata_a_short_page_ends_the_list():
    fetch, asked = numbered(RECORDS, meta=False)
    assert ids(iter_usage_pages(fetch, page_size=3, max_pages=50)) == ids(RECORDS)
    assert len(asked) == 3


def test_an_empty_answer_is_one_call():
    fetch, asked = numbered([])
    assert list(iter_usage_pages(fetch, page_size=3, max_pages=50)) == [] and len(asked) == 1


def test_a_server_that_ignores_page_is_stopped():
    def fetch(params):
        return Page(RECORDS[:3], {"totalCount": 7, "totalPageCount": 3, "count": 3})  # always page 1
    with pytest.raises(ResponseFormatError, match="usage page 2 repeats page 1"):
        list(iter_usage_pages(fetch, page_size=3, max_pages=50))


def test_a_page_other_than_the_one_asked_for_is_refused():
    def fetch(params):
        return Page(RECORDS[:3], {"totalCount": 7, "page": 1})
    with pytest.raises(ResponseFormatError, match="asked for usage page 2 but the server answered page 1"):
        list(iter_usage_pages(fetch, page_size=3, max_pages=50))


@pytest.mark.parametrize("announce, message", [
    (9, "announced 9 records but sent 7"),
    (5, "sent 6 records but announced 5"),
])
def test_totals_that_disagree_with_what_arrived(announce, message):
    fetch, _ = numbered(RECORDS, announce=announce)
    with pytest.raises(ResponseFormatError, match=message):
        list(iter_usage_pages(fetch, page_size=3, max_pages=50))


def test_numbered_pages_stop_at_max_pages():
    fetch, asked = numbered(RECORDS)
    with pytest.raises(ResponseFormatError, match="max_pages=2"):
        list(iter_usage_pages(fetch, page_size=1, max_pages=2))
    assert len(asked) == 2


def cursor(records, size, *, tokens=None, total=True):
    """A cursor fetcher over ``records`` in batches of ``size`` (``tokens`` overrides the tokens sent)."""
    asked = []

    def fetch(params):
        asked.append(dict(params))
        token = params.get("next_page_token")
        start = 0 if token is None else int(token.split("-")[1])
        chunk = records[start: start + size]
        following = start + len(chunk)
        nxt = f"t-{following}" if following < len(records) else None
        if tokens is not None:
            nxt = tokens[len(asked) - 1]
        meta = {"next_page_token": nxt, **({"totalCount": len(records)} if total else {})}
        return Page(chunk, meta)

    return fetch, asked


def test_a_cursor_is_followed_to_a_null_token():
    fetch, asked = cursor(RECORDS, 3)
    assert ids(iter_usage_cursor(fetch, page_size=3, max_pages=50)) == ids(RECORDS)
    assert [a.get("next_page_token") for a in asked] == [None, "t-3", "t-6"]
    assert all(a["page_size"] == 3 for a in asked)


def test_a_repeating_cursor_ends_with_a_format_error_not_a_loop():
    fetch, asked = cursor(RECORDS, 2, tokens=["t-2", "t-4", "t-2", "t-6"], total=False)
    with pytest.raises(ResponseFormatError, match="cursor repeats a next_page_token"):
        list(iter_usage_cursor(fetch, page_size=2, max_pages=50))
    assert len(asked) == 3


def test_a_cursor_that_ends_before_its_total_is_refused():
    fetch, _ = cursor(RECORDS, 3, tokens=["t-3", None])
    with pytest.raises(ResponseFormatError, match="ended after 6 of the 7"):
        list(iter_usage_cursor(fetch, page_size=3, max_pages=50))


def test_a_cursor_that_never_ends_stops_at_max_pages():
    counter = iter(range(10_000))

    def fetch(params):
        return Page([], {"next_page_token": f"fresh-{next(counter)}"})
    with pytest.raises(ResponseFormatError, match="max_pages=5"):
        list(iter_usage_cursor(fetch, max_pages=5))


@pytest.mark.parametrize("data, message", [
    ([], "'data' of type list without 'records'"),
    ({"metadata": {}}, "without 'records'"),
    ({"records": {"id": 1}}, "not a list"),
    ({"records": [1, 2]}, "not a JSON object"),
])
def test_usage_answers_that_are_not_records(data, message):
    with pytest.raises(ResponseFormatError, match=message):
        usage_page(data, "http://x/api/v2/service/usage")


def test_metadata_that_is_not_counts_is_ignored():
    meta = usage_metadata({"totalCount": "12", "page": True, "next_page_token": ""})
    assert (meta.total, meta.page, meta.cursor) == (None, None, None)


def refusing(context):
    asked = []

    def fetch(params):
        asked.append(params["page_size"])
        raise ValidationError("refused", status=400, code=9418, context=context)

    return fetch, asked


@pytest.mark.parametrize("context", [{"parameter": "end_date", "maxDays": 366}, {"maxBuckets": 10_000},
                                     {"parameter": "start_date"}], ids=["span", "buckets", "other-parameter"])
def test_a_400_about_something_else_never_shrinks_the_page_size(context):
    fetch, asked = refusing(context)
    sizes = PageSize(500)
    with pytest.raises(ValidationError):
        read_all(fetch, sizes=sizes, max_pages=9)
    assert asked == [500] and sizes.current == 500


def test_a_400_that_may_be_the_page_size_is_asked_again_smaller():
    fetch, asked = refusing({"parameter": "page_size"})
    sizes = PageSize(500)
    with pytest.raises(ValidationError):
        read_all(fetch, sizes=sizes, max_pages=9)
    assert asked == [500, 100] and sizes.current == 100
