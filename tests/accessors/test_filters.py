"""Wrong questions get an error, not an empty answer: filters that match nothing, start after end."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule


@pytest.fixture(scope="module")
def client(sb):
    with sb.client(progress=False) as c:
        yield c


@pytest.mark.parametrize(("call", "says"), [
    (lambda c: cmf.resources(c, "instances", service_code="nope"),
     "service_code='nope' matches no environment of the selected organizations. "
     "Their service_code values: compute-on, compute-qc, gcp-lab"),
    (lambda c: cmf.instances(c, environment="prdo"), "Did you mean 'prod'?"),
    (lambda c: cmf.volumes(c, service_code=["compute-qc", "compute-qx"]), "service_code='compute-qx'"),
    (lambda c: cmf.instances(c, orgs="nimbus-cloud/sterling-cooper", service_code="gcp-lab"),
     "Their service_code values: compute-on"),
    (lambda c: cmf.environment_members(c, environment="nope"), "environment='nope' matches no environment"),
    (lambda c: cmf.instances(c, orgs="nimbus-cloud/acme-corp/initech", environment="prod"),
     "the selected organizations have no environments"),
    (lambda c: cmf.activity_log(c, start="2026-11-10", end="2026-11-01"), "is after end"),
], ids=["unknown service code", "misspelt environment", "one name of a list", "code of another org",
        "members of no environment", "organization without environments", "start after end"])
def test_a_filter_that_matches_nothing_raises_naming_what_exists(client, call, says):
    with pytest.raises(cmf.ConfigError) as caught:
        call(client)
    assert says in str(caught.value)


def test_filters_that_match_still_read(client, sb):
    vms = cmf.instances(client, service_code="compute-qc", environment="prod")
    assert len(vms) > 0 and set(vms["service_code"]) == {"compute-qc"}
    assert set(vms["environment_name"]) == {"prod"}
    end = sb.store.now.strftime("%Y-%m-%d")
    assert len(cmf.activity_log(client, start="2000-01-01", end=end)) > 0


def test_no_error_when_the_environments_could_not_all_be_read(start_sandbox):
    """The filter may have matched what could not be read: the issues say so instead."""
    sb = start_sandbox()
    with sb.client(progress=False) as probe:
        paths = cmf.organizations(probe).set_index("path")["id"]
    victim = paths["nimbus-cloud/aperture-science/zurich-analytics"]
    sb.faults.add(FaultRule("status", path="/environments", org_id=victim, status=403))
    with sb.client(progress=False) as client:
        frame = cmf.instances(client, service_code="no-such-code")
        assert frame.empty and (client.issues["entity"] == "environments").any()


def test_a_path_pattern_may_leave_out_the_top_organization(client):
    short = cmf.users(client, orgs="acme-corp/*")
    full = cmf.users(client, orgs="nimbus-cloud/acme-corp/*")
    assert len(short) > 0 and short.equals(full)
    assert set(cmf.instances(client, orgs="acme-corp")["organization_path"]) == {"nimbus-cloud/acme-corp"}


def test_a_pattern_that_matches_nothing_suggests_full_paths(client):
    with pytest.raises(cmf.ConfigError, match=r"Close paths: nimbus-cloud/acme-corp\b"):
        cmf.users(client, orgs="acme-crop/*")
