"""The journal at work: every write recorded before it is sent, kernels that die, resume, tokens.

Real HTTP to the sandbox; a child process stands for a kernel that submits and dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

import cloudmc_frames as cmf
from cloudmc_frames.sandbox import FaultRule
from cloudmc_frames.tasks import EXPIRED, UNKNOWN

from .conftest import ROOT, run_worker


def running_vms(sb, count: int):
    vms = cmf.instances(sb.client())
    vms = vms[(vms["state"] == "Running") & (vms["service_code"] == "compute-qc")].head(count)
    assert len(vms) == count
    return vms


def targets(vms) -> list[str]:
    return [f"{v.service_code}|{v.environment_name}|{v.organization_id}|{v.id}" for v in vms.itertuples()]


def kernel_env(sb, cache_dir) -> dict[str, str]:
    return {"CLOUDMC_ENDPOINT": sb.endpoint, "CLOUDMC_API_KEY": sb.api_key,
            "CLOUDMC_CACHE_DIR": str(cache_dir)}


def stop(client, vm):
    return cmf.operate(client, vm.service_code, vm.environment_name, "instances", vm.id, "stop",
                       org_id=vm.organization_id)


def writes(sb) -> list:
    return [r for r in sb.requests if r.method != "GET"]


# -- recording ----------------------------------------------------------------------------------------

def test_the_intent_is_recorded_before_the_write_is_sent(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.05) as sb:
        (vm,) = running_vms(sb, 1).itertuples()
        sb.faults.add(FaultRule("latency", method="POST", latency_ms=1500))
        client, watcher = sb.client(cache_dir=str(tmp_path)), sb.client(cache_dir=str(tmp_path))
        done: list = []
        sender = threading.Thread(target=lambda: done.append(stop(client, vm)))
        sender.start()
        deadline = time.monotonic() + 10
        while (seen := cmf.task_history(watcher)).empty and time.monotonic() < deadline:
            time.sleep(0.02)
        assert writes(sb) == []  # the POST has not been answered yet
        sender.join()
        (task,) = done
        task.wait(timeout=10, interval=0.05)
        final = cmf.task_history(watcher)
    (row,) = seen.itertuples()
    assert (row.status, row.operation, row.target_id) == ("SUBMITTING", "stop", vm.id)
    assert pd.isna(row.task_id)
    assert row.organization_id == vm.organization_id and row.environment == vm.environment_name
    assert final["operation_id"].tolist() == [row.operation_id] == [task.operation_id]
    assert final["status"].tolist() == ["SUCCESS"] and final["task_id"].tolist() == [task.id]


def test_every_status_a_task_reaches_is_recorded(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.3) as sb:
        (vm,) = running_vms(sb, 1).itertuples()
        client = sb.client(cache_dir=str(tmp_path))
        task = stop(client, vm)
        assert cmf.task_history(client)["status"].tolist() == ["PENDING"]
        task.wait(timeout=10, interval=0.05)
        sb.fail_operations.add("instances.start")
        start = cmf.operate(client, vm.service_code, vm.environment_name, "instances", vm.id, "start",
                            org_id=vm.organization_id)
        with pytest.raises(cmf.TaskFailedError):
            start.wait(timeout=10, interval=0.05)
        with pytest.raises(cmf.ValidationError):  # stop on a stopped instance: CloudMC says no
            stop(client, vm)
        history = cmf.task_history(client)
        entries = {e["operation_id"]: e for e in cmf.journal.journal_for(client).entries()}
    assert history["status"].tolist() == ["SUCCESS", "FAILED", "REFUSED"]
    assert history["operation"].tolist() == ["stop", "start", "stop"]
    assert [h[0] for h in entries[task.operation_id]["history"]] == ["SUBMITTING", "PENDING", "SUCCESS"]
    refused = history.iloc[2]
    assert pd.isna(refused["task_id"]) and "ValidationError" in refused["error"]
    assert history["ended_at"].notna().all() and history["label"].tolist()[0] == f"stop {vm.id}"
    assert cmf.resume(client) == []  # nothing is left running


def test_operate_many_records_one_operation_per_row(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.05) as sb:
        vms = running_vms(sb, 3)
        client = sb.client(cache_dir=str(tmp_path))
        outcomes = cmf.operate_many(client, vms, "stop", timeout=20, interval=0.05)
        history = cmf.task_history(client)
    assert sorted(history["task_id"]) == sorted(outcomes["task_id"])
    assert set(history["status"]) == {"SUCCESS"} and sorted(history["target_id"]) == sorted(vms["id"])
    assert sorted(history["label"]) == sorted(f"stop {name}" for name in vms["name"])  # names, not ids


def test_a_write_is_not_sent_when_its_intent_cannot_be_recorded(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("the cache folder cannot be created here")
    with cmf.sandbox(orgs=6, seed=3) as sb:
        (vm,) = running_vms(sb, 1).itertuples()
        sb.requests.clear()
        with pytest.raises(cmf.ConfigError, match="journal .* cannot be written .* the stop was not sent"):
            stop(sb.client(cache_dir=str(blocked / "cache")), vm)
        assert writes(sb) == []


# -- resuming -----------------------------------------------------------------------------------------

def test_five_stops_of_a_killed_process_are_resumed_to_their_end(tmp_path):
    with cmf.sandbox(orgs=12, seed=5, task_delay=1.0) as sb:
        vms = running_vms(sb, 5)
        child = run_worker("submit_stops", *targets(vms), env=kernel_env(sb, tmp_path))
        submitted = {t["task_id"] for t in child["tasks"]}
        assert len(submitted) == 5
        sb.requests.clear()
        client = sb.client(cache_dir=str(tmp_path))  # a new kernel: same key, same folder
        before = cmf.task_history(client)
        tasks = cmf.resume(client)
        finals = [task.wait(timeout=20, interval=0.1) and task.refresh() for task in tasks]
        after = cmf.task_history(client)
        states = cmf.instances(client, fresh=True).set_index("id").loc[list(vms["id"]), "state"]
        assert writes(sb) == []  # resuming only polls
    assert set(before["status"]) == {"PENDING"} and set(before["task_id"]) == submitted
    assert {t.id for t in tasks} == submitted and all(t.label.startswith("stop ") for t in tasks)
    assert {t.status for t in finals} == {"SUCCESS"}
    assert set(after["status"]) == {"SUCCESS"} and after["ended_at"].notna().all()
    assert set(states) == {"Stopped"}
    assert cmf.resume(client) == []


def test_a_process_killed_between_send_and_reply_leaves_an_unknown(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.05) as sb:
        vms = running_vms(sb, 1)
        sb.faults.add(FaultRule("latency", method="POST", latency_ms=4000))
        child = subprocess.Popen([sys.executable, "-m", "tests.team.workers", "submit_stops", *targets(vms)],
                                 cwd=ROOT, env={**os.environ, **kernel_env(sb, tmp_path)},
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        client = sb.client(cache_dir=str(tmp_path))
        deadline = time.monotonic() + 30
        while cmf.task_history(client).empty and time.monotonic() < deadline:
            time.sleep(0.05)
        child.kill()
        child.communicate()
        assert cmf.resume(client) == []  # a young intent: its sender may still be waiting for the reply
        (task,) = cmf.resume(client, unknown_after=0)
        history = cmf.task_history(client)
    assert (task.status, task.id, task.done) == (UNKNOWN, "", True)
    assert "no reply was seen" in task.result["message"]
    assert f"the activity log shows nothing on {vms['id'].iloc[0]}" in task.result["message"]  # it was read
    assert history["status"].tolist() == ["UNKNOWN"] and "activity log" in history["error"][0]
    assert cmf.resume(client, unknown_after=0) == []  # settled once
    with pytest.raises(cmf.TaskTimeoutError, match="UNKNOWN"):
        task.wait(timeout=1)
    with pytest.raises(cmf.ConfigError, match="no task id"):
        task.to_token()


def test_a_task_cloudmc_forgot_comes_back_expired_not_as_an_error(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=30, task_ttl=0.3) as sb:
        (vm,) = running_vms(sb, 1).itertuples()
        stop(sb.client(cache_dir=str(tmp_path)), vm)
        time.sleep(0.5)
        client = sb.client(cache_dir=str(tmp_path))
        (task,) = cmf.resume(client)
        history = cmf.task_history(client)
    assert (task.status, task.done) == (EXPIRED, True)
    assert history["status"].tolist() == ["EXPIRED"] and "no longer knows" in history["error"][0]
    assert cmf.resume(client) == []
    assert isinstance(task.failure(), cmf.TaskTimeoutError) and task.failure().status == 404


def test_two_kernels_resuming_at_once_agree_and_send_no_write(tmp_path):
    with cmf.sandbox(orgs=12, seed=5, task_delay=0.5) as sb:
        vms = running_vms(sb, 4)
        first = sb.client(cache_dir=str(tmp_path))
        submitted = [stop(first, vm) for vm in vms.itertuples()]
        sb.requests.clear()
        results: dict[str, list] = {}
        barrier = threading.Barrier(2)

        def kernel(name: str) -> None:
            client = sb.client(cache_dir=str(tmp_path))
            barrier.wait()
            tasks = cmf.resume(client)
            for task in tasks:
                task.wait(timeout=20, interval=0.05)
            results[name] = sorted((t.id, t.refresh().status) for t in tasks)

        kernels = [threading.Thread(target=kernel, args=(n,)) for n in ("a", "b")]
        for k in kernels:
            k.start()
        for k in kernels:
            k.join(60)
        history = cmf.task_history(first)
        entries = cmf.journal.journal_for(first).entries()
        assert writes(sb) == []
    assert results["a"] == results["b"] == sorted((t.id, "SUCCESS") for t in submitted)
    assert set(history["status"]) == {"SUCCESS"}
    assert all([h[0] for h in e["history"]].count("SUCCESS") == 1 for e in entries)


def test_the_journal_on_redis_follows_the_team(redis_url, tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.3) as sb:
        vms = running_vms(sb, 2)
        mine = sb.client(cache_url=redis_url, cache_dir=str(tmp_path / "mine"))
        [stop(mine, vm) for vm in vms.itertuples()]
        colleague = sb.client(cache_url=redis_url, cache_dir=str(tmp_path / "theirs"))  # another machine
        assert len(cmf.task_history(colleague)) == 2
        for task in cmf.resume(colleague):
            task.wait(timeout=20, interval=0.05)
        assert set(cmf.task_history(mine)["status"]) == {"SUCCESS"}
    assert not (tmp_path / "mine" / "journal-v1.sqlite").exists() or len(
        cmf.journal.journal_for(mine).local.entries(mine.fingerprint)) == 0


# -- tokens ---------------------------------------------------------------------------------------------

def test_a_token_hands_a_task_to_another_kernel_with_the_same_key(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.2) as sb, cmf.sandbox(orgs=3, seed=1) as elsewhere:
        (vm,) = running_vms(sb, 1).itertuples()
        task = stop(sb.client(cache_dir=str(tmp_path)), vm)
        token = task.to_token()
        fields = json.loads(token)
        other = sb.client(cache_dir=str(tmp_path / "other"))
        again = cmf.Task.from_token(other, token)
        again.wait(timeout=10, interval=0.05)
        assert (again.id, again.operation_id, again.label) == (task.id, task.operation_id, task.label)
        with pytest.raises(cmf.ConfigError, match="another API key"):
            cmf.Task.from_token(sb.client(sb.keys[1].user_name), token)
        with pytest.raises(cmf.ConfigError, match="this client talks to"):
            cmf.Task.from_token(cmf.connect(elsewhere.endpoint, sb.api_key, cache_backend="memory"), token)
    assert fields["kind"] == "cloudmc-frames/task" and fields["v"] == 1 and sb.api_key not in token
    assert len(token) < 600


@pytest.mark.parametrize("token, words", [
    (b"\x80\x04\x95", "got bytes"),
    ("not json", "not JSON"),
    ('{"kind": "other"}', "not a cloudmc-frames task token"),
    ('{"kind": "cloudmc-frames/task", "v": 9}', "version 9"),
    ('{"kind": "cloudmc-frames/task", "v": 1, "endpoint": "e", "credential": "c"}', "no task_id"),
    ('{"kind": "cloudmc-frames/task", "v": 1, "endpoint": "e", "credential": "c", "task_id": "../x"}',
     "not a task id"),
    ("x" * 5000, "got str"),
])
def test_bad_tokens_are_refused(token, words):
    with pytest.raises(cmf.ConfigError, match=words):
        cmf.Task.from_token(cmf.connect("http://127.0.0.1:9", "k" * 40, cache_backend="memory"), token)
