"""Activity-log records: the generated history and the records admin writes append."""
import json
from datetime import timedelta

from . import clock
from .names import ACTIVITY_IPS
from .store import ADMIN_ROLE


# ------------------------------------------------------------------ activity
def activity_record(ids, event_code, created, actor, org, context, status="SUCCESS", ip="10.20.0.15"):
    """One activity-log record (``eventContext`` is a JSON string, as the vendor sends it)."""
    return {
        "userLastname": actor["lastName"], "organizationId": org["id"], "requesterIp": ip,
        "userEmail": actor["email"], "correlationId": ids.uuid(), "id": ids.uuid(),
        "userOrganizationId": actor["organization"]["id"], "organizationName": org["name"],
        "created": clock.iso_ms(created), "userId": actor["id"],
        "eventContext": json.dumps(context, ensure_ascii=False, separators=(",", ":")),
        "eventCode": event_code, "userFirstname": actor["firstName"],
        "userOrganizationName": actor["organization"]["name"], "category": "SYSTEM",
        "updated": clock.iso_ms(created + timedelta(milliseconds=4287)), "status": status,
        "username": actor["userName"],
    }


def org_admin(store, org_id):
    """The first active administrator of ``org_id`` or of its nearest ancestor."""
    node = org_id
    while node is not None:
        for ref in store.orgs[node]["users"]:
            user = store.users[ref["id"]]
            if user["primaryRoleBinding"]["role"]["name"] == ADMIN_ROLE and user["status"] == "ACTIVE":
                return user
        node = store.orgs[node].get("parent", {}).get("id")
    return next(iter(store.users.values()))


def make_activity(ctx, store):
    """Provisioning, user-creation and membership events, oldest first."""
    rng, events = ctx.rng, []
    for org in store.orgs.values():
        actor = org_admin(store, org.get("parent", {}).get("id") or org["id"])
        events.append(activity_record(ctx.ids, "organizations.provision",
                                      clock.parse_instant(org["creationDate"]),
                                      actor, org, {"id": org["id"], "name": org["name"],
                                                   "entryPoint": org["entryPoint"]}))
        if org["isBillable"] and rng.random() < 0.15:
            events.append(activity_record(ctx.ids, "trials.converted_to_billable",
                                          clock.parse_instant(org["billableStartDate"]), actor, org,
                                          {"id": org["id"]}))
        admin = org_admin(store, org["id"])
        for ref in org["users"]:
            user = store.users[ref["id"]]
            context = {"id": None, "firstName": user["firstName"], "lastName": user["lastName"],
                       "userName": user["userName"], "email": user["email"],
                       "organization": {"id": org["id"], "name": org["name"]}}
            events.append(activity_record(ctx.ids, "users.created", clock.parse_instant(user["creationDate"]),
                                          admin, org, context, ip=rng.choice(ACTIVITY_IPS)))
    for env in store.environments.values():
        org = store.orgs[env["organization"]["id"]]
        for member in store.members[env["id"]]:
            context = {"userName": member["user"]["userName"], "environmentName": env["name"],
                       "organizationName": org["name"], "connectionName": env["serviceConnection"]["name"]}
            status = "FAILURE" if rng.random() < 0.05 else "SUCCESS"
            events.append(activity_record(ctx.ids, "environment_members.provision",
                                          clock.parse_instant(member["creationDate"]),
                                          org_admin(store, org["id"]),
                                          org, context, status))
    events.sort(key=lambda e: e["created"])
    store.activity.extend(events)
