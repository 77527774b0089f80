"""The client's memory of replies: a byte budget, least recently used first out, scopes, expiry."""

from __future__ import annotations

from cloudmc_frames._cache.memory import MemoryPages

URL = "https://h/api/v2"
NOW, LATER = 1000.0, 2000.0


def body(size: int) -> bytes:
    """``size`` bytes that do not compress (so the budget arithmetic below is exact enough)."""
    import random

    return random.Random(size).randbytes(size)


def put(pages, path, size, expires=LATER):
    return pages.put(path, URL + path, {"org_id": "o1"}, (200, URL + path, body(size)), expires)


def get(pages, path, now=NOW):
    """``(status, url, body)`` as kept (the stamp apart), or None."""
    hit = pages.get(path, URL + path, {"org_id": "o1"}, now)
    return hit and hit[:3]


def test_replies_come_back_as_they_were_kept():
    pages = MemoryPages(10_000)
    put(pages, "/users", 100)
    assert get(pages, "/users") == (200, URL + "/users", body(100))
    assert pages.get("/users", URL + "/users", {"org_id": "o2"}, NOW) is None


def test_the_least_recently_used_go_first_past_the_budget():
    overhead = MemoryPages.ENTRY_OVERHEAD
    pages = MemoryPages(3 * (1011 + overhead))  # incompressible bytes grow by zlib's framing
    for path in ("/a", "/b", "/c"):
        put(pages, path, 1000)
    assert get(pages, "/a")  # /a is now the most recently used
    put(pages, "/d", 1000)
    assert get(pages, "/b") is None and get(pages, "/a") and get(pages, "/c") and get(pages, "/d")
    assert pages.size <= pages.budget


def test_a_budget_of_zero_keeps_nothing_and_a_reply_over_budget_is_not_kept():
    pages = MemoryPages(0)
    put(pages, "/users", 10)
    assert get(pages, "/users") is None and pages.size == 0
    small = MemoryPages(500)
    put(small, "/users", 1000)
    assert get(small, "/users") is None and small.size == 0


def test_expired_replies_are_forgotten():
    pages = MemoryPages(10_000)
    put(pages, "/users", 10, expires=NOW + 1)
    assert get(pages, "/users", now=NOW) is not None
    assert get(pages, "/users", now=NOW + 1) is None and pages.size == 0


def test_dropping_a_scope_forgets_only_its_listings_and_keeps_the_count_right():
    pages = MemoryPages(100_000)
    put(pages, "/services/compute-qc/prod/instances", 100)
    put(pages, "/services/compute-qc/prod/volumes", 100)
    put(pages, "/users", 100)
    pages.drop("services/compute-qc/prod")
    assert get(pages, "/services/compute-qc/prod/instances") is None and get(pages, "/users")
    kept = pages.size
    assert 100 + MemoryPages.ENTRY_OVERHEAD <= kept <= 120 + MemoryPages.ENTRY_OVERHEAD
    put(pages, "/users", 300)  # replacing an entry counts only the new one
    assert pages.size == kept + 200
    pages.drop()
    assert pages.size == 0


def test_json_is_kept_compressed_and_counted_compressed():
    pages = MemoryPages(10_000)
    text = b'{"data": [' + b",".join(b'{"id": "%d", "state": "Running"}' % i for i in range(500)) + b"]}"
    pages.put("/users", URL, {}, (200, URL, text), LATER)
    assert pages.get("/users", URL, {}, NOW)[2] == text
    assert pages.size < len(text) / 4


def test_stamps_say_whether_the_very_same_replies_are_still_kept():
    pages = MemoryPages(10_000)
    users, quotas = put(pages, "/users", 100), put(pages, "/quotas", 100)
    assert pages.get("/users", URL + "/users", {"org_id": "o1"}, NOW)[3] == users
    assert pages.has("/users", URL + "/users", {"org_id": "o1"}, NOW)
    assert not pages.has("/users", URL + "/users", {"org_id": "o1"}, LATER)  # expired
    assert not pages.has("/users", URL + "/users", {"org_id": "o2"}, NOW)
    assert pages.holds([users, quotas], NOW) and pages.holds([], NOW)
    assert not pages.holds([users], LATER)  # expired
    again = put(pages, "/users", 100)  # the same request kept again: a new stamp
    assert again != users and not pages.holds([users, quotas], NOW) and pages.holds([again], NOW)
    pages.drop("quotas")
    assert not pages.holds([quotas], NOW)
    assert MemoryPages(0).put("/users", URL, {}, (200, URL, b"{}"), LATER) is None
