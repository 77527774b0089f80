"""Which operations each provider's instances and volumes accept, from which states, with what body.

Pure data and small lookups (CloudMC API reference sections 3.2, 3.3 and 4; states marked
"inferred" there are inferred here too). :mod:`~cloudmc_frames.operations` validates calls with
it, and the forms offer only the operations that fit every selected row.

>>> [s.name for s in operations_for("cloudstack", "instances", [{"power_state": "Stopped"}])][:3]
['start', 'reboot', 'delete']
>>> operation_spec("gcp", "instances", "stop").states
frozenset({'running'})
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import catalog
from .errors import ConfigError
from .frames import plain_records

DELETE = "delete"  # sent as ``DELETE .../:id``; every other operation as ``POST .../:id?operation=``


@dataclass(frozen=True)
class OperationSpec:
    """One operation of one provider's entity.

    ``states``: lower-case states it may start from (None: CloudMC documents no precondition);
    ``needs``: body fields CloudMC requires; ``attached``: volumes that must be attached (True)
    or detached (False); ``data_only``: not on an os/boot volume; ``destructive``: forms ask
    for an explicit confirmation.

    >>> OperationSpec("stop", frozenset({"running"})).fits({"power_state": "Running"})
    True
    """

    name: str
    states: frozenset[str] | None = None
    needs: tuple[str, ...] = ()
    destructive: bool = False
    attached: bool | None = None
    data_only: bool = False

    @property
    def method(self) -> str:
        """The HTTP verb: DELETE for ``delete``, POST for the rest."""
        return "DELETE" if self.name == DELETE else "POST"

    def fits(self, row: Mapping[str, Any]) -> bool:
        """Whether a frame row (``power_state``/``state``, ``is_attached``, ``type``) allows it."""
        if self.states is not None and row_state(row) not in self.states:
            return False
        if self.attached is not None and _flag(row.get("is_attached")) is not self.attached:
            return False
        return not (self.data_only and _text(row.get("type")) != "data")


def _states(*names: str) -> frozenset[str]:
    return frozenset(n.lower() for n in names)


def _ops(*specs: OperationSpec) -> dict[str, OperationSpec]:
    return {s.name: s for s in specs}


S = OperationSpec
# (provider, provider entity) -> operations, in the order forms list them.
CATALOGUE: dict[tuple[str, str], dict[str, OperationSpec]] = {
    ("cloudstack", "instances"): _ops(
        S("start", _states("Stopped")),
        S("stop", _states("Running", "Stopping")),
        S("reboot", _states("Running", "Stopped")),
        S(DELETE, _states("Running", "Stopped", "Error"), destructive=True),
        S("purge", _states("Destroyed"), destructive=True),
        S("recover", _states("Destroyed")),
        S("changeComputeOffering", _states("Running", "Stopped"), needs=("computeOfferingId",)),
        S("resetPassword", _states("Running", "Stopped")),
        S("changeNetwork", needs=("networkId",), destructive=True),
        S("associateSSHKey", needs=("sshKeyName",)),
        S("attachIso", needs=("isoId",)),
        S("detachIso"),
        S("releaseBareMetal", destructive=True),
    ),
    ("cloudstack", "volumes"): _ops(
        S("attachToInstance", needs=("instanceId",), attached=False, data_only=True),
        S("detachFromInstance", attached=True, data_only=True),
        S("createSnapshotFromVolume", _states("Ready")),
        S(DELETE, attached=False, data_only=True, destructive=True),
    ),
    ("gcp", "instances"): _ops(
        S("start", _states("TERMINATED", "STOPPED", "SUSPENDED")),
        S("stop", _states("RUNNING")),
        S("resize"), S("change_external_ip"), S("get_ssh"), S("set_windows_password"),
        S("edit_startup_script"),
    ),
    ("gcp", "disks"): _ops(S("attach", attached=False), S("detach", attached=True), S("resize"),
                          S("snapshot")),
    ("aws", "instances"): _ops(
        S("start", _states("stopped")), S("stop", _states("running")),
        S("associate", needs=("vpcId", "elasticIp")), S("disassociate"),
    ),
    ("aws", "volumes"): _ops(
        S("attach", needs=("instanceIdToAttach", "attachmentDeviceName"), attached=False),
        S("detach", needs=("instanceIdToDetach",), attached=True),
        S(DELETE, _states("available"), destructive=True),
    ),
    ("azure", "instances"): _ops(
        S("start", _states("deallocated", "stopped")), S("stop", _states("running")),
        S("resize", needs=("machineType",)), S("reset_password"),
        S("attach_disk", needs=("diskToAttach",)), S(DELETE, destructive=True),
    ),
    ("azure", "disks"): _ops(S("attach", needs=("instance",), attached=False),
                             S("detach", attached=True)),
    ("openstack", "instances"): _ops(S("associate", needs=("floatingIpId",)),
                                     S("changeSecurityGroups")),
    ("openstack", "volumes"): _ops(S("attach", attached=False), S("detach", attached=True),
                                   S("extend"), S("snapshot")),
}
del S


def catalogue_for(connection_type: str | None, entity_type: str) -> dict[str, OperationSpec]:
    """The operations of ``entity_type`` (generic ``volumes`` too) on one connection type; {} if none."""
    provider = catalog.provider_of(connection_type)
    entity = catalog.provider_entity(entity_type, connection_type)
    return CATALOGUE.get((provider, entity), {}) if provider and entity else {}


def operations_for(connection_type: str | None, entity_type: str,
                   rows: Iterable[Mapping[str, Any]] | None = None) -> list[OperationSpec]:
    """Operations of the entity on this connection type that fit every row (all when rows is None)."""
    specs = list(catalogue_for(connection_type, entity_type).values())
    if rows is None:
        return specs
    rows = list(rows)
    return [s for s in specs if all(s.fits(r) for r in rows)]


def operation_spec(connection_type: str | None, entity_type: str, operation: Any) -> OperationSpec:
    """The spec of one operation; ConfigError naming the valid ones when it does not exist."""
    specs = catalogue_for(connection_type, entity_type)
    if operation in specs:
        return specs[operation]
    where = f"{entity_type} on {connection_type or 'an unknown connection type'}"
    raise ConfigError(f"unknown operation {operation!r} for {where}.{_suggest(operation, specs)}")


def known_operations(entity_type: str) -> dict[str, OperationSpec]:
    """Every documented operation named for an entity type, over all providers (first spec wins)."""
    names: dict[str, OperationSpec] = {}
    for (provider, entity), specs in CATALOGUE.items():
        if entity == entity_type or catalog.provider_entity(entity_type, provider) == entity:
            for name, spec in specs.items():
                names.setdefault(name, spec)
    return names


def check_operation(entity_type: str, operation: Any) -> None:
    """ConfigError unless some provider documents ``operation`` for ``entity_type``."""
    specs = known_operations(entity_type)
    if not specs:
        raise ConfigError(f"no operations are documented for {entity_type!r}; operations exist for "
                          f"{', '.join(sorted({e for _, e in CATALOGUE}))}")
    if operation not in specs:
        raise ConfigError(f"unknown operation {operation!r} for {entity_type}.{_suggest(operation, specs)}")


def missing_body_fields(spec: OperationSpec, body: Mapping[str, Any] | None) -> list[str]:
    """Required body fields of ``spec`` that ``body`` leaves out or empty."""
    body = body or {}
    return [f for f in spec.needs if body.get(f) in (None, "")]


def _suggest(operation: Any, specs: Mapping[str, OperationSpec]) -> str:
    close = difflib.get_close_matches(str(operation), list(specs), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"{hint} Valid: {', '.join(specs) or 'none'}"


# -- creating instances and volumes -----------------------------------------------------------

@dataclass(frozen=True)
class CreateSpec:
    """What a create body needs: required and optional fields, and where each choice comes from.

    ``sources`` maps a field to the entity type listing its valid values; ``filters`` are fields
    that only narrow other choices (a zone narrows networks and templates) and are not sent.
    """

    required: tuple[str, ...]
    optional: tuple[str, ...]
    sources: Mapping[str, str]
    filters: tuple[str, ...] = ("zoneId",)


CREATES: dict[tuple[str, str], CreateSpec] = {
    ("cloudstack", "instances"): CreateSpec(
        required=("name", "computeOfferingId", "networkId", "templateId"),
        optional=("cpuCount", "memoryInMB", "diskOfferingId", "additionalDiskSizeInGb"),
        sources={"computeOfferingId": "computeofferings", "networkId": "networks",
                 "templateId": "templates", "diskOfferingId": "diskofferings", "zoneId": "zones"},
    ),
    ("cloudstack", "volumes"): CreateSpec(
        required=("name", "diskOfferingId"),
        optional=("sizeInGb", "instanceId"),
        sources={"diskOfferingId": "diskofferings", "instanceId": "instances", "zoneId": "zones"},
    ),
}
# Quota metric -> body fields that ask for it, first present one wins (sandbox context "metric").
QUOTA_FIELDS = {
    "INSTANCE_VCPUS": ("cpuCount", "computeOfferingId"),
    "INSTANCE_MEMORY": ("memoryInMB", "computeOfferingId"),
    "INSTANCE_COUNT": ("name",),
    "DISK_SIZE": ("sizeInGb", "additionalDiskSizeInGb", "diskOfferingId", "templateId"),
}
ATTACHABLE_STATES = ("running", "stopped")
INSTANCE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")


def create_spec(connection_type: str | None, entity_type: str) -> CreateSpec | None:
    """How to create ``entity_type`` on this connection type, or None when forms cannot."""
    provider = catalog.provider_of(connection_type)
    return CREATES.get((provider, entity_type)) if provider else None


def check_create(connection_type: str | None, entity_type: str, body: Mapping[str, Any],
                 choices: Mapping[str, Any]) -> dict[str, str]:
    """Problems of a create body before it is sent, as ``{field: message}`` ({} when fine).

    ``choices`` maps fields to the frames :func:`cloudmc_frames.widgets.sources.create_choices` read
    (offerings carry the custom cpu/memory/size rules).

    >>> check_create("cloudstack", "volumes", {"name": "d1"}, {})
    {'diskOfferingId': 'required'}
    """
    spec = create_spec(connection_type, entity_type)
    if spec is None:
        return {"": f"creating {entity_type} on {connection_type} is not supported here"}
    problems = {f: "required" for f in spec.required if _blank(body.get(f))}
    name = body.get("name")
    if entity_type == "instances" and not _blank(name) and not INSTANCE_NAME.match(str(name)):
        problems["name"] = "letters, digits and hyphens, starting with a letter (at most 63)"
    for key, value in body.items():
        if key in spec.sources and not _blank(value) and _choice(choices.get(key), value) is None \
                and choices.get(key) is not None:
            problems[key] = f"{value!r} is not one of the {spec.sources[key]} of this environment"
    compute = _choice(choices.get("computeOfferingId"), body.get("computeOfferingId"))
    if compute is not None and compute.get("custom") is True:
        problems.update(_custom_compute(compute, body))
    disk = _choice(choices.get("diskOfferingId"), body.get("diskOfferingId"))
    size_field = "sizeInGb" if entity_type == "volumes" else "additionalDiskSizeInGb"
    if disk is not None and disk.get("custom_size") is True and not _positive(body.get(size_field)):
        problems[size_field] = "a custom-size disk offering needs a size in GB above 0"
    return problems


def _custom_compute(offering: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, str]:
    cpu, memory = body.get("cpuCount"), body.get("memoryInMB")
    cpus = list(offering.get("available_cpu_count_values") or [])
    memories = list(offering.get("available_memory_in_mb_values") or [])
    ratio = offering.get("max_memory_in_mb_to_cpu_ratio")
    problems = {}
    if cpu not in cpus:
        problems["cpuCount"] = f"a custom offering needs cpuCount, one of {cpus}"
    if memory not in memories:
        problems["memoryInMB"] = f"a custom offering needs memoryInMB, one of {memories}"
    elif cpu in cpus and ratio and memory > cpu * ratio:
        problems["memoryInMB"] = f"at most {int(cpu * ratio)} MB for {cpu} vCPU"
    return problems


def extra_fields(entity_type: str, body: Mapping[str, Any],
                 choices: Mapping[str, Any]) -> dict[str, list | None]:
    """Optional fields the chosen offerings call for, with their allowed values (None: any size).

    A custom compute offering needs ``cpuCount`` and ``memoryInMB``; a custom-size disk
    offering needs a size (``sizeInGb`` for a volume, ``additionalDiskSizeInGb`` for an instance).
    """
    extra: dict[str, list | None] = {}
    compute = _choice(choices.get("computeOfferingId"), body.get("computeOfferingId"))
    if compute is not None and compute.get("custom") is True:
        extra["cpuCount"] = list(compute.get("available_cpu_count_values") or [])
        extra["memoryInMB"] = list(compute.get("available_memory_in_mb_values") or [])
    disk = _choice(choices.get("diskOfferingId"), body.get("diskOfferingId"))
    if disk is not None and disk.get("custom_size") is True:
        extra["sizeInGb" if entity_type == "volumes" else "additionalDiskSizeInGb"] = None
    return extra


def attachable(instances: Any) -> Any:
    """Instances a new volume may be attached to (CloudStack: Running or Stopped)."""
    if instances is None or instances.empty:
        return instances
    states = instances.apply(lambda r: row_state(r.to_dict()), axis=1)
    return instances[states.isin(ATTACHABLE_STATES)]


def error_fields(error: Any, body: Mapping[str, Any]) -> dict[str, str]:
    """Which body field(s) a 400 envelope concerns, as ``{field: message}`` ({} when none).

    Reads ``context.field`` (invalid value), ``context.missing`` (required fields) and
    ``context.metric`` (quota exceeded: the fields that asked for that resource).
    """
    context = error.context if isinstance(error.context, dict) else {}
    text = f"{error.message} (code {error.code})" if error.code is not None else error.message
    if isinstance(context.get("field"), str):
        return {context["field"]: text}
    if isinstance(context.get("missing"), list):
        return {str(f): text for f in context["missing"]}
    for name in QUOTA_FIELDS.get(context.get("metric"), ()):
        if not _blank(body.get(name)):
            return {name: text}
    return {}


def in_zone(frame: Any, zone_id: str | None) -> Any:
    """Rows of a choices frame usable in ``zone_id`` (``zone_id`` or ``available_in_zones``)."""
    if not zone_id or frame is None or frame.empty:
        return frame
    keep = frame["zone_id"].astype(object).eq(zone_id) if "zone_id" in frame else None
    if "available_in_zones" in frame:
        listed = frame["available_in_zones"].map(lambda zones: zone_id in (zones if isinstance(zones,
                                                                                               list) else ()))
        keep = listed if keep is None else keep | listed
    return frame if keep is None else frame[keep.fillna(False).astype(bool)]


def _choice(frame: Any, value: Any) -> dict[str, Any] | None:
    """The row of a choices frame whose id is ``value`` (missing values as None)."""
    if frame is None or _blank(value) or frame.empty:
        return None
    rows = frame[frame["id"].astype(object) == value]
    if rows.empty:
        return None
    return plain_records(rows)[0]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# -- reading rows ------------------------------------------------------------------------------

def row_state(row: Mapping[str, Any]) -> str | None:
    """The lower-case state of a frame row (the first of :data:`catalog.STATE_COLUMNS` with text)."""
    state = catalog.state_text(row)
    return None if state is None else state.lower()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
