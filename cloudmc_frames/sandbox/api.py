"""Administration endpoints: organizations, users, environments, connections, quotas,
activity log, usage summary, roles and tasks (all under ``/api/v2``).

Admin lists scoped with ``org_id=X`` (or the endpoint's own org parameter)
return exactly org X's own records; without it, the caller's own org.
``GET /organizations`` is the exception: the visible tree below the acting org.
Writes on organizations and users answer ``{"taskId", "taskStatus", "data"}``
and take effect when their task completes (then an activity record is added).
"""
import re
from datetime import timedelta

from . import clock, errors, paging, quotas, rbac, views
from .scenario import activity_record
from .store import ADMIN_ROLE, KeyInfo
from .tasks import TaskFailure

NAME_RE = re.compile(r"^[A-Za-z0-9\u00C0-\u024F].{1,49}$", re.S)
ENTRY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BILLING_MODES = ("MANUAL", "CREDIT_CARD")


def list_response(req, records):
    """An admin list answer (paged when asked, unless the server ignores paging)."""
    params = paging.parse(req.query, ignore=req.app.ignore_paging)
    items, meta = paging.apply(records, params)
    return {"data": items, **({"metadata": meta} if meta else {})}


def _flag(query, name):
    """A boolean query parameter (true/1/yes)."""
    return str(query.get(name, "")).lower() in ("true", "1", "yes")


def _require(body, *fields):
    """400 (9411) listing missing required fields (dotted paths allowed)."""
    missing = []
    for field in fields:
        value = body
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, ""):
            missing.append(field)
    if missing:
        raise errors.bad_request(f"Missing required field(s): {', '.join(missing)}", code=errors.MISSING_FIELD,
                                 missing=missing)


def _invalid(field, value, message):
    """400 (9412) for a bad field value."""
    return errors.bad_request(message, code=errors.INVALID_FIELD, field=field, value=value)


def _accepted(task, data=None):
    """Async answer, with the model when given."""
    out = {"taskId": task.id, "taskStatus": task.status}
    if data is not None:
        out["data"] = data
    return out


def _log(store, code, caller, org, context, status="SUCCESS"):
    """Append an activity record for an admin mutation by ``caller``."""
    actor = store.users.get(caller.user_id)
    if actor is not None:
        store.activity.append(activity_record(store.ids, code, clock.utcnow(), actor, org, context, status))


def _submit(req, operation, apply, on_fail=None, log=None):
    """Submit an admin task; ``log=(code, org, context)`` adds an activity record at completion."""
    store, caller = req.store, req.caller

    def run():
        result = apply()
        if log:
            _log(store, log[0], caller, store.orgs.get(log[1]["id"], log[1]), log[2])
        return result

    def failed():
        if on_fail:
            on_fail()
        if log:
            _log(store, log[0], caller, store.orgs.get(log[1]["id"], log[1]), log[2], status="FAILURE")

    return req.app.runner.submit(operation, run, failed)


# ------------------------------------------------------------ organizations
def list_organizations(req):
    """GET /organizations: the acting org and (admins) its descendants."""
    store, caller = req.store, req.caller
    acting = rbac.acting_org(store, caller, req.query)
    include_deleted = _flag(req.query, "include_deleted")
    ids = store.subtree(acting, include_deleted) if caller.sees_descendants else [acting]
    return list_response(req, [store.orgs[i] for i in ids if include_deleted or not store.orgs[i]["deleted"]])


def get_organization(req):
    """GET /organizations/:id (detail view)."""
    org = rbac.check_org(req.store, req.caller, req.params["id"], "id")
    return {"data": views.org_detail(req.store, org)}


def _check_name(store, name, parent_id, exclude=None):
    """Validate an org name and its uniqueness among the parent's children."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _invalid("name", name, "name must be 2-50 characters starting with a letter or digit")
    for child in store.children.get(parent_id, ()):
        other = store.orgs[child]
        if child != exclude and not other["deleted"] and other["name"].lower() == name.lower():
            raise errors.bad_request(f"An organization named {name!r} already exists here", code=errors.DUPLICATE,
                                     field="name", value=name)


def _check_entry_point(store, entry, exclude=None):
    """Validate an entryPoint and its global uniqueness."""
    if not isinstance(entry, str) or not ENTRY_RE.match(entry):
        raise _invalid("entryPoint", entry, "entryPoint must be lowercase letters, digits and '-'")
    if any(o["entryPoint"] == entry and o["id"] != exclude for o in store.orgs.values()):
        raise errors.bad_request(f"entryPoint {entry!r} is taken", code=errors.DUPLICATE, field="entryPoint",
                                 value=entry)


def _connection_refs(store, body, parent):
    """``serviceConnections`` refs for an org under ``parent`` (assignable ones only)."""
    refs = []
    allowed = {c["id"] for c in parent["serviceConnections"]}
    allowed |= {c["id"] for c in store.connections.values() if c["organization"]["id"] == parent["id"]}
    for item in body.get("serviceConnections") or []:
        conn_id = item.get("id") if isinstance(item, dict) else None
        if conn_id not in store.connections or conn_id not in allowed:
            raise _invalid("serviceConnections", conn_id, "Connection not assignable from the parent organization")
        conn = store.connections[conn_id]
        refs.append({"id": conn_id, "serviceCode": conn["serviceCode"], "state": "PROVISIONED"})
    return refs


def _tags(store, body):
    """Tag records from ``tags[{id} or {name}]`` (system tags refused)."""
    tags = []
    for item in body.get("tags") or []:
        if not isinstance(item, dict) or not (item.get("id") or item.get("name")):
            raise _invalid("tags", item, "tags items need an id or a name")
        if item.get("name") == "billable" or item.get("system"):
            raise _invalid("tags", item, "System tags cannot be set")
        tags.append({"system": False, "name": item.get("name") or item["id"], "id": item.get("id") or store.ids.uuid()})
    return tags


def create_organization(req):
    """POST /organizations (async + data); the org exists once the task succeeds."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "create organizations")
    body = req.json_object()
    _require(body, "name", "entryPoint")
    parent_id = (body.get("parent") or {}).get("id") or rbac.acting_org(store, caller, req.query)
    parent = rbac.check_org(store, caller, parent_id, "parent.id")
    if parent["deleted"]:
        raise _invalid("parent.id", parent_id, "The parent organization is deleted")
    with store.lock:
        _check_name(store, body["name"], parent_id)
        _check_entry_point(store, body["entryPoint"])
        record = _new_org(store, body, parent)
    return _accepted(_submit(req, "organizations.create", lambda: _insert_org(store, record),
                             log=("organizations.created", record, {"id": record["id"], "name": record["name"]})),
                     record)


def _new_org(store, body, parent):
    """The record of an org about to be created under ``parent``."""
    mode = body.get("billingMode", "MANUAL")
    if mode not in BILLING_MODES:
        raise _invalid("billingMode", mode, "billingMode must be MANUAL or CREDIT_CARD")
    org_id, now = store.ids.uuid(), clock.iso_ms(clock.utcnow())
    reseller = parent["id"] if parent["isReseller"] else parent.get("reseller", {}).get("id")
    record = {"id": org_id, "lineage": ", ".join([org_id, *parent["lineage"].split(", ")]), "name": body["name"],
              "entryPoint": body["entryPoint"], "billableStartDate": now, "creationDate": now,
              "isBillable": bool(body.get("isBillable", False)), "billingMode": mode, "isReseller": False,
              "features": [], "customFields": {}, "tags": _tags(store, body), "deleted": False,
              "isDbAuthentication": True, "isLdapAuthentication": False, "isTrial": False}
    if reseller:
        record["reseller"] = {"id": reseller}
    record["parent"] = {"id": parent["id"], "name": parent["name"]}
    record.update({"environments": [], "serviceConnections": _connection_refs(store, body, parent), "users": []})
    return record


def _insert_org(store, record):
    """Task body of an org create: insert, index, assign default quotas."""
    with store.lock:
        if any(o["entryPoint"] == record["entryPoint"] for o in store.orgs.values()):
            raise TaskFailure(f"entryPoint {record['entryPoint']!r} was taken meanwhile", id=record["id"])
        store.orgs[record["id"]] = record
        store.children.setdefault(record["parent"]["id"], []).append(record["id"])
        store.children[record["id"]] = []
        store.extras[record["id"]] = {"notes": "", "customFieldDefinitions": [],
                                      "ldap": {"deleted": False, "id": store.ids.uuid()}}
        for ref in record["serviceConnections"]:
            default = next((q for q in store.quotas.values() if q["serviceConnection"]["id"] == ref["id"]
                            and q["defaultForService"]), None)
            if default:
                quotas.assign(store, default, record["id"])
        store.touch()
    return views.org_detail(store, record)


def update_organization(req):
    """PUT /organizations/:id (async + data); the change lands when the task succeeds."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "update organizations")
    org = rbac.check_org(store, caller, req.params["id"], "id")
    body = req.json_object()
    changes = {}
    with store.lock:
        parent_id = org.get("parent", {}).get("id")
        if "name" in body:
            _check_name(store, body["name"], parent_id, exclude=org["id"])
            changes["name"] = body["name"]
        if "entryPoint" in body:
            _check_entry_point(store, body["entryPoint"], exclude=org["id"])
            changes["entryPoint"] = body["entryPoint"]
        _simple_org_changes(body, changes)
        if "tags" in body:
            changes["tags"] = [t for t in org["tags"] if t["system"]] + _tags(store, body)
        if body.get("serviceConnections"):
            parent = store.orgs.get(parent_id, org)
            known = {c["id"] for c in org["serviceConnections"]}
            added = [r for r in _connection_refs(store, body, parent) if r["id"] not in known]
            changes["serviceConnections"] = org["serviceConnections"] + added
    preview = {**org, **changes}
    return _accepted(_submit(req, "organizations.update", lambda: _apply_org_update(store, org["id"], changes),
                             log=("organizations.updated", preview, {"id": org["id"], "changes": sorted(changes)})),
                     views.org_detail(store, preview))


def _simple_org_changes(body, changes):
    """Validate the boolean / enum org fields of a PUT body into ``changes``."""
    if "billingMode" in body:
        if body["billingMode"] not in BILLING_MODES:
            raise _invalid("billingMode", body["billingMode"], "billingMode must be MANUAL or CREDIT_CARD")
        changes["billingMode"] = body["billingMode"]
    for field in ("isBillable", "isDbAuthentication", "isLdapAuthentication"):
        if field in body:
            if not isinstance(body[field], bool):
                raise _invalid(field, body[field], f"{field} must be a boolean")
            changes[field] = body[field]


def _apply_org_update(store, org_id, changes):
    """Task body of an org update (renames propagate to the records that embed the name)."""
    with store.lock:
        org = store.replace(store.orgs, org_id, **changes)
        if "name" in changes:
            for child in store.children.get(org_id, ()):
                store.replace(store.orgs, child, parent={"id": org_id, "name": org["name"]})
            for user_id in [u["id"] for u in org["users"] if u["id"] in store.users]:
                store.replace(store.users, user_id, organization={"id": org_id, "name": org["name"]})
            for env in [e for e in store.environments.values() if e["organization"]["id"] == org_id]:
                store.replace(store.environments, env["id"], organization={**env["organization"], "name": org["name"]})
    return views.org_detail(store, org)


def delete_organization(req):
    """DELETE /organizations/:id (async): not your own org, not an org with sub-orgs."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "delete organizations")
    org = rbac.check_org(store, caller, req.params["id"], "id")
    if org["id"] == caller.org_id:
        raise errors.bad_request("You cannot delete your own organization", code=errors.PRECONDITION_FAILED,
                                 id=org["id"])
    if org["deleted"]:
        raise errors.not_found(f"Organization {org['id']} is already deleted", id=org["id"], type="organizations")
    live = [c for c in store.children.get(org["id"], ()) if not store.orgs[c]["deleted"]]
    if live:
        raise errors.bad_request("The organization has sub-organizations", code=errors.PRECONDITION_FAILED,
                                 id=org["id"], subOrganizations=live)
    return _accepted(_submit(req, "organizations.delete", lambda: _apply_org_delete(store, org["id"]),
                             log=("organizations.deleted", org, {"id": org["id"], "name": org["name"]})))


def _apply_org_delete(store, org_id):
    """Task body of an org delete: users deleted, environments purged, org marked deleted."""
    with store.lock:
        org = store.orgs[org_id]
        for ref in org["users"]:
            if ref["id"] in store.users:
                store.replace(store.users, ref["id"], deleted=True, status="DISABLED")
                store.set_key_status(ref["id"], "DISABLED")
        for ref in org["environments"]:
            store.environments.pop(ref["id"], None)
            store.resources.pop(ref["id"], None)
            store.members.pop(ref["id"], None)
        store.replace(store.orgs, org_id, deleted=True,
                      users=[{**u, "deleted": True} for u in org["users"]],
                      environments=[{**e, "deleted": True} for e in org["environments"]])
    return {"id": org_id}


# --------------------------------------------------------------------- users
def list_users(req):
    """GET /users: the acting org's users (non-admins: only themselves)."""
    store, caller = req.store, req.caller
    acting = rbac.acting_org(store, caller, req.query)
    if not rbac.is_admin(caller):
        return list_response(req, [store.users[caller.user_id]])
    return list_response(req, [u for u in store.users.values()
                               if u["organization"]["id"] == acting and not u["deleted"]])


def _visible_user(req):
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
    return {"data": views.user_detail(req.store, _visible_user(req))}


def _org_role(store, body):
    """The org role named by ``primaryRoleBinding.role.id`` (400 if not an org role)."""
    role_id = body["primaryRoleBinding"]["role"]["id"]
    role = store.roles.get(role_id)
    if role is None or role["defaultScope"] == "ENV":
        raise _invalid("primaryRoleBinding.role.id", role_id, "Not an organization role")
    return role


def _check_unique_user(store, org_id, body, exclude=None):
    """400 (9413) if userName or email is taken in the org."""
    for user in store.users.values():
        if user["organization"]["id"] != org_id or user["deleted"] or user["id"] == exclude:
            continue
        for field in ("userName", "email"):
            if field in body and str(body[field]).lower() == user[field].lower():
                raise errors.bad_request(f"{field} {body[field]!r} is taken in this organization",
                                         code=errors.DUPLICATE, field=field, value=body[field])


def create_user(req):
    """POST /users (async + data); the user (and its API key) exists once the task succeeds."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "create users")
    body = req.json_object()
    _require(body, "userName", "email", "firstName", "lastName", "primaryRoleBinding.role.id")
    org_id = (body.get("organization") or {}).get("id") or rbac.acting_org(store, caller, req.query)
    org = rbac.check_org(store, caller, org_id, "organization.id")
    if org["deleted"]:
        raise _invalid("organization.id", org_id, "The organization is deleted")
    role = _org_role(store, body)
    with store.lock:
        _check_unique_user(store, org_id, body)
        record = _new_user(store, body, org, role)
    return _accepted(_submit(req, "users.create", lambda: _insert_user(store, record),
                             log=("users.created", org, {"id": record["id"], "userName": record["userName"]})),
                     record)


def _new_user(store, body, org, role):
    """The record of a user about to be created."""
    return {
        "id": store.ids.uuid(), "userName": str(body["userName"]), "firstName": str(body["firstName"]),
        "lastName": str(body["lastName"]), "email": str(body["email"]), "creationDate": clock.iso_ms(clock.utcnow()),
        "status": "ACTIVE", "locale": "en", "organization": {"id": org["id"], "name": org["name"]},
        "serviceConnections": [{"id": c["id"], "name": store.connections[c["id"]]["name"]}
                               for c in org["serviceConnections"]],
        "lastLogin": None, "lastFailedLogin": None, "loginCount": 0, "failedLoginCount": 0,
        "isBusinessContact": False, "isTechnicalContact": False, "tfaEnabled": False, "deleted": False,
        "receivesEmailNotifications": False, "canResendUserCreationEmail": True, "backupCodesRemaining": 0,
        "primaryRoleBinding": {"id": store.ids.uuid(), "role": {"isSystem": role["isSystem"], "name": role["name"],
                                                                "id": role["id"], "isFixed": role["isFixed"]}},
    }


def _insert_user(store, record):
    """Task body of a user create: insert, reference from the org, issue an API key."""
    with store.lock:
        org_id = record["organization"]["id"]
        store.users[record["id"]] = record
        org = store.orgs[org_id]
        store.replace(store.orgs, org_id,
                      users=org["users"] + [{"id": record["id"], "userName": record["userName"], "deleted": False}])
        role = record["primaryRoleBinding"]["role"]["name"]
        store.add_key(KeyInfo(store.ids.api_key(), record["id"], record["userName"], org_id, org["name"], role,
                              role == ADMIN_ROLE))
    return views.user_detail(store, record)


def update_user(req):
    """PUT /users/:id (async + data)."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "update users")
    user = _visible_user(req)
    body = req.json_object()
    changes = {k: str(body[k]) for k in ("userName", "firstName", "lastName", "email") if body.get(k)}
    with store.lock:
        _check_unique_user(store, user["organization"]["id"], changes, exclude=user["id"])
        if (body.get("primaryRoleBinding") or {}).get("role", {}).get("id"):
            role = _org_role(store, body)
            changes["primaryRoleBinding"] = {"id": user["primaryRoleBinding"]["id"], "role": {
                "isSystem": role["isSystem"], "name": role["name"], "id": role["id"], "isFixed": role["isFixed"]}}
    org = store.orgs[user["organization"]["id"]]
    return _accepted(_submit(req, "users.update", lambda: _apply_user_update(store, user["id"], changes),
                             log=("users.updated", org, {"id": user["id"], "userName": user["userName"],
                                                        "changes": sorted(changes)})),
                     {**user, **changes})


def _apply_user_update(store, user_id, changes):
    """Task body of a user update (keeps the key table and the org's refs in step)."""
    with store.lock:
        user = store.replace(store.users, user_id, **changes)
        key = store.user_keys.get(user_id)
        if key:
            role = user["primaryRoleBinding"]["role"]["name"]
            store.key_index[key] = store.key_index[key]._replace(user_name=user["userName"], role=role,
                                                                 sees_descendants=role == ADMIN_ROLE)
        org = store.orgs[user["organization"]["id"]]
        store.replace(store.orgs, org["id"], users=[{**u, "userName": user["userName"]} if u["id"] == user_id else u
                                                    for u in org["users"]])
    return views.user_detail(store, user)


def delete_user(req):
    """DELETE /users/:id (async): DISABLED at once, deleted when the task succeeds."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "delete users")
    user = _visible_user(req)
    if user["id"] == caller.user_id:
        raise errors.bad_request("You cannot delete yourself", code=errors.PRECONDITION_FAILED, id=user["id"])
    previous = user["status"]
    with store.lock:
        store.replace(store.users, user["id"], status="DISABLED")
        store.set_key_status(user["id"], "DISABLED")

    def revert():
        store.replace(store.users, user["id"], status=previous)
        store.set_key_status(user["id"], previous)

    org = store.orgs[user["organization"]["id"]]
    return _accepted(_submit(req, "users.delete", lambda: _apply_user_delete(store, user["id"]), revert,
                             log=("users.deleted", org, {"id": user["id"], "userName": user["userName"]})))


def _apply_user_delete(store, user_id):
    """Task body of a user delete: deleted flag, org ref, environment memberships."""
    with store.lock:
        user = store.replace(store.users, user_id, deleted=True)
        org = store.orgs[user["organization"]["id"]]
        store.replace(store.orgs, org["id"], users=[{**u, "deleted": True} if u["id"] == user_id else u
                                                    for u in org["users"]])
        for env_id, members in store.members.items():
            store.members[env_id] = [m for m in members if m["user"]["id"] != user_id]
    return {"id": user_id}


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
        raise errors.not_found(f"Unknown environment {req.params['id']}", id=req.params["id"], type="environments")
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
    users = {conn["organization"]["id"]} | {o for o in visible
                                              if any(c["id"] == conn["id"] for c in store.orgs[o]["serviceConnections"])}
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
        raise errors.bad_request("type must be assigned or owned", parameter="type", value=req.query.get("type"))
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
        raise errors.bad_request(f"{name} must be an RFC 3339 date-time", parameter=name, value=query[name]) from None


def list_activity(req):
    """GET /activity_log?organizationId=&includeSubOrgs=&start=&end=&userId=&eventCode=&category=&status=."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "read the activity log")
    org_id = rbac.acting_org(store, caller, req.query, "organizationId")
    orgs = set(store.subtree(org_id, True)) if _flag(req.query, "includeSubOrgs") else {org_id}
    start, end = _instant(req.query, "start"), _instant(req.query, "end")
    filters = {k: req.query[k] for k in ("userId", "eventCode", "category", "status") if req.query.get(k)}
    records = [a for a in list(store.activity) if a["organizationId"] in orgs
               and (start is None or a["created"] >= start) and (end is None or a["created"] < end)
               and all(a[k] == v for k, v in filters.items())]
    return list_response(req, records)


# --------------------------------------------------------------------- usage
PRICES = (("CPU", "1", 0.012), ("RAM", "1", 0.004), ("STORAGE", "2", 0.0001))


def _day(query, name):
    """A required YYYY-MM-DD query parameter."""
    try:
        return clock.parse_date(query[name])
    except (KeyError, ValueError):
        raise errors.bad_request(f"{name} is required as YYYY-MM-DD", parameter=name, value=query.get(name)) from None


def _buckets(start, end, period):
    """[(bucket start, bucket end)] covering [start, end)."""
    if period == "PERIOD":
        return [(start, end)]
    step = timedelta(hours=1) if period == "HOUR" else timedelta(days=1)
    out, current = [], start
    while current < end:
        out.append((current, min(end, current + step)))
        current += step
    return out


def usage_summary(req):
    """GET /usage_summary/organizations/:id?start_date=&end_date=&period=&include_sub_orgs=&service_connection_id=.

    Usage is derived from the current inventory (vCPU-hours, GB-RAM-hours, GB-storage-hours) at
    fixed sandbox prices; it is a plausible series, not an accounting record.
    """
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "read usage")
    org = rbac.check_org(store, caller, req.params["id"], "id")
    start, end = _day(req.query, "start_date"), _day(req.query, "end_date")
    if not start < end or (end - start).days > 366:
        raise errors.bad_request("end_date must be after start_date, at most 366 days later", parameter="end_date")
    period = req.query.get("period", "HOUR").upper()
    if period not in ("HOUR", "DAY", "PERIOD"):
        raise errors.bad_request("period must be HOUR, DAY or PERIOD", parameter="period", value=period)
    org_ids = store.subtree(org["id"], True) if _flag(req.query, "include_sub_orgs") else [org["id"]]
    only = req.query.get("service_connection_id")
    records = []
    for org_id in org_ids:
        for ref in store.orgs[org_id]["serviceConnections"]:
            if not only or ref["id"] == only:
                records.extend(_usage_records(store, org_id, ref["id"], _buckets(start, end, period)))
    return list_response(req, records)


def _usage_records(store, org_id, conn_id, buckets):
    """Usage records of one (org, connection) over ``buckets``."""
    used = quotas.usage(store, org_id, conn_id)
    rates = {"CPU": used["INSTANCE_VCPUS"], "RAM": used["INSTANCE_MEMORY"] / 1024, "STORAGE": used["DISK_SIZE"]}
    if not any(rates.values()):
        return []
    pricing = views.derived_id("pricing", conn_id)
    out = []
    for begin, finish in buckets:
        hours = (finish - begin).total_seconds() / 3600
        for secondary, usage_type, price in PRICES:
            amount = rates[secondary] * hours
            out.append({"organizationId": org_id, "serviceConnectionId": conn_id,
                        "serviceConnectionPricingId": pricing, "utilityCost": round(amount * price, 6),
                        "utilityUsage": round(amount, 6), "startDate": clock.iso_ms(begin),
                        "endDate": clock.iso_ms(finish), "usageType": usage_type, "secondaryType": secondary})
    return out


# ------------------------------------------------------------- roles, tasks
def list_roles(req):
    """GET /roles (``system_only=true`` keeps system roles)."""
    roles = list(req.store.roles.values())
    if _flag(req.query, "system_only"):
        roles = [r for r in roles if r["isSystem"]]
    return list_response(req, roles)


def get_task(req):
    """GET /tasks/:id (404 once expired)."""
    task = req.app.runner.lookup(req.params["id"])
    if task is None:
        raise errors.not_found(f"Unknown or expired task {req.params['id']}", id=req.params["id"], type="tasks")
    return task.body()


def register(router):
    """Add the admin routes to ``router``."""
    router.add("GET", "/organizations", list_organizations)
    router.add("POST", "/organizations", create_organization)
    router.add("GET", "/organizations/{id}", get_organization)
    router.add("PUT", "/organizations/{id}", update_organization)
    router.add("DELETE", "/organizations/{id}", delete_organization)
    router.add("GET", "/users", list_users)
    router.add("POST", "/users", create_user)
    router.add("GET", "/users/{id}", get_user)
    router.add("PUT", "/users/{id}", update_user)
    router.add("DELETE", "/users/{id}", delete_user)
    router.add("GET", "/environments", list_environments)
    router.add("GET", "/environments/{id}", get_environment)
    router.add("GET", "/environments/{id}/members", list_members)
    router.add("GET", "/services/connections", list_connections)
    router.add("GET", "/services/connections/{id}", get_connection)
    router.add("GET", "/quotas", list_quotas)
    router.add("GET", "/quotas/{id}", get_quota)
    router.add("GET", "/activity_log", list_activity)
    router.add("GET", "/usage_summary/organizations/{id}", usage_summary)
    router.add("GET", "/roles", list_roles)
    router.add("GET", "/tasks/{id}", get_task)
