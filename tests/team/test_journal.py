"""The operations journal on its own: entries, the status ladder, its two stores, damage, Redis.

No CloudMC here: tasks are built by hand, the clock is injected. The journal's use by the
operations (intent before send, resume after a kill) is in ``test_resume.py``.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from cloudmc_frames import journal as J
from cloudmc_frames._cache.sealed import Sealer, open_redis, store_errors
from cloudmc_frames.errors import ConfigError
from cloudmc_frames.tasks import Task
from tests.support.redis_server import RedisServer

CRED, OTHER = "a1" * 16, "b2" * 16
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
INTENT = J.Intent("POST", "/services/compute-qc/prod/instances/i-1", "stop", "instances", "compute-qc",
                  "prod", organization_id="org-1", target_id="i-1", scope="services/compute-qc/prod",
                  label="web-1")


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def at(seconds: float) -> str:
    return J.stamp(T0 + timedelta(seconds=seconds))


def local_journal(tmp_path, credential: str = CRED, clock: Clock | None = None) -> J.Journal:
    return J.Journal(credential, "https://h/api/v2", J.SQLiteStore(tmp_path / "journal-v1.sqlite"), None,
                     now=clock or Clock())


# -- the ladder -----------------------------------------------------------------------------------------

CHANGES = [{"status": "PENDING", "task_id": "t1", "at": at(1)},
           {"status": "PENDING", "at": at(2)},
           {"status": "SUCCESS", "result": '{"id": "i-1"}', "at": at(3)},
           {"status": "EXPIRED", "error": "gone", "at": at(4)}]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o)))
def test_every_order_of_the_same_observations_ends_the_same(order):
    entry = J.new_entry(INTENT, credential=CRED, endpoint="e", now=T0, submitted_by="h:1", operation_id="op")
    for i in order:
        entry = J.merge(entry, CHANGES[i])
    assert (entry["status"], entry["task_id"], entry["result"]) == ("SUCCESS", "t1", '{"id": "i-1"}')
    assert entry["ended_at"] is not None and entry["history"][0][0] == "SUBMITTING"
    assert [h[0] for h in entry["history"]] in (["SUBMITTING", "PENDING", "SUCCESS"],
                                                ["SUBMITTING", "SUCCESS"],
                                                ["SUBMITTING", "EXPIRED", "SUCCESS"],
                                                ["SUBMITTING", "PENDING", "EXPIRED", "SUCCESS"])


def test_a_status_never_moves_down_and_a_task_id_stays():
    entry = J.merge({"status": "FAILED", "task_id": "t1", "history": [], "error": "no"},
                    {"status": "PENDING", "task_id": "t2", "at": at(1)})
    assert (entry["status"], entry["task_id"], entry["error"]) == ("FAILED", "t1", "no")


def test_observation_of_a_poll():
    done = J.observation(Task("t", "SUCCESS", {"id": "v", "password": "p4ss"}), at(1))
    assert done["status"] == "SUCCESS" and "p4ss" not in done["result"] and '"id": "v"' in done["result"]
    failed = J.observation(Task("t", "FAILED", {"message": "quota exceeded"}), at(1))
    assert failed["error"] == "quota exceeded"
    assert J.observation(None, at(1))["status"] == "EXPIRED"


@pytest.mark.parametrize("result, expected", [
    (None, None), ("ok", '"ok"'), ({"adminPassword": "x", "id": 1}, '{"adminPassword": "***", "id": 1}'),
    ([{"token": "t"}], '[{"token": "***"}]'),
])
def test_result_summaries_keep_no_secret(result, expected):
    assert J.summarize_result(result) == expected


def test_a_long_result_is_cut_to_one_short_line():
    text = J.summarize_result({"data": "x" * 1000})
    assert len(text) == J.SUMMARY_CHARS and text.endswith("…")


def test_only_an_old_intent_without_a_task_is_stale():
    entry = J.new_entry(INTENT, credential=CRED, endpoint="e", now=T0, submitted_by="h:1")
    assert not J.is_stale_intent(entry, T0 + timedelta(seconds=30), grace=40)
    assert J.is_stale_intent(entry, T0 + timedelta(seconds=50), grace=40)
    assert not J.is_stale_intent({**entry, "task_id": "t"}, T0 + timedelta(hours=1), grace=40)
    assert not J.is_stale_intent({**entry, "status": "PENDING"}, T0 + timedelta(hours=1), grace=40)


def test_activity_evidence_names_the_event_on_the_target_after_the_intent():
    entry = J.new_entry(INTENT, credential=CRED, endpoint="e", now=T0, submitted_by="h:1")
    before = {"created": "2026-12-01T08:00:00Z", "eventCode": "x", "eventContext": '{"id": "i-1"}'}
    other = {"created": "2026-12-01T09:00:05Z", "eventCode": "y", "eventContext": '{"id": "i-2"}'}
    match = {"created": "2026-12-01T09:00:05Z", "eventCode": "instances.stop", "status": "SUCCESS",
             "username": "ops", "eventContext": '{"id": "i-1"}'}
    assert J.activity_evidence(entry, [before, other]) is None
    text = J.activity_evidence(entry, [before, other, match])
    assert "instances.stop" in text and "SUCCESS" in text and "ops" in text
    assert J.activity_evidence({**entry, "target_id": None}, [match]) is None  # a create: no id to look for


# -- the history frame ---------------------------------------------------------------------------------

def test_history_frame_types_order_and_filters():
    entries = [J.merge(J.new_entry(INTENT, credential=CRED, endpoint="e", now=T0 + timedelta(minutes=m),
                                   submitted_by="h:1", operation_id=f"op{m}"), change)
               for m, change in ((2, {"status": "SUCCESS", "at": at(200)}), (1, {}),
                                 (3, {"status": "PENDING", "at": at(181)}))]
    frame = J.history_frame(entries)
    assert list(frame.columns) == list(J.HISTORY_COLUMNS)
    assert list(frame["operation_id"]) == ["op1", "op2", "op3"]
    assert str(frame["submitted_at"].dtype) == "datetime64[ns, UTC]"
    assert frame["status"].dtype == "string" and frame["ended_at"].isna().tolist() == [True, False, True]
    assert list(J.history_frame(entries, status="PENDING")["operation_id"]) == ["op3"]
    assert list(J.history_frame(entries, status=["SUBMITTING", "SUCCESS"])["operation_id"]) == ["op1", "op2"]
    assert list(J.history_frame(entries, since=T0 + timedelta(minutes=2))["operation_id"]) == ["op2", "op3"]
    assert list(J.history_frame(entries, since="2026-12-01T09:02:30Z")["operation_id"]) == ["op3"]
    empty = J.history_frame([])
    assert list(empty.columns) == list(J.HISTORY_COLUMNS) and len(empty) == 0
    pd.testing.assert_series_equal(empty.dtypes, frame.dtypes)


@pytest.mark.parametrize("options, words", [({"status": "DONE"}, "unknown status DONE"),
                                            ({"since": "last tuesday"}, "since must be")])
def test_history_filters_refuse_bad_values(options, words):
    with pytest.raises(ConfigError, match=words):
        J.history_frame([], **options)


# -- the local file ------------------------------------------------------------------------------------

def test_the_file_keeps_entries_per_credential_and_updates_them(tmp_path):
    clock = Clock()
    mine, theirs = local_journal(tmp_path, CRED, clock), local_journal(tmp_path, OTHER, clock)
    op = mine.begin(INTENT)
    theirs.begin(INTENT)
    clock.tick(1)
    mine.sent(op, Task("t-1", "PENDING"))
    clock.tick(5)
    mine.polled(Task("t-1", "PENDING"), Task("t-1", "SUCCESS", {"id": "i-1"}))
    (entry,) = mine.entries()
    assert (entry["status"], entry["task_id"], entry["operation_id"]) == ("SUCCESS", "t-1", op)
    assert [h[0] for h in entry["history"]] == ["SUBMITTING", "PENDING", "SUCCESS"]
    assert entry["credential"] == CRED and [e["status"] for e in theirs.entries()] == ["SUBMITTING"]
    ids = (tmp_path / "journal-v1.ids").read_text().split()
    assert op in ids and CRED in ids and OTHER in ids


def test_many_threads_record_at_once(tmp_path):
    journal = local_journal(tmp_path)
    ops: list[str] = []

    def submit() -> None:
        for _ in range(10):
            op = journal.begin(INTENT)
            journal.sent(op, Task(f"t-{op}", "PENDING"))
            ops.append(op)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    entries = journal.entries()
    assert len(entries) == 80 == len(set(ops)) and {e["status"] for e in entries} == {"PENDING"}


def test_a_journal_that_cannot_be_written_refuses_the_write(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    journal = J.Journal(CRED, "e", J.SQLiteStore(blocker / "journal-v1.sqlite"), None)
    with pytest.raises(ConfigError, match="cannot be written .* the stop was not sent"):
        journal.begin(INTENT)


DAMAGE = {
    "header overwritten": lambda data: b"\x13" * 100 + data[100:],
    "truncated to one page": lambda data: data[:4096],
    "garbage": lambda data: b"not a database at all" * 100,
}


@pytest.mark.parametrize("how", list(DAMAGE))
def test_a_damaged_file_is_rebuilt_once_and_says_what_it_lost(how, tmp_path, caplog):
    path = tmp_path / "journal-v1.sqlite"
    first = local_journal(tmp_path)
    ops = [first.begin(INTENT) for _ in range(200)]
    first.sent(ops[0], Task("t-0", "PENDING"))
    first.local.close()
    database = sqlite3.connect(path)
    database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database.close()
    path.write_bytes(DAMAGE[how](path.read_bytes()))
    second = local_journal(tmp_path)
    entries = second.entries()
    warnings = [r.getMessage() for r in caplog.records if "operations journal" in r.getMessage()]
    assert len(warnings) == 1 and "rebuilt" in warnings[0]
    lost = [e for e in entries if e["status"] == "LOST"]
    recovered = len(entries) - len(lost)
    assert len(entries) == 200 and {e["operation_id"] for e in entries} == set(ops)
    assert f"{recovered} operations recovered, {len(lost)} can no longer be seen" in warnings[0]
    assert len(lost) > 0
    assert (tmp_path / "journal-v1.sqlite.damaged").exists()
    new = second.begin(INTENT)  # the rebuilt file works
    assert new in {e["operation_id"] for e in second.entries()}
    frame = J.history_frame(second.entries(), status="LOST")
    assert len(frame) == len(lost) and frame["error"].str.contains("damaged").all()


# -- Redis -----------------------------------------------------------------------------------------------

def redis_journal(server, tmp_path, credential: str = CRED, clock: Clock | None = None) -> J.Journal:
    """A journal on ``server`` through the connection the client's cache would open."""
    sealer = Sealer("https://h/api/v2", f"key-of-{credential}")
    shared = J.RedisStore(open_redis(server.url, 2.0), credential, sealer)
    return J.Journal(credential, "https://h/api/v2", J.SQLiteStore(tmp_path / "journal-v1.sqlite"), shared,
                     now=clock or Clock(), errors=store_errors("redis"))


def test_on_redis_entries_are_sealed_and_shared_by_two_kernels(redis_server, redis_url, tmp_path):
    one, two = redis_journal(redis_server, tmp_path / "one"), redis_journal(redis_server, tmp_path / "two")
    op = one.begin(INTENT)
    one.sent(op, Task("t-1", "PENDING"))
    assert [e["operation_id"] for e in two.entries()] == [op]  # another kernel, another folder
    two.polled(Task("t-1", "PENDING"), Task("t-1", "SUCCESS", {"id": "i-1"}))
    assert one.entries()[0]["status"] == "SUCCESS"
    (value,) = redis_server.connection().hgetall(f"{J.REDIS_PREFIX}:{CRED}").values()
    assert value.startswith(J.JOURNAL_SEAL + b" ")
    assert not (tmp_path / "one" / "journal-v1.sqlite").exists() or not one.local.entries(CRED)


def test_two_kernels_updating_one_entry_at_once_agree(redis_server, redis_url, tmp_path):
    kernels = [redis_journal(redis_server, tmp_path / str(n)) for n in range(4)]
    op = kernels[0].begin(INTENT)
    kernels[0].sent(op, Task("t-1", "PENDING"))
    barrier = threading.Barrier(len(kernels))

    def poll(journal: J.Journal, status: str) -> None:
        journal.entries()  # what resume does first: learn which task is which operation
        barrier.wait()
        for _ in range(20):
            journal.polled(Task("t-1", "PENDING"), Task("t-1", status, {"id": "i-1"}))

    threads = [threading.Thread(target=poll, args=(k, s))
               for k, s in zip(kernels, ["PENDING", "SUCCESS", "PENDING", "SUCCESS"], strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = [k.entries()[0] for k in kernels]
    assert {e["status"] for e in final} == {"SUCCESS"}
    assert [h[0] for h in final[0]["history"]] == ["SUBMITTING", "PENDING", "SUCCESS"]


def test_a_planted_journal_entry_is_refused(redis_server, redis_url, tmp_path, caplog):
    journal = redis_journal(redis_server, tmp_path)
    op = journal.begin(INTENT)
    key = f"{J.REDIS_PREFIX}:{CRED}"
    connection = redis_server.connection()
    forged = {**journal.entries()[0], "operation_id": "forged", "task_id": "t-evil", "status": "PENDING"}
    connection.hset(key, "forged", json.dumps(forged))
    connection.hset(key, "other-key", Sealer("https://h/api/v2", "another key").seal(
        J.JOURNAL_SEAL, json.dumps({**forged, "operation_id": "other-key"}).encode()))
    assert [e["operation_id"] for e in journal.entries()] == [op]
    assert sum("was refused" in r.getMessage() for r in caplog.records) == 1


def test_redis_gone_moves_the_journal_to_its_file_with_one_warning(tmp_path, caplog):
    with RedisServer(tmp_path / "redis") as server:
        journal = redis_journal(server, tmp_path / "cache")
        before = journal.begin(INTENT)
        server.kill()
        after = journal.begin(INTENT)
        journal.sent(after, Task("t-2", "PENDING"))
    assert journal.shared is None
    assert [e["operation_id"] for e in journal.entries()] == [after]  # Redis's entry is out of reach
    assert before != after
    assert sum("journal on Redis cannot be used" in r.getMessage() for r in caplog.records) == 1
