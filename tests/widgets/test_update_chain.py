"""One user change runs a form's update chain once: the forms mute their own observers.

The expensive steps are counted: ``create_choices`` (several accessor crawls) for CreateForm,
``operations_for`` for OperationForm.
"""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from cloudmc_frames.widgets import CreateForm, OperationForm, create_form, operation_form
from cloudmc_frames.widgets._base import FormBase, set_options


def counted(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` with a wrapper that records each call; returns the record."""
    calls: list = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def other(control):
    """A value of ``control`` other than the current one."""
    return next(value for _, value in control.options if value != control.value)


@pytest.fixture
def choices(monkeypatch):
    return counted(monkeypatch, create_form, "create_choices")


@pytest.fixture
def fits(monkeypatch):
    return counted(monkeypatch, operation_form, "operations_for")


def test_building_a_create_form_reads_the_choices_once(client, choices):
    CreateForm(client, "volumes")
    assert len(choices) == 1


def test_one_organization_change_reads_the_choices_once(client, choices):
    form = CreateForm(client, "volumes")
    choices.clear()
    form.org.value = other(form.org)
    assert len(choices) == 1
    assert choices[0][0] is client and form.choices["diskOfferingId"] is not None


def test_one_environment_change_reads_the_choices_once_and_a_zone_change_none(client, choices):
    form = CreateForm(client, "instances")
    env = next(org for org, envs in form.envs.groupby("organization_id") if len(envs) > 1)
    form.org.value = env
    choices.clear()
    form.env.value = other(form.env)
    assert len(choices) == 1
    form.fields["zoneId"].value = other(form.fields["zoneId"])
    assert len(choices) == 1


def test_operation_form_computes_the_fitting_operations_once_per_change(client, fits):
    form = OperationForm(client)
    assert len(fits) == 1
    for control in (form.org, form.env, form.resources):
        fits.clear()
        control.value = (other(control),) if control is form.resources else other(control)
        assert len(fits) == 1, control.description
    fits.clear()
    form.filter.value = "a"
    assert len(fits) == 1


def test_handlers_do_not_run_while_the_form_sets_its_own_controls():
    class Pair(FormBase):
        def __init__(self):
            super().__init__()
            self.first, self.second = widgets.Dropdown(), widgets.Dropdown()
            self.runs = []
            self.on_change(self.first, self._on_first)
            self.on_change(self.second, lambda change: self.runs.append("second"))
            self.box = widgets.VBox([self.first, self.second])

        def _on_first(self, change):
            self.runs.append("first")
            set_options(self.second, [("x", "x"), ("y", "y")])  # would fire the second handler

    form = Pair()
    set_options(form.first, [("a", "a"), ("b", "b")])
    form.first.value = "b"
    assert form.runs == ["first", "first"] and form.second.value == "x"
    form.second.value = "y"
    assert form.runs == ["first", "first", "second"]
    with form.muted():
        form.first.value = "a"
    assert form.runs == ["first", "first", "second"]
