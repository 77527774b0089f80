"""Administration reads: organizations, users, environments, connections, quotas,
activity log, roles and tasks (all under ``/api/v2``).

Admin lists scoped with ``org_id=X`` (or the endpoint's own org parameter)
return exactly org X's own records; without it, the caller's own org.
``GET /organizations`` is the exception: the visible tree below the acting org.
The writes live in ``admin_writes``; usage, metrics, commitments and reports in
``usage_summary``, ``service_usage``, ``metrics``, ``descriptors``, ``commitments`` and ``reports``.
"""
from . import clock, errors, paging, quotas, rbac, views


def list_response(req, records):
    """An admin list answer (paged when asked, unless the server ignores paging)."""
    params = paging.parse(req.query, ignore=req.app.ignore_paging)
    items, meta = paging.apply(records, params)
    return {"data": items, **({"metadata": meta} if meta else {})}


def flag(query, name, default=False):
    """A boolean query parameter (true/1/yes); ``default`` when absent or empty."""
    value = str(query.get(name, ""))
    return default if not value else value.lower() in ("true", "1", "yes")


# ------------------------------------------------------------ organizations
def list_organizations(req):
    """GET /organizations: the acting org and (admins) its descendants."""
    store, caller = req.store, req.caller
    acting = rbac.acting_org(store, caller, req.query)
    include_deleted = flag(req.query, "include_deleted")
    ids = store.subtree(acting, include_deleted) if caller.sees_descendants else [acting]
    return list_response(req, [store.orgs[i] for i in ids if include_deleted or not store.orgs[i]["deleted"]])


def get_organization(req):
    """GET /organizations/:id (detail view)."""
    org = rbac.check_org(req.store, req.caller, req.params["id"], "id")
    return {"data": views.org_detail(req.store, org)}


# --------------------------------------------------------------------- users
def list_users(req):
    """GET /users: the acting org's users (non-admins: only themselves)."""
    store, caller = req.store, req.caller
    acting = rbac.acting_org(store, caller, req.query)
    if not rbac.is_admin(caller):
        return list_response(req, [store.users[caller.user_id]])
    return list_response(req, [u for u in store.users.values()
                               if u["organization"]["id"] == acting and not u["deleted"]])


def visible_user(req):
    """The user named in the path, if the caller may see it (404/403 otherwise)."""
    store, caller = req.store, req.caller
    user = store.users.get(req.params["id"])
    if user is None or user["deleted"]:
        raise errors.not_found(f"Unknown user {req.params['id']}", id=req.params["id"], type="users")
    if not rbac.is_admin(caller) and user["id"] != caller.user_id:
        raise errors.forbidden("Only administrators can see other users", id=user["id"])
    rbac.check_org(store, caller, user["organization"]["id"], "id")
    return user


def get_user(req):
    """GET /users/:id (detail view)."""
    return {"data": views.user_detail(req.store, visible_user(req))}


# -------------------------------------------------------------- environments
def list_environments(req):
    """GET /environments: the acting org's environments (non-admins: their memberships)."""
    store, caller = req.store, req.caller
    acting = rbac.acting_org(store, caller, req.query)
    envs = [e for e in store.environments.values() if e["organization"]["id"] == acting]
    if not rbac.is_admin(caller):
        envs = [e for e in envs if rbac.is_member(store, caller, e["id"])]
    return list_response(req, envs)


def _visible_env(req):
    """The environment named in the path, if the caller may use it."""
    env = req.store.environments.get(req.params["id"])
    if env is None:
        raise errors.not_found(f"Unknown environment {req.params['id']}", id=req.params["id"],
                               type="environments")
    rbac.check_env(req.store, req.caller, env)
    return env


def get_environment(req):
    """GET /environments/:id (detail view)."""
    return {"data": views.env_detail(req.store, _visible_env(req))}


def list_members(req):
    """GET /environments/:id/members."""
    env = _visible_env(req)
    return list_response(req, list(req.store.members.get(env["id"], ())))


# --------------------------------------------------------------- connections
def _visible_orgs(store, caller):
    """Every org id the caller can act in (deleted included)."""
    return set(store.subtree(caller.org_id, True)) if caller.sees_descendants else {caller.org_id}


def list_connections(req):
    """GET /services/connections?organizationId=: connections owned by the org."""
    store = req.store
    owner = rbac.acting_org(store, req.caller, req.query, "organizationId")
    return list_response(req, [c for c in store.connections.values() if c["organization"]["id"] == owner])


def get_connection(req):
    """GET /services/connections/:id: owned by or assigned to an org the caller sees."""
    store, caller = req.store, req.caller
    conn = store.connections.get(req.params["id"])
    if conn is None:
        raise errors.not_found(f"Unknown service connection {req.params['id']}", id=req.params["id"],
                               type="serviceConnections")
    visible = _visible_orgs(store, caller)
    users = {conn["organization"]["id"]} | {
        o for o in visible if any(c["id"] == conn["id"] for c in store.orgs[o]["serviceConnections"])}
    if not users & visible:
        raise errors.forbidden("Service connection outside the caller's scope", id=conn["id"])
    return {"data": conn}


# -------------------------------------------------------------------- quotas
def list_quotas(req):
    """GET /quotas?organization_id=&type=assigned|owned (both without type)."""
    store = req.store
    org_id = rbac.acting_org(store, req.caller, req.query, "organization_id")
    kind = req.query.get("type", "").lower()
    if kind not in ("", "assigned", "owned"):
        raise errors.bad_request("type must be assigned or owned", parameter="type",
                                 value=req.query.get("type"))
    found = {}
    if kind in ("", "assigned"):
        found.update({q["id"]: q for q in quotas.assigned_to(store, org_id)})
    if kind in ("", "owned"):
        found.update({q["id"]: q for q in quotas.owned_by(store, org_id)})
    return list_response(req, list(found.values()))


def get_quota(req):
    """GET /quotas/:id: owned by or assigned to an org the caller sees."""
    store, caller = req.store, req.caller
    quota = store.quotas.get(req.params["id"])
    if quota is None:
        raise errors.not_found(f"Unknown quota {req.params['id']}", id=req.params["id"], type="quotas")
    visible = _visible_orgs(store, caller)
    holders = {quota["ownerOrganization"]["id"]} | {o for (o, _), q in store.quota_assignments.items()
                                                    if q == quota["id"]}
    if not holders & visible:
        raise errors.forbidden("Quota outside the caller's scope", id=quota["id"])
    return {"data": quota}


# ------------------------------------------------------------------ activity
def _instant(query, name):
    """An RFC 3339 query parameter (None if absent, 400 if bad)."""
    if not query.get(name):
        return None
    try:
        return clock.iso_ms(clock.parse_instant(query[name]))
    except ValueError:
        raise errors.bad_request(f"{name} must be an RFC 3339 date-time", parameter=name,
                                 value=query[name]) from None


def list_activity(req):
    """GET /activity_log?organizationId=&includeSubOrgs=&start=&end=&userId=&eventCode=&category=&status=."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "read the activity log")
    org_id = rbac.acting_org(store, caller, req.query, "organizationId")
    orgs = set(store.subtree(org_id, True)) if flag(req.query, "includeSubOrgs") else {org_id}
    start, end = _instant(req.query, "start"), _instant(req.query, "end")
    filters = {k: req.query[k] for k in ("userId", "eventCode", "category", "status") if req.query.get(k)}
    records = [a for a in list(store.activity) if a["organizationId"] in orgs
               and (start is None or a["created"] >= start) and (end is None or a["created"] < end)
               and all(a[k] == v for k, v in filters.items())]
    return list_response(req, records)


# ------------------------------------------------------------- roles, tasks
def list_roles(req):
    """GET /roles (``system_only=true`` keeps system roles)."""
    roles = list(req.store.roles.values())
    if flag(req.query, "system_only"):
        roles = [r for r in roles if r["isSystem"]]
    return list_response(req, roles)


def get_task(req):
    """GET /tasks/:id (404 once expired)."""
    task = req.app.runner.lookup(req.params["id"])
    if task is None:
        raise errors.not_found(f"Unknown or expired task {req.params['id']}", id=req.params["id"],
                               type="tasks")
    return task.body()


def register(router):
    """Add the admin routes to ``router``."""
    router.add("GET", "/organizations", list_organizations)
    router.add("GET", "/organizations/{id}", get_organization)
    router.add("GET", "/users", list_users)
    router.add("GET", "/users/{id}", get_user)
    router.add("GET", "/environments", list_environments)
    router.add("GET", "/environments/{id}", get_environment)
    router.add("GET", "/environments/{id}/members", list_members)
    router.add("GET", "/services/connections", list_connections)
    router.add("GET", "/services/connections/{id}", get_connection)
    router.add("GET", "/quotas", list_quotas)
    router.add("GET", "/quotas/{id}", get_quota)
    router.add("GET", "/activity_log", list_activity)
    router.add("GET", "/roles", list_roles)
    router.add("GET", "/tasks/{id}", get_task)
