"""Resource commitments: some organizations commit to vCPU and memory on a connection.

Candidates are (organization, connection) pairs of live sub-organizations (not the root)
averaging at least 2 running vCPUs over the 90 days before ``now``.  A third of them, at least
two, get one commitment each, planned in this order, then drawn:

* status: IN_PROGRESS, IN_PROGRESS, EXPIRED, UPCOMING, then IN_PROGRESS 60% / EXPIRED 20% /
  UPCOMING 20%.  IN_PROGRESS runs 12 months from the first of a month 2-10 months ago;
  EXPIRED ran 12 months and ended 3-6 months ago; UPCOMING starts on the first of next month.
* fit: ``below``, ``above``, then drawn.  The committed amount of each product (vCPU,
  memory GiB) is 0.5 (below) or 1.6 (above) times the organization's average actual rate over
  the commitment's past part (UPCOMING: the last 90 days), rounded to 0.1: its capacity
  (amount x hours) is below or above the actual usage of that part.
  ``ledger.commitment_fit[id]`` records it (not for UPCOMING ones).
* pricing: FIXED_PRICE (``fixedPrice`` = 80% of the committed capacity's list price over the
  term) and UTILITY_DISCOUNT (``rateType`` FIXED_RATE, 10-25% discount, reference price = the
  list price), alternately.

``ledger.committed[(org, connection, usage type)]`` is the hourly ``min(actual, committed)``: the
``resourceCommitmentUsage`` of the top-level usage summary.
"""

from datetime import timedelta

from . import clock
from .ledger import Series

FACTORS = {"below": 0.5, "above": 1.6}
PLANNED_STATUSES = ("IN_PROGRESS", "IN_PROGRESS", "EXPIRED", "UPCOMING")
PLANNED_FITS = ("below", "above")
COMMITTED_TYPES = ("cpu_type", "memory_type")
TAX_CODE = {"code": "SI086690", "description": "IT Services"}
DISCOUNTS = (0.1, 0.15, 0.2, 0.25)


def make(rng, ids, store, ledger):
    """Draw the commitments into ``ledger`` (records, fits and committed series)."""
    pairs = _candidates(store, ledger)
    chosen = rng.sample(pairs, min(len(pairs), max(2, round(len(pairs) / 3))))
    pieces = {}
    for index, (org_id, conn_id) in enumerate(chosen):
        status = (
            PLANNED_STATUSES[index]
            if index < len(PLANNED_STATUSES)
            else rng.choices(("IN_PROGRESS", "EXPIRED", "UPCOMING"), (60, 20, 20))[0]
        )
        fit = PLANNED_FITS[index] if index < len(PLANNED_FITS) else rng.choice(PLANNED_FITS)
        start, end = _term(rng, store.now, status)
        amounts = {
            t: round(FACTORS[fit] * _average(ledger, (org_id, conn_id, t), start, end), 1)
            for t in COMMITTED_TYPES
        }
        record = _record(
            rng, ids, store, ledger.prices[conn_id], org_id, status, amounts, start, end, index % 2 == 0
        )
        ledger.commitments[record["id"]] = record
        if status != "UPCOMING":
            ledger.commitment_fit[record["id"]] = fit
        for usage_type, amount in amounts.items():
            pieces.setdefault((org_id, conn_id, usage_type), []).append(
                (clock.epoch(start), clock.epoch(end), amount)
            )
    for key, parts in pieces.items():
        ledger.committed[key] = ledger.series[key].minimum(Series.of(parts))


def _candidates(store, ledger):
    """(org, connection) pairs of live sub-orgs averaging >= 2 vCPUs over the last 90 days."""
    out = []
    for (org_id, conn_id, usage_type), series in ledger.series.items():
        org = store.orgs[org_id]
        busy = series.integral(ledger.now - 90 * 86400, ledger.now) / (90 * 24) >= 2
        if usage_type == "cpu_type" and org_id != store.root_id and not org["deleted"] and busy:
                out.append((org_id, conn_id))
    return out


def _term(rng, now, status):
    """(start, end) of a commitment with ``status`` at ``now``."""
    if status == "IN_PROGRESS":
        start = clock.month_start(now, -rng.randint(2, 10))
    elif status == "EXPIRED":
        start = clock.month_start(now, -rng.randint(15, 18))
    else:
        start = clock.month_start(now, 1)
    return start, clock.month_start(start, 12)


def _average(ledger, key, start, end):
    """The average actual rate of ``key`` over the past part of ``[start, end)`` (else the last 90 days)."""
    low, high = max(clock.epoch(start), ledger.start), min(clock.epoch(end), ledger.now)
    if low >= high:
        low, high = ledger.now - 90 * 86400, ledger.now
    return ledger.series[key].integral(low, high) / ((high - low) / 3600)


def _record(rng, ids, store, table, org_id, status, amounts, start, end, fixed):
    """One commitment in the vendor's shape (FIXED_PRICE if ``fixed``, else UTILITY_DISCOUNT)."""
    org = store.orgs[org_id]
    reseller = store.orgs[org["reseller"]["id"]]
    created = start - timedelta(days=rng.randint(5, 40), seconds=rng.randrange(86400))
    products = [_product(rng, ids, table.line(t), amount, created, fixed) for t, amount in amounts.items()]
    list_price = (
        sum(amount * table.line(t).price for t, amount in amounts.items())
        * (end - start)
        / timedelta(hours=1)
    )
    record = {
        "committedProducts": products,
        "endDate": clock.iso_seconds(end),
        "pricingMethod": "FIXED_PRICE" if fixed else "UTILITY_DISCOUNT",
        "type": "RESOURCE",
    }
    record.update(
        {"fixedPrice": round(0.8 * list_price, 2), "fixedPriceTaxCode": dict(TAX_CODE)}
        if fixed
        else {"rateType": "FIXED_RATE"}
    )
    conn = store.connections[table.connection_id]
    record.update(
        {
            "createdAt": clock.iso_seconds(created),
            "organization": {"name": org["name"], "id": org_id},
            "reseller": {"name": reseller["name"], "id": reseller["id"]},
            "name": f"{org['name']} {conn['serviceCode']} commitment",
            "id": ids.uuid(),
            "terminated": False,
            "startDate": clock.iso_seconds(start),
            "updatedAt": clock.iso_seconds(created),
            "status": status,
        }
    )
    return record


def _product(rng, ids, line, amount, created, fixed):
    """One committed product (UTILITY_DISCOUNT ones carry the discount and the reference price)."""
    product = {"createdAt": clock.iso_seconds(created), "product": {"id": line.product_id, "sku": line.sku}}
    if not fixed:
        product.update({"fixedRateReferencePrice": line.price, "discountAmount": rng.choice(DISCOUNTS)})
    product.update({"committedAmount": amount, "id": ids.uuid(), "updatedAt": clock.iso_seconds(created)})
    return product
