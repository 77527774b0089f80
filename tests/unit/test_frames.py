"""Records -> typed frames (no sockets)."""

import logging

import pandas as pd
import pytest

from cloudmc_frames.catalog import SCHEMAS
from cloudmc_frames.errors import Issue, ServerError
from cloudmc_frames.frames import (
    build_frame,
    coverage_frame,
    empty_frame,
    issues_frame,
    none_for_missing,
    snake_case,
)
from cloudmc_frames.ledger import Coverage

CTX = {"organization_id": "o1", "organization_name": "Acme", "organization_path": "acme",
       "service_code": "compute-qc", "connection_type": "cloudstack", "environment_id": "e1",
       "environment_name": "prod"}
CS_VM = {"id": "i1", "name": "web", "state": "Running", "cpuCount": 2, "memoryInMB": 4096,
         "zoneName": "QC-1", "affinityGroupIds": []}
GCP_VM = {"id": "123", "name": "g", "status": "TERMINATED", "cpuCount": 1, "memoryInGB": 3.75,
          "creationTimestamp": "2019-04-19T12:12:30.756-07:00", "scheduling": {"preemptible": False}}


@pytest.mark.parametrize("raw, snake", [
    ("memoryInMB", "memory_in_mb"), ("parent.id", "parent_id"), ("isReseller", "is_reseller"),
    ("sizeInGb", "size_in_gb"), ("entryPoint", "entry_point"), ("tfaEnabled", "tfa_enabled"),
    ("primaryRoleBinding.role.name", "primary_role_binding_role_name"), ("ipAddress", "ip_address"),
    ("already_snake", "already_snake"), ("HTTPStatus", "http_status"),
])
def test_snake_case(raw, snake):
    assert snake_case(raw) == snake


def test_context_first_then_documented_then_new_columns():
    frame = build_frame("instances", [(CTX, [CS_VM])], service=True)
    assert list(frame.columns[:7]) == list(CTX)
    assert frame.columns.get_loc("id") < frame.columns.get_loc("affinity_group_ids")
    assert frame.loc[0, "affinity_group_ids"] == []


def test_instances_read_the_same_way_across_providers():
    frame = build_frame("instances", [(CTX, [CS_VM]), ({**CTX, "connection_type": "gcp"}, [GCP_VM])],
                        service=True)
    assert frame["vcpus"].tolist() == [2, 1]
    assert frame["memory_gib"].tolist() == [4.0, 3.75]
    assert frame["power_state"].tolist() == ["running", "stopped"]  # one vocabulary
    assert frame["state"].tolist() == ["Running", "TERMINATED"]  # the provider's own words
    assert frame["is_running"].tolist() == [True, False]
    assert str(frame["created"].dtype) == "datetime64[ns, UTC]"
    assert frame.loc[1, "created"] == pd.Timestamp("2019-04-19T19:12:30.756Z")
    assert "creation_timestamp" not in frame
    assert frame["scheduling_preemptible"].dtype == "boolean"


def test_volumes_size_and_attachment():
    recs = [{"id": "v1", "sizeInGb": 20, "instanceId": "i1", "type": "os"},
            {"id": "v2", "sizeInGb": 50, "instanceId": None, "type": "data"}]
    gcp = [{"id": "d1", "sizeGb": "10", "status": "READY", "users": []},
           {"id": "d2", "sizeGb": "30", "status": "ATTACHED"}]
    frame = build_frame("volumes", [(CTX, recs), (CTX, gcp)], service=True)
    assert frame["size_gib"].tolist() == [20.0, 50.0, 10.0, 30.0]
    assert frame["is_attached"].tolist() == [True, False, False, True]
    assert frame["size_gb"].dtype == "Int64"


@pytest.mark.parametrize("entity", sorted(SCHEMAS))
def test_empty_frames_keep_every_documented_column_and_dtype(entity):
    service = entity in ("instances", "volumes", "snapshots", "publicipaddresses")
    empty = empty_frame(entity, service=service)
    assert list(empty.columns) == list(dict.fromkeys(SCHEMAS[entity]))
    assert len(empty) == 0


def test_empty_and_full_frames_agree_on_documented_dtypes():
    empty = empty_frame("instances", service=True)
    full = build_frame("instances", [(CTX, [CS_VM])], service=True)
    for column in empty.columns:
        assert empty[column].dtype.name == full[column].dtype.name, column


def test_unknown_fields_are_kept_with_inferred_types():
    recs = [{"id": "x", "newCounter": 3, "newFlag": True, "newDate": "2020-01-01T00:00:00Z",
             "newThing": {"deep": {"er": 1.5}}}]
    frame = build_frame("users", [(CTX, recs)])
    assert frame["new_counter"].dtype == "Int64" and frame["new_flag"].dtype == "boolean"
    assert str(frame["new_date"].dtype).startswith("datetime64")
    assert frame.loc[0, "new_thing_deep_er"] == 1.5


def test_values_that_do_not_fit_are_kept_aside_and_the_dtype_stays(caplog):
    recs = [{"id": "a", "loginCount": 3}, {"id": "b", "loginCount": "many"}]
    with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
        frame = build_frame("users", [(CTX, recs)])
    assert frame["login_count"].dtype == "Int64"
    assert frame["login_count"].tolist() == [3, pd.NA]
    assert frame["login_count_raw"].tolist() == [3, "many"]
    assert "login_count" in caplog.text


def test_numbers_sent_as_strings_are_converted():
    frame = build_frame("users", [(CTX, [{"id": "a", "loginCount": "12"}, {"id": "b", "loginCount": None}])])
    assert frame["login_count"].dtype == "Int64" and frame["login_count"].tolist()[0] == 12


@pytest.mark.parametrize("text, expected", [
    ("2017-08-15T12:00:00.000Z", "2017-08-15T12:00:00Z"),
    ("2016-10-19T14:25:41-0400", "2016-10-19T18:25:41Z"),
    ("2019-04-19T12:12:30.756-07:00", "2019-04-19T19:12:30.756Z"),
    ("2016-10-24 2:40:29 PM EDT", "2016-10-24T18:40:29Z"),
    ("2021-03-04 05:06:07", "2021-03-04T05:06:07Z"),
    (1700000000000, "2023-11-14T22:13:20Z"),
], ids=["iso-z", "offset-no-colon", "offset-colon", "us-12h-tz", "openstack", "epoch-ms"])
def test_dates_in_several_formats(text, expected):
    frame = build_frame("users", [(CTX, [{"id": "a", "lastLogin": text},
                                         {"id": "b", "lastLogin": "2020-01-01T00:00:00Z"}])])
    assert frame.loc[0, "last_login"] == pd.Timestamp(expected)


def test_nulls_everywhere_keep_types():
    recs = [dict.fromkeys(("id", "userName", "loginCount", "tfaEnabled", "lastLogin", "organization"))]
    frame = build_frame("users", [(CTX, recs)])
    assert frame["login_count"].dtype == "Int64" and frame["tfa_enabled"].dtype == "boolean"
    assert frame["last_login"].isna().all()


def test_issue_and_coverage_frames_are_typed():
    error = ServerError("down", status=502, code=1, method="GET", url="http://h/api/v2/users", attempts=3)
    issues = issues_frame([Issue.from_error(error, accessor="users", organization_id="o1",
                                            organization_path="acme")])
    assert issues.loc[0, "status"] == 502 and issues.loc[0, "attempts"] == 3
    assert str(issues["when"].dtype) == "datetime64[ns, UTC]"
    assert list(issues_frame([]).columns) == list(issues.columns)
    cov = coverage_frame([Coverage(1, "users", "o1", "acme", None, "users", "ok", 4, True, 0.01)])
    assert cov["status"].cat.categories.tolist()[:2] == ["ok", "empty"]
    assert cov["from_cache"].dtype == "boolean"


def test_text_safe_frames_have_no_nan():
    frame = none_for_missing(pd.DataFrame({"a": pd.array(["x", None], dtype="string")}))
    assert frame["a"].tolist() == ["x", None]


@pytest.mark.parametrize("shapes", [1, 3, 200], ids=["one-shape", "few-shapes", "many-shapes"])
def test_records_of_any_key_order_and_subset_flatten_alike(shapes):
    import random
    rng = random.Random(shapes)
    keys = [f"k{i}" for i in range(8)]
    records = []
    for n in range(600):
        order = keys[:] if shapes == 1 else rng.sample(keys, rng.randint(1, 8)) if shapes == 200 \
            else [keys[:3], keys[2:], keys[::2]][n % 3]
        records.append({k: f"{k}-{n}" for k in order})
    frame = build_frame("users", [(CTX, records)])
    for n, record in enumerate(records):
        for key in keys:
            value = frame.loc[n, key] if key in frame else None
            assert (None if pd.isna(value) else value) == record.get(key), (n, key)
