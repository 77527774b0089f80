"""Facts about CloudMC's collections: entity types per provider, frame schemas, unit rules.

Pure data (from the CloudMC v2 API reference, sections 2-5). :mod:`~cloudmc_frames.frames`
types columns with :data:`SCHEMAS`; :mod:`~cloudmc_frames.accessors` checks entity types
against :data:`ENTITY_TYPES` and maps the generic names ``instances``/``volumes`` onto each
provider's own (a GCP volume is a ``disks`` entity).

Schemas (stable whatever data comes back): every collection has the columns of
:data:`SCHEMAS` in that order with those dtypes, then any field the schema does not know.
``instances`` and ``volumes`` list normalized columns first (``power_state``, ``is_running``,
``vcpus``, ``memory_gib``, ``size_gib``, ``is_attached``, ``created``, ``state`` = the raw
provider state), then each provider's documented fields (:data:`PROVIDER_FIELDS`). ``created``
(UTC) is the one creation time per collection; :data:`CREATED_FROM` says where it comes from
per provider (CloudStack snapshots: parsed from the name's ``_YYYYmmddHHMMSS`` suffix).
Categoricals only where the categories are fixed (:data:`CATEGORIES`: ``power_state`` in
:data:`POWER_STATES`); open-ended text is ``string``; lists and objects are ``json``.

>>> SCHEMAS["instances"]["power_state"], POWER_STATES[:4]
('category', ('running', 'starting', 'stopping', 'stopped'))
"""

from __future__ import annotations

from typing import Any

# -- entity types per connection type (REFERENCE 3.2 and 4) -------------------------------------

_K8S = ("namespaces", "pods", "deployments", "daemonsets", "statefulsets", "services", "ingresses",
        "ingressesv1", "configmaps", "secrets", "storageclasses", "persistentvolumes",
        "persistentvolumeclaims", "serviceaccounts", "roles", "rolebindings")

ENTITY_TYPES: dict[str, tuple[str, ...]] = {
    "cloudstack": (
        "instances", "volumes", "snapshots", "templates", "isos", "sshkeys", "affinitygroups",
        "vpcs", "networks", "networkacls", "networkaclrules", "publicipaddresses",
        "portforwardingrules", "loadbalancerrules", "ingressrules", "egressrules", "nics",
        "remoteaccessvpns", "vpnusers", "sitetositevpns", "zones", "computeofferings",
        "diskofferings", "vpcofferings", "networkofferings",
    ),
    "gcp": ("instances", "instancegroups", "disks", "sshkeys", "healthchecks", "snapshots",
            "images", "regions", "networks", "subnetworks", "firewallrules", "externalips",
            "routes", "routers", "vpngateways", "vpntunnels", "loadbalancers", "forwardingrules",
            "targetproxies", "backendservices", "sslcertificates", "clusters", *_K8S),
    "aws": ("instances", "volumes", "buckets", "objects", "apiCredentials", "vpcs", "subnetworks",
            "internetgateways", "routes", "availabilityzones", "elasticips", "cidrblocks",
            "cidrreservations", "clusters", "nodegroups", *_K8S),
    "azure": ("instances", "regions", "disks", "networks", "subnets", "networksecuritygroups",
              "securityrules", "publicipaddresses", "clusters", *_K8S),
    "openstack": ("instances", "flavors", "images", "volumes", "snapshots", "networks",
                  "floatingips", "securitygroups", "securitygrouprules", "routers",
                  "routerinterfaces", "sshkeys"),
}
# CloudMC spells CloudStack-like connections several ways (REFERENCE 2.6).
TYPE_ALIASES = {"cloudca": "cloudstack", "CloudCA": "cloudstack"}

# Generic names a user may ask for, and what each provider calls them.
ENTITY_ALIASES: dict[str, dict[str, str]] = {
    "volumes": {"gcp": "disks", "azure": "disks"},
}


def provider_of(connection_type: str | None) -> str | None:
    """The catalogue key of a connection type (``cloudca`` -> ``cloudstack``), or None."""
    if connection_type is None:
        return None
    name = TYPE_ALIASES.get(connection_type, connection_type.lower())
    return name if name in ENTITY_TYPES else None


def provider_entity(entity_type: str, connection_type: str | None) -> str | None:
    """The entity name to request from a connection of this type, or None if it has none.

    >>> provider_entity("volumes", "gcp")
    'disks'
    """
    provider = provider_of(connection_type)
    if provider is None:
        return entity_type  # unknown provider: ask for the name as given
    name = ENTITY_ALIASES.get(entity_type, {}).get(provider, entity_type)
    return name if name in ENTITY_TYPES[provider] else None


def state_text(row: Any) -> str | None:
    """The state of a frame row (a dict or Series) as CloudMC spells it: the first text of
    :data:`STATE_COLUMNS`, or None.

    >>> state_text({"power_state": None, "state": "Stopped"})
    'Stopped'
    """
    for column in STATE_COLUMNS:
        value = row.get(column)
        if isinstance(value, str) and value:
            return value
    return None


def known_entity_types() -> list[str]:
    """Every entity type any provider documents, plus the generic aliases."""
    names = {name for types in ENTITY_TYPES.values() for name in types}
    return sorted(names | set(ENTITY_ALIASES))


# -- frame schemas: column -> dtype kind (see frames.py) ----------------------------------------
# Kinds: string, category (fixed categories: CATEGORIES), Int64, Float64, boolean, datetime (UTC),
# json (lists / objects, see jsonarray.py).
#
# Each collection's schema is its documented column set, always present in this order with these
# dtypes whatever came back (every organization, a subset, nothing): context columns, normalized
# columns read the same way across providers, then each provider's documented fields (the
# vendor's list examples, REFERENCE sections 2-4). Fields a schema does not name are kept as
# extra columns after these, typed by inference (never categorical).

ORG_CONTEXT = {"organization_id": "string", "organization_name": "string",
               "organization_path": "string"}
SERVICE_CONTEXT = {**ORG_CONTEXT, "service_code": "string", "connection_type": "string",
                   "environment_id": "string", "environment_name": "string"}

ENV_CONTEXT = {**ORG_CONTEXT, "environment_id": "string", "environment_name": "string"}

# The one normalized categorical: an instance's power state in one vocabulary across providers.
POWER_STATES = ("running", "starting", "stopping", "stopped", "suspended", "error", "destroyed",
                "unknown")
CATEGORIES: dict[str, tuple[str, ...]] = {"power_state": POWER_STATES}

# Raw provider state (lower case) -> power state; a state not listed is "unknown".
_POWER = {
    "running": ("running", "active", "powerstate/running"),
    "starting": ("starting", "staging", "provisioning", "pending", "scheduling", "rebooting",
                 "repairing", "migrating", "build", "powerstate/starting"),
    "stopping": ("stopping", "suspending", "deallocating", "shutting-down", "powerstate/stopping",
                 "powerstate/deallocating"),
    "stopped": ("stopped", "terminated", "deallocated", "shutoff", "powerstate/stopped",
                "powerstate/deallocated"),
    "suspended": ("suspended", "paused", "shelved", "shelved_offloaded"),
    "error": ("error", "failed"),
    "destroyed": ("destroyed", "expunging", "deleted", "soft_deleted"),
}
POWER_STATE_OF: dict[str, str] = {raw: power for power, raws in _POWER.items() for raw in raws}
# Per provider exceptions: AWS "terminated" is gone for good, GCP "TERMINATED" is only stopped.
PROVIDER_POWER_STATE = {("aws", "terminated"): "destroyed"}

_NORMALIZED_INSTANCE = {"id": "string", "name": "string", "power_state": "category",
                        "is_running": "boolean", "vcpus": "Int64", "memory_gib": "Float64",
                        "created": "datetime", "state": "string"}
_NORMALIZED_VOLUME = {"id": "string", "name": "string", "size_gib": "Float64",
                      "is_attached": "boolean", "created": "datetime", "state": "string"}

# Provider fields, in the order of the vendor's list examples (after renames below).
PROVIDER_FIELDS: dict[str, dict[str, dict[str, str]]] = {
    "instances": {
        "cloudstack": {
            "hostname": "string", "cpu_count": "Int64", "memory_in_mb": "Int64",
            "compute_offering_id": "string", "compute_offering_name": "string",
            "image_id": "string", "image_name": "string", "ip_address": "string",
            "mac_address": "string", "network_id": "string", "network_name": "string",
            "vpc_id": "string", "vpc_name": "string", "zone_id": "string", "zone_name": "string",
            "affinity_group_ids": "json", "is_password_enabled": "boolean", "username": "string"},
        "gcp": {
            "status": "string", "memory_in_gb": "Float64", "kind": "string", "zone": "string",
            "machine_type": "string", "cpu_platform": "string", "deletion_protection": "boolean",
            "disks": "json", "label_fingerprint": "string", "metadata_fingerprint": "string",
            "metadata_items": "json", "metadata_kind": "string", "network_interfaces": "json",
            "scheduling_automatic_restart": "boolean", "scheduling_on_host_maintenance": "string",
            "scheduling_preemptible": "boolean", "self_link": "string",
            "start_restricted": "boolean", "tags_fingerprint": "string",
            "short_machine_type": "string", "project": "string", "internal_ip": "string",
            "external_ip": "string", "short_network": "string", "short_subnetwork": "string",
            "icon_url": "string", "os_image_name": "string", "os_image_self_link": "string",
            "os_image_size_in_gb": "Int64", "boot_disk_size_in_gb": "Int64",
            "short_zone": "string", "short_region": "string"},
        "aws": {
            "root_device_name": "string", "instance_type": "string",
            "availability_zone": "string", "private_dns_name": "string",
            "private_ip_address": "string", "public_dns_name": "string",
            "public_ip_address": "string", "subnet_id": "string", "architecture": "string",
            "client_token": "string", "root_device_type": "string",
            "virtualization_type": "string", "tags": "json", "core_count": "Int64",
            "threads_per_core": "Int64", "security_group_name": "string", "min_count": "Int64",
            "max_count": "Int64", "region": "string", "attachments": "json"},
        "azure": {
            "number_of_cores": "Int64", "image_publisher": "string", "image_offer": "string",
            "image_sku": "string", "image_version": "string", "os_type": "string",
            "display_image": "string", "private_ip": "string", "subnet_name": "string",
            "supports_premium_io": "boolean", "supports_ultra_io": "boolean",
            "attachable_disk_slots": "Int64", "used_luns": "json",
            "provider_power_state": "string", "display_power_state": "string"},
        "openstack": {
            "flavor_id": "string", "flavor_name": "string", "security_group_names": "json",
            "updated_date": "datetime", "addresses": "json"},
    },
    "volumes": {
        "cloudstack": {
            "type": "string", "size_in_gb": "Int64", "instance_id": "string",
            "instance_name": "string", "zone_id": "string", "zone_name": "string",
            "disk_offering_id": "string", "disk_offering_name": "string"},
        "gcp": {
            "status": "string", "size_gb": "Int64", "kind": "string", "zone": "string",
            "attach_mode": "string", "auto_delete": "boolean", "label_fingerprint": "string",
            "last_attach_timestamp": "datetime", "physical_block_size_bytes": "Int64",
            "self_link": "string", "short_region": "string", "short_type": "string",
            "short_users": "string", "short_zone": "string", "users": "json"},
        "aws": {
            "attachments": "json", "availability_zone": "string", "encrypted": "boolean",
            "size": "Int64", "source_snapshot_id": "string", "iops": "Int64", "tags": "json",
            "volume_type": "string", "fast_restored": "boolean",
            "multi_attach_enabled": "boolean"},
        "azure": {
            "region": "string", "provisioning_state": "string", "size_in_bytes": "Int64",
            "throughput_in_m_bps": "Int64", "data_disk": "boolean",
            "is_attached_to_instance": "boolean", "os_type": "string", "instance": "string"},
        "openstack": {"description": "string"},
    },
}

# Where each collection's ``created`` column comes from, per provider (raw field -> created).
# Collections not listed, and providers without a creation time (CloudStack and Azure
# instances), have ``created`` missing. CloudStack snapshots carry no creation time: their
# ``created`` is parsed from the ``_YYYYmmddHHMMSS`` suffix CloudMC gives their names.
CREATED_FROM: dict[str, dict[str, str]] = {
    "organizations": {"all": "creationDate"},
    "users": {"all": "creationDate"},
    "environments": {"all": "creationDate"},
    "environment_members": {"all": "creationDate"},
    "service_connections": {"all": "creationDate"},
    "quotas": {"all": "creationDate"},
    "activity_log": {"all": "created"},
    "instances": {"gcp": "creationTimestamp", "aws": "launchTime", "openstack": "createdDate",
                  "stackpath": "createdDate"},
    "volumes": {"cloudstack": "creationDate", "gcp": "creationTimestamp", "aws": "createTime",
                "azure": "creationDate"},
    "snapshots": {"cloudstack": "name suffix _YYYYmmddHHMMSS (UTC)"},
}
CREATED_NAMES = ("creation_date", "creation_timestamp", "launch_time", "created_date",
                 "create_time")
# Raw fields renamed on the way in (snake_case name -> column), per collection.
RENAMES: dict[str, dict[str, str]] = {
    "instances": {**dict.fromkeys(CREATED_NAMES, "created"),
                  "power_state": "provider_power_state"},
    # AWS snapshotId (the snapshot a volume was made from) would clash with a snapshot's row column
    "volumes": {**dict.fromkeys(CREATED_NAMES, "created"), "snapshot_id": "source_snapshot_id"},
    "snapshots": dict.fromkeys(CREATED_NAMES, "created"),
    "publicipaddresses": dict.fromkeys(CREATED_NAMES, "created"),
    **{name: {"creation_date": "created"} for name in
       ("organizations", "users", "environments", "environment_members", "service_connections")},
}


def _service_schema(normalized: dict[str, str], entity: str) -> dict[str, str]:
    columns = {**SERVICE_CONTEXT, **normalized}
    for fields in PROVIDER_FIELDS[entity].values():
        columns.update({k: v for k, v in fields.items() if k not in columns})
    return columns


SCHEMAS: dict[str, dict[str, str]] = {
    "organizations": {
        "id": "string", "name": "string", "path": "string", "depth": "Int64",
        "parent_id": "string", "parent_name": "string", "entry_point": "string",
        "lineage": "string", "reseller_id": "string", "is_reseller": "boolean",
        "is_trial": "boolean", "is_billable": "boolean", "billing_mode": "string",
        "created": "datetime", "billable_start_date": "datetime", "deleted": "boolean",
        "is_db_authentication": "boolean", "is_ldap_authentication": "boolean",
        "tags": "json", "features": "json", "environments": "json", "users": "json",
        "service_connections": "json",
    },
    "users": {
        **ORG_CONTEXT, "id": "string", "user_name": "string", "first_name": "string",
        "last_name": "string", "email": "string", "status": "string",
        "created": "datetime", "last_login": "datetime", "last_failed_login": "datetime",
        "login_count": "Int64", "failed_login_count": "Int64", "tfa_enabled": "boolean",
        "backup_codes_remaining": "Int64", "primary_role_binding_id": "string",
        "primary_role_binding_role_id": "string", "primary_role_binding_role_name": "string",
        "primary_role_binding_role_is_system": "boolean",
        "primary_role_binding_role_is_fixed": "boolean", "locale": "string",
        "timezone": "string", "is_business_contact": "boolean",
        "is_technical_contact": "boolean", "receives_email_notifications": "boolean",
        "can_resend_user_creation_email": "boolean", "deleted": "boolean",
        "service_connections": "json",
    },
    "environments": {
        **ORG_CONTEXT, "service_code": "string", "connection_type": "string",
        "id": "string", "name": "string", "description": "string", "state": "string",
        "membership": "string", "created": "datetime", "allow_external_members": "boolean",
        "deleted": "boolean", "service_connection_id": "string",
        "service_connection_name": "string", "default_role_id": "string",
        "default_role_name": "string", "default_role_is_system": "boolean",
        "default_role_is_default": "boolean", "default_role_deleted": "boolean",
        "default_role_is_fixed": "boolean", "default_role_default_scope": "string",
        "default_role_creation_date": "datetime", "organization_entry_point": "string",
        "metadata_mode": "string",
    },
    "environment_members": {
        **ENV_CONTEXT, "id": "string", "user_id": "string", "user_user_name": "string",
        "user_first_name": "string", "user_last_name": "string", "user_email": "string",
        "role_id": "string", "role_name": "string", "state": "string",
        "scope_qualifier": "string", "metadata_membership": "string",
        "created": "datetime",
    },
    "service_connections": {
        **ORG_CONTEXT, "state": "string", "id": "string", "service_code": "string",
        "name": "string", "type": "string", "created": "datetime",
        "status_last_updated": "datetime", "status_reachable": "boolean",
        "owner_organization_id": "string", "owner_organization_name": "string",
        "metrics_enabled": "boolean", "supports_quotas": "boolean", "supports_usage": "boolean",
        "brownfield": "boolean", "has_widgets": "boolean", "last_usage_record": "datetime",
        "supports_infra": "boolean", "supports_policies": "boolean",
        "supports_pricing_v2": "boolean", "quotas": "json",
    },
    "quotas": {
        **ORG_CONTEXT, "quota_id": "string", "quota_name": "string",
        "service_connection_id": "string", "service_code": "string",
        "connection_type": "string", "metric_identifier": "string", "metric_type": "string",
        "label_key": "string", "ceiling": "Float64", "detail_id": "string",
        "owner_organization_id": "string", "default_for_service": "boolean",
        "default_for_trial": "boolean", "created": "datetime",
    },
    "activity_log": {
        **ORG_CONTEXT, "id": "string", "created": "datetime", "updated": "datetime",
        "event_code": "string", "category": "string", "status": "string",
        "user_id": "string", "username": "string", "user_organization_id": "string",
        "user_organization_name": "string", "requester_ip": "string",
        "correlation_id": "string", "event_context": "json", "user_email": "string",
        "user_firstname": "string", "user_lastname": "string",
    },
    "instances": _service_schema(_NORMALIZED_INSTANCE, "instances"),
    "volumes": _service_schema(_NORMALIZED_VOLUME, "volumes"),
    "snapshots": {**SERVICE_CONTEXT, "id": "string", "name": "string", "created": "datetime",
                  "state": "string", "interval_type": "string", "volume_id": "string",
                  "volume": "string", "volume_type": "string", "volume_name": "string",
                  "size_in_gb": "Int64"},
    "publicipaddresses": {**SERVICE_CONTEXT, "id": "string", "ip_address": "string",
                          "state": "string", "purposes": "json", "instances": "json",
                          "network_id": "string", "network_name": "string",
                          "vpc_id": "string", "vpc_name": "string", "zone_id": "string",
                          "zone_name": "string"},
}
SERVICE_ENTITY_DEFAULT = {**SERVICE_CONTEXT, "id": "string", "name": "string"}

# Name endings that mark a timestamp in an unknown column.
DATETIME_SUFFIXES = ("_date", "date", "_at", "timestamp", "created", "updated", "last_login",
                     "last_failed_login", "launch_time", "create_time", "last_updated")

# -- units and states (REFERENCE 5): how to read vCPU, memory, size and "running" per provider ---
# Column names are the snake_case ones of the frames.

CPU_COLUMNS = ("cpu_count", "number_of_cores", "core_count")
MEMORY_COLUMNS_GIB = (("memory_in_mb", 1.0 / 1024), ("memory_in_gb", 1.0))  # column, factor to GiB
POWER_STATE_SOURCES = ("state", "status", "display_power_state")  # raw provider state, first wins
# Where a frame row keeps its state, in order: the provider's own word first (power_state is the
# normalized vocabulary, see POWER_STATES).
STATE_COLUMNS = ("state", "status", "power_state")
SIZE_COLUMNS_GIB = (("size_in_gb", 1.0), ("size_gb", 1.0), ("size", 1.0),
                    ("size_in_bytes", 1.0 / 1024 ** 3))
ATTACHED_STATES = frozenset({"attached", "in-use"})

# -- the time axis: usage, cost, commitments and metrics (REFERENCE 2.8-2.11) ----------------------
# Amounts are Float64 whether CloudMC sends numbers or strings ("1,234.50"; "" is missing); times
# are UTC; nested pricing tiers and category subtotals stay nested (json) columns.

USAGE_SCHEMAS: dict[str, dict[str, str]] = {
    "usage_summary": {
        **ORG_CONTEXT, "service_connection_id": "string", "service_code": "string",
        "service_connection_pricing_id": "string", "usage_type": "string", "secondary_type": "string",
        "start_date": "datetime", "end_date": "datetime", "utility_usage": "Float64",
        "resource_commitment_usage": "Float64", "actual_usage": "Float64", "utility_cost": "Float64",
    },
    "usage_records": {
        **ORG_CONTEXT, "environment_id": "string", "environment_name": "string", "id": "string",
        "usage_type": "string", "usage": "Float64", "unit": "string", "connection_id": "string",
        "connection_name": "string", "start_date": "datetime", "end_date": "datetime",
        "metric_type": "string", "metadata_service_code": "string", "metadata_entity_type": "string",
    },
    "metric_descriptors": {
        "service_connection_id": "string", "service_code": "string", "connection_type": "string",
        "supports_usage": "boolean", "supports_metric": "boolean",
        "supports_environment_metrics": "boolean", "metric_identifier": "string",
        "entity_type": "string", "resource_metric_type": "string", "name_label_key": "string",
        "unit_label_key": "string", "entity_types": "json",
    },
    "metrics": {
        **SERVICE_CONTEXT, "metric": "string", "entity_id": "string", "timestamp": "datetime",
        "value": "Float64",
    },
    "commitments": {
        **ORG_CONTEXT, "commitment_id": "string", "commitment_name": "string", "status": "string",
        "terminated": "boolean", "type": "string", "pricing_method": "string", "rate_type": "string",
        "fixed_price": "Float64", "fixed_price_tax_code_code": "string",
        "fixed_price_tax_code_description": "string", "start_date": "datetime", "end_date": "datetime",
        "created_at": "datetime", "updated_at": "datetime", "reseller_id": "string",
        "reseller_name": "string", "committed_product_id": "string", "product_id": "string",
        "sku": "string", "committed_amount": "Float64", "discount_amount": "Float64",
        "fixed_rate_reference_price": "Float64", "product_created_at": "datetime",
        "product_updated_at": "datetime",
    },
    "pricing": {
        **ORG_CONTEXT, "start_date": "datetime", "end_date": "datetime", "currency": "string",
        "currency_total": "Float64", "category": "string", "category_subtotal": "Float64",
        "sku": "string", "product": "string", "usage": "Float64", "unit": "string", "period": "string",
        "cost": "Float64", "pricing_tiers": "json",
    },
    "customer_costs": {
        **ORG_CONTEXT, "org_deleted": "boolean", "applied_pricing_id": "string",
        "applied_pricing_name": "string", "currency": "string", "total": "Float64",
        "categories": "json", "start_date": "datetime", "end_date": "datetime",
    },
}
SCHEMAS.update(USAGE_SCHEMAS)
