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
    :data:`FALLBACK_PAGE_SIZE`; a second refusal (or one at that size already) is raised.
    """
    while True:
        asked = sizes.current
        try:
            return list(iter_records(fetch_page, page_size=asked, max_pages=max_pages,
                                     on_grant=sizes.granted, **sort))
        except ValidationError:
            if not sizes.refused(asked):
                raise


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
