"""The deferred SQLite backend on its own: queued writes, batches, redaction, its writer thread."""

from __future__ import annotations

import io
import threading
import time

import pytest
import requests
import urllib3
from requests_cache import DEFAULT_IGNORED_PARAMS, CachedSession, SQLiteCache

from cloudmc_frames._cache import make_key_fn
from cloudmc_frames._cache.sqlite import (
    API_KEY_HEADER,
    REDACTED_HEADERS,
    DeferredSQLiteCache,
    decode_entry,
    encode_entry,
)

SECRET = "s3cret-" + "Zq9" * 10
URL = "http://127.0.0.1:9/api/v2/users"


def response(n: int) -> requests.Response:
    """A real requests.Response built without a socket, as an adapter builds it."""
    url = f"{URL}?page_number={n}"
    body = f'{{"data": [{{"id": "u{n}"}}]}}'.encode()
    raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=200, preload_content=False,
                               headers={"Content-Type": "application/json"}, request_url=url)
    request = requests.Request("GET", url, headers={API_KEY_HEADER: SECRET}).prepare()
    built = requests.adapters.HTTPAdapter().build_response(request, raw)
    assert built.content == body
    return built


@pytest.fixture
def backend(tmp_path):
    """The backend as the client uses it: inside a session that ignores (and redacts) the key."""
    cache = DeferredSQLiteCache(str(tmp_path / "c"), wal=True)
    session = CachedSession(backend=cache, ignored_parameters=(*DEFAULT_IGNORED_PARAMS, API_KEY_HEADER))
    yield cache
    session.close()


def writers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cloudmc-frames-cache-writer" and t.is_alive()]


def test_a_queued_reply_is_answered_before_it_reaches_the_file(backend, tmp_path):
    backend.save_response(response(1), cache_key="k1")
    assert backend.get_response("k1").json() == {"data": [{"id": "u1"}]}
    backend.flush()
    reader = DeferredSQLiteCache(str(tmp_path / "c"))
    assert reader.get_response("k1").json() == {"data": [{"id": "u1"}]}
    reader.close()


def test_many_replies_are_written_in_batches_and_all_arrive(backend, tmp_path):
    for n in range(450):
        backend.save_response(response(n), cache_key=f"k{n}")
    backend.flush()
    assert len(list(backend.responses.keys())) == 450
    assert all(backend.get_response(f"k{n}").json()["data"][0]["id"] == f"u{n}" for n in (0, 449))


def test_the_api_key_is_redacted_from_what_is_stored(backend, tmp_path):
    backend.save_response(response(1), cache_key="k1")
    backend.flush()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("c*"))
    assert stored and SECRET.encode() not in stored
    assert SECRET not in str(backend.get_response("k1").request.headers)


def test_delete_waits_for_queued_writes(backend):
    for n in range(5):
        backend.save_response(response(n), cache_key=f"k{n}")
    backend.delete("k0", "k1")
    assert sorted(backend.responses.keys()) == ["k2", "k3", "k4"]


def test_the_writer_thread_ends_when_idle_and_restarts_on_demand(backend):
    backend.save_response(response(1), cache_key="k1")
    assert writers()
    deadline = time.monotonic() + 3
    while writers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not writers()
    backend.save_response(response(2), cache_key="k2")
    backend.flush()
    assert backend.get_response("k2") is not None


def test_close_ends_the_writer_at_once(tmp_path):
    cache = DeferredSQLiteCache(str(tmp_path / "c"), wal=True)
    cache.save_response(response(1), cache_key="k1")
    started = time.monotonic()
    cache.close()
    deadline = time.monotonic() + 0.4  # well under the 0.5 s idle timeout
    while writers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not writers() and time.monotonic() - started < 0.45


def test_a_failed_batch_is_logged_not_raised(backend, caplog, monkeypatch):
    import sqlite3

    def broken():
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(backend.responses, "bulk_commit", broken)
    backend.save_response(response(1), cache_key="k1")
    backend.flush()
    assert "could not write 1 replies to the HTTP cache" in caplog.text


def test_cache_keys_are_hex_and_never_depend_on_the_key_header():
    key_fn = make_key_fn("ab" * 16)
    first, second = response(1).request, response(1).request
    second.headers[API_KEY_HEADER] = "another-key"
    assert key_fn(first) == key_fn(second)
    assert all(c in "0123456789abcdef" for c in key_fn(first)) and len(key_fn(first)) == 80
    assert key_fn(response(2).request) != key_fn(first)


def test_an_entry_round_trips_everything_a_cached_reply_needs():
    from datetime import UTC, datetime, timedelta

    expires = datetime.now(UTC) + timedelta(minutes=5)
    original = response(3)
    entry = encode_entry(original, expires, REDACTED_HEADERS)
    back = decode_entry(entry)
    assert back.content == original.content and back.status_code == 200 and back.url == original.url
    assert back.headers["Content-Type"] == "application/json" and back.expires == expires
    assert back.request.method == "GET" and back.request.url == original.request.url
    assert back.request.headers[API_KEY_HEADER] == "REDACTED" and SECRET.encode() not in entry
    assert not back.is_expired and back.json() == original.json()


def test_entries_of_another_format_are_a_miss_not_a_crash(tmp_path, caplog):
    plain = SQLiteCache(str(tmp_path / "c"))  # requests-cache's own pickled entries
    plain.save_response(response(1), cache_key="k1")
    plain.close()
    cache = DeferredSQLiteCache(str(tmp_path / "c"))
    assert cache.get_response("k1") is None
    cache.close()


def test_a_key_that_is_not_stored_costs_no_query(backend, monkeypatch):
    backend.save_response(response(1), cache_key="k1")
    backend.flush()
    queries = []
    original = type(backend.responses).__getitem__
    monkeypatch.setattr(type(backend.responses), "__getitem__",
                        lambda self, key: queries.append(key) or original(self, key))
    assert backend.get_response("missing") is None and queries == []
    assert backend.get_response("k1") is not None and queries == ["k1"]
