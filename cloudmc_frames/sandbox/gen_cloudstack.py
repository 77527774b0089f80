"""Seeded generator of CloudStack-like resources (connection catalogs and per-environment data).

Record shapes copy the vendor examples (``cloudstack__*``) key for key.
Detail-only fields (instance ``userData``, data volume ``diskOfferingId``/``Name``)
go to ``ctx.extras[resource_id]``.
"""
from datetime import timedelta

from . import clock
from .names import (
    COMPUTE_OFFERINGS,
    CUSTOM_CPU_VALUES,
    CUSTOM_MAX_MB_PER_CPU,
    CUSTOM_MEMORY_VALUES,
    DISK_OFFERINGS,
    INSTANCE_ROLES,
    INSTANCE_STATE_WEIGHTS,
    INSTANCE_STATES,
    NETWORK_NAMES,
    TEMPLATES,
)

SNAPSHOT_INTERVALS = ["MANUAL", "MANUAL", "DAILY", "WEEKLY", "HOURLY"]


def make_catalog(ctx, spec):
    """Zones, templates, compute and disk offerings shared by every env of one connection."""
    ids = ctx.ids
    zones = {}
    for name in spec["zones"]:
        zone = {"id": ids.uuid(), "name": name}
        zones[zone["id"]] = zone
    zone_list = list(zones.values())
    return {
        "zones": zones,
        "templates": _templates(ctx, zone_list),
        "computeofferings": _compute_offerings(ids),
        "diskofferings": _disk_offerings(ids),
        "networkOfferingId": ids.uuid(),
        "networkAcls": {"default_allow": ids.uuid(), "default_deny": ids.uuid()},
        "zone_list": zone_list,
    }


def _templates(ctx, zones):
    """Template records; VMware ones carry nicAdapter/rootDiskController/keyboard."""
    out = {}
    for name, os_name, _root_gb, user, hypervisor, fmt in TEMPLATES:
        zone = ctx.rng.choice(zones)
        record = {
            "id": ctx.ids.uuid(), "name": name, "description": f"{name} template",
            "defaultUsername": user, "size": ctx.rng.randrange(2, 12) * 1024 ** 3,
            "availablePublicly": ctx.rng.random() < 0.7, "ready": True, "dynamicallyScalable": True,
            "extractable": False, "sshKeyEnabled": user != "Administrator",
            "created": clock.template_created(ctx.now - timedelta(days=ctx.rng.randrange(200, 1500))),
            "zoneId": zone["id"], "zoneName": zone["name"], "osTypeId": ctx.ids.uuid(), "osTypeName": os_name,
            "availableInZones": [z["id"] for z in zones], "hypervisor": hypervisor, "format": fmt,
        }
        if hypervisor == "VMware":
            record.update({"nicAdapter": "e1000", "rootDiskController": "scsi", "keyboard": "us"})
        out[record["id"]] = record
    return out


def template_root_gb(template):
    """Root volume size (GB) of instances built from ``template``."""
    return next(t[2] for t in TEMPLATES if t[0] == template["name"])


def _compute_offerings(ids):
    """Fixed offerings, one custom offering and one bare-metal offering."""
    out = {}
    for name, cpu, mem in COMPUTE_OFFERINGS:
        oid = ids.uuid()
        out[oid] = {"id": oid, "name": name, "cpuCount": cpu, "memoryInMB": mem, "custom": False}
    oid = ids.uuid()
    out[oid] = {"id": oid, "name": "Custom CPU and memory", "custom": True,
                "availableCpuCountValues": list(CUSTOM_CPU_VALUES),
                "availableMemoryInMBValues": list(CUSTOM_MEMORY_VALUES),
                "maxMemoryInMBToCpuRatio": CUSTOM_MAX_MB_PER_CPU}
    oid = ids.uuid()
    out[oid] = {"id": oid, "name": "32 CPU - 256 GB RAM", "memoryInMB": 262144, "cpuCount": 32,
                "custom": False, "type": "BareMetal", "availabilityCount": 1}
    return out


def _disk_offerings(ids):
    """Fixed-size disk offerings plus one custom-size offering (gbSize 0)."""
    out = {}
    for name, size in DISK_OFFERINGS:
        oid = ids.uuid()
        out[oid] = {"customIops": False, "customSize": False, "gbSize": size, "id": oid, "name": name}
    oid = ids.uuid()
    out[oid] = {"customIops": False, "customSize": True, "gbSize": 0, "id": oid, "name": "Custom size"}
    return out


def scaled(rng, low, high, scale):
    """A random count in [low, high] multiplied by ``scale`` (rounded)."""
    return int(round(rng.randint(low, high) * scale))


def generate_env(ctx, env, catalog, scale, forced_states=()):
    """All CloudStack resources of one environment: ``{entity_type: {id: record}}``."""
    rng = ctx.rng
    vpc = {"id": ctx.ids.uuid(), "name": f"{env['name']}-vpc"}
    networks = _networks(ctx, catalog, vpc, rng.randint(1, 3))
    count = max(len(forced_states), scaled(rng, 6, 14, scale), 1)
    instances = _instances(ctx, catalog, list(networks.values()), count, forced_states)
    for net in networks.values():
        if not any(i["networkId"] == net["id"] for i in instances.values()):
            net["state"] = "Allocated"
    volumes = _volumes(ctx, catalog, instances, scale)
    return {
        "instances": instances,
        "volumes": volumes,
        "snapshots": _snapshots(ctx, volumes),
        "publicipaddresses": _public_ips(ctx, vpc, networks, instances, scale),
        "zones": dict(catalog["zones"]),
        "templates": dict(catalog["templates"]),
        "computeofferings": dict(catalog["computeofferings"]),
        "diskofferings": dict(catalog["diskofferings"]),
        "networks": networks,
    }


def _networks(ctx, catalog, vpc, count):
    """VPC tier networks (state Implemented; Allocated if no instance lands on it)."""
    out = {}
    for name in ctx.rng.sample(NETWORK_NAMES, count):
        zone = ctx.rng.choice(catalog["zone_list"])
        octet = ctx.rng.randrange(1, 250)
        acl = ctx.rng.choice(sorted(catalog["networkAcls"]))
        net = {
            "id": ctx.ids.uuid(), "name": name, "description": f"{name} tier",
            "vpcId": vpc["id"], "vpcName": vpc["name"], "zoneId": zone["id"], "zoneName": zone["name"],
            "cidr": f"10.{octet}.0.0/16", "gateway": f"10.{octet}.0.1", "netmask": "255.255.0.0",
            "networkAclId": catalog["networkAcls"][acl], "networkAclName": acl,
            "networkOfferingId": catalog["networkOfferingId"], "networkOfferingName": "Load Balanced Network",
            "networkOfferingDescription":
                "Offering for Isolated Vpc networks with Source Nat service enabled",
            "state": "Implemented",
        }
        out[net["id"]] = net
    return out


def pick_offering(rng, offerings):
    """Choose (offering, cpuCount, memoryInMB): mostly fixed, sometimes custom, never bare metal."""
    fixed = [o for o in offerings if not o["custom"] and "type" not in o]
    if rng.random() < 0.2:
        custom = next(o for o in offerings if o["custom"])
        cpu = rng.choice(CUSTOM_CPU_VALUES[:3])
        mem = rng.choice([m for m in CUSTOM_MEMORY_VALUES if m <= cpu * CUSTOM_MAX_MB_PER_CPU])
        return custom, cpu, mem
    offering = rng.choices(fixed, weights=[4, 5, 3, 1][:len(fixed)])[0]
    return offering, offering["cpuCount"], offering["memoryInMB"]


def instance_record(ctx, name, offering, cpu, mem, template, network, state):
    """One CloudStack instance in the vendor list shape."""
    return {
        "id": ctx.ids.uuid(), "name": name, "affinityGroupIds": [],
        "computeOfferingId": offering["id"], "computeOfferingName": offering["name"], "cpuCount": cpu,
        "hostname": name, "imageId": template["id"], "imageName": template["name"],
        "ipAddress": ctx.next_private_ip(network),
        "isPasswordEnabled": template["defaultUsername"] != "cca-user",
        "macAddress": ctx.next_mac(), "memoryInMB": mem, "networkId": network["id"],
        "networkName": network["name"], "state": state, "username": template["defaultUsername"],
        "vpcId": network["vpcId"], "vpcName": network["vpcName"], "zoneId": network["zoneId"],
        "zoneName": network["zoneName"],
    }


def _instances(ctx, catalog, networks, count, forced_states):
    """Instances in weighted states; ``forced_states`` are used first (all states appear)."""
    rng = ctx.rng
    offerings = list(catalog["computeofferings"].values())
    templates = list(catalog["templates"].values())
    states = list(forced_states) + rng.choices(INSTANCE_STATES, INSTANCE_STATE_WEIGHTS,
                                               k=max(0, count - len(forced_states)))
    out = {}
    for index, state in enumerate(states, start=1):
        offering, cpu, mem = pick_offering(rng, offerings)
        name = f"{rng.choice(INSTANCE_ROLES)}-{index:03d}"
        inst = instance_record(ctx, name, offering, cpu, mem, rng.choice(templates), rng.choice(networks),
                               state)
        out[inst["id"]] = inst
        if rng.random() < 0.15:
            ctx.extras[inst["id"]] = {"userData": "#cloud-config\npackage_update: true\n"}
    return out


def volume_record(ctx, name, vtype, size_gb, zone_id, zone_name, created, instance=None, state="Ready"):
    """One CloudStack volume in the vendor list shape (no instance keys when detached)."""
    record = {"id": ctx.ids.uuid(), "name": name, "type": vtype,
              "creationDate": clock.iso_compact_offset(created)}
    if instance is not None:
        record["instanceId"] = instance["id"]
        record["instanceName"] = instance["name"]
    record.update({"zoneId": zone_id, "zoneName": zone_name, "state": state, "sizeInGb": size_gb})
    return record


def _volumes(ctx, catalog, instances, scale):
    """An os volume per instance, data volumes on ~40% of them, plus detached data volumes."""
    rng = ctx.rng
    templates = catalog["templates"]
    fixed_disks = [d for d in catalog["diskofferings"].values() if not d["customSize"]]
    out = {}
    for inst in instances.values():
        created = ctx.now - timedelta(days=rng.randrange(1, 700), seconds=rng.randrange(86400))
        size = template_root_gb(templates[inst["imageId"]])
        vol = volume_record(ctx, f"ROOT-{ctx.next_seq()}", "os", size, inst["zoneId"], inst["zoneName"],
                            created, inst)
        out[vol["id"]] = vol
        if rng.random() < 0.4:
            out.update(_data_volume(ctx, rng.choice(fixed_disks), inst["zoneId"], inst["zoneName"], created,
                                    inst))
    zones = catalog["zone_list"]
    for _ in range(scaled(rng, 0, 3, scale)):
        zone = rng.choice(zones)
        created = ctx.now - timedelta(days=rng.randrange(1, 700))
        out.update(_data_volume(ctx, rng.choice(fixed_disks), zone["id"], zone["name"], created, None))
    return out


def _data_volume(ctx, offering, zone_id, zone_name, created, instance):
    """A data volume (attached when ``instance`` is given) with its disk offering in extras."""
    vol = volume_record(ctx, f"DATA-{ctx.next_seq()}", "data", offering["gbSize"], zone_id, zone_name,
                        created, instance)
    ctx.extras[vol["id"]] = {"diskOfferingId": offering["id"], "diskOfferingName": offering["name"]}
    return {vol["id"]: vol}


def _snapshots(ctx, volumes):
    """Snapshots of ~30% of volumes; the name ends with the UTC creation stamp (vendor style)."""
    rng = ctx.rng
    out = {}
    for vol in volumes.values():
        if rng.random() >= 0.3:
            continue
        for _ in range(rng.randint(1, 2)):
            taken = ctx.now - timedelta(days=rng.randrange(0, 200), seconds=rng.randrange(86400))
            owner = vol.get("instanceName", vol["name"])
            label = rng.choice(["daily", "pre-upgrade", "backup", "manual"])
            snap = {
                "id": ctx.ids.uuid(), "name": f"{owner}_{label}_{clock.snapshot_stamp(taken)}",
                "state": "BackedUp" if rng.random() < 0.95 else "BackingUp",
                "intervalType": rng.choice(SNAPSHOT_INTERVALS), "volumeId": vol["id"], "volume": vol["name"],
                "volumeType": "ROOT" if vol["type"] == "os" else "DATADISK",
            }
            out[snap["id"]] = snap
    return out


def _public_ips(ctx, vpc, networks, instances, scale):
    """A source-NAT IP for the VPC, IPs on ~30% of running instances, and unassigned IPs."""
    rng = ctx.rng
    nets = list(networks.values())
    zone = (nets[0]["zoneId"], nets[0]["zoneName"])
    out = {}
    out.update(_ip(ctx, vpc, zone, ["SOURCE_NAT"]))
    for inst in instances.values():
        if inst["state"] == "Running" and rng.random() < 0.3:
            purpose = rng.choice(["STATIC_NAT", "PORT_FORWARDING"])
            out.update(_ip(ctx, vpc, (inst["zoneId"], inst["zoneName"]), [purpose], inst))
    for _ in range(max(1, scaled(rng, 0, 2, scale))):
        out.update(_ip(ctx, vpc, zone, []))
    return out


def _ip(ctx, vpc, zone, purposes, instance=None):
    """One public IP record; instance/network keys only when assigned to an instance."""
    record = {"id": ctx.ids.uuid()}
    if instance is not None:
        record["instances"] = [{"id": instance["id"], "name": instance["name"]}]
    record["ipAddress"] = ctx.next_public_ip()
    if instance is not None:
        record["networkId"] = instance["networkId"]
        record["networkName"] = instance["networkName"]
    record.update({"purposes": purposes, "state": "Allocated", "vpcId": vpc["id"], "vpcName": vpc["name"],
                   "zoneId": zone[0], "zoneName": zone[1]})
    return {record["id"]: record}
