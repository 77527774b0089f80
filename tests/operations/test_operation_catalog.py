"""The operation catalogue: which operations fit which rows, create checks, 400 -> field."""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.operation_catalog import (
    CATALOGUE,
    attachable,
    check_create,
    check_operation,
    error_fields,
    extra_fields,
    in_zone,
    operation_spec,
    operations_for,
)

BOTH = {"reboot", "delete", "changeComputeOffering", "resetPassword"}  # Running or Stopped


def names(specs):
    return [s.name for s in specs]


@pytest.mark.parametrize("connection, entity, rows, expected", [
    ("cloudstack", "instances", [{"power_state": "Stopped"}], {"start", *BOTH}),
    ("cloudstack", "instances", [{"power_state": "Running"}], {"stop", *BOTH}),
    ("cloudstack", "instances", [{"power_state": "Destroyed"}], {"purge", "recover"}),
    ("cloudstack", "instances", [{"power_state": "Running"}, {"power_state": "Stopped"}], BOTH),
    ("cloudca", "instances", [{"power_state": "Stopped"}], {"start", *BOTH}),
    ("gcp", "instances", [{"power_state": "TERMINATED"}], {"start"}),
    ("gcp", "instances", [{"power_state": "RUNNING"}], {"stop"}),
    ("cloudstack", "volumes", [{"state": "Ready", "is_attached": False, "type": "data"}],
     {"attachToInstance", "delete", "createSnapshotFromVolume"}),
    ("cloudstack", "volumes", [{"state": "Ready", "is_attached": True, "type": "os"}],
     {"createSnapshotFromVolume"}),
    ("gcp", "volumes", [{"status": "READY", "is_attached": True}], {"detach"}),
], ids=["cs-stopped", "cs-running", "cs-destroyed", "cs-mixed", "cloudca-alias", "gcp-terminated",
        "gcp-running", "cs-detached-data-volume", "cs-root-volume", "gcp-attached-disk"])
def test_operations_offered_fit_every_row(connection, entity, rows, expected):
    offered = set(names(operations_for(connection, entity, rows)))
    state_free = {s.name for s in operations_for(connection, entity) if s.states is None
                  and s.attached is None and not s.data_only}
    assert offered - state_free == expected


def test_without_rows_every_operation_of_the_entity_is_listed():
    assert names(operations_for("cloudstack", "instances"))[:6] == [
        "start", "stop", "reboot", "delete", "purge", "recover"]
    assert operations_for("unknown-provider", "instances") == []


def test_destructive_operations_are_marked():
    destructive = {(k, n) for k, specs in CATALOGUE.items() for n, s in specs.items() if s.destructive}
    assert (("cloudstack", "instances"), "delete") in destructive
    assert (("cloudstack", "instances"), "purge") in destructive
    assert (("cloudstack", "instances"), "stop") not in destructive
    assert operation_spec("cloudstack", "volumes", "delete").method == "DELETE"


def test_unknown_operations_name_the_valid_ones():
    with pytest.raises(cmf.ConfigError, match="Did you mean 'reboot'.*Valid: start, stop"):
        operation_spec("cloudstack", "instances", "rebot")
    with pytest.raises(cmf.ConfigError, match="unknown operation 'reboot' for instances on gcp"):
        operation_spec("gcp", "instances", "reboot")
    check_operation("instances", "resize")  # GCP and Azure document it
    check_operation("disks", "attach")


OFFERINGS = pd.DataFrame({
    "id": ["fixed", "custom"], "name": ["2vCPU.4GB", "Custom"], "custom": [False, True],
    "available_cpu_count_values": [None, [1, 2, 4]],
    "available_memory_in_mb_values": [None, [1024, 2048, 8192]],
    "max_memory_in_mb_to_cpu_ratio": pd.array([None, 2048], dtype="Int64"),
})
DISKS = pd.DataFrame({"id": ["d50", "dcustom"], "name": ["50GB", "Custom"], "custom_size": [False, True]})
CHOICES = {"computeOfferingId": OFFERINGS, "diskOfferingId": DISKS}
INSTANCE = {"name": "web-1", "computeOfferingId": "fixed", "networkId": "n1", "templateId": "t1"}


@pytest.mark.parametrize("body, problems", [
    (INSTANCE, {}),
    ({**INSTANCE, "name": ""}, {"name": "required"}),
    ({**INSTANCE, "name": "1st_web"}, {"name": "letters, digits and hyphens"}),
    ({**INSTANCE, "computeOfferingId": "gone"}, {"computeOfferingId": "not one of the computeofferings"}),
    ({**INSTANCE, "computeOfferingId": "custom"}, {"cpuCount": "one of [1, 2, 4]", "memoryInMB": "one of"}),
    ({**INSTANCE, "computeOfferingId": "custom", "cpuCount": 1, "memoryInMB": 8192},
     {"memoryInMB": "at most 2048 MB for 1 vCPU"}),
    ({**INSTANCE, "computeOfferingId": "custom", "cpuCount": 4, "memoryInMB": 8192}, {}),
    ({**INSTANCE, "diskOfferingId": "dcustom"}, {"additionalDiskSizeInGb": "size in GB above 0"}),
], ids=["fine", "no-name", "bad-name", "unknown-offering", "custom-without-sizes", "too-much-memory",
        "custom-fine", "custom-disk-without-size"])
def test_create_bodies_are_checked_before_sending(body, problems):
    found = check_create("cloudstack", "instances", body, CHOICES)
    assert set(found) == set(problems)
    for field, text in problems.items():
        assert text in found[field]


def test_volume_create_checks_and_extra_fields():
    assert check_create("cloudstack", "volumes", {"name": "d"}, {}) == {"diskOfferingId": "required"}
    assert extra_fields("volumes", {"diskOfferingId": "dcustom"}, CHOICES) == {"sizeInGb": None}
    assert extra_fields("instances", {"computeOfferingId": "custom"}, CHOICES) == {
        "cpuCount": [1, 2, 4], "memoryInMB": [1024, 2048, 8192]}
    assert "" in check_create("gcp", "instances", {}, {})


def error(context, code=9412, message="bad"):
    return cmf.ValidationError(message, status=400, code=code, context=context)


@pytest.mark.parametrize("err, body, fields", [
    (error({"field": "networkId", "value": "n9"}), {}, {"networkId"}),
    (error({"missing": ["name", "templateId"]}, 9411), {}, {"name", "templateId"}),
    (error({"metric": "INSTANCE_VCPUS"}, 9415), {"computeOfferingId": "c"}, {"computeOfferingId"}),
    (error({"metric": "INSTANCE_VCPUS"}, 9415), {"cpuCount": 2, "computeOfferingId": "c"}, {"cpuCount"}),
    (error({"metric": "DISK_SIZE"}, 9415), {"diskOfferingId": "d"}, {"diskOfferingId"}),
    (error({"id": "x"}, 9416), {}, set()),
    (error(None, None), {}, set()),
], ids=["invalid-field", "missing-fields", "quota-offering", "quota-custom-cpu", "quota-disk",
        "no-field", "no-context"])
def test_a_400_names_the_field_it_concerns(err, body, fields):
    found = error_fields(err, body)
    assert set(found) == fields
    assert all("bad" in text for text in found.values())


def test_zone_and_state_filters_for_choices():
    networks = pd.DataFrame({"id": ["n1", "n2"], "zone_id": ["z1", "z2"]})
    templates = pd.DataFrame({"id": ["t1", "t2"], "zone_id": ["z1", "z1"],
                              "available_in_zones": [["z1", "z2"], ["z1"]]})
    assert list(in_zone(networks, "z2")["id"]) == ["n2"]
    assert list(in_zone(templates, "z2")["id"]) == ["t1"]
    assert list(in_zone(templates, None)["id"]) == ["t1", "t2"]
    vms = pd.DataFrame({"id": ["a", "b", "c"], "power_state": ["Running", "Destroyed", "Stopped"]})
    assert list(attachable(vms)["id"]) == ["a", "c"]
