"""``GET /commitments`` and ``GET /commitments/:id``: resource commitments (REFERENCE 2.10).

``GET /commitments?organization_id=&from=&to=``: the commitments held by one organization
(default the caller's), in start order; ``from`` and ``to`` (``YYYY-MM-DD``, only together, else
400) keep those whose ``[startDate, endDate)`` overlaps ``[from, to)``.  ``GET /commitments/:id``:
one commitment (404 unknown, 403 outside the caller's scope).  Administrators only.  The
records are drawn by ``gen_commitments``; writes (create, update, terminate) are not served.
"""

from . import clock, errors, rbac, windows


def list_commitments(req):
    """GET /commitments?organization_id=&from=&to=."""
    store, query = req.store, req.query
    rbac.require_admin(req.caller, "read commitments")
    org_id = rbac.acting_org(store, req.caller, query, "organization_id")
    records = [c for c in store.usage.commitments.values() if c["organization"]["id"] == org_id]
    if ("from" in query) != ("to" in query):
        raise errors.bad_request("from and to go together", parameter="to" if "from" in query else "from")
    if "from" in query:
        low, high = clock.iso_seconds(windows.day(query, "from")), clock.iso_seconds(windows.day(query, "to"))
        records = [c for c in records if c["startDate"] < high and c["endDate"] > low]
    return {"data": sorted(records, key=lambda c: (c["startDate"], c["id"]))}


def get_commitment(req):
    """GET /commitments/:id."""
    rbac.require_admin(req.caller, "read commitments")
    record = req.store.usage.commitments.get(req.params["id"])
    if record is None:
        raise errors.not_found(
            f"Unknown commitment {req.params['id']}", id=req.params["id"], type="commitments"
        )
    rbac.check_org(req.store, req.caller, record["organization"]["id"], "id")
    return {"data": record}


def register(router):
    """Add the commitment routes to ``router``."""
    router.add("GET", "/commitments", list_commitments)
    router.add("GET", "/commitments/{id}", get_commitment)
