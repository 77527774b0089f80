"""Envelopes, error classes and malformed replies, over real HTTP to a scripted server."""

import pytest

from cloudmc_frames import errors as E
from cloudmc_frames.tasks import Task
from tests.support.scripted import Reply

from .conftest import KEY

ERROR_2012 = {"errors": [{"code": 2012, "message": "Cannot stop an instance that isn't in the running state",
                          "context": {"id": "i1", "currentState": "Stopped", "expectedStates": ["Running"],
                                      "type": "instances"}}]}


def test_data_envelope_returns_data_and_sends_key_agent_and_org_id(server, make_client):
    server.route("/users", [Reply(200, {"data": [{"id": "u1"}]})])
    client = make_client()
    assert client.get("/users", org_id="o-42") == [{"id": "u1"}]
    seen = server.seen[-1]
    assert seen.query == {"org_id": "o-42"}
    assert seen.headers["MC-Api-Key"] == KEY
    assert seen.headers["User-Agent"].startswith("cloudmc-frames/0.1.0")


@pytest.mark.parametrize("payload, status_value, result", [
    ({"taskId": "t1", "taskStatus": "PENDING"}, "PENDING", None),
    ({"taskId": "t1", "status": "PENDING", "data": {"id": "env"}}, "PENDING", None),
    ({"taskId": "t1", "taskStatus": "SUCCESS", "result": {"id": "x"}}, "SUCCESS", {"id": "x"}),
    ({"data": {"id": "t1", "status": "SUCCESS", "created": "2019-05-13T10:09:58-04:00",
               "result": {"name": "morty"}}}, "SUCCESS", {"name": "morty"}),
], ids=["taskId", "status-with-data", "taskId-result", "data-shape"])
def test_task_envelopes_become_tasks(server, make_client, payload, status_value, result):
    server.route("/services/c/e/instances", [Reply(200, payload)])
    task = make_client().post("/services/c/e/instances", {"name": "x"})
    assert isinstance(task, Task)
    assert (task.id, task.status, task.result) == ("t1", status_value, result)


def test_async_reply_with_model_keeps_the_model(server, make_client):
    server.route("/organizations", [Reply(200, {"taskId": "t9", "taskStatus": "PENDING",
                                                "data": {"id": "o9", "name": "New"}})])
    task = make_client().post("/organizations", {"name": "New"})
    assert task.data == {"id": "o9", "name": "New"}


@pytest.mark.parametrize("status", [200, 204])
def test_empty_body_is_none(server, make_client, status):
    server.route("/organizations/o1/mark_reseller", [Reply(status, None)])
    assert make_client().post("/organizations/o1/mark_reseller") is None


@pytest.mark.parametrize("status, cls", [
    (400, E.ValidationError), (401, E.AuthenticationError), (403, E.PermissionDeniedError),
    (404, E.NotFoundError), (405, E.MethodNotAllowedError), (429, E.RateLimitError),
    (500, E.ServerError), (502, E.ServerError), (409, E.ApiError),
])
def test_error_envelopes_map_to_typed_errors(server, make_client, status, cls):
    body = {"errors": [{"code": 1000 + status, "message": f"nope {status}", "context": {"k": "v"}}]}
    server.route("/users", [Reply(status, body)])
    with pytest.raises(cls) as info:
        make_client(retries=0).get("/users", org_id="o1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.code, err.context, err.method) == (status, 1000 + status, {"k": "v"}, "GET")
    assert err.url.endswith("/api/v2/users?org_id=o1")
    text = str(err)
    assert f"nope {status}" in text and f"HTTP {status}" in text and "\n" not in text
    assert text.endswith(err.hint + "") or err.hint in text


def test_error_2012_carries_the_documented_context(server, make_client):
    server.route("/services/compute-qc/prod/instances/i1", [Reply(400, ERROR_2012)])
    with pytest.raises(E.ValidationError) as info:
        make_client().post("/services/compute-qc/prod/instances/i1", params={"operation": "stop"})
    assert info.value.code == 2012
    assert info.value.context["expectedStates"] == ["Running"]
    assert info.value.method == "POST"


def test_error_code_spelled_errorCode_is_read(server, make_client):
    server.route("/x", [Reply(400, {"errors": [{"errorCode": "E42", "message": "m"}]})])
    with pytest.raises(E.ValidationError) as info:
        make_client().get("/x")
    assert info.value.code == "E42"


MALFORMED = [
    ("html-502", Reply(502, "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                       {"Content-Type": "text/html"}), "HTML page", 502),
    ("html-200", Reply(200, "<!DOCTYPE html><title>Login</title>", {"Content-Type": "text/html"}),
     "HTML page", 200),
    ("truncated", Reply(200, '{"data": [{"id": "a"}, {"id": '), "cut short", 200),
    ("not-json", Reply(200, "OK"), "not JSON", 200),
    ("array", Reply(200, [1, 2]), "JSON list where CloudMC sends an object", 200),
    ("string", Reply(200, '"hello"'), "JSON str", 200),
    ("no-data", Reply(200, {"result": []}), "no 'data' member", 200),
    ("non-utf8", Reply(200, b'{"data": "\xff\xfe"}'), "not valid UTF-8", 200),
    ("redirect", Reply(302, None, {"Location": "https://evil.example.net/steal"}), "evil.example.net", 302),
]


@pytest.mark.parametrize("reply, match, status", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_replies_raise_response_format_error(server, make_client, reply, match, status):
    server.route("/users", [reply])
    with pytest.raises(E.ResponseFormatError, match=match) as info:
        make_client(retries=0).get("/users")
    assert info.value.status == status
    assert len(str(info.value)) < 600


def test_redirect_is_not_followed_so_the_key_stays_home(server, make_client):
    server.route("/users", [Reply(302, None, {"Location": server.endpoint + "/api/v2/other"})])
    server.route("/other", [Reply(200, {"data": []})])
    with pytest.raises(E.ResponseFormatError):
        make_client().get("/users")
    assert server.hits["/api/v2/other"] == 0


@pytest.mark.parametrize("body, cls, match", [
    ({"data": [], "errors": [{"code": 7, "message": "partial failure"}]}, E.ApiError, "partial failure"),
    ({"errors": []}, E.ApiError, "empty 'errors' list"),
    ({"errors": [{"code": 1, "message": "a", "extra": {"x": 1}}, {"code": 2, "message": "b"}]},
     E.ApiError, r"a \(\+1 more: 2: b\)"),
    ({"errors": "boom"}, E.ApiError, "no error details"),
], ids=["200-with-errors", "errors-empty", "errors-extra-fields", "errors-not-list"])
def test_error_envelopes_on_200(server, make_client, body, cls, match):
    server.route("/users", [Reply(200, body)])
    with pytest.raises(cls, match=match):
        make_client().get("/users")


def test_error_status_without_envelope_still_typed(server, make_client):
    server.route("/users", [Reply(403, {"message": "forbidden by proxy"})])
    with pytest.raises(E.PermissionDeniedError, match="no error details"):
        make_client().get("/users")


def test_echoed_key_is_scrubbed_from_errors(server, make_client):
    server.route("/users", [Reply(400, {"errors": [{"code": 1, "message": f"bad key {KEY}",
                                                    "context": {"header": KEY}}]})])
    with pytest.raises(E.ValidationError) as info:
        make_client().get("/users")
    assert KEY not in str(info.value) and KEY not in repr(info.value.context)
    assert KEY not in repr(info.value.args)


def test_errors_survive_pickling_with_their_fields():
    import pickle
    err = E.RateLimitError("slow down", status=429, code=1, url="https://u:p@h/x", retry_after=3)
    back = pickle.loads(pickle.dumps(err))
    assert (back.status, back.retry_after, back.url) == (429, 3, "https://h/x")


def test_client_and_task_reprs_hide_the_key(server, make_client):
    server.route("/x", [Reply(200, {"taskId": "t1", "taskStatus": "PENDING"})])
    client = make_client()
    task = client.post("/x")
    for text in (repr(client), str(client), repr(task), str(task), repr(vars(client))):
        assert KEY not in text
    with pytest.raises(TypeError):
        __import__("pickle").dumps(client)


def test_empty_or_whitespace_key_is_refused(make_client):
    for key in ("", "   ", "abc def", "abc\n"):
        with pytest.raises(E.ConfigError, match="API key") as info:
            make_client(key=key)
        assert "abc" not in str(info.value)
