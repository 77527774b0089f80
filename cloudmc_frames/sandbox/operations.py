"""Service operations: validation, state machines, quota checks, and their tasks.

CloudStack instance operations (REFERENCE 3.3) and what they do here:

=====================  ======================  ============  ==========================
call                   allowed from            transitional  final (after task_delay)
=====================  ======================  ============  ==========================
start                  Stopped                 Starting      Running
stop                   Running, Stopping       Stopping      Stopped   (2012 otherwise)
reboot                 Running, Stopped        Starting      Running
DELETE                 Running, Stopped, Error Stopping*     Destroyed (purgeImmediately: removed)
purge                  Destroyed               Expunging     removed (os volume too)
recover                Destroyed               -             Stopped
changeComputeOffering  Running, Stopped        Stopping*     previous state, new cpu/memory
resetPassword          Running, Stopped        -             unchanged; result has a password
PUT (name, hostname)   not Destroyed/Expunging -             unchanged
create (POST)          -                       Starting      Running (FAILED -> Error)
=====================  ======================  ============  ==========================

``*`` only when the instance was Running.  Volumes: create (``Creating`` ->
``Ready``), DELETE (detached data volumes only; ``Expunging`` -> removed),
``attachToInstance``, ``detachFromInstance``, ``createSnapshotFromVolume``.
GCP instances: ``start`` (TERMINATED/STOPPED/SUSPENDED -> STAGING -> RUNNING),
``stop`` (RUNNING -> STOPPING -> TERMINATED, 2012 otherwise).

A wrong state answers 400 with context ``{id, currentState, expectedStates,
type}``; quota ceilings are checked on create and changeComputeOffering.
A FAILED task reverts the transitional state (a failed create leaves the
instance in ``Error``).
"""
from . import clock, errors, quotas
from .gen_cloudstack import instance_record, template_root_gb, volume_record
from .store import DROP

INSTANCE_OPS = {
    # operation: (allowed states, transitional state or None, final state or None = unchanged)
    "start": (("Stopped",), "Starting", "Running"),
    "stop": (("Running", "Stopping"), "Stopping", "Stopped"),
    "reboot": (("Running", "Stopped"), "Starting", "Running"),
    "purge": (("Destroyed",), "Expunging", None),
    "recover": (("Destroyed",), None, "Stopped"),
    "changeComputeOffering": (("Running", "Stopped"), None, None),
    "resetPassword": (("Running", "Stopped"), None, None),
}
DELETE_FROM = ("Running", "Stopped", "Error")
GCP_OPS = {
    "start": (("TERMINATED", "STOPPED", "SUSPENDED"), "STAGING", "RUNNING"),
    "stop": (("RUNNING",), "STOPPING", "TERMINATED"),
}
VOLUME_OPS = ("attachToInstance", "detachFromInstance", "createSnapshotFromVolume")


class Scope:
    """Where a service call acts: the environment, its connection and org."""

    def __init__(self, app, env, conn, caller):
        self.app, self.store, self.env, self.conn, self.caller = app, app.store, env, conn, caller
        self.env_id = env["id"]
        self.org_id = env["organization"]["id"]

    def items(self, entity):
        """The live ``{id: record}`` dict of ``entity`` in this environment."""
        return self.store.resources.setdefault(self.env_id, {}).setdefault(entity, {})

    def get(self, entity, record_id):
        """A record or a 404."""
        record = self.items(entity).get(record_id)
        if record is None:
            raise errors.not_found(f"Unknown {entity} {record_id} in environment {self.env['name']}",
                                   id=record_id, type=entity)
        return record

    def update(self, entity, record_id, **changes):
        """Copy-on-write update (no-op if the record is gone); returns the new record or None."""
        with self.store.lock:
            if record_id not in self.items(entity):
                return None
            return self.store.replace(self.items(entity), record_id, **changes)

    def put(self, entity, record):
        """Insert a record."""
        with self.store.lock:
            self.items(entity)[record["id"]] = record
            self.store.touch()

    def remove(self, entity, record_id):
        """Delete a record (if present)."""
        with self.store.lock:
            self.items(entity).pop(record_id, None)
            self.store.extras.pop(record_id, None)
            self.store.touch()

    def submit(self, operation, apply, on_fail=None, **context):
        """Create the task for this operation."""
        return self.app.runner.submit(operation, apply, on_fail, {"environmentId": self.env_id, **context})


def accepted(task):
    """The async answer of a write."""
    return {"taskId": task.id, "taskStatus": task.status}


def _require(body, *fields):
    """400 (code 9411) listing required fields missing from ``body``."""
    missing = [f for f in fields if body.get(f) in (None, "")]
    if missing:
        raise errors.bad_request(f"Missing required field(s): {', '.join(missing)}",
                                 code=errors.MISSING_FIELD,
                                 missing=missing)


def _invalid(field, value, message):
    """A 400 (code 9412) for a bad field value."""
    return errors.bad_request(message, code=errors.INVALID_FIELD, field=field, value=value)


def _lookup_ref(scope, entity, field, body):
    """The record ``body[field]`` refers to in ``entity`` (400 if unknown)."""
    record = scope.items(entity).get(body[field])
    if record is None:
        raise _invalid(field, body[field],
                       f"Unknown {field} {body[field]!r} in environment {scope.env['name']}")
    return record


def _check_state(op, entity, record, allowed, key="state"):
    """400 wrong-state error unless ``record[key]`` is in ``allowed``.

    For ``stop`` the context reports ``expectedStates: ["Running"]`` exactly as the
    vendor's 2012 example, although a Stopping instance may also be (force-)stopped.
    """
    if record[key] not in allowed:
        expected = allowed[:1] if op == "stop" else allowed
        raise errors.wrong_state(op, entity, record["id"], record[key], expected)


# ------------------------------------------------------------ instance specs
def offering_spec(scope, body):
    """(offering, cpuCount, memoryInMB) for a create/changeComputeOffering body (400 if invalid)."""
    offering = _lookup_ref(scope, "computeofferings", "computeOfferingId", body)
    if offering.get("type") == "BareMetal":
        raise _invalid("computeOfferingId", offering["id"],
                       "Bare-metal offerings need operation=acquireBareMetal")
    if not offering["custom"]:
        return offering, offering["cpuCount"], offering["memoryInMB"]
    _require(body, "cpuCount", "memoryInMB")
    cpu, mem = body["cpuCount"], body["memoryInMB"]
    if cpu not in offering["availableCpuCountValues"]:
        raise _invalid("cpuCount", cpu, f"cpuCount must be one of {offering['availableCpuCountValues']}")
    if mem not in offering["availableMemoryInMBValues"] or mem > cpu * offering["maxMemoryInMBToCpuRatio"]:
        raise _invalid("memoryInMB", mem, "memoryInMB not allowed for this cpuCount")
    return offering, cpu, mem


class _Ids:
    """Adapter giving the generator helpers the store's runtime id source."""

    def __init__(self, store):
        self.ids = store.ids

    def next_private_ip(self, network):
        """An address in the network (from the runtime id source)."""
        return network["gateway"].rsplit(".", 1)[0] + f".{int(self.ids.numeric(3)) % 250 + 2}"

    def next_mac(self):
        """A locally administered MAC address."""
        digits = self.ids.numeric(12)
        return "02:01:" + ":".join(f"{int(digits[i:i + 3]) % 256:02x}" for i in range(0, 12, 3))


# -------------------------------------------------------- CloudStack create
def create_instance(scope, body):
    """POST .../instances: validate, check quotas, create in Starting, Running when the task ends."""
    _require(body, "name", "computeOfferingId", "networkId", "templateId")
    offering, cpu, mem = offering_spec(scope, body)
    network = _lookup_ref(scope, "networks", "networkId", body)
    template = _lookup_ref(scope, "templates", "templateId", body)
    root_gb = int(body.get("rootVolumeSizeInGb") or template_root_gb(template))
    disk = _create_disk_spec(scope, body)
    with scope.store.lock:
        quotas.enforce(scope.store, scope.org_id, scope.conn["id"], {
            "INSTANCE_VCPUS": cpu, "INSTANCE_MEMORY": mem, "INSTANCE_COUNT": 1,
            "DISK_SIZE": root_gb + (disk[1] if disk else 0)})
        maker = _Ids(scope.store)
        inst = instance_record(maker, str(body["name"]), offering, cpu, mem, template, network, "Starting")
        scope.put("instances", inst)
        _create_volumes(scope, maker, inst, root_gb, disk)
    return accepted(scope.submit(
        "instances.create", lambda: scope.update("instances", inst["id"], state="Running"),
        lambda: scope.update("instances", inst["id"], state="Error"), id=inst["id"]))


def _create_disk_spec(scope, body):
    """(disk offering, size) of the optional extra data disk of an instance create."""
    if not body.get("diskOfferingId"):
        return None
    offering = _lookup_ref(scope, "diskofferings", "diskOfferingId", body)
    size = int(body.get("additionalDiskSizeInGb") or offering["gbSize"])
    if size <= 0:
        raise _invalid("additionalDiskSizeInGb", body.get("additionalDiskSizeInGb"),
                       "A custom disk needs a size")
    return offering, size


def _create_volumes(scope, maker, inst, root_gb, disk):
    """The os volume (and optional data volume) of a new instance."""
    now = clock.utcnow()
    seq = scope.store.ids.numeric(5)
    root = volume_record(maker, f"ROOT-{seq}", "os", root_gb, inst["zoneId"], inst["zoneName"], now, inst)
    scope.put("volumes", root)
    if disk:
        data = volume_record(maker, f"DATA-{seq}", "data", disk[1], inst["zoneId"], inst["zoneName"], now,
                             inst)
        scope.put("volumes", data)
        scope.store.extras[data["id"]] = {"diskOfferingId": disk[0]["id"],
                                          "diskOfferingName": disk[0]["name"]}


# ---------------------------------------------------- CloudStack operations
def instance_operation(scope, inst_id, op, body):
    """POST .../instances/:id?operation=op for CloudStack."""
    if op not in INSTANCE_OPS:
        raise _unknown_operation(op, ["start", "stop", "reboot", "purge", "recover", "changeComputeOffering",
                                      "resetPassword"])
    allowed, transitional, final = INSTANCE_OPS[op]
    with scope.store.lock:
        inst = scope.get("instances", inst_id)
        _check_state(op, "instances", inst, allowed)
        original = inst["state"]
        if op == "changeComputeOffering":
            return _change_offering(scope, inst, body)
        if transitional:
            scope.update("instances", inst_id, state=transitional)
    revert = lambda: scope.update("instances", inst_id, state=original)  # noqa: E731
    if op == "purge":
        apply = lambda: _purge(scope, inst_id)  # noqa: E731
    elif op == "resetPassword":
        apply = lambda: {"id": inst_id, "password": scope.store.ids.token(16)}  # noqa: E731
    else:
        apply = lambda: scope.update("instances", inst_id, state=final or original)  # noqa: E731
    return accepted(scope.submit(f"instances.{op}", apply, revert, id=inst_id))


def _unknown_operation(op, supported):
    """400 for an unsupported ``?operation=``."""
    return errors.bad_request(f"Unsupported operation {op!r}", code=errors.UNKNOWN_OPERATION,
                              operation=op, supportedOperations=supported)


def _change_offering(scope, inst, body):
    """changeComputeOffering: quota check on the difference, new specs when the task ends."""
    _require(body, "computeOfferingId")
    offering, cpu, mem = offering_spec(scope, body)
    quotas.enforce(scope.store, scope.org_id, scope.conn["id"], {
        "INSTANCE_VCPUS": cpu - inst["cpuCount"], "INSTANCE_MEMORY": mem - inst["memoryInMB"]})
    original = inst["state"]
    if original == "Running":
        scope.update("instances", inst["id"], state="Stopping")

    def apply():
        return scope.update("instances", inst["id"], state=original, cpuCount=cpu, memoryInMB=mem,
                            computeOfferingId=offering["id"], computeOfferingName=offering["name"])

    def revert():
        return scope.update("instances", inst["id"], state=original)

    return accepted(scope.submit("instances.changeComputeOffering", apply, revert, id=inst["id"]))


def delete_instance(scope, inst_id, body):
    """DELETE .../instances/:id with the optional destroy body."""
    with scope.store.lock:
        inst = scope.get("instances", inst_id)
        _check_state("delete", "instances", inst, DELETE_FROM)
        original = inst["state"]
        if original == "Running":
            scope.update("instances", inst_id, state="Stopping")

    def apply():
        """Release what the body lists, then destroy or purge."""
        _release(scope, inst_id, body)
        if body.get("purgeImmediately"):
            return _purge(scope, inst_id)
        return scope.update("instances", inst_id, state="Destroyed")

    revert = lambda: scope.update("instances", inst_id, state=original)  # noqa: E731
    return accepted(scope.submit("instances.delete", apply, revert, id=inst_id))


def _release(scope, inst_id, body):
    """Apply a destroy body: delete listed volumes (and snapshots), release listed IPs."""
    doomed = set(body.get("volumeIdsToDelete") or ())
    for vol_id in doomed:
        scope.remove("volumes", vol_id)
    if body.get("deleteSnapshots"):
        own = {v["id"] for v in scope.items("volumes").values() if v.get("instanceId") == inst_id} | doomed
        for snap in list(scope.items("snapshots").values()):
            if snap["volumeId"] in own:
                scope.remove("snapshots", snap["id"])
    for ip_id in body.get("publicIpIdsToRelease") or ():
        scope.remove("publicipaddresses", ip_id)


def _purge(scope, inst_id):
    """Expunge an instance: remove it and its os volume, detach its data volumes and IPs."""
    with scope.store.lock:
        for vol in list(scope.items("volumes").values()):
            if vol.get("instanceId") == inst_id:
                if vol["type"] == "os":
                    scope.remove("volumes", vol["id"])
                else:
                    scope.update("volumes", vol["id"], instanceId=DROP, instanceName=DROP)
        for ip in list(scope.items("publicipaddresses").values()):
            if any(ref["id"] == inst_id for ref in ip.get("instances", ())):
                scope.update("publicipaddresses", ip["id"], instances=DROP, networkId=DROP, networkName=DROP,
                             purposes=[])
        scope.remove("instances", inst_id)
    return {"id": inst_id}


def update_instance(scope, inst_id, body):
    """PUT .../instances/:id with ``name`` / ``hostname``."""
    changes = {k: str(body[k]) for k in ("name", "hostname") if body.get(k)}
    if not changes:
        raise errors.bad_request("Nothing to update: send name and/or hostname", code=errors.MISSING_FIELD,
                                 missing=["name", "hostname"])
    inst = scope.get("instances", inst_id)
    if inst["state"] in ("Destroyed", "Expunging"):
        raise errors.wrong_state("update", "instances", inst_id, inst["state"],
                                 ("Running", "Stopped", "Error"))
    return accepted(scope.submit("instances.update", lambda: scope.update("instances", inst_id, **changes),
                                 id=inst_id))


# ------------------------------------------------------------------- volumes
def create_volume(scope, body):
    """POST .../volumes ``{name, diskOfferingId, instanceId?, sizeInGb?}``."""
    _require(body, "name", "diskOfferingId")
    offering = _lookup_ref(scope, "diskofferings", "diskOfferingId", body)
    size = int(body.get("sizeInGb") or offering["gbSize"])
    if size <= 0:
        raise _invalid("sizeInGb", body.get("sizeInGb"), "A custom-size disk offering needs sizeInGb > 0")
    with scope.store.lock:
        inst = None
        if body.get("instanceId"):
            inst = _lookup_ref(scope, "instances", "instanceId", body)
            if inst["state"] in ("Destroyed", "Expunging", "Error"):
                raise errors.ApiError(400, errors.VOLUME_CREATE,
                                      "Cannot attach a new volume to this instance", {
                    "id": inst["id"], "currentState": inst["state"], "expectedStates": ["Running", "Stopped"],
                    "type": "instances"})
        quotas.enforce(scope.store, scope.org_id, scope.conn["id"], {"DISK_SIZE": size})
        zone = (inst["zoneId"], inst["zoneName"]) if inst else _first_zone(scope)
        vol = volume_record(_Ids(scope.store), str(body["name"]), "data", size, zone[0], zone[1],
                            clock.utcnow(),
                            inst, state="Creating")
        scope.put("volumes", vol)
        scope.store.extras[vol["id"]] = {"diskOfferingId": offering["id"],
                                         "diskOfferingName": offering["name"]}
    return accepted(scope.submit("volumes.create", lambda: scope.update("volumes", vol["id"], state="Ready"),
                                 lambda: scope.remove("volumes", vol["id"]), id=vol["id"]))


def _first_zone(scope):
    """(id, name) of the environment's first zone."""
    zone = next(iter(scope.items("zones").values()))
    return zone["id"], zone["name"]


def _volume_error(code, vol, message, current, expected):
    """A 400 volume precondition error in the 2012 context pattern (plus ``volumeType``)."""
    return errors.ApiError(400, code, message, {"id": vol["id"], "currentState": current,
                                                "expectedStates": list(expected), "type": "volumes",
                                                "volumeType": vol["type"]})


def delete_volume(scope, vol_id):
    """DELETE .../volumes/:id: only a detached data volume."""
    with scope.store.lock:
        vol = scope.get("volumes", vol_id)
        attached = "Attached" if vol.get("instanceId") else "Detached"
        if vol["type"] != "data" or attached == "Attached":
            raise _volume_error(errors.VOLUME_DELETE, vol, "Only a detached data volume can be deleted",
                                attached, ["Detached"])
        original = vol["state"]
        scope.update("volumes", vol_id, state="Expunging")
    return accepted(scope.submit("volumes.delete", lambda: scope.remove("volumes", vol_id) or {"id": vol_id},
                                 lambda: scope.update("volumes", vol_id, state=original), id=vol_id))


def volume_operation(scope, vol_id, op, body):
    """POST .../volumes/:id?operation=attachToInstance|detachFromInstance|createSnapshotFromVolume."""
    if op not in VOLUME_OPS:
        raise _unknown_operation(op, list(VOLUME_OPS))
    with scope.store.lock:
        vol = scope.get("volumes", vol_id)
        if op == "createSnapshotFromVolume":
            return _snapshot_volume(scope, vol, body)
        attached = "Attached" if vol.get("instanceId") else "Detached"
        if op == "attachToInstance":
            _require(body, "instanceId")
            if vol["type"] != "data" or attached == "Attached":
                raise _volume_error(errors.VOLUME_ATTACH, vol, "Only a detached data volume can be attached",
                                    attached, ["Detached"])
            inst = _lookup_ref(scope, "instances", "instanceId", body)
            if inst["state"] not in ("Running", "Stopped"):
                raise errors.ApiError(400, errors.VOLUME_ATTACH, "Cannot attach a volume to this instance", {
                    "id": inst["id"], "currentState": inst["state"], "expectedStates": ["Running", "Stopped"],
                    "type": "instances"})
            target = inst
        else:
            if vol["type"] != "data" or attached == "Detached":
                raise _volume_error(errors.VOLUME_DETACH, vol, "Only an attached data volume can be detached",
                                    attached, ["Attached"])
            target = None
    return accepted(scope.submit(f"volumes.{op}", lambda: _set_attachment(scope, vol_id, target), id=vol_id))


def _set_attachment(scope, vol_id, inst):
    """Attach ``vol_id`` to ``inst`` (None = detach), keeping the vendor key order."""
    with scope.store.lock:
        vol = scope.items("volumes").get(vol_id)
        if vol is None:
            return None
        new = {"id": vol["id"], "name": vol["name"], "type": vol["type"], "creationDate": vol["creationDate"]}
        if inst is not None:
            new.update({"instanceId": inst["id"], "instanceName": inst["name"]})
        new.update({k: vol[k] for k in ("zoneId", "zoneName", "state", "sizeInGb")})
        scope.put("volumes", new)
        return new


def _snapshot_volume(scope, vol, body):
    """createSnapshotFromVolume: volume must be Ready; snapshot BackingUp -> BackedUp."""
    _check_state("createSnapshotFromVolume", "volumes", vol, ("Ready",))
    options = body.get("snapshot") if isinstance(body.get("snapshot"), dict) else {}
    label = str(options.get("name") or "manual")
    owner = vol.get("instanceName", vol["name"])
    snap = {"id": scope.store.ids.uuid(), "name": f"{owner}_{label}_{clock.snapshot_stamp(clock.utcnow())}",
            "state": "BackingUp", "intervalType": "MANUAL", "volumeId": vol["id"], "volume": vol["name"],
            "volumeType": "ROOT" if vol["type"] == "os" else "DATADISK"}
    scope.put("snapshots", snap)
    return accepted(scope.submit("volumes.createSnapshotFromVolume",
                                 lambda: scope.update("snapshots", snap["id"], state="BackedUp"),
                                 lambda: scope.remove("snapshots", snap["id"]), id=vol["id"]))


# ----------------------------------------------------------------------- GCP
def gcp_instance_operation(scope, inst_id, op):
    """POST .../instances/:id?operation=start|stop on GCP."""
    if op not in GCP_OPS:
        raise _unknown_operation(op, sorted(GCP_OPS))
    allowed, transitional, final = GCP_OPS[op]
    with scope.store.lock:
        inst = scope.get("instances", inst_id)
        _check_state(op, "instances", inst, allowed, key="status")
        original = inst["status"]
        scope.update("instances", inst_id, status=transitional)
    return accepted(scope.submit(f"instances.{op}", lambda: scope.update("instances", inst_id, status=final),
                                 lambda: scope.update("instances", inst_id, status=original), id=inst_id))
