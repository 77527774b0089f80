"""Scenario roles and users: Administrator / User / Guest, login history, 2FA, API keys.

Per org: the root gets five users (Administrator, User, Guest, Administrator,
User; the first three are "demo" users: active, recently logged in); deleted
orgs none; ~15% of the others none, else 1-5.  The first user of an org is an
Administrator except in a few "no_admin" orgs (audit fodder).  Some users are
DISABLED (~8%), never logged in (~15%), stale (last login 91-400 days ago,
~15%), locked out (failedLoginCount >= 10, ~8%); each category appears at least
once.  Every user gets a seeded 48-character API key.
"""
from datetime import timedelta

from . import clock
from .names import ENV_ROLES, FIRST_NAMES, LAST_NAMES, ORG_ROLES, slug
from .store import ADMIN_ROLE, KeyInfo


# --------------------------------------------------------------------- roles
def make_roles(ctx, store):
    """Org roles (primary role bindings) and environment roles."""
    created = clock.iso_ms(ctx.now - timedelta(days=2500))
    for name, scope, perms in ORG_ROLES:
        _add_role(ctx, store, name, scope, perms, created, is_system=True, is_default=name == "User",
                  plugin=None)
    for name, is_default, plugin, perms in ENV_ROLES:
        _add_role(ctx, store, name, "ENV", perms, created, is_system=False, is_default=is_default,
                  plugin=plugin)


def _add_role(ctx, store, name, scope, perms, created, is_system, is_default, plugin):
    """Add one role in the vendor ``GET /roles`` shape."""
    role = {"creationDate": created, "version": 1, "isSystem": is_system, "isDefault": is_default,
            "deleted": False, "permissions": [{"name": p, "id": ctx.ids.uuid()} for p in perms],
            "name": name, "id": ctx.ids.uuid(), "isFixed": True, "defaultScope": scope, "pluginName": plugin}
    store.roles[role["id"]] = role


def role_by_name(store, name):
    """The role record called ``name``."""
    return next(r for r in store.roles.values() if r["name"] == name)


# --------------------------------------------------------------------- users
def _user_count(ctx, tree, org_id):
    """How many users an org gets (deleted orgs none, root five)."""
    if org_id == tree.root:
        return 5
    if tree.has(org_id, "deleted"):
        return 0
    if org_id in tree.chain:
        return ctx.rng.randint(2, 4)
    if tree.has(org_id, "no_admin"):
        return ctx.rng.randint(1, 3)
    return 0 if ctx.rng.random() < 0.15 else ctx.rng.randint(1, 5)


def _roles_for(ctx, tree, org_id, count):
    """Role names for an org's users: an Administrator first unless the org is audit fodder."""
    if count == 0:
        return []
    if org_id == tree.root:
        return ["Administrator", "User", "Guest", "Administrator", "User"][:count]
    if tree.has(org_id, "no_admin"):
        return ctx.rng.choices(["User", "Guest"], [3, 1], k=count)
    return ["Administrator"] + ctx.rng.choices(["User", "Guest", "Administrator"], [6, 3, 2], k=count - 1)


def make_users(ctx, store, tree):
    """Users of every org, their keys, and the audit fodder guarantees."""
    for org_id in tree.order:
        org = store.orgs[org_id]
        names = set()
        roles = _roles_for(ctx, tree, org_id, _user_count(ctx, tree, org_id))
        for position, role in enumerate(roles):
            user = _user_record(ctx, store, org, role, names, demo=org_id == tree.root and position < 3)
            store.users[user["id"]] = user
            org["users"].append({"id": user["id"], "userName": user["userName"], "deleted": False})
    _ensure_audit_users(ctx, store, tree)
    for user in store.users.values():
        org = store.orgs[user["organization"]["id"]]
        role = user["primaryRoleBinding"]["role"]["name"]
        store.add_key(KeyInfo(ctx.ids.api_key(), user["id"], user["userName"], org["id"], org["name"], role,
                              role == ADMIN_ROLE, user["status"]))


def _user_name(ctx, taken):
    """(first, last, userName) unique within the org."""
    first, last = ctx.rng.choice(FIRST_NAMES), ctx.rng.choice(LAST_NAMES)
    base = slug(f"{first[0]}{last}").replace("-", "") or "user"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return first, last, name


def _user_record(ctx, store, org, role_name, taken, demo=False):
    """One user in the vendor list shape; ``demo`` users are active, recent, 2FA-less."""
    rng = ctx.rng
    first, last, user_name = _user_name(ctx, taken)
    org_created = clock.parse_instant(org["creationDate"])
    created = org_created + timedelta(days=rng.randrange(0, max(1, (ctx.now - org_created).days - 10)))
    role = role_by_name(store, role_name)
    login = "recent" if demo else rng.choices(["recent", "never", "stale"], [70, 15, 15])[0]
    last_login = {"recent": ctx.now - timedelta(days=rng.randrange(0, 60), seconds=rng.randrange(86400)),
                  "stale": ctx.now - timedelta(days=rng.randrange(91, 400)), "never": None}[login]
    if last_login is not None and last_login < created:
        created = last_login - timedelta(days=1)
    failed = 0 if demo else (rng.randint(10, 25) if rng.random() < 0.08 else rng.choice([0, 0, 0, 1, 2, 3]))
    tfa = False if demo else rng.random() < 0.45
    return {
        "id": ctx.ids.uuid(), "userName": user_name, "firstName": first, "lastName": last,
        "email": f"{user_name}@{org['entryPoint']}.example.com", "creationDate": clock.iso_ms(created),
        "status": "ACTIVE" if demo or rng.random() >= 0.08 else "DISABLED",
        "locale": rng.choice(["en", "en", "fr"]),
        "organization": {"id": org["id"], "name": org["name"]},
        "serviceConnections": [], "lastLogin": clock.iso_ms(last_login) if last_login else None,
        "lastFailedLogin": (clock.iso_ms(ctx.now - timedelta(days=rng.randrange(0,
                                                                                120))) if failed else None),
        "loginCount": 0 if last_login is None else rng.randint(1, 500), "failedLoginCount": failed,
        "isBusinessContact": rng.random() < 0.2, "isTechnicalContact": rng.random() < 0.3, "tfaEnabled": tfa,
        "deleted": False, "receivesEmailNotifications": rng.random() < 0.6,
        "canResendUserCreationEmail": last_login is None,
        "backupCodesRemaining": rng.randint(0, 10) if tfa else 0,
        "primaryRoleBinding": {"id": ctx.ids.uuid(),
                               "role": {"isSystem": role["isSystem"], "name": role["name"],
                                                               "id": role["id"], "isFixed": role["isFixed"]}},
    }


def _ensure_audit_users(ctx, store, tree):
    """Make sure every audit category appears at least once (on non-demo users)."""
    demo = {u["id"] for org in (store.orgs[tree.root],) for u in org["users"][:3]}
    pool = [u for u in store.users.values() if u["id"] not in demo]
    if len(pool) < 4:
        return
    checks = [
        (lambda u: u["status"] == "DISABLED", {"status": "DISABLED"}),
        (lambda u: u["lastLogin"] is None,
         {"lastLogin": None, "loginCount": 0, "canResendUserCreationEmail": True}),
        (lambda u: u["failedLoginCount"] >= 10,
         {"failedLoginCount": 12, "lastFailedLogin": clock.iso_ms(ctx.now - timedelta(days=3))}),
    ]
    for index, (present, patch) in enumerate(checks):
        if not any(present(u) for u in pool):
            pool[-1 - index].update(patch)
    stale = ctx.now - timedelta(days=90)
    if not any(u["lastLogin"] and clock.parse_instant(u["lastLogin"]) < stale for u in pool):
        pool[-4]["lastLogin"] = clock.iso_ms(ctx.now - timedelta(days=200))
        pool[-4]["loginCount"] = max(1, pool[-4]["loginCount"])
