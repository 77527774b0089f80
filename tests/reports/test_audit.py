"""audit(): each rule's findings equal the set computed independently from the sandbox's store."""

from __future__ import annotations

import json
from functools import partial

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.errors import ConfigError
from cloudmc_frames.reports import RULES, RuleRegistry, rule
from cloudmc_frames.reports.registry import FRAME_COLUMNS, SEVERITIES
from cloudmc_frames.reports.rules import BUILTIN_RULES, old_snapshots
from cloudmc_frames.sandbox import FaultRule

from . import oracle


def found(audit, name):
    """``{subject_id or subject: severity}`` of one rule's findings."""
    rows = audit.frame[audit.frame["rule"] == name]
    triples = zip(rows["subject_id"].astype(object), rows["subject"], rows["severity"], strict=True)
    return {(i if isinstance(i, str) else s): sev for i, s, sev in triples}


def live_users(store, orgs):
    return [u for u in store.users.values() if u["organization"]["id"] in orgs
            and u["status"] != "DISABLED" and not u.get("deleted")]


def expected(store, now):
    """``rule -> {subject id: severity}`` from the store alone."""
    visible = set(oracle.org_ids(store, include_deleted=True))
    live_orgs = set(oracle.org_ids(store))
    users = live_users(store, visible)
    admin = {u["id"] for u in users if u["primaryRoleBinding"]["role"]["name"] == "Administrator"}
    out = {
        "users_never_logged_in": {u["id"]: "low" for u in users if u["lastLogin"] is None},
        "users_inactive": {u["id"]: "medium" for u in users
                           if u["lastLogin"] and oracle.days_ago(now, u["lastLogin"]) > 90},
        "users_without_2fa": {u["id"]: "high" if u["id"] in admin else "medium"
                              for u in users if u["tfaEnabled"] is False},
        "users_failed_logins": {u["id"]: "high" if u["failedLoginCount"] >= 10 else "medium"
                                for u in store.users.values() if u["organization"]["id"] in visible
                                and not u.get("deleted") and u["failedLoginCount"] >= 5},
    }
    staff = {o: [u for u in store.users.values() if u["organization"]["id"] == o and not u.get("deleted")]
             for o in live_orgs}
    admins = {o: sum(1 for u in users if u["id"] in admin and u["organization"]["id"] == o)
              for o in live_orgs}
    out["administrators_per_org"] = {o: "medium" if admins[o] == 0 else "low" for o in live_orgs
                                     if staff[o] and (admins[o] == 0 or admins[o] > 3)}
    out["orgs_without_users"] = {o: "low" for o in live_orgs if not staff[o]}
    out["orgs_without_environments"] = {o: "low" for o in live_orgs if not oracle.envs_of(store, o)}
    out["deleted_orgs_with_resources"] = {o: "high" for o in visible - live_orgs if any(
        _holds(store, e) for e in oracle.envs_of(store, o))}
    out["environments_without_members"] = {e["id"]: "low" for o in live_orgs for e in oracle.envs_of(store, o)
                                           if not store.members.get(e["id"])}
    envs = [e for o in visible for e in oracle.envs_of(store, o)]
    res = [store.resources.get(e["id"], {}) for e in envs]
    out["stopped_instances"] = {i["id"]: "low" for r in res for i in r.get("instances", {}).values()
                                if oracle.STATE_CLASS[i.get("state") or i.get("status")] == "stopped"}
    out["unattached_volumes"] = {v["id"]: "medium" if v["sizeInGb"] >= 100 else "low" for r in res
                                 for v in r.get("volumes", {}).values() if "instanceId" not in v}
    out["unattached_volumes"].update({d["id"]: "medium" if int(d["sizeGb"]) >= 100 else "low" for r in res
                                      for d in r.get("disks", {}).values() if not d["users"]})
    out["old_snapshots"] = {s["id"]: "low" for r in res for s in r.get("snapshots", {}).values()
                            if oracle.snapshot_age(now, s["name"]) > 90}
    out["unassigned_public_ips"] = {ip["id"]: "low" for r in res for ip in r.get("publicipaddresses",
                                                                                 {}).values()
                                    if not ip["purposes"] and not ip.get("instances")}
    out["quota_exceeded"] = {(o, code, m) for (o, code, m), (ceiling, used) in
                             oracle.quota_rows(store, visible).items() if used is not None and used > ceiling}
    out["idle_running_instances"] = {i: "low" for i, kind in store.usage_profiles.items() if kind == "idle"}
    out["unused_commitments"] = {i: "medium" for i, c in store.usage.commitments.items()
                                 if c["organization"]["id"] in live_orgs and c["status"] == "IN_PROGRESS"
                                 and store.usage.commitment_fit.get(i) == "above"}
    return out


def _holds(store, env):
    res = store.resources.get(env["id"], {})
    live = [i for i in res.get("instances", {}).values() if i.get("state") not in ("Destroyed", "Expunging")]
    return bool(live or res.get("volumes") or res.get("disks") or res.get("snapshots")
                or res.get("publicipaddresses"))


@pytest.mark.parametrize("name", [n for n in RULES if n != "quota_exceeded"])
def test_rule_findings_match_the_store(audit, sb, name):
    want = expected(sb.store, sb.store.now)[name]
    assert found(audit, name) == want


def test_quota_exceeded_matches_the_sandbox_usage(audit, sb):
    want = expected(sb.store, sb.store.now)["quota_exceeded"]
    rows = audit.frame[audit.frame["rule"] == "quota_exceeded"]
    assert len(rows) == len(want) > 0
    assert set(rows["organization_id"]) == {o for o, _, _ in want}


def test_every_rule_has_findings_on_the_default_sandbox(audit):
    summary = audit.summary.set_index("rule")
    assert set(summary.index) == set(RULES)
    assert (summary["findings"] > 0).all(), summary[summary["findings"] == 0]
    assert int(summary["findings"].sum()) == len(audit.frame)


def test_findings_are_typed_and_ordered(audit):
    frame = audit.frame
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert set(frame["completeness"].astype(str)) == {"complete"}
    assert list(frame["severity"].cat.categories) == list(SEVERITIES)
    assert frame["severity"].is_monotonic_increasing
    assert frame["detail"].notna().all() and frame["suggested_action"].notna().all()
    assert frame["organization_path"].notna().all()


def test_a_registered_rule_runs_in_every_audit(client, sb, monkeypatch):
    monkeypatch.setattr("cloudmc_frames.reports.rules.RULES", RULES.copy())  # forgotten afterwards
    from cloudmc_frames.reports import rules

    @rule(severity="low")
    def big_instances(data, vcpus=8):
        """Instances with at least 8 vCPU."""
        big = data.instances[(data.instances["vcpus"] >= vcpus).fillna(False)]
        return pd.DataFrame({"organization_path": big["organization_path"].astype(str),
                             "subject_type": "instance", "subject_id": big["id"], "subject": big["name"],
                             "detail": "big", "suggested_action": "right-size"})

    assert "big_instances" in rules.RULES and "big_instances" not in RULES
    report = cmf.reports.audit(client, now=sb.store.now)
    rows = report.frame[report.frame["rule"] == "big_instances"]
    assert len(rows) > 0 and set(rows["severity"]) == {"low"}
    assert report.summary.set_index("rule").loc["big_instances",
                                                "description"] == "Instances with at least 8 vCPU."


def test_rules_can_be_chosen_by_name_function_or_partial(client, sb, audit):
    report = cmf.reports.audit(client, rules=["quota_exceeded", partial(old_snapshots, days=150)],
                               now=sb.store.now)
    assert list(report.summary["rule"]) == ["quota_exceeded", "old_snapshots"]
    assert report.summary["description"].iloc[1].endswith("[days=150]")
    ages = {s["id"]: oracle.snapshot_age(sb.store.now, s["name"])
            for r in sb.store.resources.values() for s in r.get("snapshots", {}).values()}
    old = report.frame[report.frame["rule"] == "old_snapshots"]
    assert set(old["subject_id"]) == {i for i, age in ages.items() if age > 150}
    assert len(old) < int(audit.summary.set_index("rule").loc["old_snapshots", "findings"])


@pytest.mark.parametrize(("rules", "message"), [
    (["no_such_rule"], "no audit rule"),
    ([42], "names or functions"),
    ([lambda data: [{"severity": "urgent"}]], "severity"),
    ([lambda data: ["not a dict"]], "dicts or a DataFrame"),
], ids=["unknown name", "not callable", "bad severity", "bad row"])
def test_bad_rules_are_refused(client, rules, message):
    with pytest.raises(ConfigError, match=message):
        cmf.reports.audit(client, rules=rules)


def test_the_registry_holds_exactly_the_built_in_rules_passed_in():
    assert [r.name for r in RULES.values()] == [r.name for r in BUILTIN_RULES]
    assert len(RuleRegistry()) == 0
    own = RuleRegistry(BUILTIN_RULES[:1])
    own.rule("extra", severity="high")(lambda data: [])
    assert list(own) == [BUILTIN_RULES[0].name, "extra"] and "extra" not in RULES
    assert [r.name for r in own.resolve(None)] == list(own)


def test_rule_decorator_checks_severity():
    with pytest.raises(ConfigError, match="severity"):
        rule(severity="critical")


def test_a_failed_read_is_an_issue_not_a_finding(start_sandbox):
    """A users read that fails must not make the organization look empty."""
    faulty = start_sandbox()
    store = faulty.store
    victim = next(o for o in oracle.org_ids(store) if o != store.root_id and any(
        u["organization"]["id"] == o for u in store.users.values()))
    faulty.faults.add(FaultRule("status", path="/users", org_id=victim, status=403))
    with faulty.client(progress=False) as client:
        report = cmf.reports.audit(client, now=store.now)
    assert not report.complete
    assert list(report.issues["organization_id"]) == [victim]
    flagged = set(report.frame.loc[report.frame["rule"].isin(
        ["orgs_without_users", "administrators_per_org"]), "organization_id"])
    assert victim not in flagged
    for text in (report.to_html(), report.to_markdown(), report.to_text()):
        assert "incomplete: 1 scopes failed" in text and "Issues" in text
    assert json.loads(report.to_json())["failed_scopes"] == 1
