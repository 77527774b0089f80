"""Usage facts of a scenario, drawn from their own random stream (the inventory's draws are untouched).

``build(store, usage_days, hourly_days)`` returns the ``ledger.Ledger`` kept as ``store.usage``.
It reads the generated inventory, never changes it, and draws only from
``random.Random(f"{seed}-usage")`` (ids from their own ``IdFactory``).  Per environment of a
usage-enabled connection (``names.PLUGIN_SUPPORT``: CloudStack):

* **creation** of an instance: its root volume's ``creationDate``, or the environment's creation
  when that is later, floored to the hour;
* **history** (``history.plan``): state events from creation to the instance's current state;
* **deleted organizations** stop at a deletion time drawn between their last instance creation
  and ``now`` (within the last 200 days): nothing accrues or is sampled after it;
* **items**: vCPU (``cpu_type``, rate ``cpuCount``) and memory (``memory_type``, ``memoryInMB /
  1024`` GiB) during compute states; each volume (``storage_type``, ``sizeInGb``) from its
  creation (or the environment's) until its instance is destroyed (detached: until the org's
  end); each public IP (``public_ip_type``, SOURCE_NAT ones ``source_nat_type``) from its
  instance's creation (unassigned: the environment's) until the instance is destroyed; all
  clipped to ``[now - usage_days, now)``;
* **profiles** (``signals``): currently Running instances older than 40 days in live orgs are
  idle 25%, busy 15%, spiky 15%, normal 45% (idle since 35-150 days before ``now``); every other
  instance busy 15%, spiky 15%, normal 70%;
* **commitments**: ``gen_commitments``.

Runtime writes (instances created, stopped or purged through the API after start-up) happen
after ``now`` and leave the ledger as it is.
"""
import hashlib
import random
from datetime import timedelta

from . import clock, gen_commitments, history, pricing
from .ledger import Item, Ledger
from .signals import PROFILE_KINDS, Profile
from .store import IdFactory

DAY = timedelta(days=1)
IDLE_WEIGHTS = (25, 15, 15, 45)
ACTIVE_WEIGHTS = (15, 15, 70)


def build(store, usage_days=365, hourly_days=30):
    """The ``Ledger`` of ``store`` (see the module docstring)."""
    if int(usage_days) < 1 or not 0 <= int(hourly_days) <= int(usage_days):
        raise ValueError("usage_days must be >= 1 and 0 <= hourly_days <= usage_days")
    rng = random.Random(f"{store.seed}-usage")
    ledger = Ledger(store.now, int(usage_days), int(hourly_days))
    ledger.prices = pricing.tables(store)
    envs = [e for e in store.environments.values() if e["serviceConnection"]["id"] in ledger.prices]
    created = {i: c for env in envs for i, c in _creations(env, store.resources[env["id"]]).items()}
    ledger.deleted_at = _deletion_times(rng, store, envs, created)
    items = []
    for env in envs:
        items.extend(_env_items(rng, store, ledger, env, created))
    ledger.freeze(items)
    gen_commitments.make(rng, IdFactory(f"cloudmc-sandbox-usage-ids:{store.seed}"), store, ledger)
    return ledger


def _env_start(env):
    """The hour an environment was created."""
    return clock.floor_hour(clock.parse_instant(env["creationDate"]))


def _creations(env, resources):
    """``{instance id: creation hour}`` of one environment's instances."""
    roots = {v["instanceId"]: clock.parse_instant(v["creationDate"]) for v in resources["volumes"].values()
             if v["type"] == "os" and "instanceId" in v}
    start = _env_start(env)
    return {i: max(start, clock.floor_hour(roots[i])) for i in resources["instances"]}


def _deletion_times(rng, store, envs, created):
    """``{deleted org id: deletion hour}``, after the org's last instance creation."""
    now = store.now
    latest = {}
    for env in envs:
        org_id = env["organization"]["id"]
        for inst_id in store.resources[env["id"]]["instances"]:
            latest[org_id] = max(latest.get(org_id, created[inst_id]), created[inst_id])
    out = {}
    for org in store.orgs.values():
        if org["deleted"]:
            floor = latest.get(org["id"], clock.floor_hour(clock.parse_instant(org["creationDate"])))
            when = history.hour_between(rng, max(floor + DAY, now - 200 * DAY), now - DAY)
            out[org["id"]] = min(when, now - history.HOUR)
    return out


def _env_items(rng, store, ledger, env, created):
    """Every ``Item`` of one environment (and its instances' histories and profiles)."""
    org_id = env["organization"]["id"]
    now = store.now
    until = ledger.deleted_at.get(org_id, now)
    resources = store.resources[env["id"]]
    out = []
    for inst in resources["instances"].values():
        past = history.plan(rng, inst["id"], inst["state"], created[inst["id"]], now, until)
        ledger.histories[inst["id"]] = past
        ledger.profiles[inst["id"]] = _profile(rng, past, now, org_id in ledger.deleted_at)
        fields = {"resourceType": "instance", "resourceId": inst["id"], "resourceName": inst["name"],
                  "zone": inst["zoneName"], "offering": inst["computeOfferingName"]}
        for usage_type, rate in (("cpu_type", inst["cpuCount"]), ("memory_type", inst["memoryInMB"] / 1024)):
            out.append(_item(ledger, env, usage_type, rate, past.spans(), "instances", fields))
    for vol in resources["volumes"].values():
        owner = ledger.histories.get(vol.get("instanceId"))
        start = max(_env_start(env), clock.floor_hour(clock.parse_instant(vol["creationDate"])))
        fields = {"resourceType": "volume", "resourceId": vol["id"], "resourceName": vol["name"],
                  "zone": vol["zoneName"], "volumeType": vol["type"]}
        end = owner.end_of_life() if owner else until
        out.append(_item(ledger, env, "storage_type", vol["sizeInGb"], [(start, end)], "volumes", fields))
    for ip in resources["publicipaddresses"].values():
        owner = ledger.histories.get(ip["instances"][0]["id"]) if ip.get("instances") else None
        span = (owner.created, owner.end_of_life()) if owner else (_env_start(env), until)
        purpose = ip["purposes"][0] if ip["purposes"] else "UNASSIGNED"
        fields = {"resourceType": "publicip", "resourceId": ip["id"], "resourceName": ip["ipAddress"],
                  "zone": ip["zoneName"], "purpose": purpose}
        usage_type = "source_nat_type" if purpose == "SOURCE_NAT" else "public_ip_type"
        out.append(_item(ledger, env, usage_type, 1, [span], "publicipaddresses", fields))
    return [i for i in out if i is not None]


def _item(ledger, env, usage_type, rate, spans, entity_type, fields):
    """An ``Item`` over ``spans`` (datetimes) clipped to the ledger's history; None if nothing accrues."""
    intervals = []
    for start, end in spans:
        low, high = max(clock.epoch(start), ledger.start), min(clock.epoch(end), ledger.now)
        if low < high:
            intervals.append((low, high))
    if not intervals or rate <= 0:
        return None
    key = hashlib.md5(f"{fields['resourceId']}:{usage_type}".encode("utf-8")).hexdigest()
    return Item(key, usage_type, float(rate), tuple(intervals), env["organization"]["id"],
                env["serviceConnection"]["id"], env["id"], env["name"], entity_type, fields)


def _profile(rng, past, now, deleted):
    """A usage profile: idle only for long-running instances of live orgs."""
    if past.state == "Running" and not deleted and past.created <= now - 40 * DAY:
        kind = rng.choices(PROFILE_KINDS, IDLE_WEIGHTS)[0]
    else:
        kind = rng.choices(PROFILE_KINDS[1:], ACTIVE_WEIGHTS)[0]
    if kind != "idle":
        return Profile(kind)
    return Profile(kind, clock.epoch(max(past.created + DAY, now - DAY * rng.randint(35, 150))))
