"""CreateForm: choices from the environment, checks before sending, 400s next to their field."""

from __future__ import annotations

import pytest

import cloudmc_frames as cmf
from cloudmc_frames.operation_catalog import QUOTA_FIELDS
from cloudmc_frames.widgets import CreateForm
from tests.support.sandboxes import POLL, over_quota_env, posts

from .conftest import output_text, record


def in_env(form, env):
    form.org.value = env["organization"]["id"]
    form.env.value = env["id"]
    return form


def root_prod(writable_sb):
    return writable_sb.store.env_by_name(writable_sb.store.root_id, "prod")


def choose(form, field, label_part):
    form.fields[field].value = next(v for label, v in form.fields[field].options if label_part in label)


def errors(form):
    return {name: label.value for name, label in form.errors.items() if label.value}


def created(writable_sb, env, entity, name):
    return [r for r in writable_sb.store.resources[env["id"]][entity].values() if r["name"] == name]


def test_a_volume_is_created_and_its_progress_goes_to_max(writable_sb, client):
    env = root_prod(writable_sb)
    form = in_env(CreateForm(client, "volumes", interval=POLL), env)
    offerings = writable_sb.store.resources[env["id"]]["diskofferings"]
    assert len(form.fields["diskOfferingId"].options) == len(offerings)
    form.fields["name"].value = "scratch-a"
    seen = {}
    form.progress_box.observe(lambda change: seen.update(bar=record(form.progress.bars[0]),
                                                         first=form.progress.bars[0].value), names="children")
    form.create_button.click()
    assert form.join(timeout=10)
    assert seen == {"bar": [100], "first": 0}
    assert form.task is not None and form.progress.results[0].status == "SUCCESS"
    assert [v["state"] for v in created(writable_sb, env, "volumes", "scratch-a")] == ["Ready"]
    assert "Created volume 'scratch-a'" in output_text(form) and not form.create_button.disabled


@pytest.mark.parametrize("name, message", [("", "required"), ("9-lives", "letters, digits")])
def test_fields_are_checked_before_anything_is_sent(writable_sb, client, name, message):
    form = in_env(CreateForm(client, "instances", interval=POLL), root_prod(writable_sb))
    form.fields["name"].value = name
    before = posts(writable_sb)
    form.create_button.click()
    assert form.join(timeout=5) and posts(writable_sb) == before
    assert message in errors(form)["name"] and "Fix the fields" in output_text(form)


def test_a_custom_size_offering_asks_for_a_size(writable_sb, client):
    env = root_prod(writable_sb)
    form = in_env(CreateForm(client, "volumes", interval=POLL), env)
    assert form.field_rows["sizeInGb"].layout.display == "none"
    choose(form, "diskOfferingId", "Custom")
    assert form.field_rows["sizeInGb"].layout.display == ""
    form.fields["name"].value = "sized"
    form.create_button.click()
    assert "above 0" in errors(form)["sizeInGb"]
    form.fields["sizeInGb"].value = 42
    form.create_button.click()
    assert form.join(timeout=10) and errors(form) == {}
    assert [v["sizeInGb"] for v in created(writable_sb, env, "volumes", "sized")] == [42]


def test_an_instance_with_a_custom_offering(writable_sb, client):
    env = root_prod(writable_sb)
    form = in_env(CreateForm(client, "instances", interval=POLL), env)
    assert form.field_rows["cpuCount"].layout.display == "none"
    choose(form, "computeOfferingId", "Custom")
    assert form.field_rows["cpuCount"].layout.display == "" and form.fields["cpuCount"].options
    form.fields["cpuCount"].value, form.fields["memoryInMB"].value = 2, 2048
    form.fields["name"].value = "custom-1"
    assert {"cpuCount": 2, "memoryInMB": 2048}.items() <= form.body().items()
    form.create_button.click()
    assert form.join(timeout=10) and errors(form) == {}, output_text(form)
    made = created(writable_sb, env, "instances", "custom-1")
    assert [(i["state"], i["cpuCount"], i["memoryInMB"]) for i in made] == [("Running", 2, 2048)]


def test_a_400_from_cloudmc_is_shown_next_to_its_field(writable_sb, client):
    metric, env = over_quota_env(writable_sb.store)
    form = in_env(CreateForm(client, "instances", interval=POLL), env)
    form.fields["name"].value = "one-too-many"
    form.create_button.click()
    assert form.join(timeout=10)
    shown = errors(form)
    assert len(shown) == 1 and form.form_error.value == ""
    (field, message), = shown.items()
    assert "Quota exceeded" in message and "(code 9415)" in message
    assert field in {f for fields in QUOTA_FIELDS.values() for f in fields}
    assert "CloudMC refused the create" in output_text(form) and form.progress is None
    assert created(writable_sb, env, "instances", "one-too-many") == []


def test_the_zone_narrows_networks_and_templates(writable_sb, client):
    form = in_env(CreateForm(client, "instances"), root_prod(writable_sb))
    networks = form.choices["networkId"]
    zone = networks["zone_id"].iloc[0]
    form.fields["zoneId"].value = zone
    shown = {v for _, v in form.fields["networkId"].options}
    assert shown == set(networks.loc[networks["zone_id"] == zone, "id"])
    assert "zoneId" not in form.body()


def test_only_cloudstack_environments_are_offered_and_bad_types_are_refused(writable_sb, client):
    form = CreateForm(client, "volumes")
    assert set(form.envs["connection_type"]) == {"cloudstack"}
    assert form.output.outputs == ()
    assert "application/vnd.jupyter.widget-view+json" in form._repr_mimebundle_()
    with pytest.raises(cmf.ConfigError, match="instances or volumes"):
        CreateForm(client, "snapshots")
