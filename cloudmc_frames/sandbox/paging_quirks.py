"""Paging quirks: servers that do not page as documented, for the client's bad-input tests.

Each knob is off by default; any mix may be on. They apply to every request that asks for
paging (``page_number`` or ``page_size`` in the query), admin and service lists alike.

=====================  ====================================================================
knob                   effect
=====================  ====================================================================
``max_page_size=N``    a ``page_size`` above N is refused: 400 with the error envelope
                       (code 9400, context ``parameter``, ``value``, ``max``)
``served_page_size=N`` the server ignores ``page_size`` and serves pages of N records; the
                       metadata tells the size it served (``pageSize: N``), pages are cut
                       at multiples of N (``page_number`` is honoured)
``record_count_skew``  added to every ``metadata.recordCount`` (negative: the count is too
                       low, positive: too high; never below 0); the records are all there
=====================  ====================================================================
"""
from dataclasses import dataclass

from . import errors


@dataclass(frozen=True)
class PagingQuirks:
    """Which paging quirks the server has (see the module docstring)."""

    max_page_size: int = None
    served_page_size: int = None
    record_count_skew: int = 0

    def __post_init__(self):
        for name in ("max_page_size", "served_page_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")
        if not isinstance(self.record_count_skew, int):
            raise ValueError(f"record_count_skew must be an integer, got {self.record_count_skew!r}")

    @property
    def active(self):
        """True when any quirk is on."""
        return self != PagingQuirks()

    def refuse(self, query):
        """The ``ApiError`` for a page size above ``max_page_size`` (None when acceptable)."""
        raw = query.get("page_size")
        if self.max_page_size is None or raw is None:
            return None
        try:
            size = int(raw)
        except ValueError:
            return None  # the endpoint answers its own 400 for a non-number
        if size <= self.max_page_size:
            return None
        return errors.bad_request(f"page_size must be <= {self.max_page_size}", parameter="page_size",
                                  value=raw, max=self.max_page_size)

    def rewrite(self, query):
        """The query the endpoint sees: ``page_size`` replaced by the server's own size."""
        if self.served_page_size is None or not ("page_size" in query or "page_number" in query):
            return query
        return {**query, "page_size": str(self.served_page_size)}

    def skew(self, body):
        """``body`` with its ``recordCount`` moved by ``record_count_skew`` (a new dict)."""
        if not self.record_count_skew:
            return body
        meta = body.get("metadata") if isinstance(body, dict) else None
        count = meta.get("recordCount") if isinstance(meta, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            return body
        return {**body, "metadata": {**meta, "recordCount": max(0, count + self.record_count_skew)}}
