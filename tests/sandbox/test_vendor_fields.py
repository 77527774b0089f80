"""Vendor field parity: every payload the sandbox serves has the vendor's key paths and types.

The expected key sets come from ``tests/fixtures/vendor_fields.json`` (extracted once from the
CloudMC docs' example payloads).  For each entity: the vendor paths must all be served
(somewhere in the served records), and every served path must appear in the vendor payload
(or in the explicitly allowed sibling payload, e.g. the list example for a detail view).
Task, async and error envelopes are checked in ``test_operations``.
"""
import pytest

from . import parity
from .usage_support import busiest_org, day, instant, summary


def orgs_and_envs(api, store):
    """(org ids, [(env, connection)]) over the whole scenario."""
    org_ids = list(store.orgs)
    envs = [(e, store.env_connection(e)) for e in store.environments.values()]
    return org_ids, envs


def per_org(api, store, path, param="org_id"):
    """Concatenated ``data`` of ``path`` for every org."""
    out = []
    for org_id in store.orgs:
        out.extend(api.data(path, params={param: org_id}))
    return out


def service_records(api, store, conn_type, entity, detail=False):
    """List (or detail) records of ``entity`` in every environment of ``conn_type``."""
    out = []
    for env in store.environments.values():
        conn = store.env_connection(env)
        if conn["type"] != conn_type:
            continue
        base = f"/services/{conn['serviceCode']}/{env['name']}/{entity}"
        params = {"org_id": env["organization"]["id"]}
        items = api.data(base, params=params)
        out.extend(api.data(f"{base}/{i['id']}",
                            params=params) for i in items) if detail else out.extend(items)
    return out


def test_organizations_list(api):
    parity.check(api.data("/organizations", params={"include_deleted": "true"}), ["organization.list"])


def test_organization_detail(api, store):
    records = [api.data(f"/organizations/{o}") for o in store.orgs]
    parity.check(records, ["organization.retrieve"], ["organization.list"])


def test_users_list_and_detail(api, store):
    records = per_org(api, store, "/users")
    parity.check(records, ["user.list"])
    parity.check([api.data(f"/users/{u['id']}") for u in records], ["user.retrieve"])


def test_roles(api):
    parity.check(api.data("/roles"), ["role.list"])


def test_environments_list_detail_members(api, store):
    envs = per_org(api, store, "/environments")
    parity.check(envs, ["environment.list"])
    parity.check([api.data(f"/environments/{e['id']}") for e in envs], ["environment.retrieve"],
                 ["environment.update_response"])
    members = [m for e in envs for m in api.data(f"/environments/{e['id']}/members")]
    parity.check(members, ["environment_member.list"])


def test_connections(api, store):
    records = api.data("/services/connections")
    parity.check(records, ["connection.list"])
    parity.check([api.data(f"/services/connections/{c['id']}") for c in records], ["connection.retrieve"])


def test_quotas(api, store):
    records = per_org(api, store, "/quotas", "organization_id")
    parity.check(records, ["quota.list"])
    parity.check([api.data(f"/quotas/{q['id']}") for q in records[:10]], ["quota.retrieve"])


def test_activity_log(api):
    parity.check(api.data("/activity_log", params={"includeSubOrgs": "true"}), ["activity.list"])


def test_usage_summary(api, store):
    window = {"period": "DAY", "include_sub_orgs": "true"}
    parity.check(summary(api, store.root_id, day(store, 2), day(store, 0), **window), ["usage_summary.list"])
    parity.check(summary(api, store.root_id, day(store, 2), day(store, 0), top_level=True, **window),
                 ["usage_summary.top_level"])


def test_service_usage_records_and_metadata(api, store):
    body = api.get("/service/usage", params={"start_date": instant(store, 2), "end_date": instant(store, 0),
                                             "organization_id": busiest_org(store)}).json()
    parity.check(body["data"]["records"], ["service_usage.record"])
    parity.check([body], ["service_usage.envelope"], prefix="data.metadata")
    assert all(set(r["metadata"]) == {"serviceCode", "entityType"} for r in body["data"]["records"])


def test_metric_points(api, store):
    data = api.data("/metrics/compute-qc/instance.cpu.utilization",
                    params={"startDate": instant(store, 1), "endDate": instant(store, 0),
                            "environment": "prod", "size": 1, "unit": "HOURS"})
    parity.check([p for points in data.values() for p in points], ["metric.point"])


def test_plugin_descriptors(api):
    descriptors = [api.data(f"/services/descriptors/{plugin}") for plugin in ("cloudstack", "gcp")]
    parity.check(descriptors, ["descriptor.retrieve"])
    operations = [op for d in descriptors for e in d["entityDescriptors"] for op in e["operations"].values()]
    parity.check(operations, ["descriptor.operation"])
    parity.check([link for d in descriptors for links in d["entityRelationships"].values() for link in links],
                 ["descriptor.relationship"])


def test_commitments(api, store):
    records = [c for org_id in store.orgs
               for c in api.data("/commitments", params={"organization_id": org_id})]
    parity.check(records, ["commitment.list"])
    parity.check([api.data(f"/commitments/{c['id']}") for c in records], ["commitment.retrieve"],
                 ["commitment.list"])


def test_reports(api, store):
    window = {"start_date": instant(store, 30), "end_date": instant(store, 0)}
    parity.check([api.data("/reports/organization_pricing", params=window)], ["report.organization_pricing"])
    parity.check([api.data("/reports/customers", params=window)], ["report.customers"])


@pytest.mark.parametrize("entity",
                         ["instances", "volumes", "snapshots", "publicipaddresses", "zones", "templates",
                                    "computeofferings", "diskofferings", "networks"])
def test_cloudstack_lists(api, store, entity):
    parity.check(service_records(api, store, "cloudstack", entity), [f"cloudstack.{entity}.list"])


@pytest.mark.parametrize("entity", ["instances", "volumes"])
def test_cloudstack_details(api, store, entity):
    parity.check(service_records(api, store, "cloudstack", entity, detail=True),
                 [f"cloudstack.{entity}.retrieve"], [f"cloudstack.{entity}.list"])


@pytest.mark.parametrize("entity", ["instances", "disks"])
def test_gcp_lists_and_details(api, store, entity):
    parity.check(service_records(api, store, "gcp", entity), [f"gcp.{entity}.list"])
    parity.check(service_records(api, store, "gcp", entity, detail=True), [f"gcp.{entity}.retrieve"])


def test_service_list_paged_metadata(api, store):
    env = store.env_by_name(store.root_id, "prod")
    body = api.get("/services/compute-qc/prod/instances", params={"page_size": 2}).json()
    parity.check([body], ["paged_list.envelope"], prefix="metadata")
    assert env["name"] == "prod"
