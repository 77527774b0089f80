"""Detail ("retrieve") views built from the list-shaped records in the store.

``GET /x/:id`` returns the list record plus the detail-only fields the vendor
examples show; the extra values live in ``store.extras[id]`` or are derived.
"""
import hashlib
import uuid

from . import quotas


def derived_id(*parts):
    """A stable UUID derived from ``parts`` (for sub-objects such as NICs)."""
    digest = hashlib.md5(":".join(parts).encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def org_detail(store, org):
    """Org detail: adds ``quotas``, ``notes``, ``customFieldDefinitions``, ``ldap``."""
    detail = dict(org)
    detail["quotas"] = [{"name": q["name"], "id": q["id"],
                         "serviceConnection": {"id": q["serviceConnection"]["id"]}}
                        for q in quotas.assigned_to(store, org["id"])]
    detail.update(store.extras.get(org["id"], {}))
    return detail


def user_detail(store, user):
    """User detail: ``serviceConnections`` with serviceCode, type and provisioning state."""
    org = store.orgs[user["organization"]["id"]]
    conns = []
    for ref in org["serviceConnections"]:
        conn = store.connections[ref["id"]]
        conns.append({"serviceCode": conn["serviceCode"], "name": conn["name"], "id": conn["id"],
                      "state": ref["state"], "type": conn["type"]})
    return {**user, "serviceConnections": conns}


def env_detail(store, env):
    """Environment detail: ``serviceConnection`` gains ``serviceCode`` and ``type``."""
    conn = store.connections[env["serviceConnection"]["id"]]
    return {**env, "serviceConnection": {"id": conn["id"], "name": conn["name"],
                                         "serviceCode": conn["serviceCode"], "type": conn["type"]}}


def instance_detail(store, env_id, inst):
    """CloudStack instance detail: ``userData``, ``publicIps``, ``nics``."""
    ips = []
    for ip in store.resources[env_id].get("publicipaddresses", {}).values():
        if any(ref["id"] == inst["id"] for ref in ip.get("instances", ())):
            ports = ["22"] if "PORT_FORWARDING" in ip["purposes"] else []
            ips.append({"id": ip["id"], "ipAddress": ip["ipAddress"], "purposes": list(ip["purposes"]),
                        "ports": ports})
    extras = store.extras.get(inst["id"], {})
    return {**inst, "userData": extras.get("userData", ""), "publicIps": ips,
            "nics": [{"id": derived_id("nic", inst["id"]), "isDefault": True,
                      "networkId": inst["networkId"]}]}


def resource_detail(store, env_id, conn_type, entity, record):
    """The retrieve view of any service resource."""
    if conn_type == "cloudstack" and entity == "instances":
        return instance_detail(store, env_id, record)
    extras = store.extras.get(record.get("id"), {})
    return {**record, **extras} if extras else record
