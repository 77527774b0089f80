"""Helpers of the usage, cost, commitment and metric tests: dates relative to the scenario's ``now``."""
from datetime import timedelta

from cloudmc_frames.sandbox import clock


def day(store, days_ago):
    """``YYYY-MM-DD`` of the day ``days_ago`` days before the scenario's ``now``."""
    return (store.now - timedelta(days=days_ago)).strftime("%Y-%m-%d")


def instant(store, days_ago, hours=0):
    """ISO instant ``days_ago`` days (plus ``hours``) before the scenario's ``now``."""
    return clock.iso_seconds(store.now - timedelta(days=days_ago) + timedelta(hours=hours))


def summary(api, org_id, start, end, top_level=False, **params):
    """``data`` of a usage summary (asserting 200)."""
    path = f"/usage_summary/{'top_level/' if top_level else ''}organizations/{org_id}"
    return api.data(path, params={"start_date": start, "end_date": end, **params})


def raw_usage(api, **params):
    """``data`` of ``/service/usage`` (asserting 200)."""
    return api.data("/service/usage", params=params)


def busiest_org(store):
    """The live sub-organization with the most metered items."""
    live = [o for o in store.usage.by_org if o != store.root_id and not store.orgs[o]["deleted"]]
    return max(live, key=lambda o: len(store.usage.by_org[o]))
