"""The forms after a restart: TaskProgress over resumed tasks, OperationForm's "from before" line."""

from __future__ import annotations

import cloudmc_frames as cmf
from cloudmc_frames.widgets import OperationForm, TaskProgress

POLL = 0.05


def output_text(form) -> str:
    return "".join(item.get("text") or item.get("data", {}).get("text/plain", "")
                   for item in form.output.outputs)


def running(client, count: int):
    vms = cmf.instances(client)
    return vms[(vms["state"] == "Running") & (vms["service_code"] == "compute-qc")].head(count)


def stop_all(client, vms) -> list:
    return [cmf.operate(client, v.service_code, v.environment_name, "instances", v.id, "stop",
                        org_id=v.organization_id) for v in vms.itertuples()]


def test_task_progress_shows_resumed_tasks_by_their_labels_and_an_expired_one_in_orange(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.3) as sb:
        before = sb.client(cache_dir=str(tmp_path))
        vms = running(before, 3)
        first_id = stop_all(before, vms)[0].id
        with sb.store.lock:
            del sb.store.tasks[first_id]  # CloudMC forgot this one (its 30 minutes are over)
        after = sb.client(cache_dir=str(tmp_path))  # the kernel restarted
        progress = TaskProgress(after, cmf.resume(after), interval=POLL)
        assert progress.join(timeout=20)
    assert progress.labels == [f"stop {v}" for v in vms["id"]]  # the journal's labels, not task ids
    assert all(b.description.startswith("stop ") for b in progress.bars)
    assert sorted(r.status for r in progress.results) == ["EXPIRED", "SUCCESS", "SUCCESS"]
    expired = next(i for i, r in enumerate(progress.results) if r.status == "EXPIRED")
    assert progress.results[expired].id == first_id
    assert progress.bars[expired].bar_style == "warning" and progress.bars[expired].value == 100
    assert "is EXPIRED" in output_text(progress) and "3 of 3 ended, 2 succeeded" in progress.summary.value


def test_operation_form_says_what_still_runs_from_before_and_shows_it(tmp_path):
    with cmf.sandbox(orgs=6, seed=3, task_delay=0.5) as sb:
        earlier = sb.client(cache_dir=str(tmp_path))
        vms = running(earlier, 4)
        stop_all(earlier, vms)
        client = sb.client(cache_dir=str(tmp_path))  # a new kernel, same key and folder
        form = OperationForm(client, vms, interval=POLL)
        line = form.earlier.value
        sb.requests.clear()
        form.resume_button.click()
        assert form.join(timeout=20)
        assert [r.method for r in sb.requests if r.method != "GET"] == []
        calm = OperationForm(client, vms, interval=POLL)
    assert "4 tasks still running from before" in line and "and 1 more" in line and "cmf.resume" in line
    assert form.resume_button.layout.display == "none" and form.earlier.value == ""
    assert form.progress is not None and sorted(r.status for r in form.progress.results) == ["SUCCESS"] * 4
    assert form.progress_box.children == (form.progress.box,)
    assert calm.earlier.value == "" and calm.resume_button.layout.display == "none"
