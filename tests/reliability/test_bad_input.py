"""The bad-input catalogue: what the server or the user gets wrong, and what the toolkit says.

Server side: one organization's ``/users`` misbehaves on a scripted CloudMC (real HTTP on
127.0.0.1, sandbox-generated records for everything else). With ``errors="collect"`` the crawl
must return every other organization's users exactly and one issue row for the victim; with
``errors="raise"`` the same failure is raised. Cases the toolkit must *accept* (huge pages, dates in
several formats, nulls everywhere, ...) must keep every row.

User side: calls against the sandbox with wrong endpoints, keys, ids, patterns, types, tasks and
operations. Each refusal is a :class:`~cloudmc_frames.CloudMCError` whose one-line text says what
happened and what to do next, with no chained traceback from inside pandas, json or requests.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.client import Client
from cloudmc_frames.config import Settings
from cloudmc_frames.sandbox import generate_scenario
from cloudmc_frames.tasks import Task
from tests.support.fakes import FakeSleep
from tests.support.scripted import Reply, ScriptedServer, paged

from .conftest import SUMMARY

STORE = generate_scenario(orgs=5, seed=3)
ORGS = list(STORE.orgs.values())
VICTIM = next(o["id"] for o in ORGS if o["name"] == "Acme Corp")
USERS = {o["id"]: sorted((u for u in STORE.users.values() if u["organization"]["id"] == o["id"]
                          and not u.get("deleted")), key=lambda u: u["id"]) for o in ORGS}
LIVE = [o["id"] for o in ORGS if not o.get("deleted")]
KEY = "catalogue-" + "K3y5ecret" * 4
ATTEMPTS = re.compile(r"after \d+ attempts")
PAGE_SIZE = 2  # the victim has 4 users: two full pages and a confirming empty one
ENVELOPE = {"errors": [{"code": 9999, "message": "scripted failure"}]}
OTHER = ScriptedServer()  # "another host" for the redirect case; it must never be reached
OTHER.__enter__()


@dataclass(frozen=True)
class Refused:
    """The victim's scope fails with ``cls``; its text matches ``what`` (and ``todo``).

    ``scheduled``: CloudMC said when to come back each time, so the attempts are bounded by the
    retry budget, not by ``retries`` (how many fit in it depends on the jitter).
    """

    cls: type
    what: str
    todo: str | None = None
    status: int | None = None
    coverage: str = "error"
    scheduled: bool = False


@dataclass(frozen=True)
class Kept:
    """The victim's rows are all there; ``check`` looks at them."""

    count: int
    check: Callable[[pd.DataFrame], None] | None = None


def victim_users(n: int, **fields) -> list[dict]:
    base = USERS[VICTIM][0]
    return [{**base, "id": f"u-{i:06d}", "userName": f"user{i}", **fields} for i in range(n)]


def pages(*replies):
    """Replies by page number (the last one repeats)."""
    return lambda seen: replies[min(int(seen.query.get("page_number", 1)), len(replies)) - 1]


def html(status: int, text: str) -> Reply:
    return Reply(status, text, {"Content-Type": "text/html"})


def _check_dates(frame: pd.DataFrame) -> None:
    got = dict(zip(frame["user_name"], frame["last_login"], strict=True))
    for name, (_, want) in DATES.items():
        if want is None:
            assert pd.isna(got[name]), (name, got[name])
        else:
            assert got[name] == pd.Timestamp(want), (name, got[name], want)


DATES = {
    "iso-z": ("2026-10-05T12:03:04.000Z", "2026-10-05T12:03:04Z"),
    "iso-offset": ("2026-10-05T14:03:04+02:00", "2026-10-05T12:03:04Z"),
    "offset-no-colon": ("2016-10-19T14:25:41-0400", "2016-10-19T18:25:41Z"),
    "us-12h-edt": ("2016-10-24 2:40:29 PM EDT", "2016-10-24T18:40:29Z"),
    "space-separated": ("2021-03-04 05:06:07", "2021-03-04T05:06:07Z"),
    "date-only": ("2023-12-31", "2023-12-31T00:00:00Z"),
    "epoch-ms": (1700000000000, "2023-11-14T22:13:20Z"),
    "epoch-s": (1700000000, "2023-11-14T22:13:20Z"),
    "null": (None, None),
}


def _dated_users() -> list[dict]:
    return [{**victim_users(1)[0], "id": f"d-{name}", "userName": name, "lastLogin": value}
            for name, (value, _) in DATES.items()]


def _check_nulls(frame: pd.DataFrame) -> None:
    assert frame["user_name"].isna().all() and frame["last_login"].isna().all()
    assert frame["login_count"].dtype == "Int64" and frame["tfa_enabled"].dtype == "boolean"
    assert str(frame["last_login"].dtype) == "datetime64[ns, UTC]"


def _nulls() -> list[dict]:
    return [{k: (f"n-{i}" if k == "id" else None) for k in USERS[VICTIM][0]} for i in range(3)]


def _check_unknown_fields(frame: pd.DataFrame) -> None:
    assert frame["favourite_colour"].tolist() == ["teal"] * 3
    assert frame["quota_hints_max_vms"].tolist() == [4] * 3


def _check_text(frame: pd.DataFrame) -> None:
    assert sorted(frame["first_name"]) == sorted(["Zoë 🚀", "שלום", "nul\u0000byte"])


def _endless(seen):
    number = int(seen.query.get("page_number", 1))
    return Reply(200, {"data": [{"id": f"e{number}-{i}"} for i in range(PAGE_SIZE)],
                       "metadata": {"pageSize": PAGE_SIZE, "pageCurrent": number}})


SERVER_CASES = [
    # -- bodies that are not CloudMC JSON
    ("truncated-json", Reply(200, '{"data": [{"id": "u1", "userName": "a"}, {"id": '),
     Refused(cmf.TruncatedReplyError, r"JSON that is cut short or broken", status=200)),
    ("json-array-not-object", Reply(200, [{"id": "u1"}]),
     Refused(cmf.ResponseFormatError, r"a JSON list where CloudMC sends an object", status=200)),
    ("json-null", Reply(200, "null"),
     Refused(cmf.ResponseFormatError, r"a JSON null where CloudMC sends an object", status=200)),
    ("json-number", Reply(200, "42"),
     Refused(cmf.ResponseFormatError, r"a JSON number where CloudMC sends an object", status=200)),
    ("deeply-nested-json", Reply(200, '{"data": ' + "[" * 5_000 + "]" * 5_000 + "}"),
     Refused(cmf.TruncatedReplyError, r"the reply is JSON that", status=200)),
    ("plain-text-200", Reply(200, "OK", {"Content-Type": "text/plain"}),
     Refused(cmf.ResponseFormatError, r"the reply is not JSON: OK", status=200)),
    ("empty-body-200", Reply(200, b""),
     Refused(cmf.ResponseFormatError, r"a list reply has no 'data' member", status=200)),
    ("empty-body-503", Reply(503, b""),
     Refused(cmf.ServerError, r"HTTP 503 with an empty body", status=503)),
    ("non-utf8-bytes", Reply(200, b'{"data": [{"id": "u1", "userName": "Ren\xe9"}]}'),
     Refused(cmf.ResponseFormatError, r"not valid UTF-8 \(byte 0xe9 at offset 39\)", status=200)),
    ("html-login-page-200", html(200, "<!DOCTYPE html><html><title>Sign in - Corp SSO</title></html>"),
     Refused(cmf.ResponseFormatError, r"an HTML page, not CloudMC JSON.*Sign in - Corp SSO", status=200)),
    ("html-502-from-proxy", html(502, "<html><center><h1>502 Bad Gateway</h1></center>nginx</html>"),
     Refused(cmf.ResponseFormatError, r"HTTP 502: the reply is an HTML page.*502 Bad Gateway", status=502)),
    # -- JSON objects of the wrong shape
    ("data-missing", Reply(200, {"metadata": {"recordCount": 0}}),
     Refused(cmf.ResponseFormatError, r"no 'data' member \(keys: metadata\)", status=200)),
    ("data-is-an-object", Reply(200, {"data": {"id": "u1"}}),
     Refused(cmf.ResponseFormatError, r"'data' of type dict, not a list")),
    ("data-is-a-string", Reply(200, {"data": "no users"}),
     Refused(cmf.ResponseFormatError, r"'data' of type str, not a list")),
    ("data-is-null", Reply(200, {"data": None}),
     Refused(cmf.ResponseFormatError, r"'data' of type null, not a list")),
    ("data-items-not-objects", Reply(200, {"data": ["u1", "u2"]}),
     Refused(cmf.ResponseFormatError, r"a list item is a str, not a JSON object")),
    # -- error envelopes
    ("errors-empty-500", Reply(500, {"errors": []}),
     Refused(cmf.ServerError, r"HTTP 500 with an empty 'errors' list", status=500)),
    ("errors-unknown-fields-400", Reply(400, {"errors": [{"code": 4711, "message": "org is being migrated",
                                                          "severity": "high", "trace": {"id": "x"}}]}),
     Refused(cmf.ValidationError, r"^org is being migrated \[HTTP 400, code 4711", status=400)),
    ("errors-errorCode-spelling-403",
     Reply(403, {"errors": [{"errorCode": "NO_ACCESS", "errorMessage": "nope"}]}),
     Refused(cmf.PermissionDeniedError, r"^nope \[HTTP 403, code NO_ACCESS", r"leave this organization out",
             status=403, coverage="forbidden")),
    ("errors-are-strings-500", Reply(500, {"errors": ["database unavailable", "try later"]}),
     Refused(cmf.ServerError, r"database unavailable \(\+1 more: try later\)", status=500)),
    ("errors-not-a-list-502", Reply(502, {"errors": "gateway"}),
     Refused(cmf.ServerError, r"HTTP 502 with no error details", status=502)),
    ("error-envelope-on-200", Reply(200, {"errors": [{"code": 2, "message": "partial failure"}]}),
     Refused(cmf.ApiError, r"^partial failure \[HTTP 200, code 2", status=200)),
    ("errors-next-to-data-on-200",
     Reply(200, {"data": USERS[VICTIM], "errors": [{"message": "rows hidden"}]}),
     Refused(cmf.ApiError, r"^rows hidden", status=200)),
    ("expired-key-401", Reply(401, {"errors": [{"code": 401, "message": "API key expired"}]}),
     Refused(cmf.AuthenticationError, r"API key expired", r"check CLOUDMC_API_KEY", status=401)),
    ("org-gone-404", Reply(404, {"errors": [{"code": 404, "message": "organization not found"}]}),
     Refused(cmf.NotFoundError, r"organization not found", r"Check the id", status=404,
             coverage="not_found")),
    ("rate-limited-forever", Reply(429, {"errors": [{"code": 429, "message": "Too many requests"}]},
                                   {"Retry-After": "1"}),
     Refused(cmf.RateLimitError, r"Too many requests.*after \d+ attempts", r"lower max_workers", status=429,
             scheduled=True)),
    # -- HTTP the toolkit will not follow
    ("redirect-to-another-host", Reply(302, None, {"Location": OTHER.endpoint + "/api/v2/users"}),
     Refused(cmf.ResponseFormatError,
             r"redirect \(HTTP 302\) to 127\.0\.0\.1:\d+; redirects are not followed",
             r"Point the endpoint at the final address", status=302)),
    # -- paging that lies
    ("page-repeats", lambda seen: Reply(200, {"data": USERS[VICTIM][:PAGE_SIZE], "metadata": {
        "recordCount": 4, "pageSize": PAGE_SIZE, "pageCurrent": int(seen.query["page_number"])}}),
     Refused(cmf.ResponseFormatError, r"page 2 repeats page 1", r"reading stopped so no row is duplicated")),
    ("page-number-ignored", lambda seen: Reply(200, {"data": USERS[VICTIM][:PAGE_SIZE], "metadata": {
        "recordCount": 4, "pageSize": PAGE_SIZE, "pageCurrent": 1}}),
     Refused(cmf.ResponseFormatError, r"asked for page 2 but the server answered page 1")),
    ("record-count-too-low", lambda seen: paged(USERS[VICTIM], seen, total=2),
     Refused(cmf.ResponseFormatError, r"the server sent 4 records but announced recordCount=2",
             r"read the list again or report it")),
    ("record-count-too-high", lambda seen: paged(USERS[VICTIM], seen, total=9),
     Refused(cmf.ResponseFormatError, r"announced recordCount=9 but sent 4", r"read it again")),
    ("list-never-ends", _endless,
     Refused(cmf.ResponseFormatError, r"did not end within max_pages=5 pages", r"Raise max_pages")),
    ("metadata-lost-after-page-1", lambda seen: paged(USERS[VICTIM], seen) if seen.query["page_number"] == "1"
     else Reply(200, {"data": USERS[VICTIM][2:]}),
     Refused(cmf.ResponseFormatError, r"page 2 came without the paging metadata of page 1")),
    # -- odd but valid: every row must be kept
    ("huge-page-without-paging", Reply(200, {"data": victim_users(30_000)}), Kept(30_000)),
    ("server-ignores-paging", Reply(200, {"data": USERS[VICTIM]}), Kept(4)),
    ("dates-in-several-formats", lambda seen: paged(_dated_users(), seen), Kept(len(DATES), _check_dates)),
    ("nulls-everywhere", lambda seen: paged(_nulls(), seen), Kept(3, _check_nulls)),
    ("unknown-fields", lambda seen: paged(victim_users(3, favouriteColour="teal", quotaHints={"maxVms": 4}),
                                          seen), Kept(3, _check_unknown_fields)),
    ("unicode-and-nul-in-text", lambda seen: paged(
        [{**u, "firstName": n}
         for u, n in zip(victim_users(3), ["Zoë 🚀", "שלום", "nul\u0000byte"], strict=True)], seen),
     Kept(3, _check_text)),
    ("json-served-as-text-plain", lambda seen: Reply(200, paged(USERS[VICTIM], seen).body,
                                                     {"Content-Type": "text/plain"}), Kept(4)),
]


class MiniCloudMC:
    """Organizations and users from a sandbox scenario; the victim's /users answers ``script``."""

    def __init__(self, server: ScriptedServer, script) -> None:
        self.script = script
        self.victim_hits = 0
        server.route("/organizations", self.organizations)
        server.route("/users", self.users)

    def organizations(self, seen):
        deleted = seen.query.get("include_deleted") == "true"
        return paged([o for o in ORGS if deleted or not o.get("deleted")], seen)

    def users(self, seen):
        org = seen.query.get("org_id")
        if org != VICTIM:
            return paged(USERS.get(org, []), seen)
        self.victim_hits += 1
        return self.script(seen) if callable(self.script) else self.script


def scripted_client(server: ScriptedServer) -> Client:
    settings = Settings.from_options(server.endpoint, cache_backend="memory", retries=2,
                                     page_size=PAGE_SIZE, max_pages=5)
    fake = FakeSleep()  # the throttle's pauses end on its clock, without waiting
    return Client(settings, KEY, sleep=fake, clock=fake.clock)


def check_refusal(error: BaseException, expected: Refused) -> str:
    """The uniform promise: a typed error, one line, what happened, what to do, no deep traceback."""
    assert isinstance(error, expected.cls), repr(error)
    text = str(error)
    assert "\n" not in text and len(text) < 700, text
    assert re.search(expected.what, text), text
    if expected.todo:
        assert re.search(expected.todo, text), text
    if error.hint:
        assert text.endswith(error.hint)
    else:
        assert expected.todo, f"{type(error).__name__} without a hint needs a todo pattern"
    if expected.status is not None:
        assert error.status == expected.status
    trace = "".join(traceback.format_exception(error))
    assert "During handling of the above exception" not in trace, trace
    assert "The above exception was the direct cause" not in trace, trace
    assert "site-packages" not in trace and "json/decoder.py" not in trace, trace
    assert KEY not in trace
    return text


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("name, script, expected", SERVER_CASES, ids=_ids(SERVER_CASES))
def test_server_misbehaviour(name, script, expected):
    others = sorted(u["id"] for org in LIVE if org != VICTIM for u in USERS[org])
    with ScriptedServer() as server:
        mini = MiniCloudMC(server, script)
        client = scripted_client(server)
        frame = cmf.users(client)
        collected_hits = mini.victim_hits
        if isinstance(expected, Refused):
            with pytest.raises(cmf.CloudMCError) as info:
                cmf.users(scripted_client(server), errors="raise")

    # nobody else's rows are lost, whatever the victim did
    assert sorted(frame.loc[frame["organization_id"] != VICTIM, "id"]) == others
    coverage = client.coverage.set_index("organization_id")
    assert sorted(coverage.index) == sorted(LIVE)
    victim_rows = frame[frame["organization_id"] == VICTIM]
    if isinstance(expected, Kept):
        assert len(victim_rows) == expected.count
        assert client.issues.empty
        assert coverage.loc[VICTIM, "rows"] == expected.count
        if expected.check:
            expected.check(victim_rows.reset_index(drop=True))
        SUMMARY["bad input: accepted, rows kept"] += 1
        return
    assert victim_rows.empty
    issues = client.issues
    assert len(issues) == 1, issues
    issue = issues.iloc[0]
    assert (issue["organization_id"], issue["accessor"], issue["exception"]) == \
        (VICTIM, "users", expected.cls.__name__)
    assert coverage.loc[VICTIM, "status"] == expected.coverage and coverage.loc[VICTIM, "rows"] == 0
    text = check_refusal(info.value, expected)
    if expected.scheduled:
        assert issue["attempts"] > 3 and info.value.attempts > 3
        assert ATTEMPTS.sub("", issue["message"]) == ATTEMPTS.sub("", text)
    else:
        assert issue["message"] == text
        assert issue["attempts"] == info.value.attempts
        assert info.value.attempts == (3 if info.value.retryable else 1)
    assert collected_hits >= 1 and OTHER.hits.total() == 0
    SUMMARY["bad input: refused with an issue"] += 1


# -- the user's side ---------------------------------------------------------------------------

NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"


def _client(sb, **options):
    return sb.client(**options)


def _instance(sb, state: str) -> dict:
    """An instance of a compute-qc environment in ``state``, with its org and environment name."""
    for env_id, kinds in sb.store.resources.items():
        env = sb.store.environments[env_id]
        code = sb.store.connections[env["serviceConnection"]["id"]]["serviceCode"]
        if code != "compute-qc" or env.get("deleted"):
            continue
        for vm in kinds.get("instances", {}).values():
            if vm.get("state") == state:
                return {"org": env["organization"]["id"], "env": env["name"], "id": vm["id"]}
    raise AssertionError(f"no {state} instance in the scenario")


def _volume(sb) -> dict:
    vm = _instance(sb, "Running")
    env = next(e for e in sb.store.environments.values()
               if e["name"] == vm["env"] and e["organization"]["id"] == vm["org"])
    return {**vm, "id": next(iter(sb.store.resources[env["id"]]["volumes"]))}


def _stop(sb, vm, **kw):
    return cmf.operate(_client(sb), "compute-qc", vm["env"], "instances", vm["id"], "stop",
                       org_id=vm["org"], **kw)


def _expired_task(sb):
    with cmf.sandbox(orgs=3, seed=1, task_delay=5, task_ttl=0.2) as short:
        vm = _instance(short, "Running")
        task = _stop(short, vm)
        time.sleep(0.4)
        task.wait(timeout=5, interval=0.01)


def _disabled_key(sb):
    return next(k.key for k in sb.keys if k.status == "DISABLED")


USER_CASES = [
    # -- connecting
    ("endpoint-without-scheme", lambda sb: cmf.connect("cloudmc.example.com", KEY),
     Refused(cmf.ConfigError, r"not an http\(s\) URL", r"use the form 'https://cloudmc.example.com'")),
    ("endpoint-ftp", lambda sb: cmf.connect("ftp://cloudmc.example.com", KEY),
     Refused(cmf.ConfigError, r"'ftp://cloudmc.example.com' is not an http\(s\) URL", r"use the form")),
    ("endpoint-with-query", lambda sb: cmf.connect("https://cloudmc.example.com/api/v2?org=1", KEY),
     Refused(cmf.ConfigError, r"must not carry a query string", r"must not carry")),
    ("endpoint-bad-port", lambda sb: cmf.connect("https://cloudmc.example.com:99999", KEY),
     Refused(cmf.ConfigError, r"has an invalid port", r"invalid port")),
    ("endpoint-plain-http-remote", lambda sb: cmf.connect("http://cloudmc.example.com", KEY),
     Refused(cmf.ConfigError, r"refusing plain http:// to cloudmc.example.com", r"Use https://")),
    ("endpoint-and-key-unset", lambda sb: cmf.connect(),
     Refused(cmf.ConfigError, r"CLOUDMC_ENDPOINT and CLOUDMC_API_KEY not set", r"cmf.sandbox\(\)")),
    ("empty-key", lambda sb: cmf.connect(sb.endpoint, ""),
     Refused(cmf.ConfigError, r"the API key is empty", r"pass api_key= or set CLOUDMC_API_KEY")),
    ("key-with-a-newline", lambda sb: cmf.connect(sb.endpoint, sb.api_key + "\n"),
     Refused(cmf.ConfigError, r"contains spaces or control characters", r"copy it again")),
    ("key-not-a-string", lambda sb: cmf.connect(sb.endpoint, 12345),
     Refused(cmf.ConfigError, r"the API key must be a string, got int", r"pass api_key= as text")),
    ("unknown-key", lambda sb: cmf.organizations(cmf.connect(sb.endpoint, "Z" * 48, cache_backend="memory")),
     Refused(cmf.ApiError, r"HTTP 40[13]", r"API key|key's user")),
    ("disabled-user-key", lambda sb: cmf.organizations(cmf.connect(sb.endpoint, _disabled_key(sb),
                                                                   cache_backend="memory")),
     Refused(cmf.AuthenticationError, r"HTTP 401", r"check CLOUDMC_API_KEY", status=401)),
    ("unknown-option", lambda sb: cmf.connect(sb.endpoint, KEY, read_timout=5),
     Refused(cmf.ConfigError, r"unknown option 'read_timout'", r"Did you mean 'read_timeout'\?")),
    ("option-wrong-type", lambda sb: cmf.connect(sb.endpoint, KEY, retries="3"),
     Refused(cmf.ConfigError, r"retries must be an integer >= 0, got '3'", r"must be an integer")),
    ("option-negative", lambda sb: cmf.connect(sb.endpoint, KEY, read_timeout=-1),
     Refused(cmf.ConfigError, r"read_timeout must be a non-negative number of seconds", r"must be")),
    # -- choosing what to read
    ("unknown-org-id", lambda sb: cmf.users(_client(sb), orgs=NO_SUCH_ID),
     Refused(cmf.ConfigError, r"matches no organization id or path visible to this key",
             r"See cmf.organizations\(client\)")),
    ("unknown-path-pattern", lambda sb: cmf.users(_client(sb), orgs="nimbus-cloud/acme/*"),
     Refused(cmf.ConfigError, r"orgs='nimbus-cloud/acme/\*' matches no organization", r"Close paths: ")),
    ("orgs-wrong-type", lambda sb: cmf.users(_client(sb), orgs=3.14),
     Refused(cmf.ConfigError, r"orgs must be None, an id, a path pattern.*got float", r"orgs must be")),
    ("orgs-item-not-a-string", lambda sb: cmf.users(_client(sb), orgs=["nimbus-cloud", 7]),
     Refused(cmf.ConfigError, r"orgs items must be ids or path patterns \(strings\), got 7", r"must be")),
    ("unknown-entity-type", lambda sb: cmf.resources(_client(sb), "vms"),
     Refused(cmf.ConfigError, r"unknown entity type 'vms'", r"Known types include instances")),
    ("entity-type-typo", lambda sb: cmf.resources(_client(sb), "volume"),
     Refused(cmf.ConfigError, r"unknown entity type 'volume'", r"Did you mean 'volumes'")),
    ("entity-type-not-a-string", lambda sb: cmf.resources(_client(sb), None),
     Refused(cmf.ConfigError, r"unknown entity type None", r"Known types include")),
    ("timeout-wrong-type", lambda sb: cmf.instances(_client(sb), timeout="5"),
     Refused(cmf.ConfigError, r"timeout must be a positive number of seconds, got '5'", r"must be")),
    ("max-workers-float", lambda sb: cmf.instances(_client(sb), max_workers=2.5),
     Refused(cmf.ConfigError, r"max_workers must be a positive integer, got 2.5", r"must be")),
    ("service-code-filter-wrong-type", lambda sb: cmf.instances(_client(sb), service_code=5),
     Refused(cmf.ConfigError, r"service_code filter must be a string or a list of strings", r"must be")),
    ("not-a-client", lambda sb: cmf.instances("https://cloudmc.example.com"),
     Refused(cmf.ConfigError, r"expected a client from cmf.connect\(\) or sandbox.client\(\), got str",
             r"cmf.connect")),
    ("sub-organizations-unknown-id", lambda sb: cmf.sub_organizations(_client(sb), NO_SUCH_ID),
     Refused(cmf.ConfigError, r"is not among the 11 organizations this key can see",
             r"pick an id from cmf.organizations")),
    ("quotas-unknown-type", lambda sb: cmf.quotas(_client(sb), type="all"),
     Refused(cmf.ConfigError, r"type must be 'assigned', 'owned' or None, got 'all'", r"must be")),
    ("activity-log-bad-date", lambda sb: cmf.activity_log(_client(sb), start="last tuesday"),
     Refused(cmf.ConfigError, r"start must be a datetime, a date or an ISO string, got 'last tuesday'",
             r"must be")),
    ("offline-with-an-empty-cache", lambda sb: cmf.users(_client(sb, offline=True)),
     Refused(cmf.CacheMissError,
             r"offline mode and no cached answer for this request \[code not_cached, GET .*/organizations",
             r"Run the same call once online")),
    ("path-without-slash", lambda sb: _client(sb).get("users"),
     Refused(cmf.ConfigError, r"path must start with '/', got 'users'", r"must start with")),
    ("params-not-a-dict", lambda sb: _client(sb).get("/users", [("org_id", "x")]),
     Refused(cmf.ConfigError, r"params must be a dict, got list", r"must be a dict")),
    # -- tasks and operations
    ("expired-task-id", _expired_task,
     Refused(cmf.TaskTimeoutError, r"task [0-9a-f-]+ is no longer known to CloudMC",
             r"Check the resource's state", status=404)),
    ("unknown-task-id", lambda sb: Task.from_id(NO_SUCH_ID, _client(sb)).wait(timeout=2, interval=0.01),
     Refused(cmf.TaskTimeoutError, r"no longer known to CloudMC \(tasks live about 30 minutes\)",
             r"Check the resource's state", status=404)),
    ("task-id-not-a-string", lambda sb: Task.from_id(42, _client(sb)),
     Refused(cmf.ConfigError, r"a task id must be a non-empty string, got 42", r"must be")),
    ("task-wait-negative-timeout", lambda sb: Task.from_id(NO_SUCH_ID, _client(sb)).wait(timeout=-1),
     Refused(cmf.ConfigError, r"timeout must be a positive number of seconds, got -1", r"must be")),
    ("operation-not-valid-for-entity", lambda sb: cmf.operate(
        _client(sb), "compute-qc", _volume(sb)["env"], "volumes", _volume(sb)["id"], "reboot",
        org_id=_volume(sb)["org"]),
     Refused(cmf.ConfigError, r"unknown operation 'reboot' for volumes", r"Valid: ")),
    ("operation-typo",
     lambda sb: cmf.operate(_client(sb), "compute-qc", "prod", "instances", NO_SUCH_ID, "stp"),
     Refused(cmf.ConfigError, r"unknown operation 'stp' for instances", r"Did you mean 'stop'\?")),
    ("delete-as-an-operation", lambda sb: cmf.operate(_client(sb), "compute-qc", "prod", "instances",
                                                      NO_SUCH_ID, "delete"),
     Refused(cmf.ConfigError, r"delete is not an \?operation=", r"call cmf.delete\(client")),
    ("operation-in-the-wrong-state", lambda sb: _stop(sb, _instance(sb, "Stopped")),
     Refused(cmf.ValidationError, r"HTTP 400, code 2012", r"check the arguments", status=400)),
    ("operation-on-an-unknown-instance", lambda sb: _stop(sb, {**_instance(sb, "Running"), "id": NO_SUCH_ID}),
     Refused(cmf.NotFoundError, r"HTTP 404", r"Check the id", status=404)),
    ("operation-in-an-unknown-environment",
     lambda sb: _stop(sb, {**_instance(sb, "Running"), "env": "nowhere"}),
     Refused(cmf.NotFoundError, r"HTTP 404", r"Check the id", status=404)),
]


# refusals that can only be decided against the organization tree (or the environments)
NEED_THE_TREE = {"unknown-org-id", "unknown-path-pattern", "sub-organizations-unknown-id", "orgs-wrong-type",
                 "orgs-item-not-a-string", "service-code-filter-wrong-type"}


@pytest.mark.parametrize("name, call, expected", USER_CASES, ids=_ids(USER_CASES))
def test_user_mistakes(small_sb, name, call, expected):
    requests_before = len(small_sb.requests)
    with pytest.raises(cmf.CloudMCError) as info:
        call(small_sb)
    check_refusal(info.value, expected)
    trace = "".join(traceback.format_exception(info.value))
    assert not any(k.key in trace for k in small_sb.keys)
    if isinstance(info.value, cmf.ConfigError) and name not in NEED_THE_TREE:
        assert len(small_sb.requests) == requests_before, "refused before anything was sent"
    SUMMARY["bad input: user mistakes refused"] += 1
