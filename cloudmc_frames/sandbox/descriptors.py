"""``GET /services/descriptors/:pluginType``: what a plugin type offers (REFERENCE 2.6, 5).

One descriptor per plugin type the sandbox serves (``cloudstack``, ``gcp``; others 404), readable
with any valid key, built from what the sandbox really does:

* ``entityDescriptors``: the entity types of ``services.ENTITIES`` with the operations the
  sandbox accepts on each (create, update, delete and the ``?operation=`` names;
  ``defaultOperationType`` CREATE, EDIT, DELETE or EXECUTE);
* ``supportsUsage`` / ``supportsMetric`` from ``names.PLUGIN_SUPPORT``: CloudStack supports both,
  GCP neither (``supportsPricingV2`` follows usage);
* ``metricDescriptors``: ``signals.METRICS`` when the plugin supports metrics, else empty;
* ``quotaMetricIdentifiers``: the quota metrics of the type's generated quotas;
* ``entityRelationships``: child type -> ``[{entityType: parent type, relationshipType: PARENT}]``.
"""

from . import errors, operations, signals
from .names import PLUGIN_SUPPORT, QUOTA_METRICS, UNKNOWN_QUOTA_METRIC
from .services import ENTITIES, WRITES

OPERATIONS = {
    ("cloudstack", "instances"): tuple(operations.INSTANCE_OPS),
    ("cloudstack", "volumes"): operations.VOLUME_OPS,
    ("gcp", "instances"): tuple(operations.GCP_OPS),
}
PARENTS = {
    "cloudstack": {"volumes": "instances", "snapshots": "volumes", "publicipaddresses": "instances"},
    "gcp": {"disks": "instances", "snapshots": "disks"},
}


def get_descriptor(req):
    """GET /services/descriptors/:pluginType."""
    plugin = req.params["type"]
    if plugin not in ENTITIES:
        raise errors.not_found(f"Unknown plugin type {plugin!r}", pluginType=plugin, known=sorted(ENTITIES))
    return {"data": descriptor(plugin)}


def descriptor(plugin):
    """The descriptor of plugin type ``plugin``."""
    support = PLUGIN_SUPPORT[plugin]
    quota_metrics = [m[1] for m in QUOTA_METRICS] + ([UNKNOWN_QUOTA_METRIC[1]] if plugin == "gcp" else [])
    return {
        "type": plugin,
        "entityDescriptors": [_entity(plugin, entity) for entity in ENTITIES[plugin]],
        "infraEntityDescriptors": [],
        "supportsInfra": plugin == "cloudstack",
        "supportedWidgets": [],
        "hasPluginEnvironmentRoles": plugin == "cloudstack",
        "quotaMetricIdentifiers": quota_metrics,
        "supportsQuota": True,
        "supportsEnvironmentMetrics": False,
        "supportsApiCredentials": False,
        "supportsPolicies": True,
        "supportsUsage": support["supportsUsage"],
        "supportsPricingV2": support["supportsUsage"],
        "supportsCaching": False,
        "supportsMetric": support["supportsMetric"],
        "metricDescriptors": [_metric(m) for m in signals.METRICS.values()]
        if support["supportsMetric"]
        else [],
        "entityRelationships": {
            child: [{"entityType": parent, "relationshipType": "PARENT"}]
            for child, parent in PARENTS[plugin].items()
        },
        "extensions": {},
    }


def _entity(plugin, entity):
    """One entity descriptor with its operations."""
    collection, item = WRITES.get((plugin, entity), (set(), set()))
    named = [("create", "CREATE")] if "POST" in collection else []
    named += [("update", "EDIT")] if "PUT" in item else []
    named += [("delete", "DELETE")] if "DELETE" in item else []
    named += [(op, "EXECUTE") for op in OPERATIONS.get((plugin, entity), ())]
    return {
        "type": entity,
        "serviceType": plugin,
        "system": False,
        "operations": {
            name: {
                "name": name,
                "serviceType": plugin,
                "immediateAction": False,
                "isDownload": False,
                "defaultOperationType": kind,
                "permissionLevel": "BASE",
            }
            for name, kind in named
        },
        "costEstimators": [],
        "viewBuilders": [
            {"serviceType": plugin, "view": "LIST", "defaultView": True, "defaultSpecificView": False}
        ],
    }


def _metric(metric):
    """One ``metricDescriptors`` item."""
    return {
        "metricIdentifier": metric.identifier,
        "nameLabelKey": f"metrics.{metric.entity_type}.{metric.label}.label",
        "unitLabelKey": f"metrics.{metric.entity_type}.{metric.label}.unit",
        "entityType": metric.entity_type,
        "resourceMetricType": metric.kind,
    }


def register(router):
    """Add the descriptor route to ``router``."""
    router.add("GET", "/services/descriptors/{type}", get_descriptor)
