"""Bad input to the usage accessors: each is one clear line or one issue row, and nothing else is lost.

User mistakes are refused before anything is sent; a span the server refuses is read again in the
pieces it allows; a connection without usage or metrics is an issue row naming the descriptor
flag; a scripted CloudMC sends amounts as text and a cursor that repeats.
"""

from __future__ import annotations

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames import spans
from tests.support.scripted import Reply, ScriptedServer, paged

from .conftest import busiest_org, days_before, live_orgs

KEY = "usage-bad-input-" + "K3y" * 12
WINDOW = {"start": "2026-01-01", "end": "2026-01-08"}


def one_line(error):
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("call, message", [
    (lambda c: cmf.usage_summary(c, start="2026-02-01", end="2026-01-01"), "must be before"),
    (lambda c: cmf.usage_summary(c, start="2026-01-01", end="2026-01-01"), "must be before"),
    (lambda c: cmf.usage_records(c, start="2026-02-01", end="2026-01-01"), "must be before"),
    (lambda c: cmf.metrics(c, "cpu", start="2026-02-01", end="2026-02-01"), "must be before"),
    (lambda c: cmf.pricing(c, "nimbus-cloud", start="2026-02-01", end="2026-01-01"), "must be before"),
    (lambda c: cmf.customer_costs(c, "nimbus-cloud", start="2026-02-01", end="2026-01-01"),
     "must be before"),
    (lambda c: cmf.commitments(c, start="2026-02-01", end="2026-01-01"), "must be before"),
    (lambda c: cmf.usage_summary(c, start="2026-01-01T06:00", end="2026-02-01"), "not a whole day"),
    (lambda c: cmf.usage_summary(c, start=None, end="2026-02-01"), "start= is required"),
    (lambda c: cmf.usage_summary(c, start="soon", end="2026-02-01"), "start must be a datetime"),
    (lambda c: cmf.usage_summary(c, **WINDOW, period="WEEK"), "period must be one of HOUR, DAY, PERIOD"),
    (lambda c: cmf.usage_summary(c, **WINDOW, service_connection="nope"), "not a connection id or service"),
    (lambda c: cmf.usage_records(c, start=None, end=None, granularity="DAILY"), "granularity needs start="),
    (lambda c: cmf.usage_records(c, **WINDOW, granularity="WEEKLY"), "granularity must be one of"),
    (lambda c: cmf.usage_records(c, **WINDOW, fields=["zone"]), "fields must be a dict"),
    (lambda c: cmf.usage_records(c, **WINDOW, environment="no-such-env"), "'no-such-env' is not an env"),
    (lambda c: cmf.metrics(c, "disk", **WINDOW), "unknown metric 'disk'; the connections' descriptors "
                                                 "offer: instance.cpu.utilization, instance.memory"),
    (lambda c: cmf.metrics(c, "cpu", **WINDOW, bucket="1 fortnight"), "bucket must look like"),
    (lambda c: cmf.metrics(c, "cpu", **WINDOW, aggregation="median"), "aggregation must be one of"),
    (lambda c: cmf.metrics(c, "cpu", **WINDOW, service_code="compute-xx"), "unknown service code"),
    (lambda c: cmf.commitments(c, start="2026-01-01"), "start= and end= go together"),
    (lambda c: cmf.pricing(c, "nimbus-cloud/*", **WINDOW), "names 17 organizations"),
    (lambda c: cmf.customer_costs(c, "nimbus-cloud/acme-corp/globex/quebec-ops", **WINDOW),
     "is not a reseller"),
    (lambda c: cmf.usage_summary(c, **WINDOW, workers=3), "unknown option"),
], ids=["summary-reversed", "summary-empty", "records-reversed", "metrics-empty", "pricing-reversed",
        "customers-reversed", "commitments-reversed", "summary-time-of-day", "no-start", "not-a-time",
        "period", "connection", "granularity-without-dates", "granularity", "fields", "environment",
        "unknown-metric", "bucket", "aggregation", "service-code", "commitments-half-window",
        "pricing-many", "customers-not-reseller", "option"])
def test_user_mistakes_are_one_line_config_errors(sb, client, call, message):
    with pytest.raises(cmf.ConfigError) as caught:
        call(client)
    assert message in one_line(caught)
    assert caught.value.__cause__ is None


def test_a_span_the_server_refuses_is_read_in_the_pieces_it_allows(sb, client, monkeypatch):
    """With our own limit raised, the server's 400 (code 9418, maxDays) makes the accessor cut again."""
    store = sb.store
    org = busiest_org(store)
    start, end = days_before(store, 400), days_before(store, 0)
    expected = cmf.usage_summary(client, org, start=start, end=end)
    monkeypatch.setattr(spans, "MAX_DAYS", 1000)
    before = len(sb.requests.snapshot())
    with sb.client(progress=False) as fresh:
        frame = cmf.usage_summary(fresh, org, start=start, end=end)
        assert fresh.issues.empty
    sent = [r for r in sb.requests.snapshot()[before:] if "/usage_summary/" in r.path]
    assert [r.status for r in sent] == [400, 200, 200]
    first = (sent[0].query["start_date"], sent[0].query["end_date"])
    assert first == (f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}")
    cut = start + pd.Timedelta(days=366)
    assert {(r.query["start_date"], r.query["end_date"]) for r in sent[1:]} == {
        (f"{start:%Y-%m-%d}", f"{cut:%Y-%m-%d}"), (f"{cut:%Y-%m-%d}", f"{end:%Y-%m-%d}")}
    assert not any("page_size" in r.query for r in sent)  # whole lists, one call per window
    pd.testing.assert_frame_equal(frame, expected)


def test_a_metric_window_over_the_bucket_limit_is_cut_where_the_server_says(sb, client, monkeypatch):
    store = sb.store
    org = busiest_org(store)
    window = {"start": days_before(store, 40), "end": days_before(store, 0), "bucket": "5min", "orgs": org}
    expected = cmf.metrics(client, "cpu", **window)
    monkeypatch.setattr(spans, "MAX_BUCKETS", 100_000)
    with sb.client(progress=False) as fresh:
        frame = cmf.metrics(fresh, "cpu", **window)
        assert fresh.issues.empty
    assert len(frame) > 0
    pd.testing.assert_frame_equal(frame.sort_values(["entity_id", "timestamp"]).reset_index(drop=True),
                                  expected.sort_values(["entity_id", "timestamp"]).reset_index(drop=True))


def test_a_connection_without_usage_is_an_issue_row_naming_the_flag(sb, client):
    before = len(sb.requests.snapshot())
    frame = cmf.usage_summary(client, **WINDOW, service_connection="gcp-lab")
    assert frame.empty and list(frame.columns) == list(cmf.usage_summary(client, **WINDOW, orgs=[]).columns)
    issues = client.issues
    assert len(issues) == len(live_orgs(sb.store))
    assert set(issues["accessor"]) == {"usage_summary"} and set(issues["exception"]) == {"ValidationError"}
    message = issues["message"].iloc[0]
    assert "does not support usage (descriptor flag supportsUsage is false)" in message
    assert "\n" not in message
    assert '"flag": "supportsUsage"' in issues["context"].iloc[0]
    assert not any("/usage_summary/" in r.path for r in sb.requests.snapshot()[before:])
    with pytest.raises(cmf.ValidationError, match="supportsUsage"):
        cmf.usage_records(client, **WINDOW, connection="gcp-lab", errors="raise")


def test_metrics_of_a_connection_without_metrics_are_issue_rows_and_the_rest_is_read(sb, client):
    store = sb.store
    start, end = days_before(store, 1), days_before(store, 0)
    frame = cmf.metrics(client, "cpu", start=start, end=end, service_code=["compute-qc", "gcp-lab"])
    gcp_envs = [e for e in store.environments.values() if not e.get("deleted")
                and store.connections[e["serviceConnection"]["id"]]["serviceCode"] == "gcp-lab"
                and e["organization"]["id"] in set(live_orgs(store))]
    issues = client.issues
    assert len(issues) == len(gcp_envs) > 0
    flagged = issues["message"].str.contains("does not support metrics (descriptor flag supportsMetric",
                                             regex=False)
    assert flagged.all()
    assert sorted(issues["environment"]) == sorted(e["name"] for e in gcp_envs)
    assert set(frame["service_code"]) == {"compute-qc"} and len(frame) > 0
    everything = cmf.metrics(client, "cpu", start=start, end=end)  # not asked for gcp-lab: no issue
    assert len(client.issues) == len(issues) and "gcp-lab" not in set(everything["service_code"])


# -- a scripted CloudMC ------------------------------------------------------------------------------

ORGS = [{"id": "org-a", "name": "Alpha", "entryPoint": "alpha", "deleted": False, "serviceConnections": []},
        {"id": "org-b", "name": "Beta", "entryPoint": "beta", "deleted": False, "serviceConnections": [],
         "parent": {"id": "org-a"}}]


def usage_record(org, n, usage=1.5):
    return {"id": f"{org}:{n}", "usageType": "cpu_type", "usage": usage, "unit": "vcpu-hour",
            "organizationId": org, "startDate": f"2026-01-0{n}T00:00:00Z",
            "endDate": f"2026-01-0{n + 1}T00:00:00Z",
            "fields": {"zone": "z1"}, "metadata": {"serviceCode": "compute-qc"}}


def scripted(routes):
    server = ScriptedServer()
    server.route("/organizations", lambda seen: paged(ORGS, seen))
    for path, reply in routes.items():
        server.route(path, reply)
    return server


def test_amounts_sent_as_text_with_commas_or_empty_are_float64():
    summary = [{"organizationId": "org-a", "serviceConnectionId": "c1", "utilityCost": cost,
                "utilityUsage": usage, "startDate": "2026-01-01T00:00:00.000Z",
                "endDate": "2026-01-02T00:00:00.000Z", "usageType": "1", "secondaryType": "RAM"}
               for cost, usage in (("1,234.50", "10,000.25"), ("", ""), ("0.66", 5.5), (None, "  "))]
    with scripted({"/usage_summary/organizations/org-a": lambda seen: paged(summary, seen),
                   "/usage_summary/organizations/org-b": lambda seen: paged([], seen)}) as server, \
            cmf.connect(server.endpoint, KEY, cache_backend="memory") as client:
        frame = cmf.usage_summary(client, **WINDOW)
    assert str(frame["utility_cost"].dtype) == "Float64" == str(frame["utility_usage"].dtype)
    assert [None if pd.isna(v) else v for v in frame["utility_cost"]] == [1234.5, None, 0.66, None]
    assert [None if pd.isna(v) else v for v in frame["utility_usage"]] == [10000.25, None, 5.5, None]
    assert frame["actual_usage"].iloc[0] == 10000.25


def cursor_route(seen):
    org, token = seen.query["organization_id"], seen.query.get("next_page_token")
    if org == "org-a":  # a cursor that comes back to where it was
        following = {None: "t1", "t1": "t2", "t2": "t1"}[token]
        n = {None: 1, "t1": 2, "t2": 3}[token]
        return Reply(200, {"data": {"records": [usage_record(org, n)],
                                    "metadata": {"next_page_token": following}}})
    batches = {None: ([usage_record(org, 1), usage_record(org, 2)], "b1"),
               "b1": ([usage_record(org, 3)], None)}
    records, following = batches[token]
    return Reply(200, {"data": {"records": records, "metadata": {"next_page_token": following,
                                                                 "totalCount": 3}}})


def test_a_repeating_cursor_is_an_issue_row_and_the_other_organization_is_read():
    with scripted({"/service/usage": cursor_route}) as server, \
            cmf.connect(server.endpoint, KEY, cache_backend="memory") as client:
        frame = cmf.usage_records(client, **WINDOW, granularity="DAILY")
        issues = client.issues
        with pytest.raises(cmf.ResponseFormatError, match="cursor repeats") as caught:
            cmf.usage_records(client, **WINDOW, granularity="DAILY", orgs="alpha", errors="raise")
    assert frame["id"].tolist() == ["org-b:1", "org-b:2", "org-b:3"]
    assert len(issues) == 1 and issues["organization_id"].iloc[0] == "org-a"
    assert issues["exception"].iloc[0] == "ResponseFormatError"
    assert "repeats a next_page_token" in issues["message"].iloc[0]
    assert server.hits["/api/v2/service/usage"] < 12  # stopped, not looping
    one_line(caught)


def test_a_csv_body_where_json_was_expected_is_one_issue_row():
    csv_body = "\ufefforganizationId,utilityCost\r\norg-a,1.5\r\n".encode()
    with scripted({"/usage_summary/organizations/org-a": [Reply(200, csv_body, {"Content-Type": "text/csv"})],
                   "/usage_summary/organizations/org-b": lambda seen: paged(
                       [{"organizationId": "org-b", "utilityCost": 2.5, "utilityUsage": 1.0}],
                       seen)}) as server, \
            cmf.connect(server.endpoint, KEY, cache_backend="memory") as client:
        frame = cmf.usage_summary(client, **WINDOW)
        issues = client.issues
    assert frame["organization_id"].tolist() == ["org-b"] and frame["utility_cost"].tolist() == [2.5]
    assert len(issues) == 1 and issues["exception"].iloc[0] == "ResponseFormatError"
    message = issues["message"].iloc[0]
    assert "the reply is CSV (text/csv), not CloudMC JSON: organizationId,utilityCost" in message
    assert "\n" not in message and "\ufeff" not in message


@pytest.mark.parametrize("body, message", [
    ("id,id\r\na,b\r\n", "empty or repeated column names"),
    ("id,usage\r\na\r\n", "CSV line 2 has 1 cells where the header has 2"),
    ("<html><body>proxy</body></html>", "HTML page"),
])
def test_broken_csv_exports_are_one_issue_row(body, message):
    replies = {"org-a": Reply(200, body, {"Content-Type": "text/csv"}),
               "org-b": Reply(200, "\ufeffid,usageType,usage\r\nb:1,cpu_type,\"1,000.5\"\r\n",
                              {"Content-Type": "text/csv"})}
    with scripted({"/service/usage": lambda seen: replies[seen.query["organization_id"]]}) as server, \
            cmf.connect(server.endpoint, KEY, cache_backend="memory") as client:
        frame = cmf.usage_records(client, **WINDOW, format="csv")
        issues = client.issues
    assert frame["id"].tolist() == ["b:1"] and frame["usage"].tolist() == [1000.5]
    assert len(issues) == 1 and issues["organization_id"].iloc[0] == "org-a"
    assert message in issues["message"].iloc[0]
