"""Facts about CloudMC's collections: entity types per provider, frame schemas, unit rules.

Pure data (from the CloudMC v2 API reference, sections 2-5). :mod:`~cloudmc_frames.frames`
types columns with :data:`SCHEMAS`; :mod:`~cloudmc_frames.accessors` checks entity types
against :data:`ENTITY_TYPES` and maps the generic names ``instances``/``volumes`` onto each
provider's own (a GCP volume is a ``disks`` entity).
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
# Kinds: string, category, Int64, Float64, boolean, datetime, object (lists / dicts).

ORG_CONTEXT = {"organization_id": "string", "organization_name": "string",
               "organization_path": "string"}
SERVICE_CONTEXT = {**ORG_CONTEXT, "service_code": "category", "connection_type": "category",
                   "environment_id": "string", "environment_name": "string"}

ENV_CONTEXT = {**ORG_CONTEXT, "environment_id": "string", "environment_name": "string"}

SCHEMAS: dict[str, dict[str, str]] = {
    "organizations": {
        "id": "string", "name": "string", "path": "string", "depth": "Int64",
        "parent_id": "string", "parent_name": "string", "entry_point": "string",
        "lineage": "string", "reseller_id": "string", "is_reseller": "boolean",
        "is_trial": "boolean", "is_billable": "boolean", "billing_mode": "category",
        "creation_date": "datetime", "billable_start_date": "datetime", "deleted": "boolean",
        "is_db_authentication": "boolean", "is_ldap_authentication": "boolean",
        "tags": "object", "features": "object", "environments": "object", "users": "object",
        "service_connections": "object",
    },
    "users": {
        **ORG_CONTEXT, "id": "string", "user_name": "string", "first_name": "string",
        "last_name": "string", "email": "string", "status": "category",
        "creation_date": "datetime", "last_login": "datetime", "last_failed_login": "datetime",
        "login_count": "Int64", "failed_login_count": "Int64", "tfa_enabled": "boolean",
        "backup_codes_remaining": "Int64", "primary_role_binding_id": "string",
        "primary_role_binding_role_id": "string", "primary_role_binding_role_name": "category",
        "primary_role_binding_role_is_system": "boolean",
        "primary_role_binding_role_is_fixed": "boolean", "locale": "category",
        "timezone": "category", "is_business_contact": "boolean",
        "is_technical_contact": "boolean", "receives_email_notifications": "boolean",
        "can_resend_user_creation_email": "boolean", "deleted": "boolean",
        "service_connections": "object",
    },
    "environments": {
        **ORG_CONTEXT, "service_code": "category", "connection_type": "category",
        "id": "string", "name": "string", "description": "string", "state": "category",
        "membership": "category", "creation_date": "datetime", "allow_external_members": "boolean",
        "deleted": "boolean", "service_connection_id": "string",
        "service_connection_name": "string", "default_role_id": "string",
        "default_role_name": "category",
    },
    "environment_members": {
        **ENV_CONTEXT, "id": "string", "user_id": "string", "user_user_name": "string",
        "user_first_name": "string", "user_last_name": "string", "user_email": "string",
        "role_id": "string", "role_name": "category", "state": "category",
        "scope_qualifier": "category", "metadata_membership": "category",
        "creation_date": "datetime",
    },
    "service_connections": {
        **ORG_CONTEXT, "state": "category", "id": "string", "service_code": "category",
        "name": "string", "type": "category", "creation_date": "datetime",
        "status_last_updated": "datetime", "status_reachable": "boolean",
        "owner_organization_id": "string", "owner_organization_name": "string",
        "metrics_enabled": "boolean", "supports_quotas": "boolean", "supports_usage": "boolean",
    },
    "quotas": {
        **ORG_CONTEXT, "quota_id": "string", "quota_name": "string",
        "service_connection_id": "string", "service_code": "category",
        "connection_type": "category", "metric_identifier": "category", "metric_type": "category",
        "label_key": "category", "ceiling": "Float64", "detail_id": "string",
        "owner_organization_id": "string", "default_for_service": "boolean",
        "default_for_trial": "boolean",
    },
    "activity_log": {
        **ORG_CONTEXT, "id": "string", "created": "datetime", "updated": "datetime",
        "event_code": "category", "category": "category", "status": "category",
        "user_id": "string", "username": "string", "user_organization_id": "string",
        "user_organization_name": "string", "requester_ip": "string",
        "correlation_id": "string", "event_context": "object",
    },
    "instances": {
        **SERVICE_CONTEXT, "id": "string", "name": "string", "power_state": "category",
        "is_running": "boolean", "vcpus": "Int64", "memory_gib": "Float64",
        "state": "category", "status": "category", "hostname": "string", "cpu_count": "Int64",
        "memory_in_mb": "Int64", "memory_in_gb": "Float64", "compute_offering_id": "category",
        "compute_offering_name": "category", "image_id": "category", "image_name": "category",
        "ip_address": "string", "network_id": "category", "network_name": "category",
        "vpc_id": "category", "vpc_name": "category", "zone_id": "category",
        "zone_name": "category", "username": "category", "creation_timestamp": "datetime",
    },
    "volumes": {
        **SERVICE_CONTEXT, "id": "string", "name": "string", "size_gib": "Float64",
        "is_attached": "boolean", "type": "category", "state": "category", "status": "category",
        "size_in_gb": "Int64", "size_gb": "Int64", "instance_id": "string",
        "instance_name": "string", "zone_id": "category", "zone_name": "category",
        "disk_offering_id": "category", "disk_offering_name": "category",
        "creation_date": "datetime", "creation_timestamp": "datetime",
    },
    "snapshots": {**SERVICE_CONTEXT, "id": "string", "name": "string", "state": "category",
                  "interval_type": "category", "volume_id": "string", "volume": "string",
                  "volume_type": "category"},
    "publicipaddresses": {**SERVICE_CONTEXT, "id": "string", "ip_address": "string",
                          "state": "category", "purposes": "object", "instances": "object",
                          "network_id": "string", "zone_name": "category"},
}
SERVICE_ENTITY_DEFAULT = {**SERVICE_CONTEXT, "id": "string", "name": "string"}

# Columns that are low-cardinality text wherever they appear. A text column the schemas do not
# name becomes a categorical when the frame has at least LOW_CARDINALITY_MIN_ROWS rows and on
# average each distinct value repeats LOW_CARDINALITY times or more.
LOW_CARDINALITY = 10
LOW_CARDINALITY_MIN_ROWS = 100
CATEGORY_NAMES = frozenset({"state", "status", "type", "category", "billing_mode", "membership",
                            "zone_name", "power_state", "interval_type", "volume_type",
                            "hypervisor", "format", "os_type_name", "short_zone", "short_region",
                            "short_type", "short_machine_type", "kind"})
# Name endings that mark a timestamp in an unknown column.
DATETIME_SUFFIXES = ("_date", "date", "_at", "timestamp", "created", "updated", "last_login",
                     "last_failed_login", "launch_time", "create_time", "last_updated")

# -- units and states (REFERENCE 5): how to read vCPU, memory, size and "running" per provider ---
# Column names are the snake_case ones of the frames.

CPU_COLUMNS = ("cpu_count", "number_of_cores", "core_count")
MEMORY_COLUMNS_GIB = (("memory_in_mb", 1.0 / 1024), ("memory_in_gb", 1.0))  # column, factor to GiB
POWER_STATE_SOURCES = ("state", "status", "display_power_state")  # API fields -> power_state, in order
STATE_COLUMNS = ("power_state", "state", "status")  # where a frame row keeps its state, in order
RUNNING_STATES = frozenset({"running", "active"})
SIZE_COLUMNS_GIB = (("size_in_gb", 1.0), ("size_gb", 1.0), ("size", 1.0),
                    ("size_in_bytes", 1.0 / 1024 ** 3))
ATTACHED_STATES = frozenset({"attached", "in-use"})

# -- the time axis: usage, cost, commitments and metrics (REFERENCE 2.8-2.11) ----------------------
# Amounts are Float64 whether CloudMC sends numbers or strings ("1,234.50"; "" is missing); times
# are UTC; nested pricing tiers and category subtotals stay nested (object) columns.

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
        "unit_label_key": "string", "entity_types": "object",
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
        "cost": "Float64", "pricing_tiers": "object",
    },
    "customer_costs": {
        **ORG_CONTEXT, "org_deleted": "boolean", "applied_pricing_id": "string",
        "applied_pricing_name": "string", "currency": "string", "total": "Float64",
        "categories": "object", "start_date": "datetime", "end_date": "datetime",
    },
}
SCHEMAS.update(USAGE_SCHEMAS)
