"""``GET /reports/organization_pricing`` and ``GET /reports/customers`` (REFERENCE 2.11).

Both price the usage of ``[start_date, end_date)`` (ISO-8601 instants, required, at most 366
days apart) with the connections' price tables (``pricing``).  Amounts are strings, as the
vendor sends them: costs, subtotals and totals with 2 decimals, usage with 4, prices with 2 to
6.  Each product's cost is rounded to the cent first and subtotals and totals add those, so a
customer row's ``total`` equals the pricing report's total of that organization on that
connection, and both equal the usage summary's summed ``utilityCost`` over the same window to
within half a cent per product.

* organization_pricing: ``organization_id`` (default the caller's organization; its own usage),
  optional ``service_connection_id`` and ``environment_id`` (needs ``service_connection_id``, else
  400).  ``data{currencies[{currency, total, categories[{name, products, subTotal}]}], startDate,
  endDate, reportGenerated}``; products with usage only, each with its single pricing tier.
* customers: ``organization_id`` must be a reseller (default the caller's organization; 400
  otherwise), optional ``service_connection_id``.  One row per organization of its subtree (itself
  and every sub-organization, deleted ones with ``orgDeleted: "true"``) and applied pricing (one
  per connection) with usage in the window.

Administrators only; organizations outside the caller's scope are 403.
"""

from collections import defaultdict

from . import clock, errors, rbac, windows
from .pricing import CATEGORY_NAMES, PRODUCTS


def organization_pricing(req):
    """GET /reports/organization_pricing."""
    store, query = req.store, req.query
    rbac.require_admin(req.caller, "read reports")
    org_id = rbac.acting_org(store, req.caller, query, "organization_id")
    if query.get("environment_id") and not query.get("service_connection_id"):
        raise errors.bad_request(
            "environment_id needs service_connection_id", parameter="service_connection_id"
        )
    window = _window(query)
    lines = [
        line
        for per_conn in _priced(
            store.usage, org_id, window, query.get("service_connection_id"), query.get("environment_id")
        ).values()
        for line in per_conn
    ]
    currencies = []
    if lines:
        categories = _categories(lines, products=True)
        currencies.append(
            {"currency": lines[0][0].currency, "total": _money(_sum(categories)), "categories": categories}
        )
    return {"data": {"currencies": currencies, **_dates(window), "reportGenerated": True}}


def customers(req):
    """GET /reports/customers."""
    store, query = req.store, req.query
    rbac.require_admin(req.caller, "read reports")
    org_id = rbac.acting_org(store, req.caller, query, "organization_id")
    if not store.orgs[org_id]["isReseller"]:
        raise errors.bad_request(
            f"Organization {org_id} is not a reseller", parameter="organization_id", id=org_id
        )
    window = _window(query)
    rows = []
    for member in store.subtree(org_id, True):
        org = store.orgs[member]
        for lines in _priced(store.usage, member, window, query.get("service_connection_id")).values():
            table = lines[0][0]
            categories = _categories(lines, products=False)
            rows.append(
                {
                    "id": member,
                    "name": org["name"],
                    "total": _money(_sum(categories)),
                    "currency": table.currency,
                    "orgDeleted": str(org["deleted"]).lower(),
                    "categories": categories,
                    "appliedPricing": {"id": table.id, "name": dict(table.name)},
                }
            )
    return {"data": {"organizations": rows, "reportGenerated": True, **_dates(window)}}


def _window(query):
    """The report window in epoch seconds (400 if missing, bad or too long)."""
    start, end = windows.instant(query, "start_date"), windows.instant(query, "end_date")
    windows.check_span(start, end, windows.MAX_DAYS, ("start_date", "end_date"))
    return start, end


def _dates(window):
    """``startDate``/``endDate`` echoing the window."""
    return {"startDate": clock.iso_instant(window[0]), "endDate": clock.iso_instant(window[1])}


def _priced(ledger, org_id, window, connection_id=None, env_id=None):
    """``{connection id: [(table, line, usage, cost)]}`` of one organization (products used, in order)."""
    low, high = clock.epoch(window[0]), clock.epoch(window[1])
    usage = defaultdict(float)
    for item in ledger.by_org.get(org_id, ()):
        if (connection_id or item.connection_id) == item.connection_id and (
            env_id or item.env_id
        ) == item.env_id:
            usage[(item.connection_id, item.usage_type)] += item.usage(low, high)
    out = {}
    for conn_id, table in ledger.prices.items():
        for product in PRODUCTS:
            amount = usage.get((conn_id, product.usage_type), 0.0)
            if amount > 1e-9:
                line = table.line(product.usage_type)
                out.setdefault(conn_id, []).append((table, line, amount, round(amount * line.price, 2)))
    return out


def _categories(lines, products):
    """Categories (in ``CATEGORY_NAMES`` order) with their subtotal and, for the pricing report, products."""
    out = []
    for name, label in CATEGORY_NAMES.items():
        chosen = [entry for entry in lines if entry[1].product.category == name]
        if not chosen:
            continue
        category = {"name": dict(label)}
        if products:
            category["products"] = [_product(line, amount, cost) for _, line, amount, cost in chosen]
        category["subTotal"] = _money(sum(cost for *_, cost in chosen))
        out.append(category)
    return out


def _product(line, amount, cost):
    """One product of the pricing report, with its single pricing tier."""
    tier = {"usage": f"{amount:.4f}", "price": _price(line.price), "cost": _money(cost)}
    return {
        "sku": line.sku,
        "name": {"en": line.product.name, "fr": line.product.name},
        "cost": _money(cost),
        "usage": f"{amount:.4f}",
        "period": "HOUR",
        "unit": {"unit": line.product.pricing_unit, "name": {}},
        "pricingTiers": [tier],
    }


def _sum(categories):
    """The total of categories' subtotals."""
    return sum(float(c["subTotal"]) for c in categories)


def _money(value):
    """An amount as the vendor's string with 2 decimals."""
    return f"{value:.2f}"


def _price(value):
    """A unit price as a string with 2 to 6 decimals (``1.00``, ``0.0125``)."""
    whole, _, decimals = f"{value:.6f}".rstrip("0").partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def register(router):
    """Add the report routes to ``router``."""
    router.add("GET", "/reports/organization_pricing", organization_pricing)
    router.add("GET", "/reports/customers", customers)
