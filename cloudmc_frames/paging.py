"""Follow CloudMC's list paging to the end, given a callable that fetches one page.

The rules (CloudMC API reference, section 1.5):

* every request sends ``page_number`` (1-based) and ``page_size`` (and the sort, when asked);
* a reply whose ``metadata`` has no ``pageSize``/``pageCurrent`` is the whole list: it is read once,
  so a server that ignores paging never produces duplicate rows;
* otherwise continue while ``pageCurrent * pageSize < recordCount``; a short or empty page ends it;
* a full last page is confirmed by asking for the next one, so a ``recordCount`` that is too low
  cannot hide rows; a count that disagrees with what was sent raises;
* the same page twice, a page other than the one asked for, or more than ``max_pages`` pages raise
  :class:`~cloudmc_frames.errors.ResponseFormatError` instead of looping.

No HTTP and no sleeping here: :func:`iter_records` is driven by ``fetch_page``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ResponseFormatError, json_type


@dataclass(frozen=True)
class Page:
    """One reply of a list endpoint: its ``data`` and its ``metadata`` (None when absent)."""

    data: Any
    metadata: dict | None
    url: str | None = None


FetchPage = Callable[[dict[str, Any]], Page]


@dataclass(frozen=True)
class Listing:
    """Every record of a list endpoint, whether all its pages came from a cache, and how many."""

    records: list[dict]
    from_cache: bool
    pages: int


def iter_records(
    fetch_page: FetchPage,
    *,
    page_size: int,
    max_pages: int,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> Iterator[dict]:
    """Yield every record of a list, page after page.

    >>> pages = {1: Page([{"id": "a"}, {"id": "b"}], {"pageSize": 2, "pageCurrent": 1, "recordCount": 3}),
    ...          2: Page([{"id": "c"}], {"pageSize": 2, "pageCurrent": 2, "recordCount": 3})}
    >>> [r["id"] for r in iter_records(lambda p: pages[p["page_number"]], page_size=2, max_pages=9)]
    ['a', 'b', 'c']
    """
    sort = {k: v for k, v in (("sort_by", sort_by), ("sort_order", sort_order)) if v}
    previous: tuple | None = None
    sent = 0
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
        if len(records) < size:
            break
        previous = fingerprint
    if total is not None and sent != total:
        raise ResponseFormatError(
            f"the server announced recordCount={total} but sent {sent} records",
            url=page.url,
            hint="The list changed while it was read, or the server miscounts: read it again",
        )


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
