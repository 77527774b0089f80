"""Service (plugin) endpoints: ``/services/:code/:env_name/:entity[/:id][?operation=]``.

The environment is resolved by (org scope, name): the ``org_id`` query
parameter or the caller's org.  Unknown connection, environment (or an
environment bound to another connection) or entity type -> 404.  Lists carry
``metadata.recordCount`` (full paging metadata when paging is asked for) and
accept the documented snake_case filters (``type``, ``instance_id``,
``volume_id``, ``vpc_id``, ``zone_id``).
"""
from . import errors, operations, paging, rbac, views
from .names import CLOUDSTACK_ENTITIES, GCP_ENTITIES

ENTITIES = {"cloudstack": CLOUDSTACK_ENTITIES, "gcp": GCP_ENTITIES}
FILTERS = {
    ("cloudstack", "volumes"): {"type": "type", "instance_id": "instanceId"},
    ("cloudstack", "snapshots"): {"volume_id": "volumeId"},
    ("cloudstack", "publicipaddresses"): {"vpc_id": "vpcId", "instance_id": "instances"},
    ("cloudstack", "networks"): {"vpc_id": "vpcId", "zone_id": "zoneId"},
}
# verbs each entity accepts beyond GET: (collection verbs, item verbs)
WRITES = {
    ("cloudstack", "instances"): ({"POST"}, {"POST", "PUT", "DELETE"}),
    ("cloudstack", "volumes"): ({"POST"}, {"POST", "DELETE"}),
    ("gcp", "instances"): (set(), {"POST"}),
}


def resolve(req):
    """The ``operations.Scope`` of a service call (404/403 as documented)."""
    store, caller, params = req.store, req.caller, req.params
    conn = store.connection_by_code(params["code"])
    if conn is None:
        raise errors.not_found(f"Unknown service connection {params['code']!r}", serviceCode=params["code"])
    org_id = rbac.acting_org(store, caller, req.query)
    env = store.env_by_name(org_id, params["env"])
    if env is None or env["serviceConnection"]["id"] != conn["id"]:
        raise errors.not_found(f"Unknown environment {params['env']!r} on {params['code']!r} "
                               "in this organization",
                               environmentName=params["env"], serviceCode=params["code"],
                               organizationId=org_id)
    rbac.check_env(store, caller, env)
    if params["entity"] not in ENTITIES.get(conn["type"], ()):
        raise errors.not_found(f"Unknown entity type {params['entity']!r} for {conn['type']}",
                               entityType=params["entity"], serviceCode=params["code"])
    return operations.Scope(req.app, env, conn, caller)


def _allowed(scope, entity, method, item):
    """405 unless ``method`` is supported on this entity (collection or item)."""
    verbs = WRITES.get((scope.conn["type"], entity), (set(), set()))[1 if item else 0]
    if method not in verbs:
        allow = ", ".join(sorted({"GET"} | verbs))
        raise errors.ApiError(405, errors.METHOD_NOT_ALLOWED, f"{method} is not supported on {entity}",
                              {"method": method, "allowed": allow.split(", ")}, headers={"Allow": allow})


def _filter(scope, entity, records, query):
    """Apply the documented list filters."""
    for param, field in FILTERS.get((scope.conn["type"], entity), {}).items():
        wanted = query.get(param)
        if wanted is None:
            continue
        if field == "instances":
            records = [r for r in records if any(i["id"] == wanted for i in r.get("instances", ()))]
        else:
            records = [r for r in records if r.get(field) == wanted]
    return records


def list_resources(req):
    """GET .../:entity."""
    scope = resolve(req)
    entity = req.params["entity"]
    params = paging.parse(req.query)
    with scope.store.lock:
        records = list(scope.items(entity).values())
    items, meta = paging.apply(_filter(scope, entity, records, req.query), params, service=True)
    return {"data": items, "metadata": meta}


def get_resource(req):
    """GET .../:entity/:id (detail view)."""
    scope = resolve(req)
    entity = req.params["entity"]
    with scope.store.lock:
        record = scope.get(entity, req.params["id"])
        return {"data": views.resource_detail(scope.store, scope.env_id, scope.conn["type"], entity, record)}


def create_resource(req):
    """POST .../:entity (create) or POST .../:entity?operation= (collection operations)."""
    scope = resolve(req)
    entity = req.params["entity"]
    _allowed(scope, entity, "POST", item=False)
    rbac.require_write(req.caller)
    if req.query.get("operation"):
        raise errors.bad_request(f"Unsupported collection operation {req.query['operation']!r}",
                                 code=errors.UNKNOWN_OPERATION, operation=req.query["operation"])
    body = req.json_object()
    if entity == "instances":
        return operations.create_instance(scope, body)
    return operations.create_volume(scope, body)


def operate(req):
    """POST .../:entity/:id?operation=."""
    scope = resolve(req)
    entity, item = req.params["entity"], req.params["id"]
    _allowed(scope, entity, "POST", item=True)
    rbac.require_write(req.caller)
    op = req.query.get("operation")
    if not op:
        raise errors.bad_request("POST on an item needs ?operation=", code=errors.UNKNOWN_OPERATION,
                                 operation=None)
    body = req.json_object()
    if scope.conn["type"] == "gcp":
        return operations.gcp_instance_operation(scope, item, op)
    if entity == "instances":
        return operations.instance_operation(scope, item, op, body)
    return operations.volume_operation(scope, item, op, body)


def update_resource(req):
    """PUT .../instances/:id (name, hostname)."""
    scope = resolve(req)
    _allowed(scope, req.params["entity"], "PUT", item=True)
    rbac.require_write(req.caller)
    return operations.update_instance(scope, req.params["id"], req.json_object())


def delete_resource(req):
    """DELETE .../instances/:id (optional JSON body) or .../volumes/:id."""
    scope = resolve(req)
    entity = req.params["entity"]
    _allowed(scope, entity, "DELETE", item=True)
    rbac.require_write(req.caller)
    if entity == "instances":
        return operations.delete_instance(scope, req.params["id"], req.json_object())
    return operations.delete_volume(scope, req.params["id"])


def register(router):
    """Add the service routes to ``router`` (after the admin ones)."""
    base = "/services/{code}/{env}/{entity}"
    router.add("GET", base, list_resources)
    router.add("POST", base, create_resource)
    router.add("GET", base + "/{id}", get_resource)
    router.add("POST", base + "/{id}", operate)
    router.add("PUT", base + "/{id}", update_resource)
    router.add("DELETE", base + "/{id}", delete_resource)
