"""OperationForm driven through its widgets: pick, run, watch, refuse, confirm, report errors."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.widgets import OperationForm
from tests.support.sandboxes import POLL, frame_of, posts, state_of

from .conftest import output_text, record


def form_for(client, vms, **kw):
    """A form over these instances' rows, with organization and environment of the first picked."""
    form = OperationForm(client, frame_of(client, [v["id"] for v in vms]), interval=POLL, **kw)
    form.org.value = vms[0]["org_id"]
    form.env.value = vms[0]["env_id"]
    return form


def label_of(form, item_id):
    return next(label for label, value in form.resources.options if value == item_id)


def test_stop_from_the_form_changes_the_instance_and_the_listing(writable_sb, picker, client):
    vms = [picker.instance("Running", org_id=writable_sb.store.root_id) for _ in range(2)]
    vms = [v for v in vms if v["env_id"] == vms[0]["env_id"]]
    form = form_for(client, vms)
    form.resources.value = tuple(v["id"] for v in vms)
    assert "stop" in [value for _, value in form.operation.options]
    form.operation.value = "stop"
    assert "<b>stop</b>" in form.summary.value and not form.run_button.disabled
    disabled = record(form.run_button, "disabled")
    form.run_button.click()
    assert form.join(timeout=10)
    assert disabled[0] is True  # disabled while tasks ran
    assert form.outcomes["status"].tolist() == ["SUCCESS"] * len(vms)
    assert all(state_of(writable_sb, v) == "Stopped" for v in vms)
    assert [b.value for b in form.progress.bars] == [100] * len(vms)
    assert form.progress.overall.value == form.progress.overall.max == len(vms)
    assert all("[Stopped]" in label_of(form, v["id"]) for v in vms)  # re-read after the run
    assert "SUCCESS" in output_text(form)


def test_after_a_run_the_picker_asks_for_an_operation_again(writable_sb, picker, client):
    vm = picker.instance("Running")
    form = form_for(client, [vm])
    form.resources.value = (vm["id"],)
    assert form.operation.value == "" and form.operation.options[0] == ("— choose an operation —", "")
    assert form.run_button.disabled and "Choose an operation" in form.summary.value
    form.operation.value = "stop"
    form.run_button.click()
    assert form.join(timeout=10) and state_of(writable_sb, vm) == "Stopped"
    assert form.resources.value == (vm["id"],) and "start" in [v for _, v in form.operation.options]
    assert form.operation.value == "" and form.run_button.disabled  # one more click does nothing
    assert "Choose an operation" in form.summary.value
    shown = [item for item in form.output.outputs if item.get("output_type") == "display_data"]
    assert shown == []  # the outcome is the bars' compact lines, not a second table
    lines = output_text(form.progress).splitlines()
    assert len(lines) == 1 and "SUCCESS · now Stopped" in lines[0]


def test_a_displayed_form_reads_the_current_states(writable_sb, picker, client):
    vm = picker.instance("Running")
    form = form_for(client, [vm])
    assert "[Running]" in label_of(form, vm["id"])
    cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "stop",
                org_id=vm["org_id"]).wait(timeout=10, interval=POLL)
    form._repr_mimebundle_()
    assert "[Stopped]" in label_of(form, vm["id"])


def test_progress_values_go_from_zero_to_max(writable_sb, picker, client):
    vm = picker.instance("Stopped")
    form = form_for(client, [vm])
    form.resources.value = (vm["id"],)
    form.operation.value = "start"
    seen = {}
    form.progress_box.observe(lambda change: seen.update(
        bars=[record(b) for b in form.progress.bars], overall=record(form.progress.overall),
        first=(form.progress.bars[0].value, form.progress.overall.value)), names="children")
    form.run_button.click()
    assert form.join(timeout=10)
    assert seen["first"] == (0, 0) and seen["bars"] == [[100]] and seen["overall"] == [1]
    assert state_of(writable_sb, vm) == "Running"


def test_a_refused_operation_shows_cloudmcs_message_in_the_form(writable_sb, picker, client):
    vm = picker.instance("Running")
    form = form_for(client, [vm])
    form.resources.value = (vm["id"],)
    form.operation.value = "stop"
    # Someone else stops it after the form read it: the form's listing is stale.
    cmf.operate(client, vm["code"], vm["env"], "instances", vm["id"], "stop",
                org_id=vm["org_id"]).wait(timeout=10, interval=POLL)
    form.run_button.click()
    assert form.join(timeout=10)
    text = output_text(form)
    assert "refused" in text and "(code 2012)" in text and "running state" in text
    assert '"currentState": "Stopped"' in text
    assert form.outcomes["status"].tolist() == ["REFUSED"] and form.progress is None
    assert "[Stopped]" in label_of(form, vm["id"])


def test_only_operations_that_fit_the_selection_are_offered(picker, client):
    running, stopped = picker.instance("Running"), picker.instance("Stopped", org_id=None)
    form = OperationForm(client, frame_of(client, [running["id"], stopped["id"]]))
    form.org.value, form.env.value = stopped["org_id"], stopped["env_id"]
    form.resources.value = (stopped["id"],)
    offered = [value for _, value in form.operation.options]
    assert "start" in offered and "stop" not in offered and "purge" not in offered


def test_a_destructive_operation_needs_the_confirmation(writable_sb, picker, client):
    vm = picker.instance("Stopped")
    form = form_for(client, [vm])
    form.resources.value = (vm["id"],)
    form.operation.value = "delete"
    assert form.confirm.layout.display == "" and form.run_button.disabled
    assert "Destructive" in form.summary.value and form.run_button.button_style == "danger"
    before = posts(writable_sb)
    form.run_button.click()  # a click that bypasses the disabled button does nothing either
    assert form.join(timeout=5) and posts(writable_sb) == before
    assert "tick the confirmation box" in output_text(form)
    form.confirm.value = True
    assert not form.run_button.disabled
    form.run_button.click()
    assert form.join(timeout=10)
    assert state_of(writable_sb, vm) == "Destroyed" and form.outcomes["status"].tolist() == ["SUCCESS"]
    form.operation.value = form.operation.options[0][1]
    assert form.confirm.value is False  # a new choice asks again


def test_the_filter_narrows_the_resources(picker, client):
    vms = [picker.instance("Running") for _ in range(3)]
    vms = [v for v in vms if v["env_id"] == vms[0]["env_id"]]
    form = form_for(client, vms)
    form.filter.value = vms[0]["name"]
    assert [value for _, value in form.resources.options] == [vms[0]["id"]]
    form.filter.value = "no such thing"
    assert form.resources.options == () and form.run_button.disabled


def test_a_handler_error_lands_in_the_output_area(writable_sb, picker, client):
    vm = picker.instance("Running")
    form = form_for(client, [vm])
    form.resources.value = (vm["id"],)
    form.operation.value = "changeComputeOffering"
    assert form.body.layout.display == "" and "computeOfferingId" in form.body.placeholder
    form.body.value = "{not json"
    before = posts(writable_sb)
    form.run_button.click()
    assert "ConfigError: the body is not valid JSON" in output_text(form) and posts(writable_sb) == before


def test_filters_choose_the_rows_and_the_form_renders_without_displaying_itself(writable_sb, client):
    form = OperationForm(client, {"orgs": writable_sb.store.root_id, "service_code": "compute-qc"})
    assert set(form.rows["service_code"]) == {"compute-qc"}
    assert form.output.outputs == ()
    bundle = form._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("<OperationForm")
    with pytest.raises(cmf.ConfigError, match="unknown filter"):
        OperationForm(client, {"zone": "QC-1"})


def test_volumes_get_volume_operations(picker, client):
    vol = picker.volume(attached=True)
    form = OperationForm(client, frame_of(client, [vol["id"]], "volumes"))
    form.resources.value = (vol["id"],)
    offered = [value for _, value in form.operation.options]
    assert form.entity_type == "volumes" and "detachFromInstance" in offered and "delete" not in offered
