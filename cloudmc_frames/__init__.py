"""cloudmc_frames: the CloudMC cloud-management API as typed pandas DataFrames.

>>> import cloudmc_frames as cmf
>>> with cmf.sandbox() as sb:                       # a local CloudMC, no account needed
...     client = sb.client()
...     vms = cmf.instances(client)
>>> client = cmf.connect()                          # CLOUDMC_ENDPOINT / CLOUDMC_API_KEY  # doctest: +SKIP

``cmf.widgets`` (ipywidgets forms) and ``cmf.reports`` (inventory, capacity, audit, drift) are
imported on first use; DuckDB is imported by the first ``cmf.query`` or ``cmf.diff`` of files.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .accessors import (
    activity_log,
    environment_members,
    environments,
    instances,
    organizations,
    quotas,
    resources,
    service_connections,
    sub_organizations,
    users,
    volumes,
)
from .batch import operate_many
from .client import Client, connect
from .config import Settings
from .embedded import Sandbox, sandbox
from .errors import (
    ISSUE_COLUMNS,
    ApiError,
    AuthenticationError,
    BudgetExceededError,
    CacheMissError,
    CloudMCError,
    ConfigError,
    CrawlTimeoutError,
    DeferredError,
    EndpointUnreachableError,
    MethodNotAllowedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestTimeout,
    ResponseFormatError,
    ServerError,
    SnapshotError,
    TaskFailedError,
    TaskTimeoutError,
    TransportError,
    TruncatedReplyError,
    ValidationError,
)
from .journal import resume, task_history
from .ledger import COVERAGE_COLUMNS
from .operations import create, delete, operate
from .plan import Plan, plan
from .snapshots import Diff, Snapshot, diff, load, query, schema_drift, snapshot, snapshots
from .tasks import Task
from .usage import (
    commitments,
    customer_costs,
    metric_descriptors,
    metrics,
    pricing,
    usage_records,
    usage_summary,
)

_LAZY_MODULES = ("reports", "widgets")

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BudgetExceededError",
    "COVERAGE_COLUMNS",
    "CacheMissError",
    "Client",
    "CloudMCError",
    "ConfigError",
    "CrawlTimeoutError",
    "DeferredError",
    "Diff",
    "EndpointUnreachableError",
    "ISSUE_COLUMNS",
    "MethodNotAllowedError",
    "NotFoundError",
    "PermissionDeniedError",
    "Plan",
    "RateLimitError",
    "RequestTimeout",
    "ResponseFormatError",
    "Sandbox",
    "ServerError",
    "Settings",
    "Snapshot",
    "SnapshotError",
    "Task",
    "TaskFailedError",
    "TaskTimeoutError",
    "TransportError",
    "TruncatedReplyError",
    "ValidationError",
    "__version__",
    "activity_log",
    "commitments",
    "connect",
    "create",
    "customer_costs",
    "delete",
    "diff",
    "environment_members",
    "environments",
    "instances",
    "load",
    "metric_descriptors",
    "metrics",
    "operate",
    "operate_many",
    "organizations",
    "plan",
    "pricing",
    "query",
    "quotas",
    "resources",
    "resume",
    "sandbox",
    "schema_drift",
    "service_connections",
    "snapshot",
    "snapshots",
    "sub_organizations",
    "task_history",
    "usage_records",
    "usage_summary",
    "users",
    "volumes",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cloudmc_frames' has no attribute {name!r}")
