"""The HTTP layer: start/stop timing, keep-alive, headers, request log, concurrency, speed."""
import http.client
import statistics
import threading
import time

import requests

from cloudmc_frames.sandbox import SandboxServer, generate_scenario

from .conftest import Api, make_server


def test_default_server_starts_fast_and_stops_cleanly():
    begin = time.perf_counter()
    srv = SandboxServer().start()
    started = time.perf_counter() - begin
    print(f"\nSandboxServer() start: {started * 1000:.0f} ms at {srv.endpoint}")
    try:
        assert started < 2.0
        assert srv.endpoint.startswith("http://127.0.0.1:") and not srv.endpoint.endswith(":0")
        assert requests.get(srv.api_url + "/roles", headers={"MC-Api-Key": srv.api_key}, timeout=5).ok
    finally:
        begin = time.perf_counter()
        srv.stop()
    assert time.perf_counter() - begin < 1.0
    srv.stop()


def test_stop_while_a_handler_sleeps_in_latency():
    srv = make_server(orgs=3, latency_ms=5000)
    outcome = {}

    def call():
        try:
            outcome["status"] = requests.get(srv.api_url + "/roles", headers={"MC-Api-Key": srv.api_key},
                                             timeout=10).status_code
        except requests.RequestException as exc:
            outcome["error"] = type(exc).__name__

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.3)
    begin = time.perf_counter()
    srv.stop()
    stopped = time.perf_counter() - begin
    thread.join(timeout=5)
    print(f"\nstop() with a request sleeping in latency: {stopped * 1000:.0f} ms")
    assert stopped < 1.0 and not thread.is_alive() and "error" in outcome


def test_keep_alive_and_headers(sb):
    conn = http.client.HTTPConnection("127.0.0.1", int(sb.endpoint.rsplit(":", 1)[1]), timeout=5)
    try:
        for path in ("/api/v2/roles", "/api/v2/nothing", "/api/v2/users"):
            conn.request("GET", path, headers={"MC-Api-Key": sb.api_key})
            response = conn.getresponse()
            body = response.read()
            assert response.getheader("Content-Type") == "application/json"
            assert int(response.getheader("Content-Length")) == len(body)
            assert response.version == 11 and not response.will_close
    finally:
        conn.close()


def test_request_log_records_calls_without_keys(api, sb, store):
    sb.requests.clear()
    child = store.children[store.root_id][0]
    api.get("/users", params={"org_id": child, "page_size": "2"})
    api.get("/nothing", key=None)
    records = sb.requests.snapshot()
    assert records[0].method == "GET" and records[0].path == "/users" and records[0].status == 200
    assert records[0].query == {"org_id": child, "page_size": "2"} and records[0].org_id == child
    assert records[1].status == 404 and records[1].org_id is None
    assert store.root_key not in repr(records)


def test_no_stderr_access_log(api, capfd):
    api.get("/roles")
    api.get("/missing")
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_eight_clients_are_served_in_parallel():
    with make_server(orgs=3, latency_ms=200) as srv:
        barrier = threading.Barrier(8)
        statuses = []

        def client():
            session = requests.Session()
            barrier.wait()
            statuses.append(session.get(srv.api_url + "/roles", headers={"MC-Api-Key": srv.api_key},
                                        timeout=10).status_code)

        begin = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - begin
    print(f"\n8 parallel requests at 200 ms latency: {elapsed * 1000:.0f} ms")
    assert statuses == [200] * 8 and elapsed < 8 * 0.2 / 2


def test_500_instance_page_is_fast():
    store = generate_scenario(orgs=3, seed=7, scale=90)
    env = store.env_by_name(store.root_id, "prod")
    count = len(store.resources[env["id"]]["instances"])
    assert count >= 500
    with SandboxServer(scenario=store) as srv:
        api = Api(srv)
        times = []
        for _ in range(15):
            begin = time.perf_counter()
            response = api.get("/services/compute-qc/prod/instances", params={"page_size": 500})
            times.append(time.perf_counter() - begin)
            assert len(response.json()["data"]) == 500
    median = statistics.median(times)
    print(f"\n500-instance page ({count} in env, {len(response.content)} bytes): "
          f"median {median * 1000:.1f} ms")
    assert median < 0.5


def test_scenario_parameter_serves_that_store():
    store = generate_scenario(orgs=5, seed=11)
    with SandboxServer(scenario=store) as srv:
        assert srv.store is store and srv.api_key == store.keys[0].key
        assert len(Api(srv).data("/organizations")) == len(store.visible_org_ids(srv.api_key))


def test_unexpected_errors_answer_a_500_envelope(caplog):
    with make_server(orgs=3) as srv:
        def boom(req):
            raise RuntimeError("kaboom")
        srv.app.router.add("GET", "/boom", boom)
        response = Api(srv).get("/boom")
    assert response.status_code == 500
    assert response.json() == {"errors": [{"code": 9500, "message": "Unexpected server error",
                                           "context": {}}]}
    assert "kaboom" in caplog.text and srv.api_key not in caplog.text


def test_org_id_is_checked_on_every_call(api, store):
    admin = next(k for k in store.keys if k.role == "Administrator" and k.org_id != store.root_id
                 and k.status == "ACTIVE")
    assert api.get("/roles", key=admin.key, params={"org_id": store.root_id}).status_code == 403
    assert api.get("/roles", params={"org_id": "00000000-0000-4000-8000-000000000000"}).status_code == 404
    assert api.get("/roles", params={"org_id": admin.org_id}).status_code == 200
