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
* **profiles** (``signals``): instances of live orgs Running without a break for the last 40
  days or more are idle 25%, busy 15%, spiky 15%, normal 45% (idle since 35-150 days before
  ``now``, so every hour of those weeks has a sample below 5% CPU); every other instance busy
  15%, spiky 15%, normal 70%;
* **commitments**: ``gen_commitments``.

Runtime writes (instances created, stopped or purged through the API after start-up) happen
after ``now`` and leave the ledger as it is.
"""

import hashlib
import random
from datetime import timedelta

from . import clock, gen_commitments, history, pricing
from .ledger import Item, Ledger
from .signals import Profile
from .store import IdFactory

DAY = timedelta(days=1)
# (kind, cumulative probability) of the profiles of eligible (long-running, live) and other instances
IDLE_ODDS = (("idle", 0.25), ("busy", 0.40), ("spiky", 0.55), ("normal", 1.0))
ACTIVE_ODDS = (("busy", 0.15), ("spiky", 0.30), ("normal", 1.0))


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


def _hour(text):
    """Epoch seconds of an API timestamp, floored to the hour."""
    return clock.epoch(clock.parse_instant(text)) // 3600 * 3600


def _creations(env, resources):
    """``{instance id: creation hour}`` of one environment's instances."""
    roots = {
        v["instanceId"]: _hour(v["creationDate"])
        for v in resources["volumes"].values()
        if v["type"] == "os" and "instanceId" in v
    }
    start = _hour(env["creationDate"])
    return {i: clock.from_epoch(max(start, roots[i])) for i in resources["instances"]}


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
    until = ledger.deleted_at.get(org_id, store.now)
    make = _Maker(ledger, env)
    resources = store.resources[env["id"]]
    lives = {}
    for inst in resources["instances"].values():
        past = history.plan(rng, inst["id"], inst["state"], created[inst["id"]], store.now, until)
        ledger.histories[inst["id"]] = past
        ledger.profiles[inst["id"]] = _profile(rng, past, store.now, org_id in ledger.deleted_at)
        lives[inst["id"]] = (clock.epoch(past.created), clock.epoch(past.end_of_life()))
        _instance_items(make, inst, [(clock.epoch(a), clock.epoch(b)) for a, b in past.spans()])
    _storage_items(make, resources["volumes"].values(), lives, clock.epoch(until))
    _address_items(make, resources["publicipaddresses"].values(), lives, clock.epoch(until))
    return make.items


def _instance_items(make, inst, spans):
    """vCPU and memory of an instance during its compute ``spans``."""
    fields = {
        "resourceType": "instance",
        "resourceId": inst["id"],
        "resourceName": inst["name"],
        "zone": inst["zoneName"],
        "offering": inst["computeOfferingName"],
    }
    make("cpu_type", inst["cpuCount"], spans, "instances", fields)
    make("memory_type", inst["memoryInMB"] / 1024, spans, "instances", fields)


def _storage_items(make, volumes, lives, end):
    """Each volume's GB from its creation until its instance's end of life (detached: ``end``)."""
    for vol in volumes:
        start = max(make.env_start, _hour(vol["creationDate"]))
        owner = lives.get(vol.get("instanceId"))
        fields = {
            "resourceType": "volume",
            "resourceId": vol["id"],
            "resourceName": vol["name"],
            "zone": vol["zoneName"],
            "volumeType": vol["type"],
        }
        make("storage_type", vol["sizeInGb"], [(start, owner[1] if owner else end)], "volumes", fields)


def _address_items(make, addresses, lives, end):
    """Each public IP during its instance's life (unassigned: from the environment's creation to ``end``)."""
    for ip in addresses:
        owner = lives.get(ip["instances"][0]["id"]) if ip.get("instances") else None
        purpose = ip["purposes"][0] if ip["purposes"] else "UNASSIGNED"
        fields = {
            "resourceType": "publicip",
            "resourceId": ip["id"],
            "resourceName": ip["ipAddress"],
            "zone": ip["zoneName"],
            "purpose": purpose,
        }
        make(
            "source_nat_type" if purpose == "SOURCE_NAT" else "public_ip_type",
            1,
            [owner or (make.env_start, end)],
            "publicipaddresses",
            fields,
        )


class _Maker:
    """Builds the ``Item`` objects of one environment (``make(...)`` appends to ``make.items``)."""

    def __init__(self, ledger, env):
        """Remember the environment's ids and creation hour."""
        self.ledger = ledger
        self.env_start = _hour(env["creationDate"])
        self.context = (env["organization"]["id"], env["serviceConnection"]["id"], env["id"], env["name"])
        self.items = []

    def __call__(self, usage_type, rate, spans, entity_type, fields):
        """Add an item over epoch ``spans`` clipped to the ledger's history (nothing if it never accrues)."""
        low, high = self.ledger.start, self.ledger.now
        intervals = tuple((max(a, low), min(b, high)) for a, b in spans if max(a, low) < min(b, high))
        if intervals and rate > 0:
            key = hashlib.md5(f"{fields['resourceId']}:{usage_type}".encode()).hexdigest()
            self.items.append(
                Item(key, usage_type, float(rate), intervals, *self.context, entity_type, fields)
            )


def _profile(rng, past, now, deleted):
    """A usage profile: idle only for instances of live orgs running without a break for 40 days or more."""
    running_since = past.spans()[-1][0] if past.state == "Running" else now
    draw, kinds = (
        rng.random(),
        (IDLE_ODDS if not deleted and running_since <= now - 40 * DAY else ACTIVE_ODDS),
    )
    kind = next(k for k, bound in kinds if draw < bound)
    if kind != "idle":
        return Profile(kind)
    return Profile(kind, clock.epoch(max(running_since + DAY, now - DAY * rng.randint(35, 150))))
