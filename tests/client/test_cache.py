"""The cache: hits counted at the server, refresh, offline, isolation of keys, robustness."""

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cloudmc_frames import errors as E
from tests.support.scripted import Reply

from .conftest import KEY

OTHER_KEY = "zz-" + "Q9w8E7r6" * 5


def whoami(seen):
    """Answers with a body that depends on the key sent (like CloudMC does)."""
    who = "alice" if seen.headers.get("MC-Api-Key") == KEY else "bob"
    return Reply(200, {"data": {"user": who, "path": seen.path, "q": seen.query}})


def cache_files(tmp_path) -> list[Path]:
    return [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_repeat_call_is_served_from_memory_then_sqlite(server, make_client):
    server.route("/users", whoami)
    first = make_client()
    assert first.get("/users", org_id="o1")["user"] == "alice"
    assert first.get("/users", org_id="o1")["user"] == "alice"
    assert first.stats["memory_hits"] == 1
    first.flush()  # writes happen in the background; flush() waits for them
    second = make_client()  # same key and folder: the SQLite layer answers
    reply = second.get_reply("/users", org_id="o1")
    assert reply.from_cache and reply.data["user"] == "alice"
    assert server.hits["/api/v2/users"] == 1
    second.get("/users", org_id="o2")  # other parameters are other entries
    assert server.hits["/api/v2/users"] == 2


def test_fresh_really_refetches_and_updates_the_cache(server, make_client):
    answers = iter([{"data": 1}, {"data": 2}])
    server.route("/users", lambda seen: Reply(200, next(answers)))
    client = make_client()
    assert client.get("/users") == 1
    assert client.get("/users", fresh=True) == 2
    client.flush()
    assert client.get("/users") == 2 and make_client().get("/users") == 2
    assert server.hits["/api/v2/users"] == 2


def test_offline_miss_is_a_clear_error(server, make_client):
    server.route("/users", whoami)
    with pytest.raises(E.CacheMissError, match="offline") as info:
        make_client(offline=True).get("/users", org_id="o1")
    assert "without offline=True" in str(info.value)
    assert server.hits["/api/v2/users"] == 0


def test_offline_replays_expired_entries_after_the_server_is_gone(server, make_client, tmp_path):
    server.route("/users", whoami)
    make_client(expire_after=0.001).get("/users", org_id="o1")
    endpoint = server.endpoint
    server.__exit__(None, None, None)
    replay = make_client(endpoint=endpoint, offline=True)
    assert replay.get("/users", org_id="o1")["user"] == "alice"


def test_the_key_never_reaches_the_cache_files(server, make_client, tmp_path):
    server.route("/users", whoami)
    server.route("/boom", [Reply(500, {"errors": [{"code": 1, "message": "x"}]})])
    client = make_client(retries=0)
    for org in ("o1", "o2"):
        client.get("/users", org_id=org)
    with pytest.raises(E.ServerError):
        client.get("/boom")
    client.close()
    files = cache_files(tmp_path)
    assert files and sum(p.stat().st_size for p in files) > 1000
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


def test_two_keys_never_share_an_entry(server, make_client):
    server.route("/users", whoami)
    alice, bob = make_client(), make_client(key=OTHER_KEY)
    assert alice.get("/users")["user"] == "alice"
    assert bob.get("/users")["user"] == "bob"
    alice.flush(), bob.flush()
    assert make_client(key=OTHER_KEY).get("/users")["user"] == "bob"
    assert make_client().get("/users")["user"] == "alice"
    assert server.hits["/api/v2/users"] == 2


def test_task_polls_are_never_cached(server, make_client):
    server.route("/tasks/t1", [Reply(200, {"taskId": "t1", "taskStatus": "PENDING"}),
                               Reply(200, {"taskId": "t1", "taskStatus": "SUCCESS"})])
    client = make_client()
    assert client.poll_task("t1")["taskStatus"] == "PENDING"
    assert client.get_reply("/tasks/t1").payload["taskStatus"] == "SUCCESS"  # plain GET: not cached either
    assert client.poll_task("t1")["taskStatus"] == "SUCCESS"
    assert server.hits["/api/v2/tasks/t1"] == 3


def test_a_write_invalidates_the_listings_of_its_scope(server, make_client):
    server.route("/services/c/prod/instances", whoami)
    server.route("/services/c/prod/instances/i1", [Reply(200, {"taskId": "t", "taskStatus": "PENDING"})])
    server.route("/users", whoami)
    client = make_client()
    client.get("/services/c/prod/instances", org_id="o1")
    client.get("/users")
    client.post("/services/c/prod/instances/i1", params={"operation": "stop"}, org_id="o1")
    client.get("/services/c/prod/instances", org_id="o1")
    client.flush()
    make_client().get("/services/c/prod/instances", org_id="o1")
    client.get("/users")
    assert server.hits["/api/v2/services/c/prod/instances"] == 2
    assert server.hits["/api/v2/users"] == 1


def test_clear_cache_forgets_only_this_key(server, make_client):
    server.route("/users", whoami)
    alice, bob = make_client(), make_client(key=OTHER_KEY)
    alice.get("/users"), bob.get("/users")
    bob.flush()
    assert alice.clear_cache() == 1
    make_client().get("/users")
    make_client(key=OTHER_KEY).get("/users")
    assert server.hits["/api/v2/users"] == 3


def test_a_corrupted_cache_file_is_rebuilt_with_one_warning(server, make_client, tmp_path, caplog):
    server.route("/users", whoami)
    writer = make_client()
    writer.get("/users")
    writer.close()
    for path in cache_files(tmp_path):
        path.write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.WARNING, logger="cloudmc_frames"):
        client = make_client()
        assert client.get("/users")["user"] == "alice"
        client.flush()
        assert make_client().get("/users")["user"] == "alice"
    warnings = [r for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 1
    assert server.hits["/api/v2/users"] == 2


@pytest.mark.parametrize("backend", ["memory", "filesystem"])
def test_other_backends_by_name(server, make_client, backend):
    server.route("/users", whoami)
    client = make_client(cache_backend=backend)
    client.get("/users"), client.get("/users", fresh=True), client.get("/users")
    assert server.hits["/api/v2/users"] == 2


def test_unknown_backend_is_a_config_error(make_client):
    with pytest.raises(E.ConfigError, match="cache_backend 'nosuch'"):
        make_client(cache_backend="nosuch")


def test_eight_threads_share_one_client(server, make_client):
    server.route("/users", whoami)
    client = make_client()
    orgs = [f"o{i}" for i in range(50)]
    barrier = threading.Barrier(8)

    def read(i):
        if i < 8:
            barrier.wait()  # make the first requests truly concurrent
        org = orgs[i % 50]
        return org, client.get("/users", org_id=org)["q"]["org_id"]

    with ThreadPoolExecutor(8) as pool:
        first = list(pool.map(read, range(50)))   # 50 distinct misses, 8 at a time
        again = list(pool.map(read, range(400)))  # all hits now
    assert all(org == got for org, got in first + again)
    assert server.hits["/api/v2/users"] == 50
    assert client.stats["sent"] == 50 and client.stats["memory_hits"] == 400


def test_entries_from_another_requests_cache_version_are_refetched(server, make_client, tmp_path):
    import sqlite3
    server.route("/users", whoami)
    writer = make_client()
    writer.get("/users")
    writer.close()
    (db,) = [p for p in cache_files(tmp_path) if p.suffix == ".sqlite"]
    with sqlite3.connect(db) as con:  # unreadable values, as another version's pickles would be
        con.execute("UPDATE responses SET value = ?", (b"\x80\x05not a response",))
    assert make_client().get("/users")["user"] == "alice"
    assert server.hits["/api/v2/users"] == 2


def test_connect_reads_the_environment(server, monkeypatch):
    import cloudmc_frames as cmf
    monkeypatch.setenv("CLOUDMC_ENDPOINT", server.endpoint)
    monkeypatch.setenv("CLOUDMC_API_KEY", KEY)
    server.route("/users", whoami)
    with cmf.connect(cache_backend="memory") as client:
        assert client.get("/users")["user"] == "alice"
    monkeypatch.delenv("CLOUDMC_API_KEY")
    with pytest.raises(E.ConfigError, match="CLOUDMC_API_KEY not set"):
        cmf.connect()


def test_without_a_memory_budget_repeats_are_answered_by_the_cache_file(server, make_client):
    server.route("/users", whoami)
    client = make_client(memory_cache_mb=0)
    assert client.get("/users", org_id="o1")["user"] == "alice"
    client.flush()
    assert client.get("/users", org_id="o1")["user"] == "alice"
    assert client.stats["memory_hits"] == 0 and client.stats["cache_hits"] == 1
    assert server.hits["/api/v2/users"] == 1
