"""Usage accessor tests: clients of the shared read-only sandbox, and a raw crawl to compare with.

The raw crawl is what a careful user would write with ``requests``: the documented parameters,
every page or cursor batch followed by hand. The accessors must return exactly its records.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
import requests


@pytest.fixture
def client(sb):
    """The root administrator of the shared sandbox (in-memory cache)."""
    with sb.client(progress=False) as c:
        yield c


class Raw:
    """Plain HTTP against a sandbox with one key."""

    def __init__(self, sb, key=None):
        self.sb, self.key = sb, key or sb.api_key
        self.session = requests.Session()
        self.session.headers["MC-Api-Key"] = self.key
        self.calls = 0

    def get(self, path, **params):
        self.calls += 1
        reply = self.session.get(self.sb.endpoint + "/api/v2" + path, params=params, timeout=60)
        assert reply.status_code == 200, reply.text
        return reply.json()["data"]

    def usage_pages(self, size=250, **params):
        """Every record of /service/usage, page by page, whichever metadata spelling."""
        records, page = [], 1
        while True:
            data = self.get("/service/usage", page=page, page_size=size, **params)
            records += data["records"]
            meta = data["metadata"]
            pages = meta.get("totalPageCount", meta.get("total_page_count"))
            if page >= pages:
                return records
            page += 1

    def usage_cursor(self, **params):
        """Every record of /service/usage with granularity, following next_page_token."""
        records, token = [], None
        while True:
            data = self.get("/service/usage", **params, **({"next_page_token": token} if token else {}))
            records += data["records"]
            token = data["metadata"]["next_page_token"]
            if token is None:
                return records


def days_before(store, days):
    """UTC midnight ``days`` days before the scenario's ``now`` (a Timestamp)."""
    return pd.Timestamp(store.now - timedelta(days=days))


def live_orgs(store, key=None):
    """Ids of the live organizations the key sees (parents first)."""
    return list(store.visible_org_ids(key or store.root_key))


def stamp(text):
    """An API timestamp as a UTC Timestamp."""
    return pd.Timestamp(text).tz_convert("UTC")


def busiest_org(store):
    """The live sub-organization with the most metered items."""
    live = [o for o in store.usage.by_org if o != store.root_id and not store.orgs[o]["deleted"]]
    return max(live, key=lambda o: len(store.usage.by_org[o]))
