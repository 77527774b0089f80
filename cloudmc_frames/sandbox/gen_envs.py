"""Scenario environments and their members.

Per org with a usable (PROVISIONED) connection: 0-3 environments (~25% none) (root: ``prod``
on compute-qc, ``dev`` on gcp-lab, ``staging`` on compute-on; deleted orgs 1-2 holding compute
resources), names unique within the org and shared across orgs; ~20%
ALL_ORG_USERS membership, the rest MANY_USERS with a random subset (or none).
"""
from datetime import timedelta

from . import clock
from .gen_people import role_by_name
from .names import ENV_NAMES
from .store import ADMIN_ROLE


# -------------------------------------------------------------- environments
def _env_plan(ctx, store, tree, org_id):
    """[(name, connection id)] for an org's environments."""
    rng = ctx.rng
    usable = [c for c in tree.conns[org_id] if (org_id, c) not in tree.errored]
    if not usable:
        return []
    if org_id == tree.root:
        by_code = {store.connections[c]["serviceCode"]: c for c in usable}
        return [("prod", by_code["compute-qc"]), ("dev", by_code["gcp-lab"]),
                ("staging", by_code["compute-on"])]
    deleted = tree.has(org_id, "deleted")
    if not deleted and org_id not in tree.chain and rng.random() < 0.25:
        return []
    count = rng.randint(1, 2) if deleted else rng.randint(1, 3)
    names = []
    while len(names) < count:
        name = rng.choices(ENV_NAMES, [5, 5, 3, 2, 1, 1, 1, 1, 1, 1])[0]
        if name not in names:
            names.append(name)
    qc = next((c for c in usable if store.connections[c]["serviceCode"] == "compute-qc"), None)
    plan = [(name, rng.choice(usable)) for name in names]
    if qc and (deleted or org_id in tree.chain):
        plan[0] = (plan[0][0], qc)
    return plan


def make_environments(ctx, store, tree):
    """Environments, their members, and the users' connection lists."""
    owner = role_by_name(store, "Owner")
    for org_id in tree.order:
        org = store.orgs[org_id]
        for index, (name, conn_id) in enumerate(_env_plan(ctx, store, tree, org_id)):
            env = _env_record(ctx, store, org, name, store.connections[conn_id], owner)
            store.environments[env["id"]] = env
            org["environments"].append({"id": env["id"], "deleted": False})
            store.members[env["id"]] = _members(ctx, store, org, env,
                                                root_prod=org_id == tree.root and index == 0)
        conns = [store.connections[c["id"]] for c in org["serviceConnections"]]
        for ref in org["users"]:
            store.users[ref["id"]]["serviceConnections"] = [{"id": c["id"], "name": c["name"]} for c in conns]


def _env_record(ctx, store, org, name, conn, role):
    """One environment in the vendor list shape."""
    org_created = clock.parse_instant(org["creationDate"])
    created = org_created + timedelta(days=ctx.rng.randrange(1, 40))
    return {
        "id": ctx.ids.uuid(), "name": name, "description": f"{name} environment of {org['name']}",
        "metadata": {"mode": "project"},
        "defaultRole": {"id": role["id"], "name": role["name"], "isSystem": role["isSystem"],
                        "isDefault": role["isDefault"], "deleted": False, "isFixed": role["isFixed"],
                        "defaultScope": role["defaultScope"], "creationDate": role["creationDate"]},
        "membership": "ALL_ORG_USERS" if ctx.rng.random() < 0.2 else "MANY_USERS",
        "creationDate": clock.iso_ms(created),
        "organization": {"id": org["id"], "name": org["name"], "entryPoint": org["entryPoint"]},
        "allowExternalMembers": False, "state": "PROVISIONED",
        "serviceConnection": {"id": conn["id"], "name": conn["name"]},
    }


def _members(ctx, store, org, env, root_prod=False):
    """Environment members (``GET /environments/:id/members`` shape)."""
    rng = ctx.rng
    users = [store.users[u["id"]] for u in org["users"]]
    if root_prod:
        env["membership"] = "MANY_USERS"
        chosen = users[:3]
    elif env["membership"] == "ALL_ORG_USERS":
        chosen = users
    else:
        chosen = [] if not users or rng.random() < 0.25 else rng.sample(users, rng.randint(1, len(users)))
    env_roles = [r for r in store.roles.values() if r["defaultScope"] == "ENV"]
    out = []
    for user in chosen:
        admin = user["primaryRoleBinding"]["role"]["name"] == ADMIN_ROLE
        role = env_roles[0] if admin else rng.choice(env_roles)
        joined = clock.parse_instant(env["creationDate"]) + timedelta(hours=rng.randrange(1, 500))
        out.append(member_record(ctx.ids.uuid(), env, user, role, clock.iso_ms(joined)))
    return out


def member_record(binding_id, env, user, role, created):
    """One environment member record."""
    return {"id": binding_id, "creationDate": created, "state": "PROVISIONED",
            "role": {"id": role["id"], "name": role["name"]},
            "user": {"id": user["id"], "firstName": user["firstName"], "lastName": user["lastName"],
                     "userName": user["userName"], "email": user["email"]},
            "metadata": {"membership": "All" if env["membership"] == "ALL_ORG_USERS" else "Many"},
            "environment": {"id": env["id"]}, "scopeQualifier": "ENV"}
