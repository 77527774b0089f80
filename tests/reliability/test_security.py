"""Security audit: no key anywhere it could be read back (the Redis cache included), no data
across keys, no plain http off the machine, a sandbox that only listens on loopback. The
operations journal (file and Redis hash) and task tokens are searched too.

The audit crawl runs with failures (a forbidden organization, an environment behind an HTML 502,
transient 500s, a refused key, a failed task) over a real SQLite cache with every logger at DEBUG,
then searches every artefact a user could paste into a ticket.
"""

from __future__ import annotations

import json
import logging
import pathlib
import pickle
import socket
import traceback

import nbformat
import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule, SandboxServer
from cloudmc_frames.sandbox import cli as sandbox_cli
from tests.support.scripted import ScriptedServer

from .conftest import SUMMARY, crawl

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOGGERS = ("", "cloudmc_frames", "urllib3", "requests", "requests_cache", "cloudmc_frames.sandbox")


def needles(key: str) -> list[str]:
    """The key, and long pieces of it (a half-redacted key is still a leak)."""
    return [key, key[:16], key[-16:], key[len(key) // 3: len(key) // 3 + 16]]


def hits(text: str | bytes, keys: list[str]) -> list[str]:
    blob = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [k for key in keys for k in needles(key) if k.encode() in blob]


def audited(where: str, text: str | bytes, keys: list[str]) -> list[str]:
    """``hits``, tallied for the run's summary table."""
    found = hits(text, keys)
    SUMMARY[f"security: bytes searched ({where})"] += len(text)
    SUMMARY["security: key hits"] += len(found)
    return found


class Capture(logging.Handler):
    """Every log record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _exception_texts(error: BaseException) -> list[str]:
    return [str(error), repr(error), repr(error.args), repr(vars(error)),
            "".join(traceback.format_exception(error)), repr(pickle.loads(pickle.dumps(error)).__dict__)]


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    """Run the audit crawl once; return the artefacts and the keys involved."""
    cache_dir = tmp_path_factory.mktemp("audit-cache")
    capture = Capture()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    texts: dict[str, list[str]] = {"exceptions": [], "reprs": [], "reports": [], "frames": [], "journal": []}
    try:
        with cmf.sandbox(orgs=12, seed=9, task_delay=0.05) as sb:
            keys = [k.key for k in sb.keys]
            client = sb.client(cache_backend="sqlite", cache_dir=str(cache_dir), retries=2,
                               backoff_factor=0.01, backoff_max=0.02)
            orgs = cmf.organizations(client)
            envs = cmf.environments(client)
            victim = orgs[orgs["depth"] == 1].iloc[0]["id"]
            env = envs[(envs["organization_id"] != victim) & (envs["service_code"] == "compute-qc")].iloc[0]
            sb.faults.add(FaultRule("status", status=403, org_id=victim))
            sb.faults.add(FaultRule("html", status=502, org_id=env["organization_id"],
                                    path=f"/services/compute-qc/{env['name']}/*"))
            sb.faults.add("500:0.05")
            frames = crawl(client, fresh=True)
            frames["quotas"] = cmf.quotas(client)
            frames["service_connections"] = cmf.service_connections(client)
            for call in (lambda: cmf.users(client, errors="raise"),
                         lambda: cmf.instances(client, errors="raise", fresh=True),
                         lambda: cmf.organizations(cmf.connect(sb.endpoint, keys[1][::-1],
                                                               cache_backend="memory")),
                         lambda: cmf.connect(sb.endpoint, keys[2] + "\n"),
                         lambda: cmf.users(sb.client(offline=True, cache_backend="memory"))):
                with pytest.raises(cmf.CloudMCError) as info:
                    call()
                texts["exceptions"] += _exception_texts(info.value)
            vms = frames["instances"]
            running = vms[(vms["state"] == "Running") & (vms["service_code"] == "compute-qc")].iloc[0]
            task = cmf.operate(client, "compute-qc", running["environment_name"], "instances",
                               running["id"], "stop", org_id=running["organization_id"])
            texts["reprs"] += [repr(task), str(task), repr(task.refresh()), task.to_token()]
            task.wait(timeout=10, interval=0.05)
            sb.fail_operations.add("instances.start")
            failing = cmf.operate(client, "compute-qc", running["environment_name"], "instances",
                                  running["id"], "start", org_id=running["organization_id"])
            with pytest.raises(cmf.TaskFailedError) as info:
                failing.wait(timeout=10, interval=0.05)
            texts["exceptions"] += _exception_texts(info.value)
            texts["reprs"] += [repr(failing), repr(client), str(client), repr(vars(client)),
                               repr(client.settings), repr(client.ledger.snapshot())]
            for name in ("inventory", "capacity", "audit"):
                report = getattr(cmf.reports, name)(client)
                texts["reports"] += [report.to_text(), report.to_markdown(), report.to_html(),
                                     report.to_json(), report.to_csv()]
            texts["frames"] = [f.astype(str).to_csv() for f in frames.values()]
            texts["journal"] = [cmf.task_history(client).astype(str).to_csv(),
                                repr(cmf.resume(client, unknown_after=0))]
            issues, coverage = client.issues, client.coverage
            client.close()
        cache_files = {p: p.read_bytes() for p in cache_dir.rglob("*") if p.is_file()}
    finally:
        logging.getLogger().removeHandler(capture)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
    keys += [keys[1][::-1], keys[2]]
    return {"keys": keys, "root_key": sb.api_key, "logs": capture.lines, "texts": texts,
            "issues": issues, "coverage": coverage, "cache_files": cache_files}


def test_the_audit_crawl_really_failed_somewhere(audit):
    key = audit["root_key"]
    assert hits(f"...{key}...", [key]) and hits(key[:20].encode(), [key])  # the search can find one
    exceptions = set(audit["issues"]["exception"].astype(str))
    assert {"PermissionDeniedError", "ResponseFormatError"} <= exceptions
    assert len(audit["texts"]["exceptions"]) == 6 * 6
    assert any("DEBUG" in line and line.startswith("urllib3") for line in audit["logs"])
    assert any(line.startswith("requests_cache") for line in audit["logs"])


def test_no_key_in_any_byte_of_the_cache_files(audit):
    files = audit["cache_files"]
    assert sum(len(b) for b in files.values()) > 100_000
    for path, data in files.items():
        assert audited("cache files", data, audit["keys"]) == [], path
    assert any(b"REDACTED" in data for data in files.values())  # the header was there, redacted


@pytest.fixture(scope="module")
def redis_audit(redis_server, tmp_path_factory):
    """Crawl and operate with three keys (and a refused one) on one Redis; dump all of Redis."""
    connection = redis_server.connection()
    connection.flushall()
    with cmf.sandbox(orgs=12, seed=9, task_delay=0.05) as sb:
        keys = [k.key for k in sb.keys]
        shared = {"cache_url": redis_server.url, "cache_dir": str(tmp_path_factory.mktemp("redis-audit"))}
        users = [k for k in sb.keys if k.status == "ACTIVE"][:3]
        for info in users:
            crawl(sb.client(info.user_name, **shared))
        client = sb.client(**shared)
        vms = cmf.instances(client)
        running = vms[(vms["state"] == "Running") & (vms["service_code"] == "compute-qc")].iloc[0]
        cmf.operate(client, "compute-qc", running["environment_name"], "instances", running["id"], "stop",
                    org_id=running["organization_id"]).wait(timeout=10, interval=0.05)
        cmf.instances(client, fresh=True)
        with pytest.raises(cmf.CloudMCError):  # a refused key: its error reply is never stored
            cmf.organizations(cmf.connect(sb.endpoint, keys[1][::-1], cache_url=redis_server.url))
    dump = _dump_redis(connection)
    return {"keys": keys + [keys[1][::-1]], "dump": dump, "backend": client.cache_info()["backend"]}


def _dump_redis(connection) -> list[bytes]:
    """Every key name and every value in Redis, whatever its type."""
    out: list[bytes] = []
    for name in connection.scan_iter("*"):
        kind = connection.type(name).decode()
        if kind == "string":
            values = [connection.get(name)]
        elif kind == "hash":
            values = [b for pair in connection.hgetall(name).items() for b in pair]
        elif kind == "zset":
            values = [m for m, _ in connection.zrange(name, 0, -1, withscores=True)]
        elif kind == "list":
            values = connection.lrange(name, 0, -1)
        else:
            values = list(connection.smembers(name))
        out.append(name)
        for value in values:
            out.append(value)
    return out


def test_no_key_in_any_redis_key_or_value(redis_audit):
    dump = redis_audit["dump"]
    assert redis_audit["backend"] == "redis"  # the audit really ran on Redis
    assert len(dump) > 100 and sum(len(b) for b in dump) > 100_000
    assert audited("redis keys and values", b"\n".join(dump), redis_audit["keys"]) == []
    assert any(b"REDACTED" in value for value in dump)  # the header was stored, redacted
    assert any(b'{"data"' in value for value in dump)  # the reply bodies are there, as they came
    assert any(name.startswith(b"cloudmc-frames-journal-v1:") for name in dump)  # and the journal


def test_no_key_in_the_operations_journal(audit):
    journal = {p: data for p, data in audit["cache_files"].items() if p.name.startswith("journal-v1")}
    assert {p.name for p in journal} >= {"journal-v1.sqlite", "journal-v1.ids"}
    assert sum(b"SUCCESS" in data or b"FAILED" in data for data in journal.values()) >= 1
    for path, data in journal.items():
        assert audited("journal files", data, audit["keys"]) == [], path


def test_no_key_in_debug_logs(audit):
    text = "\n".join(audit["logs"])
    assert len(audit["logs"]) > 100
    assert audited("DEBUG logs", text, audit["keys"]) == []


def test_no_key_in_issues_or_coverage(audit):
    for frame in (audit["issues"], audit["coverage"]):
        cells = [str(v) for v in frame.astype(object).to_numpy().ravel()] + list(frame.columns)
        assert audited("issues and coverage", "\n".join(cells), audit["keys"]) == []


@pytest.mark.parametrize("kind", ["exceptions", "reprs", "reports", "frames", "journal"])
def test_no_key_in_exceptions_reprs_reports_or_frames(audit, kind):
    texts = audit["texts"][kind]
    assert texts
    assert audited(kind, "\n".join(texts), audit["keys"]) == []


def test_no_key_in_an_executed_notebook():
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "01-quickstart.ipynb"
    if not path.exists():
        pytest.skip("notebooks/01-quickstart.ipynb does not exist")
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    with cmf.sandbox(orgs=20, seed=7) as sb:  # the notebook's own scenario: same seed, same keys
        keys = [k.key for k in sb.keys]
    text = json.dumps(notebook)
    assert "outputs" in text and audited("executed notebook", text, keys) == []


# -- isolation ---------------------------------------------------------------------------------

def _rows(frame: pd.DataFrame, *columns: str) -> list[tuple]:
    return sorted(map(tuple, frame[list(columns)].astype(object).values))


def _expected_users(store, key):
    """What ``GET /users`` shows this key, org by org (a non-administrator sees only itself)."""
    info = store.key_info(key)
    if info.role != "Administrator":
        return [(info.org_id, info.user_id)]
    visible = set(store.visible_org_ids(key))
    return sorted((u["organization"]["id"], u["id"]) for u in store.users.values()
                  if u["organization"]["id"] in visible and not u.get("deleted"))


def _admin_of_a_sub_org_with_a_sibling(sb):
    """An administrator key of a sub-organization S, and a sibling T of S (same parent)."""
    store = sb.store
    for info in sb.keys:
        org = store.orgs[info.org_id]
        parent = (org.get("parent") or {}).get("id")
        if info.role != "Administrator" or info.status != "ACTIVE" or not parent or org.get("deleted"):
            continue
        siblings = [c for c in store.children.get(parent, []) if c != info.org_id
                    and not store.orgs[c].get("deleted") and any(
                        u["organization"]["id"] == c for u in store.users.values())]
        if siblings:
            return info, siblings[0]
    raise AssertionError("the scenario has no sub-organization administrator with a sibling")


def test_two_keys_on_one_cache_never_see_each_others_data(tmp_path):
    cache = {"cache_backend": "sqlite", "cache_dir": str(tmp_path / "cache")}
    with cmf.sandbox(orgs=12, seed=5) as sb:
        sub, sibling = _admin_of_a_sub_org_with_a_sibling(sb)
        # a plain User of the root organization: same org as the root administrator, same URLs,
        # but GET /users shows it only itself
        user = next(k for k in sb.keys if k.role == "User" and k.status == "ACTIVE"
                    and k.org_id == sb.store.root_id)
        root = sb.client(**cache)
        root_users = cmf.users(root)
        root.get("/users")
        for order in ("root-first", "sub-first"):
            clients = {"root": sb.client(**cache), "sub": sb.client(sub.user_name, **cache),
                       "user": sb.client(user.user_name, **cache)}
            names = ["root", "sub", "user"] if order == "root-first" else ["user", "sub", "root"]
            for name in names:
                client = clients[name]
                key = {"root": sb.api_key, "sub": sub.key, "user": user.key}[name]
                got = cmf.users(client)
                assert _rows(got, "organization_id", "id") == _expected_users(sb.store, key), (order, name)
                own = client.get("/users")  # the same URL for every key: each gets its own answer
                info = sb.store.key_info(key)
                assert sorted((u["organization"]["id"], u["id"]) for u in own) == [
                    r for r in _expected_users(sb.store, key) if r[0] == info.org_id]
        assert _rows(root_users, "organization_id", "id") == _expected_users(sb.store, sb.api_key)
        # the user key asks for an organization the root's cached crawl holds: the server decides
        sb.requests.clear()
        with pytest.raises(cmf.PermissionDeniedError):
            sb.client(user.user_name, **cache).get("/users", org_id=sibling)
        assert [r.path for r in sb.requests] == ["/users"]


def test_a_sub_organization_key_never_gets_a_siblings_data(tmp_path):
    cache = {"cache_backend": "sqlite", "cache_dir": str(tmp_path / "cache")}
    with cmf.sandbox(orgs=12, seed=5) as sb:
        sub, sibling = _admin_of_a_sub_org_with_a_sibling(sb)
        root = sb.client(**cache)
        everything = {name: getattr(cmf, name)(root) for name in ("users", "instances", "volumes")}
        assert (everything["users"]["organization_id"] == sibling).any()
        root.close()
        mine = set(sb.store.visible_org_ids(sub.key))
        assert sibling not in mine
        client = sb.client(sub.user_name, **cache)
        assert set(cmf.organizations(client)["id"]) == mine
        for name, frame in everything.items():
            got = getattr(cmf, name)(client)
            assert set(got["organization_id"]) <= mine, name
            assert _rows(got, "organization_id", "id") == _rows(
                frame[frame["organization_id"].isin(mine)], "organization_id", "id"), name
        with pytest.raises(cmf.ConfigError, match="matches no organization"):
            cmf.users(client, orgs=sibling)
        with pytest.raises(cmf.PermissionDeniedError):
            client.get("/users", org_id=sibling)
        with pytest.raises(cmf.PermissionDeniedError):
            client.list(f"/services/{'compute-qc'}/prod/instances", org_id=sibling)
    offline = cmf.connect(root.settings.endpoint, sub.key, offline=True, **cache)
    with pytest.raises(cmf.CacheMissError):  # the root's entries in the same file are not its own
        offline.get("/users", org_id=sibling)
    with pytest.raises(cmf.CacheMissError):
        offline.get("/users", org_id=root_org(sb))


def root_org(sb) -> str:
    return sb.store.root_id


# -- the network ---------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["http://cloudmc.example.com", "http://10.1.2.3:8080",
                                      "http://[2001:db8::1]/api/v2", "http://127.0.0.1.nip.io",
                                      "http://localhost.example.com", "HTTP://CLOUDMC.EXAMPLE.COM"])
def test_plain_http_to_a_remote_host_is_refused(endpoint):
    with pytest.raises(cmf.ConfigError, match="refusing plain http://"):
        cmf.connect(endpoint, "k" * 40)


@pytest.mark.parametrize("endpoint", ["http://127.0.0.2:9", "http://[::1]:9", "http://localhost:9"])
def test_plain_http_to_loopback_is_allowed(endpoint):
    assert cmf.connect(endpoint, "k" * 40, cache_backend="memory").settings.endpoint.startswith("http")


def test_a_proxy_from_the_environment_never_sees_a_loopback_endpoints_key(monkeypatch):
    """HTTP_PROXY would carry the key in clear text to the proxy: loopback never needs one."""
    with ScriptedServer() as proxy, cmf.sandbox(orgs=3, seed=1) as sb:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.endpoint)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        users = cmf.users(sb.client())
    assert len(users) > 0
    assert proxy.seen == []


def test_the_sandbox_listens_only_on_loopback_by_default():
    parser = sandbox_cli.add_arguments(__import__("argparse").ArgumentParser())
    assert parser.parse_args([]).host == "127.0.0.1"
    with cmf.sandbox(orgs=3, seed=1) as sb:
        host, port = sb._httpd.server_address[:2]
        assert host == "127.0.0.1" and sb.endpoint == f"http://127.0.0.1:{port}"
        outside = _non_loopback_address()
        if outside is not None:
            with pytest.raises(OSError):
                socket.create_connection((outside, port), timeout=1).close()
    with SandboxServer(orgs=3, seed=1) as server:
        assert server._httpd.server_address[0] == "127.0.0.1"


def _non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent for UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address
