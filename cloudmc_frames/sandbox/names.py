"""Fixed vocabularies of the scenario generator (names, roles, connections, catalogs) and ``slug``."""
import unicodedata

ROOT_NAME = "Nimbus Cloud"

# Order matters: the first names are used first, so small scenarios still get a
# name with a space and non-ASCII names ("Québec Ops" always, from 3 orgs on).
ORG_NAMES = [
    "Acme Corp", "Globex", "Québec Ops", "Initech", "Umbrella Labs", "Stark Industries",
    "Wayne Enterprises", "Cyberdyne Systems", "Montréal Média", "Tyrell Corp", "Wonka Industries",
    "Hooli", "Pied Piper", "Vandelay Industries", "Aperture Science", "Black Mesa", "Zürich Analytics",
    "Dunder Mifflin", "Sterling Cooper", "Massive Dynamic", "Monarch Solutions", "Nakatomi Trading",
    "Weyland Yutani", "Oscorp", "Prestige Worldwide", "Bluth Company", "São Paulo Dados",
    "Kramerica", "Blue Sun", "Soylent Foods", "Gekko & Co", "Los Pollos Hermanos", "Duff Brewing",
    "Ollivanders", "Virtucon", "Spacely Sprockets", "Cogswell Cogs", "InGen", "Rekall", "Omni Consumer",
]

FIRST_NAMES = [
    "Alice", "Bruno", "Chloé", "David", "Élodie", "Farid", "Grace", "Hugo", "Inès", "Jamal", "Kim",
    "Léa", "Marc", "Nadia", "Olivier", "Priya", "Quentin", "Rosa", "Samir", "Tess", "Ulysse",
    "Véronique", "Wei", "Xavier", "Yasmine", "Zoé",
]
LAST_NAMES = [
    "Martin", "Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie",
    "Fortin", "Nguyen", "Smith", "García", "Müller", "Okafor", "Singh", "Kowalski", "Rossi",
    "Dubois", "Leblanc", "Pelletier", "Chen",
]

ENV_NAMES = ["prod", "dev", "staging", "qa", "sandbox", "analytics", "ml_lab", "web-01", "backend",
             "data-eng"]

ORG_ROLES = [
    # name, defaultScope, permission names; Administrator "accesses other levels"
    ("Administrator", "ORG_TREE", ["org:*:*", "users:*:*", "environments:*:*"]),
    ("User", "ORG_BASE", ["env:*:*"]),
    ("Guest", "ORG_BASE", ["env:*:read"]),
]
ENV_ROLES = [
    # name, isDefault, pluginName, permission names
    ("Owner", False, None, ["env:*:*", "env:members:*"]),
    ("editor", True, "cloudstack", ["env:*:*"]),
    ("viewer", False, "cloudstack", ["env:*:read"]),
]

CONNECTIONS = [
    {"serviceCode": "compute-qc", "name": "Compute - Québec", "type": "cloudstack",
     "zones": ["QC-1", "QC-2"], "assign_rate": 0.8},
    {"serviceCode": "compute-on", "name": "Compute - Ontario", "type": "cloudstack",
     "zones": ["ON-1"], "assign_rate": 0.35},
    {"serviceCode": "gcp-lab", "name": "GCP Lab", "type": "gcp",
     "zones": ["northamerica-northeast1-a", "northamerica-northeast1-b", "northamerica-northeast1-c"],
     "assign_rate": 0.45},
]

# What each plugin type can do beyond inventory (``GET /services/descriptors/:type`` flags).  GCP
# supports neither, so clients meet a connection without usage and metrics in the default scenario.
PLUGIN_SUPPORT = {
    "cloudstack": {"supportsUsage": True, "supportsMetric": True},
    "gcp": {"supportsUsage": False, "supportsMetric": False},
}

CLOUDSTACK_ENTITIES = ("instances", "volumes", "snapshots", "publicipaddresses", "zones", "templates",
                       "computeofferings", "diskofferings", "networks")
GCP_ENTITIES = ("instances", "disks",
                "snapshots")  # GCP documents snapshots (REFERENCE 4); none are generated

INSTANCE_STATES = ["Running", "Stopped", "Stopping", "Destroyed", "Error", "Starting"]
INSTANCE_STATE_WEIGHTS = [62, 20, 4, 6, 4, 4]

COMPUTE_OFFERINGS = [
    # name, cpuCount, memoryInMB
    ("1vCPU.1GB", 1, 1024), ("2vCPU.4GB", 2, 4096), ("4vCPU.8GB", 4, 8192), ("8vCPU.16GB", 8, 16384),
]
CUSTOM_CPU_VALUES = [1, 2, 4, 8]
CUSTOM_MEMORY_VALUES = [1024, 2048, 4096, 8192, 16384]
CUSTOM_MAX_MB_PER_CPU = 4096
DISK_OFFERINGS = [("20GB - 20 IOPS Min.", 20), ("50GB - 50 IOPS Min.", 50), ("100GB - 100 IOPS Min.", 100),
                  ("500GB - 500 IOPS Min.", 500)]
TEMPLATES = [
    # name, osTypeName, root size GB, defaultUsername, hypervisor, format
    ("Ubuntu 22.04", "Ubuntu 22.04 (64-bit)", 20, "cca-user", "KVM", "QCOW2"),
    ("CentOS 7", "CentOS 7 (64-bit)", 20, "cca-user", "KVM", "QCOW2"),
    ("Debian 12", "Debian GNU/Linux 12 (64-bit)", 20, "cca-user", "KVM", "QCOW2"),
    ("Windows Server 2019", "Windows Server 2019 (64-bit)", 50, "Administrator", "VMware", "OVA"),
    ("Rocky Linux 9", "Other (64-bit)", 40, "cca-user", "VMware", "OVA"),
]
INSTANCE_ROLES = ["web", "app", "db", "worker", "cache", "api", "batch"]
NETWORK_NAMES = ["web", "app", "db", "frontend", "backend"]

GCP_MACHINE_TYPES = [
    # shortMachineType, cpuCount, memoryInGB
    ("f1-micro", 1, 0.6), ("e2-small", 2, 2.0), ("n1-standard-1", 1, 3.75), ("n2-standard-2", 2, 8.0),
    ("e2-standard-4", 4, 16.0), ("custom-2-2048", 2, 2.0), ("custom-4-8192", 4, 8.0),
]
GCP_IMAGES = [("debian-11-bullseye", "debian", "debian-cloud"),
              ("ubuntu-2204-lts", "ubuntu", "ubuntu-os-cloud"),
              ("centos-7", "centos", "centos-cloud"), ("windows-server-2019-dc", "windows", "windows-cloud")]
GCP_INSTANCE_STATUSES = ["RUNNING", "TERMINATED", "STOPPED", "STAGING", "SUSPENDED"]
GCP_STATUS_WEIGHTS = [62, 24, 5, 4, 5]

# Quota metrics: type, metricIdentifier, labelKey
QUOTA_METRICS = [
    ("INSTANCE_VCPUS", "instance.cpu.count", "quotas.vcpus"),
    ("INSTANCE_MEMORY", "instance.memory.mb", "quotas.memory"),
    ("DISK_SIZE", "disk.size.gb", "quotas.disk_size"),
    ("INSTANCE_COUNT", "instance.count", "quotas.instances"),
]
UNKNOWN_QUOTA_METRIC = ("workload_cpu_count", "workload_cpu_count", "workload_cpu_count.label")

ACTIVITY_IPS = ["10.20.0.15", "192.0.2.44", "198.51.100.7", "203.0.113.9"]


def slug(name):
    """ASCII lowercase slug of a name: 'Québec Ops' -> 'quebec-ops'."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_name.lower()).split())
