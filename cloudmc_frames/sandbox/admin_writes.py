"""Administration writes: create / update / delete organizations and users.

Each answers ``{"taskId", "taskStatus": "PENDING", "data"?}`` at once (the model
for creates and updates); the change lands in the store when the task succeeds,
and an activity record (``organizations.created``, ``users.deleted``, ...) is
appended then (``status`` FAILURE if the task failed).  Only Administrators
may write, inside their subtree.

Validation (400 codes from ``errors``): missing required fields (9411), bad
values such as a name not 2-50 characters starting alphanumeric, an
``entryPoint`` not ``[a-z0-9-]``, a connection the parent cannot assign or a
non-organization role (9412), duplicates (entryPoint globally, org names among
siblings, userName/email within an org: 9413), deleting your own org, an org
with sub-orgs or yourself (9416).
"""
import re

from . import clock, errors, quotas, rbac, views
from .api import visible_user
from .gen_activity import activity_record
from .store import ADMIN_ROLE, KeyInfo
from .tasks import TaskFailure

NAME_RE = re.compile(r"^[A-Za-z0-9\u00C0-\u024F].{1,49}$", re.S)
ENTRY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
BILLING_MODES = ("MANUAL", "CREDIT_CARD")


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
        raise errors.bad_request(f"Missing required field(s): {', '.join(missing)}",
                                 code=errors.MISSING_FIELD,
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
        """Apply the change, then log it."""
        result = apply()
        if log:
            _log(store, log[0], caller, store.orgs.get(log[1]["id"], log[1]), log[2])
        return result

    def failed():
        """Undo, then log the failure."""
        if on_fail:
            on_fail()
        if log:
            _log(store, log[0], caller, store.orgs.get(log[1]["id"], log[1]), log[2], status="FAILURE")

    return req.app.runner.submit(operation, run, failed)


def _check_name(store, name, parent_id, exclude=None):
    """Validate an org name and its uniqueness among the parent's children."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise _invalid("name", name, "name must be 2-50 characters starting with a letter or digit")
    for child in store.children.get(parent_id, ()):
        other = store.orgs[child]
        if child != exclude and not other["deleted"] and other["name"].lower() == name.lower():
            raise errors.bad_request(f"An organization named {name!r} already exists here",
                                     code=errors.DUPLICATE,
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
            raise _invalid("serviceConnections", conn_id,
                           "Connection not assignable from the parent organization")
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
        tags.append({"system": False, "name": item.get("name") or item["id"],
                     "id": item.get("id") or store.ids.uuid()})
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
                             log=("organizations.created", record,
                                  {"id": record["id"], "name": record["name"]})),
                     record)


def _new_org(store, body, parent):
    """The record of an org about to be created under ``parent``."""
    mode = body.get("billingMode", "MANUAL")
    if mode not in BILLING_MODES:
        raise _invalid("billingMode", mode, "billingMode must be MANUAL or CREDIT_CARD")
    org_id, now = store.ids.uuid(), clock.iso_ms(clock.utcnow())
    reseller = parent["id"] if parent["isReseller"] else parent.get("reseller", {}).get("id")
    record = {"id": org_id, "lineage": ", ".join([org_id, *parent["lineage"].split(", ")]),
              "name": body["name"],
              "entryPoint": body["entryPoint"], "billableStartDate": now, "creationDate": now,
              "isBillable": bool(body.get("isBillable", False)), "billingMode": mode, "isReseller": False,
              "features": [], "customFields": {}, "tags": _tags(store, body), "deleted": False,
              "isDbAuthentication": True, "isLdapAuthentication": False, "isTrial": False}
    if reseller:
        record["reseller"] = {"id": reseller}
    record["parent"] = {"id": parent["id"], "name": parent["name"]}
    record.update({"environments": [], "serviceConnections": _connection_refs(store, body, parent),
                   "users": []})
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
    return _accepted(_submit(req, "organizations.update",
                             lambda: _apply_org_update(store, org["id"], changes),
                             log=("organizations.updated", preview,
                                  {"id": org["id"], "changes": sorted(changes)})),
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
                store.replace(store.environments, env["id"],
                              organization={**env["organization"], "name": org["name"]})
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
        raise errors.not_found(f"Organization {org['id']} is already deleted", id=org["id"],
                               type="organizations")
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
                             log=("users.created", org,
                                  {"id": record["id"], "userName": record["userName"]})),
                     record)


def _new_user(store, body, org, role):
    """The record of a user about to be created."""
    return {
        "id": store.ids.uuid(), "userName": str(body["userName"]), "firstName": str(body["firstName"]),
        "lastName": str(body["lastName"]), "email": str(body["email"]),
        "creationDate": clock.iso_ms(clock.utcnow()),
        "status": "ACTIVE", "locale": "en", "organization": {"id": org["id"], "name": org["name"]},
        "serviceConnections": [{"id": c["id"], "name": store.connections[c["id"]]["name"]}
                               for c in org["serviceConnections"]],
        "lastLogin": None, "lastFailedLogin": None, "loginCount": 0, "failedLoginCount": 0,
        "isBusinessContact": False, "isTechnicalContact": False, "tfaEnabled": False, "deleted": False,
        "receivesEmailNotifications": False, "canResendUserCreationEmail": True, "backupCodesRemaining": 0,
        "primaryRoleBinding": {"id": store.ids.uuid(),
                               "role": {"isSystem": role["isSystem"], "name": role["name"],
                                                                "id": role["id"],
                                                                "isFixed": role["isFixed"]}},
    }


def _insert_user(store, record):
    """Task body of a user create: insert, reference from the org, issue an API key."""
    with store.lock:
        org_id = record["organization"]["id"]
        store.users[record["id"]] = record
        org = store.orgs[org_id]
        store.replace(store.orgs, org_id,
                      users=org["users"] + [{"id": record["id"], "userName": record["userName"],
                                             "deleted": False}])
        role = record["primaryRoleBinding"]["role"]["name"]
        store.add_key(KeyInfo(store.ids.api_key(), record["id"], record["userName"], org_id, org["name"],
                              role,
                              role == ADMIN_ROLE))
    return views.user_detail(store, record)


def update_user(req):
    """PUT /users/:id (async + data)."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "update users")
    user = visible_user(req)
    body = req.json_object()
    changes = {k: str(body[k]) for k in ("userName", "firstName", "lastName", "email") if body.get(k)}
    with store.lock:
        _check_unique_user(store, user["organization"]["id"], changes, exclude=user["id"])
        if (body.get("primaryRoleBinding") or {}).get("role", {}).get("id"):
            role = _org_role(store, body)
            changes["primaryRoleBinding"] = {"id": user["primaryRoleBinding"]["id"], "role": {
                "isSystem": role["isSystem"], "name": role["name"], "id": role["id"],
                "isFixed": role["isFixed"]}}
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
        store.replace(store.orgs, org["id"],
                      users=[{**u, "userName": user["userName"]} if u["id"] == user_id else u
                                                    for u in org["users"]])
    return views.user_detail(store, user)


def delete_user(req):
    """DELETE /users/:id (async): DISABLED at once, deleted when the task succeeds."""
    store, caller = req.store, req.caller
    rbac.require_admin(caller, "delete users")
    user = visible_user(req)
    if user["id"] == caller.user_id:
        raise errors.bad_request("You cannot delete yourself", code=errors.PRECONDITION_FAILED, id=user["id"])
    previous = user["status"]
    with store.lock:
        store.replace(store.users, user["id"], status="DISABLED")
        store.set_key_status(user["id"], "DISABLED")

    def revert():
        """Give the user back its status (failed delete)."""
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


def register(router):
    """Add the write routes to ``router``."""
    router.add("POST", "/organizations", create_organization)
    router.add("PUT", "/organizations/{id}", update_organization)
    router.add("DELETE", "/organizations/{id}", delete_organization)
    router.add("POST", "/users", create_user)
    router.add("PUT", "/users/{id}", update_user)
    router.add("DELETE", "/users/{id}", delete_user)
