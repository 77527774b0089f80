"""Reports built from the accessors' frames (inventory, capacity, audit) and from snapshots (drift).

Each returns a :class:`Report` (frames, a chart, text/markdown/CSV/JSON/HTML renderings). This
package (with ``frames.py``'s tabulate use) is the only place that imports matplotlib and
tabulate. Audit rules are plain functions in a table (:data:`RULES`); add one with :func:`rule`.

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
from .registry import FINDING_COLUMNS, RULES, SEVERITIES, AuditData, AuditRule, finding, rule
from .report import Report

REPORTS = {"inventory": inventory, "capacity": capacity, "audit": audit}

__all__ = ["FINDING_COLUMNS", "REPORTS", "RULES", "SEVERITIES", "AuditData", "AuditRule", "Report",
           "audit", "capacity", "drift", "finding", "inventory", "rule"]
