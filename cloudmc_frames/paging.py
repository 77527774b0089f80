"""Follow CloudMC's list paging to the end, given a callable that fetches one page.

The rules (CloudMC API reference, section 1.5):

* every request sends ``page_number`` (1-based) and ``page_size`` (and the sort, when asked);
* a reply whose ``metadata`` has no ``pageSize``/``pageCurrent`` is the whole list: it is read once,
  so a server that ignores paging never produces duplicate rows;
* consistent metadata is trusted: the list ends when ``recordCount`` records have arrived and the
  last page was not full (no request to confirm it). A full last page is confirmed with one more
  request, since it cannot be told from a ``recordCount`` that is too low; without a
  ``recordCount``, pages are read until one is short;
* a server that grants fewer records per page than asked while more remain is followed (its grant
  is reported through ``on_grant``, so later lists ask for that size); a non-empty page while
  records remain is always followed, whatever page size it announces;
* the same page twice, a page other than the one asked for, a record count that disagrees with
  what was sent, or more than ``max_pages`` pages raise
  :class:`~cloudmc_frames.errors.ResponseFormatError` instead of looping or dropping rows.

No HTTP and no sleeping here: :func:`iter_records` is driven by ``fetch_page``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ResponseFormatError, ValidationError, json_type


@dataclass(frozen=True)
class Page:
    """One reply of a list endpoint: its ``data`` and its ``metadata`` (None when absent)."""

    data: Any
    metadata: dict | None
    url: str | None = None


FetchPage = Callable[[dict[str, Any]], Page]
FALLBACK_PAGE_SIZE = 100  # what to ask for after a server refused the configured size


class PageSize:
    """The page size a client asks for: its setting, lowered to what the server grants, and
    stepped down once to :data:`FALLBACK_PAGE_SIZE` if the server refuses it (HTTP 400).

    Shared by the threads of a crawl.

    >>> size = PageSize(500)
    >>> size.refused(500), size.current, size.refused(100)
    (True, 100, False)
    """

    def __init__(self, wanted: int) -> None:
        self.current = wanted
        self._lock = threading.Lock()

    def granted(self, size: int) -> None:
        """The server served pages of ``size`` while more records remained: ask for that."""
        with self._lock:
            self.current = min(self.current, size)

    def refused(self, asked: int) -> bool:
        """A request with ``asked`` was refused: True if it is worth one more try at a smaller size."""
        with self._lock:
            if asked > self.current:
                return True  # another thread already stepped down
            if asked > FALLBACK_PAGE_SIZE:
                self.current = FALLBACK_PAGE_SIZE
                return True
            return False


def iter_records(
    fetch_page: FetchPage,
    *,
    page_size: int,
    max_pages: int,
    sort_by: str | None = None,
    sort_order: str | None = None,
    on_grant: Callable[[int], None] | None = None,
) -> Iterator[dict]:
    """Yield every record of a list, page after page.

    >>> pages = {1: Page([{"id": "a"}, {"id": "b"}], {"pageSize": 2, "pageCurrent": 1, "recordCount": 3}),
    ...          2: Page([{"id": "c"}], {"pageSize": 2, "pageCurrent": 2, "recordCount": 3})}
    >>> [r["id"] for r in iter_records(lambda p: pages[p["page_number"]], page_size=2, max_pages=9)]
    ['a', 'b', 'c']
    """
    sort = {k: v for k, v in (("sort_by", sort_by), ("sort_order", sort_order)) if v}
    previous: tuple | None = None
    sent, full = 0, page_size
    for number in range(1, max_pages + 2):
        if number > max_pages:
            raise ResponseFormatError(
                f"the list did not end within max_pages={max_pages} pages",
                hint="Raise max_pages in cmf.connect() if the list is really that long",
            )
        page = fetch_page({"page_number": number, "page_size": page_size, **sort})
        records = _records_of(page)
        paged = _paging_of(page.metadata)
        if paged is None:
            if number > 1:
                raise ResponseFormatError(
                    f"page {number} came without the paging metadata of page 1", url=page.url
                )
            yield from records
            return
        size, current, total = paged
        fingerprint = _fingerprint(records)
        _check_page(page, number, current, fingerprint, previous)
        yield from records
        sent += len(records)
        if total is not None and sent > total:
            _too_many(page, sent, total)
        if total is not None and sent < total and len(records) == size < full:
            full = size  # the server grants fewer than asked: its pages are full at this size
            if on_grant is not None:
                on_grant(size)
        if not more_pages(len(records), sent=sent, total=total, size=size, full=full):
            break
        previous = fingerprint
    if total is not None and sent != total:
        raise ResponseFormatError(
            f"the server announced recordCount={total} but sent {sent} records",
            url=page.url,
            hint="The list changed while it was read, or the server miscounts: read it again",
        )


def read_all(fetch_page: FetchPage, *, sizes: PageSize, max_pages: int, **sort: str | None) -> list[dict]:
    """Every record of a list at the page size ``sizes`` holds, once more smaller if it is refused.

    A server that answers HTTP 400 to the page size is asked again, once, with
    :data:`FALLBACK_PAGE_SIZE`; a second refusal (or one at that size already) is raised, and
    so is a 400 whose context names another parameter or a span limit (a refused window must not
    shrink every later page).
    """
    while True:
        asked = sizes.current
        try:
            return list(iter_records(fetch_page, page_size=asked, max_pages=max_pages,
                                     on_grant=sizes.granted, **sort))
        except ValidationError as error:
            if not may_refuse_page_size(error) or not sizes.refused(asked):
                raise


def may_refuse_page_size(error: ValidationError) -> bool:
    """False when a 400's context says it is about something else than the page size.

    >>> may_refuse_page_size(ValidationError("x", context={"parameter": "end_date", "maxDays": 366}))
    False
    >>> may_refuse_page_size(ValidationError("x")), may_refuse_page_size(ValidationError("x", context={
    ...     "parameter": "page_size"}))
    (True, True)
    """
    context = error.context if isinstance(error.context, dict) else {}
    if "maxDays" in context or "maxBuckets" in context:
        return False
    parameter = context.get("parameter")
    return parameter is None or parameter in ("page_size", "pageSize", "page_number")


def whole_list(page: Page) -> bool:
    """True when a list reply asked for without paging parameters is the whole list: no paging
    metadata, or metadata saying its one page holds every record.

    >>> whole_list(Page([{"id": "a"}], None)), whole_list(Page([{"id": "a"}], {"pageSize": 1,
    ...     "pageCurrent": 1, "recordCount": 9}))
    (True, False)
    """
    records = _records_of(page)
    paged = _paging_of(page.metadata)
    if paged is None:
        return True
    _, current, total = paged
    return current == 1 and total is not None and total == len(records)


def more_pages(count: int, *, sent: int, total: int | None, size: int, full: int) -> bool:
    """Whether to ask for the next page after one of ``count`` records (``sent`` so far).

    ``size``: the page size the reply announced; ``full``: the size at which a page counts as
    full (what was asked, or the server's smaller grant).

    >>> more_pages(2, sent=2, total=2, size=2, full=500)   # vendor example: trusted, done
    False
    >>> more_pages(500, sent=1000, total=1000, size=500, full=500)   # full last page: confirm
    True
    """
    if total is None:
        return count >= size
    if sent < total:
        return count > 0
    return count >= full


def _records_of(page: Page) -> list[dict]:
    data = page.data
    if not isinstance(data, list):
        raise ResponseFormatError(
            f"a list endpoint answered 'data' of type {json_type(data)}, not a list",
            url=page.url,
        )
    for record in data:
        if not isinstance(record, dict):
            raise ResponseFormatError(
                f"a list item is a {json_type(record)}, not a JSON object", url=page.url
            )
    return data


def _paging_of(metadata: dict | None) -> tuple[int, int, int | None] | None:
    """``(pageSize, pageCurrent, recordCount)`` when the reply is paged, else None."""
    if not isinstance(metadata, dict):
        return None
    size, current = metadata.get("pageSize"), metadata.get("pageCurrent")
    if not _is_count(size) or not _is_count(current) or size < 1:
        return None
    total = metadata.get("recordCount")
    return size, current, total if _is_count(total) else None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_page(page: Page, asked: int, current: int, fingerprint: tuple, previous) -> None:
    if current != asked:
        raise ResponseFormatError(
            f"asked for page {asked} but the server answered page {current}", url=page.url
        )
    if fingerprint and fingerprint == previous:
        raise ResponseFormatError(
            f"page {asked} repeats page {asked - 1}: the server seems to ignore page_number",
            url=page.url,
            hint="Report it to your CloudMC operator; reading stopped so no row is duplicated",
        )


def _fingerprint(records: list[dict]) -> tuple:
    return tuple(r["id"] if "id" in r else repr(sorted(r.items())) for r in records)


def _too_many(page: Page, sent: int, total: int) -> None:
    raise ResponseFormatError(
        f"the server sent {sent} records but announced recordCount={total}",
        url=page.url,
        hint="The server's paging is inconsistent: read the list again or report it",
    )


# -- GET /service/usage: numbered pages or a cursor, metadata inside ``data`` ---------------------
#
# The raw usage endpoint pages its own way (REFERENCE 1.5, 2.8): ``page`` (1-based) and
# ``page_size`` (at most 1,000), ``data{records, metadata}``, and metadata spelled two ways
# (``totalCount``/``totalPageCount``/``count``/``page`` in the vendor's example,
# ``total_record_count``/``total_page_count``/``page_size``/``page`` in its table). With
# ``granularity`` it is a cursor instead: batches of at most 1,000 records, the next one asked
# for by sending back ``metadata.next_page_token``, which is null on the last.

USAGE_PAGE_SIZE = 1000  # the documented maximum: fewest calls


@dataclass(frozen=True)
class UsageMetadata:
    """The paging facts of one ``/service/usage`` answer, whichever spelling the server uses."""

    total: int | None  # records in the whole answer
    pages: int | None  # pages in the whole answer
    page: int | None  # this page's number
    cursor: str | None  # next_page_token (None when absent or null)


def usage_metadata(metadata: Any) -> UsageMetadata:
    """Read ``metadata`` in either documented spelling (unknown or missing keys are None).

    >>> usage_metadata({"totalCount": 13922, "totalPageCount": 13923, "count": 1, "page": 1})
    UsageMetadata(total=13922, pages=13923, page=1, cursor=None)
    >>> usage_metadata({"total_record_count": 5, "total_page_count": 1, "page_size": 100, "page": 1}).total
    5
    """
    meta = metadata if isinstance(metadata, dict) else {}

    def count(*names: str) -> int | None:
        value = next((meta[n] for n in names if n in meta), None)
        return value if _is_count(value) else None

    token = meta.get("next_page_token", meta.get("nextPageToken"))
    return UsageMetadata(count("totalCount", "total_record_count"),
                         count("totalPageCount", "total_page_count"), count("page"),
                         token if isinstance(token, str) and token else None)


def usage_page(data: Any, url: str | None = None) -> Page:
    """The ``data{records, metadata}`` of a ``/service/usage`` answer as a :class:`Page`.

    >>> usage_page({"records": [{"id": "a"}], "metadata": {"totalCount": 1}}).data
    [{'id': 'a'}]
    """
    if not isinstance(data, dict) or "records" not in data:
        raise ResponseFormatError(f"the usage endpoint answered 'data' of type {json_type(data)} without "
                                  "'records' (expected data{records, metadata})", url=url)
    return Page(_records_of(Page(data["records"], None, url)), data.get("metadata"), url)


def iter_usage_pages(fetch_page: FetchPage, *, page_size: int = USAGE_PAGE_SIZE,
                     max_pages: int) -> Iterator[dict]:
    """Every record of a numbered ``/service/usage`` answer, page after page.

    The list ends when the announced total has arrived, at the last announced page, or at a
    short page when the server announces neither. The same page twice, a page other than the
    one asked for, more records than announced (or fewer when it ends) and more than
    ``max_pages`` pages raise :class:`~cloudmc_frames.errors.ResponseFormatError`.

    >>> pages = {1: Page([{"id": "a"}, {"id": "b"}], {"totalCount": 3, "totalPageCount": 2, "page": 1}),
    ...          2: Page([{"id": "c"}], {"totalCount": 3, "totalPageCount": 2, "page": 2})}
    >>> [r["id"] for r in iter_usage_pages(lambda p: pages[p["page"]], page_size=2, max_pages=9)]
    ['a', 'b', 'c']
    """
    previous: tuple | None = None
    sent = 0
    for number in range(1, max_pages + 1):
        page = fetch_page({"page": number, "page_size": page_size})
        records, meta = page.data, usage_metadata(page.metadata)
        if meta.page is not None and meta.page != number:
            raise ResponseFormatError(f"asked for usage page {number} but the server answered page "
                                      f"{meta.page}", url=page.url)
        fingerprint = _fingerprint(records)
        if fingerprint and fingerprint == previous:
            raise ResponseFormatError(f"usage page {number} repeats page {number - 1}: the server seems "
                                      "to ignore 'page'", url=page.url,
                                      hint="Reading stopped so no record is counted twice")
        yield from records
        sent += len(records)
        if meta.total is not None and sent > meta.total:
            _too_many_usage(page, sent, meta.total)
        if not _more_usage(len(records), number, sent, meta, page_size):
            if meta.total is not None and sent < meta.total:
                raise ResponseFormatError(f"the usage endpoint announced {meta.total} records but sent "
                                          f"{sent}", url=page.url,
                                          hint="The usage changed while it was read: read it again")
            return
        previous = fingerprint
    raise ResponseFormatError(f"the usage list did not end within max_pages={max_pages} pages",
                              hint="Raise max_pages in cmf.connect() or read a shorter window")


def iter_usage_cursor(fetch_page: FetchPage, *, page_size: int = USAGE_PAGE_SIZE,
                      max_pages: int) -> Iterator[dict]:
    """Every record of a ``/service/usage`` cursor (``granularity`` set), batch after batch.

    The first call sends no token; each next one sends the previous batch's
    ``next_page_token``; a null or missing token ends it. A token seen before (a cursor that
    would loop), a cursor that ends before the announced total, and more than ``max_pages``
    batches raise :class:`~cloudmc_frames.errors.ResponseFormatError`.

    >>> batches = {None: Page([{"id": "a"}], {"next_page_token": "t1"}),
    ...            "t1": Page([{"id": "b"}], {"next_page_token": None})}
    >>> [r["id"] for r in iter_usage_cursor(lambda p: batches[p.get("next_page_token")], max_pages=9)]
    ['a', 'b']
    """
    seen: set[str] = set()
    token: str | None = None
    sent = 0
    for _ in range(max_pages):
        page = fetch_page({"page_size": page_size, **({"next_page_token": token} if token else {})})
        meta = usage_metadata(page.metadata)
        yield from page.data
        sent += len(page.data)
        if meta.cursor is None:
            if meta.total is not None and sent < meta.total:
                raise ResponseFormatError(f"the usage cursor ended after {sent} of the {meta.total} "
                                          "records it announced", url=page.url)
            return
        if meta.cursor in seen:
            raise ResponseFormatError("the usage cursor repeats a next_page_token it sent before",
                                      url=page.url,
                                      hint="Reading stopped instead of looping; report it to your "
                                           "CloudMC operator")
        seen.add(meta.cursor)
        token = meta.cursor
    raise ResponseFormatError(f"the usage cursor did not end within max_pages={max_pages} batches",
                              hint="Raise max_pages in cmf.connect() or read a shorter window")


def _more_usage(count: int, number: int, sent: int, meta: UsageMetadata, page_size: int) -> bool:
    """Whether to ask for the page after page ``number`` (``count`` records, ``sent`` so far)."""
    if meta.total is not None:
        return sent < meta.total and count > 0
    if meta.pages is not None:
        return number < meta.pages and count > 0
    return count >= page_size


def _too_many_usage(page: Page, sent: int, total: int) -> None:
    raise ResponseFormatError(f"the usage endpoint sent {sent} records but announced {total}", url=page.url,
                              hint="Its paging is inconsistent: read the window again or report it")
