"""The shared cache on a real redis-server: shared entries, isolation, expiry, planted values, faults.

Every test talks to a private ``redis-server`` on a unix socket (the session's, emptied per test,
or one of its own when it kills or locks it) and to the embedded sandbox over HTTP.
"""

from __future__ import annotations

import json
import pickle
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

import cloudmc_frames as cmf
from cloudmc_frames._cache.sealed import CACHE_SEAL, REDIS_NAMESPACE, Sealer
from tests.support.redis_server import RedisServer

from .conftest import assert_same, crawl, run_worker


def entries(connection) -> dict[str, bytes]:
    """Every cache entry in Redis: cache key -> stored value."""
    prefix = f"{REDIS_NAMESPACE}:"
    return {k.decode()[len(prefix):]: connection.get(k) for k in connection.scan_iter(f"{prefix}*")}


def fingerprints(connection) -> set[str]:
    return {key[:32] for key in entries(connection)}


def user_key(sb):
    """A plain User of the root organization: same URLs as the root administrator, other answers."""
    return next(k for k in sb.keys
                if k.role == "User" and k.status == "ACTIVE" and k.org_id == sb.store.root_id)


# -- sharing and isolation ---------------------------------------------------------------------------

def test_a_second_process_with_the_same_key_sends_nothing(redis_url, tmp_path):
    with cmf.sandbox(orgs=12, seed=5) as sb:
        env = {"CLOUDMC_ENDPOINT": sb.endpoint, "CLOUDMC_API_KEY": sb.api_key,
               "CLOUDMC_CACHE_URL": redis_url, "CLOUDMC_CACHE_DIR": str(tmp_path / "first")}
        first = run_worker("crawl", env=env)
        sent_first = len(sb.requests)
        sb.requests.clear()
        second = run_worker("crawl", env={**env, "CLOUDMC_CACHE_DIR": str(tmp_path / "second")})
        assert list(sb.requests) == []
    assert first["cache"]["backend"] == second["cache"]["backend"] == "redis"
    assert first["stats"]["sent"] == sent_first > 20
    assert second["stats"]["sent"] == 0 and second["stats"]["cache_hits"] == first["stats"]["sent"]
    assert second["digests"] == first["digests"] and first["issues"] == second["issues"] == 0
    assert not (tmp_path / "second").exists()  # nothing went to a local SQLite file


def test_two_keys_on_one_redis_never_see_each_others_entries(redis_url, redis_server):
    with cmf.sandbox(orgs=12, seed=5) as sb:
        user = user_key(sb)
        root, plain = sb.client(cache_url=redis_url), sb.client(user.user_name, cache_url=redis_url)
        root_users = root.get("/users")
        sb.requests.clear()
        own = plain.get("/users")  # the same URL: the server answers, not the root's entry
        assert [r.path for r in sb.requests] == ["/users"]
        assert [u["id"] for u in own] == [user.user_id] != [u["id"] for u in root_users]
        assert fingerprints(redis_server.connection()) == {root.fingerprint, plain.fingerprint}
        orgs = cmf.organizations(root)
        offline = sb.client(user.user_name, cache_url=redis_url, offline=True)
        assert offline.get("/users")[0]["id"] == user.user_id  # its own entry, from Redis
        with pytest.raises(cmf.CacheMissError):  # the root's crawl is in Redis, not for this key
            cmf.organizations(offline)
        assert len(orgs) > 1


def test_clear_cache_removes_only_this_credentials_entries(redis_url, redis_server):
    connection = redis_server.connection()
    with cmf.sandbox(orgs=12, seed=5) as sb:
        root, plain = sb.client(cache_url=redis_url), sb.client(user_key(sb).user_name, cache_url=redis_url)
        cmf.users(root), cmf.environments(root), plain.get("/users"), plain.get("/environments")
        before = entries(connection)
        mine = [k for k in before if k.startswith(root.fingerprint)]
        assert len(mine) > 2 and len(before) - len(mine) == 2
        assert root.clear_cache() == len(mine)
        after = entries(connection)
        assert after == {k: v for k, v in before.items() if not k.startswith(root.fingerprint)}
        sb.requests.clear()
        plain2 = sb.client(user_key(sb).user_name, cache_url=redis_url)
        plain2.get("/users")
        assert list(sb.requests) == []


def test_a_write_forgets_its_listings_in_redis_for_everyone(redis_url):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.05) as sb:
        client = sb.client(cache_url=redis_url)
        vms = cmf.instances(client)
        vm = vms[(vms["state"] == "Running") & (vms["service_code"] == "compute-qc")].iloc[0]
        cmf.operate(client, "compute-qc", vm["environment_name"], "instances", vm["id"], "stop",
                    org_id=vm["organization_id"]).wait(timeout=10, interval=0.05)
        colleague = sb.client(cache_url=redis_url)  # another notebook, same key, empty memory
        again = cmf.instances(colleague)
        assert again.set_index("id").loc[vm["id"], "state"] == "Stopped"


# -- expiry -----------------------------------------------------------------------------------------

def test_redis_ttl_follows_expire_after_and_entries_go_when_stale(redis_url, redis_server):
    connection = redis_server.connection()
    with cmf.sandbox(orgs=3, seed=1) as sb:
        client = sb.client(cache_url=redis_url, expire_after=2,
                           urls_expire_after={"*/environments*": -1})
        client.get("/users"), client.get("/environments")
        stored = entries(connection)
        ttl = {key: connection.ttl(f"{REDIS_NAMESPACE}:{key}") for key in stored}
        users = next(k for k in stored if b"/users" in _body_url(stored[k]))
        envs = next(k for k in stored if b"/environments" in _body_url(stored[k]))
        assert 2 <= ttl[users] <= 3  # expire_after, plus the one second requests-cache needs
        assert ttl[envs] == -1  # never expires: no TTL (requests-cache 1.3.2 gave it one hour)
        time.sleep(3.2)
        assert connection.exists(f"{REDIS_NAMESPACE}:{users}") == 0
        sb.requests.clear()
        fresh = sb.client(cache_url=redis_url, expire_after=2, urls_expire_after={"*/environments*": -1})
        fresh.get("/users"), fresh.get("/environments")
        assert [r.path for r in sb.requests] == ["/users"]


def test_an_entry_whose_seconds_left_round_to_zero_still_gets_a_ttl(redis_url, redis_server):
    """requests-cache 1.3.3 sets TTL = round(seconds left) + ttl_offset, and stores an entry whose
    sum is 0 with no TTL at all: with expire_after=1 and a reply that took over half a second to
    store, it would stay in the shared Redis for good. The toolkit's offset of one second keeps
    every entry expiring."""
    connection = redis_server.connection()
    with cmf.sandbox(orgs=3, seed=1) as sb:
        client = sb.client(cache_url=redis_url)
        client.get("/users")
        responses = client._cache.session.cache.responses
        (key,) = entries(connection)
        stored = responses[key]
        stored.expires = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=0.3)
        assert stored.expires_delta == 0
        responses["planted-by-test"] = stored
    assert 0 < connection.ttl(f"{REDIS_NAMESPACE}:planted-by-test") <= 1


def _body_url(value: bytes) -> bytes:
    return _head(value)["request"]["url"].encode()


def _head(value: bytes) -> dict:
    """The JSON head of a sealed compact entry (``<seal line>\\n<JSON head>\\0<body>``)."""
    return json.loads(value.partition(b"\n")[2].partition(b"\0")[0])


# -- values planted by another writer ---------------------------------------------------------------

class Bomb:
    """Unpickling it opens (creates) ``path``: proof that a stored value was executed."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _forged(value: bytes, marker: str) -> bytes:
    """A stored reply with its body replaced by a user list holding ``marker`` (unsealed)."""
    head = _head(value)
    body = json.dumps({"data": [{"id": marker, "userName": marker}]}).encode()
    head["headers"]["Content-Length"] = str(len(body))
    return json.dumps(head).encode() + b"\0" + body


PLANTS = {
    "pickle that runs code": lambda value, sb, bomb: pickle.dumps(Bomb(bomb)),
    "an unsigned entry": lambda value, sb, bomb: _forged(value, "forged"),
    "signed for another key": lambda value, sb, bomb: Sealer(sb.endpoint + "/api/v2", sb.keys[1].key).seal(
        CACHE_SEAL, _forged(value, "forged")),
    "another toolkit version": lambda value, sb, bomb: Sealer(sb.endpoint + "/api/v2", sb.api_key).seal(
        b"cloudmc-frames/cache-v1", _forged(value, "forged")),
    "garbage": lambda value, sb, bomb: b"\x00\xff" * 50,
    "truncated": lambda value, sb, bomb: value[: len(value) // 2],
}


@pytest.mark.parametrize("kind", list(PLANTS))
def test_a_planted_value_is_refused_not_executed(kind, redis_url, redis_server, tmp_path, warnings_seen):
    connection = redis_server.connection()
    bomb = tmp_path / "executed"
    with cmf.sandbox(orgs=3, seed=1) as sb:
        truth = sb.client(cache_url=redis_url).get("/users")
        (key,) = entries(connection)
        connection.set(f"{REDIS_NAMESPACE}:{key}", PLANTS[kind](entries(connection)[key], sb, str(bomb)))
        sb.requests.clear()
        reader = sb.client(cache_url=redis_url)
        got = reader.get("/users")
        assert [r.path for r in sb.requests] == ["/users"]  # refused, so fetched again
        sealer = Sealer(sb.endpoint + "/api/v2", sb.api_key)
    assert got == truth and "forged" not in json.dumps(got)
    assert not bomb.exists()
    assert reader.cache_info()["refused_entries"] == 1
    assert sum("refused" in line for line in warnings_seen()) == 1
    assert sealer.unseal(CACHE_SEAL, entries(connection)[key])  # written again, sealed


def test_the_plants_would_be_noticed_if_they_were_accepted(redis_url, redis_server, tmp_path):
    """The controls of the test above: the bomb really runs when unpickled, and a forged value
    sealed with the right key is served (so a refusal above is the seal's doing)."""
    pickle.loads(pickle.dumps(Bomb(str(tmp_path / "ran"))))
    assert (tmp_path / "ran").exists()
    connection = redis_server.connection()
    with cmf.sandbox(orgs=3, seed=1) as sb:
        sb.client(cache_url=redis_url).get("/users")
        ((key, value),) = entries(connection).items()
        forged = Sealer(sb.endpoint + "/api/v2", sb.api_key).seal(CACHE_SEAL, _forged(value, "forged"))
        connection.set(f"{REDIS_NAMESPACE}:{key}", forged)
        assert sb.client(cache_url=redis_url).get("/users")[0]["id"] == "forged"


# -- Redis down, wrong, or missing -------------------------------------------------------------------

def test_redis_killed_mid_crawl_falls_back_and_loses_nothing(tmp_path, warnings_seen):
    with cmf.sandbox(orgs=12, seed=5, latency_ms=3) as sb, RedisServer(tmp_path / "redis") as server:
        expected = crawl(sb.client())
        total = len(sb.requests)
        sb.requests.clear()
        client = sb.client(cache_url=server.url, cache_dir=str(tmp_path / "cache"), max_workers=8)
        killed_at: list[int] = []

        def kill_halfway() -> None:
            while len(sb.requests) < total // 2:
                time.sleep(0.001)
            killed_at.append(len(sb.requests))
            server.kill()

        killer = threading.Thread(target=kill_halfway)
        killer.start()
        got = crawl(client)
        killer.join(10)
    assert killed_at and killed_at[0] < total  # Redis died while the crawl was running
    assert_same(got, expected)
    assert len(client.issues) == 0
    info = client.cache_info()
    assert info["backend"] == "sqlite" and info["requested"] == "redis"
    assert "ConnectionError" in info["fallback_reason"]
    assert len([w for w in warnings_seen() if "shared cache" in w]) == 1
    assert (tmp_path / "cache").exists()


def test_redis_unreachable_at_connect_means_sqlite_and_one_warning(tmp_path, warnings_seen):
    url = f"unix://{tmp_path}/no-such.sock"
    with cmf.sandbox(orgs=6, seed=2) as sb:
        client = sb.client(cache_url=url, cache_dir=str(tmp_path / "cache"))
        expected = crawl(sb.client())
        got = crawl(client)
        client.flush()
        again = crawl(sb.client(cache_url=url, cache_dir=str(tmp_path / "cache"), offline=True))
    assert_same(got, expected)
    assert_same(again, expected)  # the local SQLite file holds the whole crawl
    info = client.cache_info()
    assert info["backend"] == "sqlite" and "No such file" in info["fallback_reason"]
    assert info["location"].endswith(".sqlite")
    assert len([w for w in warnings_seen() if "shared cache" in w]) == 2  # one per client


def test_a_wrong_redis_password_falls_back_with_the_reason_and_never_shows_it(tmp_path, warnings_seen):
    with RedisServer(tmp_path / "redis", password="right-pass-4411") as server, \
            cmf.sandbox(orgs=3, seed=1) as sb:
        wrong = server.url.replace("right-pass-4411", "wrong-pass-9922")
        client = sb.client(cache_url=wrong, cache_dir=str(tmp_path / "cache"))
        client.get("/users")
        info = client.cache_info()
        good = sb.client(cache_url=server.url)
        good.get("/users")
        assert good.cache_info()["backend"] == "redis" and len(entries(server.connection())) == 1
    assert info["backend"] == "sqlite" and "Authentication" in info["fallback_reason"]
    shown = json.dumps(info) + repr(client) + repr(client.settings) + "\n".join(warnings_seen())
    assert "wrong-pass-9922" not in shown and "right-pass-4411" not in repr(good.settings)
    assert info["location"].endswith(".sqlite") and info["cache_url"].endswith("?password=***")


def test_a_write_is_never_sent_again_when_redis_fails_around_it(redis_url, monkeypatch):
    with cmf.sandbox(orgs=3, seed=1) as sb:
        client = sb.client(cache_url=redis_url)
        session = client._cache.session

        def broken(method, url, **kwargs):
            raise redis.ConnectionError("Redis went away")

        monkeypatch.setattr(session, "request", broken)
        sb.requests.clear()
        with pytest.raises(cmf.TransportError, match="not sent again"):
            client.post("/services/compute-qc/prod/instances/i-1", params={"operation": "stop"})
        assert list(sb.requests) == [] and client.cache_info()["backend"] == "sqlite"
        client.get("/users")  # reads go on, on SQLite
        assert [r.method for r in sb.requests] == ["GET"]


def test_without_the_redis_package_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(cmf.ConfigError, match=r"pip install 'cloudmc-frames\[redis\]'"):
        cmf.connect("http://127.0.0.1:9", "k" * 40, cache_url="redis://localhost:6379/0")


def test_cloudmc_cache_url_makes_redis_the_default(redis_url, monkeypatch):
    monkeypatch.setenv("CLOUDMC_CACHE_URL", redis_url)
    with cmf.sandbox(orgs=3, seed=1) as sb:
        client = cmf.connect(sb.endpoint, sb.api_key)
        client.get("/users")
        assert client.cache_info()["backend"] == "redis"
        memory = cmf.connect(sb.endpoint, sb.api_key, cache_backend="memory")
        assert memory.cache_info()["backend"] == "memory"

