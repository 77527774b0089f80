"""TaskProgress: bars go 0 -> max, statuses, results and error envelopes, polling off the main thread."""

from __future__ import annotations

import threading

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.widgets import TaskProgress
from tests.support.sandboxes import POLL, frame_of, state_of

from .conftest import output_text, record


def stop_tasks(client, vms):
    return [cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "stop", org_id=vm["org_id"])
            for vm in vms]


def test_bars_go_from_zero_to_max_on_a_worker_thread(writable_sb, picker, client):
    vms = [picker.instance("Running") for _ in range(3)]
    progress = TaskProgress(client, stop_tasks(client, vms), labels=[v["name"] for v in vms],
                            interval=POLL, start=False)
    assert [b.value for b in progress.bars] == [0, 0, 0] and progress.overall.value == 0
    bars, overall = [record(b) for b in progress.bars], record(progress.overall)
    progress.start()
    assert progress.worker is not None and progress.worker is not threading.current_thread()
    assert progress.join(timeout=10)
    assert bars == [[100]] * 3 and overall == [1, 2, 3]
    assert progress.overall.max == 3 and progress.overall.bar_style == "success"
    assert all("SUCCESS" in s.value and " s" in s.value for s in progress.statuses)
    assert "3 of 3 ended, 3 succeeded" in progress.summary.value
    assert [r.status for r in progress.results] == ["SUCCESS"] * 3
    assert all(state_of(writable_sb, vm) == "Stopped" for vm in vms)
    text = output_text(progress)
    assert all(f"{vm['name']}: SUCCESS" in text for vm in vms)


def test_a_failed_task_turns_red_and_shows_its_envelope(writable_sb, picker, client):
    vm = picker.instance("Running")
    writable_sb.fail_operations.add("instances.stop")
    try:
        progress = TaskProgress(client, stop_tasks(client, [vm]), interval=POLL)
        assert progress.join(timeout=10)
    finally:
        writable_sb.fail_operations.discard("instances.stop")
    assert progress.bars[0].value == 100 and progress.bars[0].bar_style == "danger"
    assert "FAILED" in progress.statuses[0].value
    text = output_text(progress)
    assert "TaskFailedError" in text and "(code 9440)" in text and "context:" in text
    assert progress.overall.bar_style == "warning"


def test_an_outcomes_frame_gives_one_bar_per_task(writable_sb, picker, client):
    vms = [picker.instance("Running") for _ in range(5)]
    outcomes = cmf.operate_many(client, frame_of(client, [v["id"] for v in vms]), "stop", wait=False)
    progress = TaskProgress(client, outcomes, interval=POLL)
    assert progress.join(timeout=10)
    assert len(progress.bars) == 5 and [b.description for b in progress.bars] == [v["name"] for v in vms]
    assert progress.overall.value == progress.overall.max == 5
    assert set(frame_of(client, [v["id"] for v in vms])["state"]) == {"Stopped"}


def test_an_unknown_task_id_ends_with_a_clear_error(client):
    progress = TaskProgress(client, "no-such-task", interval=POLL)
    assert progress.join(timeout=10)
    assert isinstance(progress.results[0], cmf.TaskTimeoutError)
    assert "no longer known" in output_text(progress) and progress.bars[0].bar_style == "warning"


def test_results_hide_secret_looking_fields(picker, client):
    vm = picker.instance("Running")
    task = cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "resetPassword",
                       org_id=vm["org_id"])
    progress = TaskProgress(client, task, interval=POLL)
    assert progress.join(timeout=10)
    password = progress.results[0].result["password"]
    assert password not in output_text(progress) and "hidden" in output_text(progress)


def test_it_renders_as_a_widget_and_checks_its_labels(client):
    progress = TaskProgress(client, [], start=False)
    bundle = progress._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "<TaskProgress 0 of 0 tasks ended>"
    with pytest.raises(cmf.ConfigError, match="labels"):
        TaskProgress(client, ["a", "b"], labels=["one"], start=False)
