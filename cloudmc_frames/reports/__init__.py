"""Reports built from the accessors' frames (inventory, capacity, audit; usage and utilization over
a window) and from snapshots (drift).

Each returns a :class:`Report` (frames, a chart, text/markdown/CSV/JSON/HTML renderings). This
package (with ``frames.py``'s tabulate use) is the only place that imports matplotlib and
tabulate. Audit rules are plain functions in an explicit registry (:data:`RULES`, built with
the built-in rules); add one with :func:`rule`.

Example::

    >>> import cloudmc_frames as cmf
    >>> with cmf.sandbox() as sb:                                   # doctest: +SKIP
    ...     report = cmf.reports.inventory(sb.client())
    ...     report.to_html("inventory.html")
"""

from .audit import audit
from .capacity import capacity
from .drift import drift
from .inventory import inventory
from .registry import FINDING_COLUMNS, SEVERITIES, AuditData, AuditRule, RuleRegistry, finding
from .report import Report
from .rules import RULES, rule
from .usage import usage
from .utilization import utilization

REPORTS = {"inventory": inventory, "capacity": capacity, "audit": audit}
WINDOW_REPORTS = {"usage": usage, "utilization": utilization}  # these read a window: start=, end=

__all__ = [
    "AuditData",
    "AuditRule",
    "FINDING_COLUMNS",
    "REPORTS",
    "RULES",
    "Report",
    "RuleRegistry",
    "SEVERITIES",
    "WINDOW_REPORTS",
    "audit",
    "capacity",
    "drift",
    "finding",
    "inventory",
    "rule",
    "usage",
    "utilization",
]
