"""Price tables: one per usage-enabled connection, with SKUs, units, categories and flat prices.

Every raw usage type is one product.  Prices are per unit-hour, in CAD, and flat (a single
pricing tier), so ``cost = usage x price`` adds up across hours, days and endpoints: the
totals of ``usage_summary``, ``/reports/organization_pricing`` and ``/reports/customers``
agree for the same organization and window.

================  ==============  =========  ==============  ==========  =================  ========
usage type        unit            summary    secondaryType   category    SKU                CAD/h
================  ==============  =========  ==============  ==========  =================  ========
cpu_type          vcpu-hour       1          CPU             Compute     <CODE>-VCPU        0.0125
memory_type       gibibyte-hour   1          RAM             Compute     <CODE>-RAM         0.005
storage_type      gigabyte-hour   2          STORAGE         Disk        <CODE>-BLOCK       0.00015
public_ip_type    ip-hour         3          PUBLIC_IP       Networking  <CODE>-PUBLIC-IP   0.004
source_nat_type   ip-hour         3          SOURCE_NAT      Networking  <CODE>-SNAT-IP     0 (free)
================  ==============  =========  ==============  ==========  =================  ========

``<CODE>`` is the upper-cased service code (``COMPUTE-QC-VCPU``); each connection's prices are
the base prices times ``PRICE_FACTORS[serviceCode]`` (compute-on is 10% cheaper).
"""

from dataclasses import dataclass

from .names import PLUGIN_SUPPORT
from .views import derived_id

CURRENCY = "CAD"
PRICE_FACTORS = {"compute-qc": 1.0, "compute-on": 0.9}
CATEGORY_NAMES = {
    "Compute": {"en": "Compute", "fr": "Calcul"},
    "Disk": {"en": "Disk", "fr": "Disque"},
    "Networking": {"en": "Networking", "fr": "Réseau"},
}


@dataclass(frozen=True)
class Product:
    """One metered product: how usage of one raw usage type is labelled and priced."""

    usage_type: str
    unit: str
    summary_type: str
    secondary_type: str
    category: str
    sku_suffix: str
    name: str
    pricing_unit: str
    price: float


PRODUCTS = (
    Product("cpu_type", "vcpu-hour", "1", "CPU", "Compute", "VCPU", "vCPU", "VCPU", 0.0125),
    Product("memory_type", "gibibyte-hour", "1", "RAM", "Compute", "RAM", "Memory (GiB)", "GIB", 0.005),
    Product(
        "storage_type", "gigabyte-hour", "2", "STORAGE", "Disk", "BLOCK", "Block storage (GB)", "GB", 0.00015
    ),
    Product(
        "public_ip_type", "ip-hour", "3", "PUBLIC_IP", "Networking", "PUBLIC-IP", "Public IP", "HOUR", 0.004
    ),
    Product(
        "source_nat_type", "ip-hour", "3", "SOURCE_NAT", "Networking", "SNAT-IP", "Source NAT IP", "HOUR", 0.0
    ),
)
PRODUCT_BY_TYPE = {p.usage_type: p for p in PRODUCTS}


@dataclass(frozen=True)
class Line:
    """A product as one connection sells it."""

    product: Product
    sku: str
    product_id: str
    price: float


@dataclass(frozen=True)
class PriceTable:
    """A connection's pricing (``serviceConnectionPricingId`` / ``appliedPricing``)."""

    id: str
    name: dict
    currency: str
    connection_id: str
    lines: dict

    def line(self, usage_type):
        """The ``Line`` that prices ``usage_type``."""
        return self.lines[usage_type]


def tables(store):
    """``{connection id: PriceTable}`` for every connection whose plugin supports usage."""
    return {
        c["id"]: _table(c) for c in store.connections.values() if PLUGIN_SUPPORT[c["type"]]["supportsUsage"]
    }


def _table(conn):
    """The price table of one connection."""
    code = conn["serviceCode"]
    factor = PRICE_FACTORS[code]
    lines = {
        p.usage_type: Line(
            p,
            f"{code.upper()}-{p.sku_suffix}",
            derived_id("product", conn["id"], p.usage_type),
            round(p.price * factor, 6),
        )
        for p in PRODUCTS
    }
    return PriceTable(
        derived_id("pricing", conn["id"]),
        {"en": f"{conn['name']} pricing", "fr": f"Tarification {conn['name']}"},
        CURRENCY,
        conn["id"],
        lines,
    )
