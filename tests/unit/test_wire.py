"""The reply parser without a socket: every envelope, both task shapes, and every malformed body."""

from __future__ import annotations

import json

import pytest

import cloudmc_frames as cmf
from cloudmc_frames._wire import page_of, parse_reply, query_params, retry_after_seconds
from cloudmc_frames.errors import ERRORS_BY_STATUS
from cloudmc_frames.tasks import Task, is_task_payload

URL = "https://cloudmc.example.com/api/v2/users"


def parse(status, body, headers=None, method="GET"):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode() if not isinstance(body, str) \
        else body.encode()
    return parse_reply(status, headers or {}, raw, method=method, url=URL, attempts=2)


def envelope(code=None, message="nope", key="code", context=None):
    item = {"message": message}
    if code is not None:
        item[key] = code
    if context is not None:
        item["context"] = context
    return {"errors": [item]}


# -- success shapes -------------------------------------------------------------------------------

@pytest.mark.parametrize("body, data", [
    ({"data": {"id": "o1"}}, {"id": "o1"}),
    ({"data": [{"id": "a"}, {"id": "b"}], "metadata": {"recordCount": 2}}, [{"id": "a"}, {"id": "b"}]),
    ({"data": []}, []),
    ({"data": None}, None),
], ids=["object", "list-with-metadata", "empty-list", "null-data"])
def test_success_envelopes_give_their_data(body, data):
    reply = parse(200, body)
    assert reply.data == data and reply.status == 200 and reply.attempts == 2 and reply.url == URL


@pytest.mark.parametrize("status, body", [(200, b""), (204, b""), (200, b"  \n")],
                         ids=["200-empty", "204-empty", "200-whitespace"])
def test_empty_success_bodies_are_a_reply_without_payload(status, body):
    reply = parse(status, body, method="DELETE")
    assert reply.payload is None and reply.data is None


@pytest.mark.parametrize("payload", [
    {"taskId": "t1", "taskStatus": "PENDING"},
    {"taskId": "t1", "status": "PENDING"},
    {"taskId": "t1", "taskStatus": "PENDING", "data": {"id": "org-9", "name": "New"}},
    {"data": {"id": "t1", "status": "PENDING", "created": "2026-11-30T10:00:00-05:00"}},
], ids=["top-level", "status-spelling", "task-plus-model", "data-shape"])
def test_both_task_shapes_parse_into_a_pending_task(payload):
    reply = parse(200, payload, method="POST")
    assert is_task_payload(reply.payload)
    task = Task.from_payload(reply.payload)
    assert task.id == "t1" and task.status == "PENDING"


def test_a_task_without_data_member_is_accepted_but_other_objects_are_not():
    assert parse(200, {"taskId": "t1", "taskStatus": "SUCCESS", "result": {}}).payload["taskId"] == "t1"
    with pytest.raises(cmf.ResponseFormatError, match=r"no 'data' member \(keys: id, name\)"):
        parse(200, {"id": "x", "name": "y"})


# -- error envelopes: one row per documented status -------------------------------------------------

@pytest.mark.parametrize("status, cls", [*ERRORS_BY_STATUS.items(), (500, cmf.ServerError),
                                         (502, cmf.ServerError), (418, cmf.ApiError)],
                         ids=lambda v: str(v) if isinstance(v, int) else v.__name__)
def test_each_status_maps_to_its_error_class(status, cls):
    with pytest.raises(cls) as info:
        parse(status, envelope(2012, "Instance is not running", context={"id": "i-1"}))
    error = info.value
    assert type(error) is cls and error.status == status and error.code == 2012
    assert error.context == {"id": "i-1"} and error.method == "GET" and error.url == URL
    assert error.attempts == 2
    assert str(error).startswith("Instance is not running [HTTP") and "\n" not in str(error)


def test_error_code_may_be_spelled_error_code_and_extra_errors_are_counted():
    body = {"errors": [{"errorCode": 7, "message": "first"}, {"code": 8, "message": "second"}]}
    with pytest.raises(cmf.ValidationError) as info:
        parse(400, body)
    assert info.value.code == 7 and "(+1 more: 8: second)" in info.value.message


def test_an_errors_member_fails_even_with_status_200():
    with pytest.raises(cmf.ApiError, match="nope"):
        parse(200, envelope(1))


@pytest.mark.parametrize("body, text", [({"errors": []}, "an empty 'errors' list"),
                                        ({"message": "x"}, "no error details")],
                         ids=["empty-errors", "no-errors-member"])
def test_error_statuses_without_details_say_so(body, text):
    with pytest.raises(cmf.PermissionDeniedError, match=text):
        parse(403, body)


def test_an_error_status_with_an_empty_body_is_still_typed():
    with pytest.raises(cmf.ServerError, match="HTTP 504 with an empty body"):
        parse(504, b"")


def test_rate_limit_carries_retry_after_in_seconds_or_as_an_http_date():
    with pytest.raises(cmf.RateLimitError) as info:
        parse(429, envelope(), headers={"Retry-After": "7"})
    assert info.value.retry_after == 7.0
    with pytest.raises(cmf.RateLimitError) as info:
        parse(429, envelope(), headers={"retry-after": "Wed, 01 Jan 2200 00:00:00 GMT"})
    assert info.value.retry_after > 3e9  # far in the future, header names are case-blind


# -- bodies that are not CloudMC JSON --------------------------------------------------------------

@pytest.mark.parametrize("status, body, headers, cls, text", [
    (502, b"<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"},
     cmf.ResponseFormatError, "an HTML page, not CloudMC JSON"),
    (200, b'{"data": [{"id": "a"}, {"id": ', {}, cmf.TruncatedReplyError, "JSON that is cut short"),
    (200, b'{"data": "caf\xe9"}', {}, cmf.ResponseFormatError, r"not valid UTF-8 \(byte 0xe9 at offset 13\)"),
    (200, b"[1, 2]", {}, cmf.ResponseFormatError, "a JSON list where CloudMC sends an object"),
    (200, b"null", {}, cmf.ResponseFormatError, "a JSON null where"),
    (200, b"OK", {"Content-Type": "text/plain"}, cmf.ResponseFormatError, "the reply is not JSON: OK"),
], ids=["html-502", "truncated", "not-utf8", "array", "null", "plain-text"])
def test_malformed_bodies_raise_a_format_error_with_an_excerpt(status, body, headers, cls, text):
    with pytest.raises(cls, match=text) as info:
        parse(status, body, headers)
    assert type(info.value) is cls and info.value.status == status


@pytest.mark.parametrize("status, location", [(301, "https://elsewhere.example/api"), (302, "")])
def test_redirects_are_refused_and_name_their_target(status, location):
    with pytest.raises(cmf.ResponseFormatError, match="redirect") as info:
        parse(status, b"", {"Location": location})
    assert (location and "elsewhere.example" in str(info.value)) or "another address" in str(info.value)


# -- retryability comes from one table ----------------------------------------------------------------

@pytest.mark.parametrize("status, body, retryable", [
    (502, b"<html>gateway</html>", True),
    (404, b"<html>not found</html>", False),
    (200, b'{"data": [', True),
    (400, b'{"errors": [', False),
    (503, envelope(), True),
    (501, envelope(), False),
    (429, envelope(), True),
    (400, envelope(), False),
], ids=["html-502", "html-404", "truncated-200", "truncated-400", "503", "501", "429", "400"])
def test_retryable_is_read_from_the_table_not_set_on_the_error(status, body, retryable):
    with pytest.raises(cmf.CloudMCError) as info:
        parse(status, body)
    assert info.value.retryable is retryable


# -- small pure helpers -------------------------------------------------------------------------------

def test_retry_after_parsing():
    assert retry_after_seconds(None) is None and retry_after_seconds("") is None
    assert retry_after_seconds("2.5") == 2.5 and retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:01:40 GMT", now=40.0) == 60.0
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:10 GMT", now=40.0) == 0.0
    assert retry_after_seconds("soon") is None


def test_page_of_and_query_params():
    page = page_of(parse(200, {"data": [{"id": "a"}], "metadata": {"recordCount": 1}}))
    assert page.data == [{"id": "a"}] and page.metadata == {"recordCount": 1} and page.url == URL
    assert query_params({"a": False, "b": 0, "c": None}, None) == {"a": "false", "b": "0"}
    with pytest.raises(cmf.ConfigError, match="org_id must be a non-empty string"):
        query_params(None, "")
    with pytest.raises(cmf.ConfigError, match="params must be a dict"):
        query_params([("a", 1)], None)
