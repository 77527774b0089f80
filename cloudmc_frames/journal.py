"""The operations journal: each write recorded before it is sent, then its task and every status.

A kernel that restarts (or a browser tab that is lost) loses its ``Task`` objects, not the
operations: CloudMC goes on running them. So every write of :mod:`~cloudmc_frames.operations`
(``operate``, ``create``, ``delete`` and ``operate_many``'s rows) first records an *intent*
(operation, target, organization, environment, an idempotency id, submitted time, who), then the
task id CloudMC answers, then every status a poll sees. After a restart:

* :func:`task_history` shows one row per operation (intent, task id, last status, result, error,
  times);
* :func:`resume` gives a :class:`~cloudmc_frames.tasks.Task` for every operation not known to have
  finished, polled once again: a task CloudMC no longer knows (its ~30 minutes are over) comes
  back ``EXPIRED``; an intent without a task id (the kernel died between send and reply) comes
  back ``UNKNOWN``, with what the activity log says about its target when the key may read it.
  Resuming only polls: it never sends a write.

Where it lives: beside the cache, keyed by the credential fingerprint (never the key). SQLite
``journal-v1.sqlite`` in the cache folder; on Redis (one hash per credential, values sealed like
the cache's) when the client's cache is on Redis, read together with the local file so an outage
loses nothing. A damaged file is rebuilt with one warning; what it can no longer show is listed
as ``LOST`` (a side file of operation ids, ``journal-v1.ids``, knows what was there).

Example::

    cmf.operate(client, "compute-qc", "prod", "instances", vm_id, "stop")   # journaled
    # ... the kernel restarts ...
    client = cmf.connect()
    cmf.task_history(client, status="PENDING")
    cmf.widgets.TaskProgress(client, cmf.resume(client))
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ._cache.sealed import Sealer, store_errors
from ._cache.sqlite import is_contention, wait_unlocked
from .client import Client
from .errors import CloudMCError, ConfigError
from .frames import DATETIME
from .tasks import EXPIRED, FAILED, PENDING, POLL_OBSERVERS, SUCCESS, UNKNOWN, Task, describe_failure

log = logging.getLogger("cloudmc_frames")

JOURNAL_VERSION = 1
SUBMITTING, REFUSED, LOST = "SUBMITTING", "REFUSED", "LOST"
# a status only ever moves up this ladder (two kernels polling one task agree on where it ends)
RANK = {SUBMITTING: 0, PENDING: 1, EXPIRED: 2, UNKNOWN: 2, LOST: 2, SUCCESS: 3, FAILED: 3, REFUSED: 3}
STATUSES = tuple(RANK)
OPEN = (SUBMITTING, PENDING)
JOURNAL_SEAL = f"cloudmc-frames/journal-v{JOURNAL_VERSION}".encode()
REDIS_PREFIX = f"cloudmc-frames-journal-v{JOURNAL_VERSION}"
SECRET_WORDS = ("password", "secret", "token", "key", "credential")
SUMMARY_CHARS = 200
ACTIVITY_SLACK = timedelta(minutes=2)  # clocks of this machine and CloudMC may disagree a little
INTENT_SLACK = 15.0  # seconds past a write's own time-outs after which an intent's sender is gone
HISTORY_COLUMNS = ("operation_id", "submitted_at", "operation", "entity_type", "target_id", "label",
                   "organization_id", "service_code", "environment", "task_id", "status", "result",
                   "error", "updated_at", "ended_at", "submitted_by")
TIME_COLUMNS = ("submitted_at", "updated_at", "ended_at")


# -- the public functions -----------------------------------------------------------------------------

def task_history(client: Client, *, since: Any = None, status: Any = None) -> pd.DataFrame:
    """One row per journaled operation of this key: intent, task id, last status, result, error, times.

    ``status``: one of SUBMITTING, PENDING, SUCCESS, FAILED, REFUSED, EXPIRED, UNKNOWN, LOST (or a
    list); ``since``: a datetime or ISO text (operations submitted then or later). Nothing is sent
    to CloudMC: it shows what the journal knows (:func:`resume` asks CloudMC again).

    >>> cmf.task_history(client, status="PENDING")[["operation", "label", "task_id"]]  # doctest: +SKIP
    """
    _check_client(client)
    return history_frame(journal_for(client).entries(), since, status)


def resume(client: Client, *, unknown_after: float | None = None) -> list[Task]:
    """A Task for every journaled operation of this key not known to have finished, polled again.

    Resuming only polls: it never sends a write.

    * a task CloudMC still knows comes back with its status (PENDING, SUCCESS, FAILED);
    * one CloudMC no longer knows (404 after its ~30 minutes) comes back ``EXPIRED``, not an error;
    * an intent without a task id, older than ``unknown_after`` seconds (default: the client's
      connect + read time-outs and 15 s; the kernel died between send and reply), comes back
      ``UNKNOWN``, with what the activity log says of its target when the key may read it;
    * a task that cannot be polled right now stays PENDING, for a later poll.

    The journal records what each poll saw, so two kernels resuming at once end with the same
    statuses.

    >>> tasks = cmf.resume(client)                                        # doctest: +SKIP
    >>> cmf.widgets.TaskProgress(client, tasks)                           # doctest: +SKIP
    """
    _check_client(client)
    journal = journal_for(client)
    grace = (client.settings.connect_timeout + client.settings.read_timeout + INTENT_SLACK
             if unknown_after is None else unknown_after)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ConfigError(f"unknown_after must be a number of seconds >= 0, got {unknown_after!r}")
    now, resumed = journal.now(), []
    for entry in journal.entries():
        if entry.get("task_id") and entry["status"] in OPEN:
            resumed.append(_poll_again(client, entry))
        elif is_stale_intent(entry, now, grace):
            resumed.append(_settle_unknown(client, journal, entry))
    return resumed


def still_running(client: Client) -> list[dict[str, Any]]:
    """The journal entries of this key whose operation is not known to have ended (nothing is sent).

    >>> len(still_running(client))                                     # doctest: +SKIP
    3
    """
    return [e for e in journal_for(client).entries() if e["status"] in OPEN]


def task_of(client: Client, entry: Mapping[str, Any]) -> Task:
    """The pollable task of a journal entry (PENDING; UNKNOWN when it has no task id)."""
    return Task(entry.get("task_id") or "", PENDING if entry.get("task_id") else UNKNOWN, client=client,
                scope=entry.get("scope"), operation_id=entry["operation_id"],
                label=entry.get("label") or entry.get("operation"))


def _poll_again(client: Client, entry: Mapping[str, Any]) -> Task:
    task = task_of(client, entry)
    try:
        return task.refresh()  # the journal hears of it through POLL_OBSERVERS
    except CloudMCError as error:
        if error.status == 404:
            gone = "CloudMC no longer knows the task (tasks live about 30 minutes)"
            return replace(task, status=EXPIRED, result={"message": gone})
        return task  # not answered now: still PENDING, a later poll tells


def _settle_unknown(client: Client, journal: Journal, entry: Mapping[str, Any]) -> Task:
    evidence = _activity_check(client, entry)
    before = f"{entry['error']}; " if entry.get("error") else ""
    message = f"sent at {entry['submitted_at']}, but no reply was seen ({before}{evidence})"
    journal.update(entry["operation_id"], {"status": UNKNOWN, "at": stamp(journal.now()), "error": message})
    return replace(task_of(client, entry), result={"message": message})


def _activity_check(client: Client, entry: Mapping[str, Any]) -> str:
    """What the activity log says of the intent's target, as a clause."""
    if not entry.get("target_id") or not entry.get("organization_id"):
        return "the activity log cannot tell: no target id or organization to look for"
    since = (datetime.fromisoformat(entry["submitted_at"]) - ACTIVITY_SLACK).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        records = client.list("/activity_log", {"organizationId": entry["organization_id"],
                                                "start": since}, fresh=True).records
    except CloudMCError as error:
        return f"the activity log could not be read: {type(error).__name__}"
    return activity_evidence(entry, records) or (
        f"the activity log shows nothing on {entry['target_id']} since then; service operations "
        "may not be logged there: check the resource's state")


def _check_client(client: Any) -> None:
    if not isinstance(client, Client):
        raise ConfigError(f"expected a client from cmf.connect() or sandbox.client(), got "
                          f"{type(client).__name__}")


# -- entries (pure) -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Intent:
    """What a write is about to do, recorded before it is sent."""

    method: str
    path: str
    operation: str  # "stop", "create", "delete", ...
    entity_type: str
    service_code: str
    environment: str
    organization_id: str | None = None
    target_id: str | None = None
    scope: str | None = None  # the listing scope a success makes stale
    label: str | None = None  # what a person calls the target (its name), for progress bars


def stamp(moment: datetime) -> str:
    """UTC ISO text with milliseconds: ``2026-12-01T15:04:05.123+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def new_entry(intent: Intent, *, credential: str, endpoint: str, now: datetime,
              submitted_by: str, operation_id: str | None = None) -> dict[str, Any]:
    """The journal document of an intent: status SUBMITTING, no task id yet.

    >>> e = new_entry(Intent("POST", "/services/c/e/instances/i1", "stop", "instances", "c", "e"),
    ...               credential="ab" * 16, endpoint="https://h/api/v2",
    ...               now=datetime(2026, 1, 1, tzinfo=UTC), submitted_by="host:1", operation_id="x")
    >>> e["status"], e["history"]
    ('SUBMITTING', [['SUBMITTING', '2026-01-01T00:00:00.000+00:00']])
    """
    at = stamp(now)
    return {"v": JOURNAL_VERSION, "operation_id": operation_id or uuid.uuid4().hex,
            "credential": credential, "endpoint": endpoint, "method": intent.method,
            "path": intent.path, "operation": intent.operation, "entity_type": intent.entity_type,
            "target_id": intent.target_id, "label": intent.label,
            "organization_id": intent.organization_id, "service_code": intent.service_code,
            "environment": intent.environment, "scope": intent.scope, "submitted_at": at,
            "submitted_by": submitted_by, "task_id": None, "status": SUBMITTING, "result": None,
            "error": None, "updated_at": at, "ended_at": None, "history": [[SUBMITTING, at]]}


def merge(entry: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``entry`` updated by ``change``; a status never moves down :data:`RANK`.

    A task id, once known, stays; a result or error is taken with the status it came with.
    Whoever polls first, and however often, the entry ends the same.

    >>> e = {"status": "SUCCESS", "task_id": "t", "history": [], "result": "ok"}
    >>> merge(e, {"status": "PENDING", "at": "x"})["status"]
    'SUCCESS'
    """
    out = dict(entry)
    out["history"] = [list(h) for h in entry.get("history", ())]
    if change.get("task_id") and not out.get("task_id"):
        out["task_id"] = change["task_id"]
    status = change.get("status")
    if status is None and change.get("error") and out.get("status") in OPEN:
        out["error"] = change["error"]  # what went wrong while sending: it may still have been sent
    if status is None or RANK.get(status, -1) <= RANK.get(out.get("status"), -1):
        if status == out.get("status") and status in OPEN and change.get("at"):
            out["updated_at"] = change["at"]  # seen again: still pending
        return out
    at = change.get("at") or out.get("updated_at")
    out.update(status=status, updated_at=at, result=change.get("result", out.get("result")),
               error=change.get("error", out.get("error")))
    if RANK[status] >= 2:
        out["ended_at"] = at
    out["history"].append([status, at])
    return out


def observation(task: Task | None, at: str) -> dict[str, Any]:
    """The change a poll makes: the task's status and result summary, or EXPIRED for None (404)."""
    if task is None:
        return {"status": EXPIRED, "at": at,
                "error": "CloudMC no longer knows the task (tasks live about 30 minutes)"}
    change: dict[str, Any] = {"status": task.status, "at": at, "task_id": task.id}
    if task.status == SUCCESS:
        change["result"] = summarize_result(task.result)
    elif task.status == FAILED:
        change["error"] = describe_failure(task.result)
    return change


def summarize_result(result: Any) -> str | None:
    """A task's result as one short line, secrets (passwords, tokens, keys) replaced by ``***``.

    >>> summarize_result({"id": "v1", "password": "hunter2", "nested": {"apiKey": "k"}})
    '{"id": "v1", "password": "***", "nested": {"apiKey": "***"}}'
    """
    if result is None:
        return None
    text = json.dumps(_without_secrets(result), default=str, sort_keys=False)
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def _without_secrets(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: "***" if any(w in str(k).lower() for w in SECRET_WORDS) else _without_secrets(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_secrets(v) for v in value]
    return value


def is_stale_intent(entry: Mapping[str, Any], now: datetime, grace: float) -> bool:
    """True for an intent with no task id older than ``grace`` seconds: its sender is gone.

    A younger one may be in flight in another kernel right now, and is left alone.
    """
    if entry.get("status") != SUBMITTING or entry.get("task_id"):
        return False
    return now - datetime.fromisoformat(entry["submitted_at"]) > timedelta(seconds=grace)


def activity_evidence(entry: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> str | None:
    """What the activity log says happened to an intent's target after it was submitted, or None.

    A record matches when it is no older than the intent (less a little clock slack) and its
    context (or any field) names the target id.
    """
    target = entry.get("target_id")
    if not target:
        return None
    since = datetime.fromisoformat(entry["submitted_at"]) - ACTIVITY_SLACK
    for record in records:
        created = _instant(record.get("created"))
        if created is None or created < since or target not in json.dumps(record, default=str):
            continue
        who = record.get("username") or record.get("userId") or "someone"
        return (f"the activity log shows {record.get('eventCode', 'an event')} "
                f"({record.get('status', '?')}) on {target} at {stamp(created)} by {who}")
    return None


def history_frame(entries: Sequence[Mapping[str, Any]], since: Any = None,
                  status: Any = None) -> pd.DataFrame:
    """One row per operation (:data:`HISTORY_COLUMNS`), oldest first; typed like every frame."""
    rows = [{c: e.get(c) for c in HISTORY_COLUMNS} for e in entries]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    for column in HISTORY_COLUMNS:
        if column in TIME_COLUMNS:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601").astype(DATETIME)
        else:
            frame[column] = frame[column].astype("string")
    if since is not None:
        frame = frame[frame["submitted_at"] >= _since(since)]
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        unknown = sorted(set(wanted) - set(STATUSES))
        if unknown:
            raise ConfigError(f"unknown status {', '.join(unknown)}; use {', '.join(STATUSES)}")
        frame = frame[frame["status"].isin(wanted)]
    return frame.sort_values("submitted_at", kind="stable").reset_index(drop=True)


def _since(value: Any) -> pd.Timestamp:
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ConfigError(f"since must be a datetime or ISO date text, got {value!r}") from None
    return moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _document(text: str | bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    ok = isinstance(entry, dict) and entry.get("v") == JOURNAL_VERSION and isinstance(
        entry.get("operation_id"), str) and entry.get("status") in RANK
    return entry if ok else None


# -- storage ---------------------------------------------------------------------------------------

class SQLiteStore:
    """The journal file in the cache folder, for every credential that uses that folder.

    Rows hold the credential fingerprint and the entry as JSON. The side file lists each
    operation id when its intent is recorded, so a rebuilt file can say what it lost.
    """

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS operations (operation_id TEXT PRIMARY KEY, credential TEXT NOT NULL,"
        " submitted_at TEXT NOT NULL, status TEXT NOT NULL, task_id TEXT, document TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS operations_by_credential ON operations (credential, submitted_at)",
    )

    def __init__(self, path: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.path, self.ids_path, self._sleep = Path(path), Path(path).with_suffix(".ids"), sleep
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None

    def add(self, entry: Mapping[str, Any]) -> None:
        """Record a new entry (the side file first, so a later rebuild knows it existed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ids_path, "a", encoding="utf-8") as ids:
            ids.write(f"{entry['credential']} {entry['operation_id']} {entry['submitted_at']}\n")
        self._run(lambda db: db.execute(
            "INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?, ?)", _row(entry)))

    def update(self, operation_id: str, change: Mapping[str, Any]) -> dict[str, Any] | None:
        """Merge ``change`` into an entry in one transaction; the entry after, or None if absent."""
        def action(db: sqlite3.Connection) -> dict[str, Any] | None:
            db.execute("BEGIN IMMEDIATE")
            try:
                found = db.execute("SELECT document FROM operations WHERE operation_id = ?",
                                   (operation_id,)).fetchone()
                entry = _document(found[0]) if found else None
                if entry is not None:
                    entry = merge(entry, change)
                    db.execute("INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?, ?)", _row(entry))
                db.execute("COMMIT")
                return entry
            except BaseException:
                db.execute("ROLLBACK")
                raise

        return self._run(action)

    def entries(self, credential: str) -> list[dict[str, Any]]:
        """Every readable entry of one credential."""
        rows = self._run(lambda db: db.execute(
            "SELECT document FROM operations WHERE credential = ? ORDER BY submitted_at",
            (credential,)).fetchall())
        return [e for (text,) in rows if (e := _document(text)) is not None]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self, action: Callable[[sqlite3.Connection], Any]) -> Any:
        """``action(db)`` under the lock, waiting while another process holds the file, and
        rebuilding it once if it is damaged."""
        def attempt() -> Any:
            with self._lock:
                try:
                    return action(self._open())
                except sqlite3.DatabaseError as exc:
                    if is_contention(exc):
                        raise
                    self._rebuild(exc)
                    return action(self._open())

        return wait_unlocked(attempt, self._sleep, lambda: ConfigError(
            f"the operations journal {self.path} stayed locked by another process: try again"))

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                for statement in self.SCHEMA:
                    db.execute(statement)
                db.execute("SELECT count(*) FROM operations").fetchone()  # a damaged file says so here
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _rebuild(self, exc: Exception) -> None:
        """Keep what can still be read, set the damaged file aside, write a new one, and list
        every operation the side file knows but the new file cannot show as LOST."""
        self.close()
        salvaged = _salvage(self.path)
        aside = self.path.with_name(self.path.name + ".damaged")
        if self.path.exists():
            os.replace(self.path, aside)
        for suffix in ("-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        known = {e["operation_id"] for e in salvaged}
        lost = [_lost_entry(*parts) for parts in _side_ids(self.ids_path) if parts[1] not in known]
        db = self._open()
        for entry in [*salvaged, *lost]:
            db.execute("INSERT OR REPLACE INTO operations VALUES (?, ?, ?, ?, ?, ?)", _row(entry))
        log.warning("the operations journal %s was damaged (%s); it was rebuilt (the damaged file is "
                    "%s): %d operations recovered, %d can no longer be seen and are listed as LOST",
                    self.path, exc, aside.name, len(salvaged), len({e["operation_id"] for e in lost}))


def _row(entry: Mapping[str, Any]) -> tuple:
    return (entry["operation_id"], entry["credential"], entry["submitted_at"], entry["status"],
            entry.get("task_id"), json.dumps(entry, separators=(",", ":")))


def _salvage(path: Path) -> list[dict[str, Any]]:
    """Every entry still readable in a damaged journal file (row by row when a scan fails)."""
    if not path.exists():
        return []
    found: dict[str, dict[str, Any]] = {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    except sqlite3.DatabaseError:
        return []
    try:
        try:
            texts = [t for (t,) in db.execute("SELECT document FROM operations")]
        except sqlite3.DatabaseError:
            texts = []
            try:
                (last,) = db.execute("SELECT max(rowid) FROM operations").fetchone()
            except sqlite3.DatabaseError:
                last = None
            for rowid in range(1, (last or 0) + 1):
                try:
                    texts += [t for (t,) in db.execute("SELECT document FROM operations WHERE rowid = ?",
                                                       (rowid,))]
                except sqlite3.DatabaseError:
                    continue
        for text in texts:
            entry = _document(text)
            if entry is not None:
                found[entry["operation_id"]] = entry
    finally:
        db.close()
    return list(found.values())


def _side_ids(path: Path) -> list[tuple[str, str, str]]:
    if not path.exists():
        return []
    parts = [line.split() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    return [(p[0], p[1], p[2]) for p in parts if len(p) == 3]


def _lost_entry(credential: str, operation_id: str, submitted_at: str) -> dict[str, Any]:
    return {"v": JOURNAL_VERSION, "operation_id": operation_id, "credential": credential,
            "submitted_at": submitted_at, "status": LOST, "task_id": None, "updated_at": submitted_at,
            "ended_at": None, "history": [[LOST, submitted_at]],
            "error": "the journal file was damaged: what this operation did is no longer known"}


class RedisStore:
    """The journal of one credential on the Redis the cache uses: one hash, values sealed.

    A value that is not sealed for this endpoint and key (planted by another writer, or of
    another toolkit version) is left out, with one warning.
    """

    def __init__(self, connection: Any, credential: str, sealer: Sealer) -> None:
        self.connection, self.key, self._sealer = connection, f"{REDIS_PREFIX}:{credential}", sealer
        self.refused = 0

    def add(self, entry: Mapping[str, Any]) -> None:
        self.connection.hset(self.key, entry["operation_id"], self._seal(entry))

    def update(self, operation_id: str, change: Mapping[str, Any]) -> dict[str, Any] | None:
        """Merge ``change`` into an entry atomically (WATCH/MULTI: two kernels never undo each other)."""
        result: list[dict[str, Any] | None] = [None]

        def apply(pipe: Any) -> None:
            entry = self._open(pipe.hget(self.key, operation_id))
            result[0] = merge(entry, change) if entry is not None else None
            pipe.multi()
            if result[0] is not None:
                pipe.hset(self.key, operation_id, self._seal(result[0]))

        self.connection.transaction(apply, self.key)
        return result[0]

    def entries(self, credential: str) -> list[dict[str, Any]]:
        found = [self._open(v) for v in self.connection.hgetall(self.key).values()]
        return [e for e in found if e is not None and e.get("credential") == credential]

    def _seal(self, entry: Mapping[str, Any]) -> bytes:
        return self._sealer.seal(JOURNAL_SEAL, json.dumps(entry, separators=(",", ":")).encode())

    def _open(self, value: bytes | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            entry = _document(self._sealer.unseal(JOURNAL_SEAL, value))
        except ValueError:
            entry = None
        if entry is None:
            self.refused += 1
            if self.refused == 1:
                log.warning("an entry of the operations journal on Redis (%s) was refused: not sealed "
                            "for this endpoint and key, or of another toolkit version", self.key)
        return entry


# -- the journal of a client ---------------------------------------------------------------------------

class Journal:
    """One credential's journal: its local file, and its Redis hash when the cache is on Redis."""

    def __init__(self, credential: str, endpoint: str, local: SQLiteStore, shared: RedisStore | None,
                 *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 errors: tuple[type[BaseException], ...] = ()) -> None:
        self.credential, self.endpoint, self.local, self.shared = credential, endpoint, local, shared
        self.now, self._errors = now, errors
        self._lock = threading.Lock()
        self._by_task: dict[str, str] = {}
        self.who = f"{socket.gethostname()}:{os.getpid()}"

    @property
    def location(self) -> str:
        """Where new entries go: the Redis hash's name, or the journal file."""
        return f"redis {self.shared.key}" if self.shared is not None else str(self.local.path)

    def begin(self, intent: Intent) -> str:
        """Record an intent before its write is sent; its operation id. Raises ConfigError (and the
        write must not be sent) when the journal cannot be written."""
        entry = new_entry(intent, credential=self.credential, endpoint=self.endpoint, now=self.now(),
                          submitted_by=self.who)
        try:
            self._store(lambda store: store.add(entry))
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"the operations journal {self.location} cannot be written ({exc}): the "
                              f"{intent.operation} was not sent. Free the disk, or pass another "
                              "cache_dir= to cmf.connect()") from None
        return entry["operation_id"]

    def sent(self, operation_id: str, task: Task | None = None,
             error: CloudMCError | None = None, status: str | None = None) -> None:
        """What sending gave: the task (PENDING or already ended), or an error. With ``status``
        (REFUSED: CloudMC said no) the entry ends; without, it stays SUBMITTING with the error
        (the write may have reached CloudMC), for :func:`resume` to settle."""
        at = stamp(self.now())
        if task is not None:
            with self._lock:
                self._by_task[task.id] = operation_id
            change = observation(task, at)
        else:
            change = {"status": status, "at": at,
                      "error": f"{type(error).__name__}: {error}" if error is not None else None}
        self.update(operation_id, change)

    def polled(self, task: Task, fresh: Task | None) -> None:
        """A poll of ``task`` saw ``fresh`` (None: CloudMC no longer knows it)."""
        operation_id = task.operation_id or self._by_task.get(task.id)
        if operation_id is not None:
            self.update(operation_id, observation(fresh, stamp(self.now())))

    def update(self, operation_id: str, change: Mapping[str, Any]) -> dict[str, Any] | None:
        """Merge a change into an entry, wherever it is (best effort: a poll never fails for it)."""
        try:
            updated = self._store(lambda store: store.update(operation_id, change))
            if updated is None and self.shared is not None:
                updated = self.local.update(operation_id, change)  # written during a Redis outage
            return updated
        except (OSError, sqlite3.Error) as exc:
            log.warning("could not update the operations journal %s: %s", self.location, exc)
            return None

    def entries(self) -> list[dict[str, Any]]:
        """Every entry of this credential, oldest first (Redis and the local file together)."""
        found = {e["operation_id"]: e for e in self.local.entries(self.credential)}
        if self.shared is not None:
            for entry in self._store(lambda store: store.entries(self.credential)):
                old = found.get(entry["operation_id"])
                found[entry["operation_id"]] = entry if old is None else merge(entry, _as_change(old))
        with self._lock:
            self._by_task.update({e["task_id"]: k for k, e in found.items() if e.get("task_id")})
        return sorted(found.values(), key=lambda e: e["submitted_at"])

    def _store(self, action: Callable[[Any], Any]) -> Any:
        """``action`` on Redis when the journal is there, else on the file; a Redis error moves the
        journal to its file for good, with one warning."""
        shared = self.shared
        if shared is None:
            return action(self.local)
        try:
            return action(shared)
        except self._errors as exc:
            with self._lock:
                if self.shared is shared:
                    self.shared = None
                    log.warning("the operations journal on Redis cannot be used (%s: %s): it goes on "
                                "in %s", type(exc).__name__, exc, self.local.path)
            return action(self.local)


def _as_change(entry: Mapping[str, Any]) -> dict[str, Any]:
    change = {k: entry.get(k) for k in ("status", "task_id", "result", "error")}
    return change | {"at": entry.get("updated_at")}


_JOURNALS: weakref.WeakKeyDictionary[Client, Journal] = weakref.WeakKeyDictionary()
_JOURNALS_LOCK = threading.Lock()


def journal_for(client: Client) -> Journal:
    """The journal of a client (one per client, opened on first use).

    It reads the client's HTTP cache for the Redis connection and the sealer (both private to
    the client's HTTP layer): the journal is on Redis exactly when the cache answers from Redis.
    """
    with _JOURNALS_LOCK:
        journal = _JOURNALS.get(client)
        if journal is None:
            cache = client._cache  # the journal's one look inside the client
            local = SQLiteStore(client.settings.cache_path.parent / f"journal-v{JOURNAL_VERSION}.sqlite")
            connection = cache.redis()
            shared = None if connection is None else RedisStore(connection, client.fingerprint, cache.sealer)
            journal = Journal(client.fingerprint, client.settings.endpoint, local, shared,
                              errors=store_errors(client.settings.cache_backend))
            _JOURNALS[client] = journal
            weakref.finalize(client, local.close)
        return journal


def _journal_poll(task: Task, fresh: Task | None) -> None:
    """The journal's :data:`~cloudmc_frames.tasks.POLL_OBSERVERS` entry: record what a poll saw."""
    if isinstance(task.client, Client):
        journal_for(task.client).polled(task, fresh)


POLL_OBSERVERS.append(_journal_poll)
