"""Who may see and do what (inferred from REFERENCE 2.1-2.5; the docs give no full matrix).

* Every user has an API key (``MC-Api-Key``). Missing, unknown or DISABLED
  keys -> 401.
* **Administrator** ("access other levels"): its own org and every descendant
  (deleted ones included, for audits); may read everything there and write
  (orgs, users, service resources).
* **User**: its own org only; ``GET /users`` shows only itself,
  ``GET /environments`` only the environments it is a member of, service
  calls only in those environments (reads and operations); no admin writes,
  no activity log / usage.
* **Guest**: like User but read-only (every write -> 403).
* ``org_id`` (or an endpoint's own org parameter) naming an org outside the
  caller's scope -> 403; an unknown org id -> 404.
"""
from . import errors
from .store import ADMIN_ROLE


def authenticate(store, api_key):
    """The caller's KeyInfo; 401 envelope for a missing, unknown or disabled key."""
    if not api_key:
        raise errors.ApiError(401, errors.UNAUTHENTICATED, "Missing MC-Api-Key header")
    info = store.key_info(api_key)
    if info is None:
        raise errors.ApiError(401, errors.UNAUTHENTICATED, "Unknown API key")
    if info.status != "ACTIVE":
        raise errors.ApiError(401, errors.UNAUTHENTICATED, "The user of this API key is disabled")
    return info


def is_admin(caller):
    """True for Administrators."""
    return caller.role == ADMIN_ROLE


def can_see(store, caller, org_id):
    """True if ``org_id`` is the caller's org or (for admins) one of its descendants."""
    if org_id == caller.org_id:
        return True
    if not caller.sees_descendants:
        return False
    return caller.org_id in store.ancestors(org_id)


def check_org(store, caller, org_id, parameter="org_id"):
    """404 for an unknown org, 403 for one outside the caller's scope; returns the org."""
    org = store.orgs.get(org_id)
    if org is None:
        raise errors.not_found(f"Unknown organization {org_id}", id=org_id, type="organizations")
    if not can_see(store, caller, org_id):
        raise errors.forbidden(f"Organization {org_id} is outside the caller's scope",
                               id=org_id, parameter=parameter)
    return org


def acting_org(store, caller, query, *names):
    """The org a call acts in: the first of ``names`` in the query, else ``org_id``, else the caller's."""
    for name in (*names, "org_id"):
        if query.get(name):
            check_org(store, caller, query[name], name)
            return query[name]
    return caller.org_id


def require_admin(caller, action):
    """403 unless the caller is an Administrator."""
    if not is_admin(caller):
        raise errors.forbidden(f"The {caller.role} role may not {action}", role=caller.role)


def require_write(caller):
    """403 for read-only (Guest) callers."""
    if caller.role == "Guest":
        raise errors.forbidden("The Guest role is read-only", role=caller.role)


def is_member(store, caller, env_id):
    """True if the caller is a member of environment ``env_id``."""
    return any(m["user"]["id"] == caller.user_id for m in store.members.get(env_id, ()))


def check_env(store, caller, env):
    """403 unless the caller may use ``env`` (its org in scope; non-admins must be members)."""
    check_org(store, caller, env["organization"]["id"], "environment")
    if not is_admin(caller) and not is_member(store, caller, env["id"]):
        raise errors.forbidden(f"Not a member of environment {env['name']}", id=env["id"],
                               type="environments")
