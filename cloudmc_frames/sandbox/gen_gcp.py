"""Seeded generator of GCP resources (``instances`` and ``disks``) in the vendor's GCP shapes."""
from datetime import timedelta

from . import clock
from .gen_cloudstack import scaled
from .names import GCP_IMAGES, GCP_INSTANCE_STATUSES, GCP_MACHINE_TYPES, GCP_STATUS_WEIGHTS, INSTANCE_ROLES

API = "https://www.googleapis.com/compute/v1/projects"
REGION = "northamerica-northeast1"


def project_name(org, env):
    """A GCP project id for an environment (lowercase, at most 30 chars)."""
    return f"{org['entryPoint']}-{env['name']}".replace("_", "-")[:30].rstrip("-")


def generate_env(ctx, org, env, spec, scale):
    """All GCP resources of one environment: ``{"instances": {...}, "disks": {...}}``."""
    rng = ctx.rng
    project = project_name(org, env)
    instances, disks = {}, {}
    statuses = rng.choices(GCP_INSTANCE_STATUSES, GCP_STATUS_WEIGHTS, k=max(1, scaled(rng, 3, 8, scale)))
    for index, status in enumerate(statuses, start=1):
        zone = rng.choice(spec["zones"])
        name = f"i-{rng.choice(INSTANCE_ROLES)}-{index:03d}"
        created = ctx.now - timedelta(days=rng.randrange(1, 600), seconds=rng.randrange(86400))
        boot = disk_record(ctx, project, zone, name, rng.choice([10, 20, 50]), created, name, boot=True)
        attached = [boot]
        if rng.random() < 0.3:
            attached.append(disk_record(ctx, project, zone, f"d-{name}-data", rng.choice([50, 100, 200]),
                                        created, name))
        inst = instance_record(ctx, project, zone, name, status, created, attached)
        instances[inst["id"]] = inst
        disks.update({d["id"]: d for d in attached})
    for index in range(scaled(rng, 0, 2, scale)):
        zone = rng.choice(spec["zones"])
        created = ctx.now - timedelta(days=rng.randrange(1, 600))
        disk = disk_record(ctx, project, zone, f"d-spare-{index + 1:03d}", rng.choice([10, 100, 500]),
                           created, None)
        disks[disk["id"]] = disk
    return {"instances": instances, "disks": disks}


def disk_record(ctx, project, zone, name, size_gb, created, user, boot=False):
    """One GCP disk; ``user`` is the instance name it is attached to (None = unattached)."""
    kind = "pd-ssd" if ctx.rng.random() < 0.3 else "pd-standard"
    record = {
        "creationTimestamp": clock.gcp_timestamp(created), "sizeGb": str(size_gb),
        "zone": f"{API}/{project}/zones/{zone}", "status": "ATTACHED" if user else "READY",
        "selfLink": f"{API}/{project}/zones/{zone}/disks/{name}",
        "type": f"{API}/{project}/zones/{zone}/diskTypes/{kind}",
    }
    if user:
        record["lastAttachTimestamp"] = clock.gcp_timestamp(created + timedelta(seconds=5))
    record.update({
        "users": [f"{API}/{project}/zones/{zone}/instances/{user}"] if user else [],
        "labelFingerprint": "42WmSpB8rSM=", "physicalBlockSizeBytes": "4096", "kind": "compute#disk",
        "shortUsers": user or "", "shortType": kind, "attachMode": "READ_WRITE", "autoDelete": boot,
        "id": ctx.ids.numeric(), "name": name, "shortZone": zone, "shortRegion": REGION,
    })
    return record


def _attached(disk, index, boot, image):
    """The instance's view of an attached disk (``disks[]`` item)."""
    return {
        "autoDelete": boot, "boot": boot, "deviceName": disk["name"],
        "guestOsFeatures": [{"type": "VIRTIO_SCSI_MULTIQUEUE"}], "index": index, "interface": "SCSI",
        "kind": "compute#attachedDisk",
        "licenses": [f"{API}/{image[2]}/global/licenses/{image[0]}"] if boot else [],
        "mode": "READ_WRITE", "source": disk["selfLink"], "type": "PERSISTENT",
    }


def instance_record(ctx, project, zone, name, status, created, disks):
    """One GCP instance in the vendor list shape (cpu/memory consistent with the machine type)."""
    rng = ctx.rng
    machine, cpu, memory = rng.choice(GCP_MACHINE_TYPES)
    image = rng.choice(GCP_IMAGES)
    internal = ctx.next_private_ip(None)
    external = ctx.next_public_ip() if status == "RUNNING" and rng.random() < 0.7 else None
    access = ([{"kind": "compute#accessConfig", "name": "external-nat", "natIP": external,
                "networkTier": "PREMIUM", "type": "ONE_TO_ONE_NAT"}] if external else [])
    items = [{"key": "startup-script",
              "value": "#! /bin/bash\napt-get update\nEOF"}] if rng.random() < 0.4 else []
    return {
        "status": status, "zone": f"{API}/{project}/zones/{zone}",
        "machineType": f"{API}/{project}/zones/{zone}/machineTypes/{machine}", "cpuPlatform": "Intel Skylake",
        "creationTimestamp": clock.gcp_timestamp(created), "deletionProtection": False,
        "disks": [_attached(d, i, i == 0, image) for i, d in enumerate(disks)],
        "kind": "compute#instance", "labelFingerprint": "42WmSpB8rSM=",
        "metadata": {"fingerprint": "RnfaWQ2UP4U=", "items": items, "kind": "compute#metadata"},
        "networkInterfaces": [{
            "accessConfigs": access, "fingerprint": "NG6-4Cdf0KA=", "kind": "compute#networkInterface",
            "name": "nic0", "network": f"{API}/{project}/global/networks/default", "networkIP": internal,
            "subnetwork": f"{API}/{project}/regions/{REGION}/subnetworks/default",
        }],
        "scheduling": {"automaticRestart": True, "onHostMaintenance": "MIGRATE", "preemptible": False},
        "selfLink": f"{API}/{project}/zones/{zone}/instances/{name}", "startRestricted": False,
        "tags": {"fingerprint": "42WmSpB8rSM="}, "shortMachineType": machine, "project": project,
        "internalIp": internal, "externalIp": external, "shortNetwork": "default",
        "shortSubnetwork": "default",
        "iconUrl": f"/rest/services/assets/gcp/os_logo/{image[1]}.png", "osImageName": image[0],
        "osImageSelfLink": f"{API}/{image[2]}/global/images/{image[0]}-v20240110",
        "osImageSizeInGb": int(disks[0]["sizeGb"]), "bootDiskSizeInGb": int(disks[0]["sizeGb"]),
        "cpuCount": cpu, "memoryInGB": float(memory), "id": ctx.ids.numeric(), "name": name,
        "shortZone": zone, "shortRegion": REGION,
    }
