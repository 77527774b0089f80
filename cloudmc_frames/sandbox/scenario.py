"""Seeded scenario generator: ``generate_scenario(orgs=, seed=, scale=)`` -> ``Store``.

Same arguments (and the same ``now``) give an identical store, ids included:
every random choice comes from ``random.Random`` instances seeded from ``seed``.

What gets built (numbers for the default ``orgs=20, seed=7`` are in the package docs):

* a reseller root org ("Nimbus Cloud") with a tree at least 3 levels deep below
  it; some sub-orgs are resellers, some trials, some deleted (leaves that still
  hold environments and resources);
* three service connections owned by the root: ``compute-qc`` and ``compute-on``
  (CloudStack) and ``gcp-lab`` (GCP); each org gets a non-empty subset of its parent's;
* users with an API key each, roles Administrator / User / Guest, login history,
  2FA flags, a few DISABLED, never-logged-in, stale (>90 days) and locked-out
  (failedLoginCount >= 10) users, and a few orgs with users but no administrator;
* environments (0-3 per org), members, and per environment the CloudStack or
  GCP resources (``scale`` multiplies the per-environment counts);
* one quota per (org, connection), a few orgs over their ceiling;
* an activity log;
* usage, prices, commitments and metric profiles (``gen_usage``, from a separate random stream, so
  the draws above do not depend on them): ``usage_days`` of history, the last ``hourly_days`` of it
  also hourly.

The pieces live in ``gen_people`` (roles, users, keys), ``gen_envs``
(environments, members), ``gen_cloudstack`` / ``gen_gcp`` (resources),
``quotas`` and ``gen_activity``; this module builds the org tree, the
connections and the org records, and runs the steps in order.
"""
import random
from datetime import timedelta

from . import clock, gen_cloudstack, gen_gcp, gen_usage, quotas
from .gen_activity import make_activity
from .gen_envs import make_environments
from .gen_people import make_roles, make_users
from .names import CONNECTIONS, INSTANCE_STATES, ORG_NAMES, PLUGIN_SUPPORT, ROOT_NAME, slug
from .store import IdFactory, Store

MAX_DEPTH = 4
PUBLIC_IP_BASE = (198 << 24) | (18 << 16)


class Ctx:
    """Generation context: seeded RNGs, the clock, counters for unique addresses."""

    def __init__(self, seed, now, store):
        self.rng = random.Random(f"cloudmc-sandbox-data:{seed}")
        self.ids = IdFactory(f"cloudmc-sandbox-ids:{seed}")
        self.now = now
        self.extras = store.extras
        self._seq = 35000
        self._public = 0
        self._mac = 0
        self._private = {}

    def next_seq(self):
        """A running number for volume names (ROOT-35001, DATA-35002, ...)."""
        self._seq += 1
        return self._seq

    def next_public_ip(self):
        """A unique public address (198.18.0.0/15, then onwards)."""
        self._public += 1
        value = PUBLIC_IP_BASE + self._public
        return ".".join(str((value >> s) & 255) for s in (24, 16, 8, 0))

    def next_private_ip(self, network):
        """A unique private address inside ``network`` (GCP: 10.162.0.0/16)."""
        key = network["id"] if network else "gcp"
        index = self._private.get(key, 0)
        self._private[key] = index + 1
        base = network["gateway"].rsplit(".", 2)[0] if network else "10.162"
        return f"{base}.{index // 250}.{index % 250 + 5}"

    def next_mac(self):
        """A unique locally administered MAC address."""
        self._mac += 1
        return "02:00:" + ":".join(f"{(self._mac >> s) & 255:02x}" for s in (24, 16, 8, 0))


def generate_scenario(orgs=20, seed=7, scale=1.0, now=None, usage_days=365, hourly_days=30):
    """Build and return a populated ``Store`` (see the module docstring)."""
    if int(orgs) < 1:
        raise ValueError("orgs must be >= 1")
    if scale < 0:
        raise ValueError("scale must be >= 0")
    now = now or clock.default_now()
    store = Store(seed=seed, now=now)
    ctx = Ctx(seed, now, store)
    make_roles(ctx, store)
    tree = _build_tree(ctx, int(orgs))
    _make_connections(ctx, store, tree)
    _make_orgs(ctx, store, tree)
    make_users(ctx, store, tree)
    make_environments(ctx, store, tree)
    _make_resources(ctx, store, tree, scale)
    _make_quotas(ctx, store, tree)
    make_activity(ctx, store)
    store.ids = IdFactory(f"cloudmc-sandbox-runtime:{seed}")
    store.usage = gen_usage.build(store, usage_days, hourly_days)
    return store


# ---------------------------------------------------------------------- tree
class Tree:
    """The org skeleton before records exist: ids, names, parents, flags, connections."""

    def __init__(self):
        self.order, self.parent, self.depth, self.name = [], {}, {}, {}
        self.children, self.flags, self.conns, self.chain = {}, {}, {}, []

    def add(self, org_id, name, parent):
        """Add an org under ``parent`` (None for the root)."""
        self.order.append(org_id)
        self.name[org_id] = name
        self.parent[org_id] = parent
        self.depth[org_id] = 0 if parent is None else self.depth[parent] + 1
        self.children[org_id] = []
        self.flags[org_id] = set()
        if parent is not None:
            self.children[parent].append(org_id)

    @property
    def root(self):
        """The root org id."""
        return self.order[0]

    def has(self, org_id, flag):
        """True if ``org_id`` carries ``flag`` (reseller, trial, deleted, no_admin)."""
        return flag in self.flags[org_id]


def _org_name(index):
    """The ``index``-th sub-org name (numbered once the pool is used up)."""
    base = ORG_NAMES[index % len(ORG_NAMES)]
    cycle = index // len(ORG_NAMES)
    return base if cycle == 0 else f"{base} {cycle + 1}"


def _build_tree(ctx, count):
    """Root, a chain 3 levels deep, then random parents (shallower more likely)."""
    rng, tree = ctx.rng, Tree()
    tree.add(ctx.ids.uuid(), ROOT_NAME, None)
    for index in range(count - 1):
        if index < 3:
            parent = tree.order[-1]
        else:
            candidates = [o for o in tree.order if tree.depth[o] < MAX_DEPTH]
            parent = rng.choices(candidates, [(MAX_DEPTH + 1 - tree.depth[o]) ** 2 for o in candidates])[0]
        tree.add(ctx.ids.uuid(), _org_name(index), parent)
    tree.chain = tree.order[1:4]
    _set_flags(ctx, tree)
    return tree


def _set_flags(ctx, tree):
    """Mark resellers (before connections are assigned)."""
    tree.flags[tree.root].add("reseller")
    for org_id in tree.order[1:]:
        if tree.children[org_id] and (org_id == tree.order[1] or ctx.rng.random() < 0.35):
            tree.flags[org_id].add("reseller")


def _set_late_flags(ctx, tree):
    """Mark deleted leaves (holding connections), trials and orgs that will lack an administrator."""
    rng = ctx.rng
    leaves = [o for o in tree.order[1:] if not tree.children[o] and o not in tree.chain]
    deleted = []
    if len(tree.order) >= 6 and leaves:
        equipped = [o for o in leaves if tree.conns[o]] or leaves
        first = rng.choice(equipped)
        rest = [o for o in leaves if o != first]
        deleted = [first] + rng.sample(rest, min(len(rest), max(0, round(0.08 * len(tree.order)) - 1)))
    for org_id in deleted:
        tree.flags[org_id].add("deleted")
    alive = [o for o in leaves if o not in deleted]
    trials = [o for o in alive if rng.random() < 0.2] or alive[:1]
    for org_id in trials:
        tree.flags[org_id].add("trial")
    candidates = [o for o in tree.order[2:] if o not in deleted]
    if len(tree.order) >= 6 and candidates:
        for org_id in rng.sample(candidates, max(1, round(0.06 * len(tree.order)))):
            tree.flags[org_id].add("no_admin")


# --------------------------------------------------------------- connections
def _make_connections(ctx, store, tree):
    """The root-owned connections, then each org's subset of its parent's connections."""
    root_created = ctx.now - timedelta(days=2200)
    for spec in CONNECTIONS:
        created = root_created + timedelta(days=ctx.rng.randrange(1, 60))
        conn = {
            "id": ctx.ids.uuid(), "serviceCode": spec["serviceCode"], "creationDate": clock.iso_ms(created),
            "name": spec["name"], "type": spec["type"],
            "status": {"lastUpdated": clock.iso_ms(ctx.now - timedelta(minutes=7)), "reachable": True},
            "organization": {"name": tree.name[tree.root], "id": tree.root},
            "metricsEnabled": PLUGIN_SUPPORT[spec["type"]]["supportsMetric"], "supportsQuotas": True,
            "supportsPricingV2": True, "supportsPolicies": True, "hasWidgets": False,
            "supportsUsage": PLUGIN_SUPPORT[spec["type"]]["supportsUsage"],
            "supportsInfra": spec["type"] == "cloudstack",
            "lastUsageRecord": clock.iso_ms(ctx.now - timedelta(hours=1, seconds=1)), "brownfield": False,
            "quotas": [],
        }
        store.connections[conn["id"]] = conn
    _assign_connections(ctx, store, tree)


def _assign_connections(ctx, store, tree):
    """Give every org a non-empty subset of its parent's connections; one pair ends ERROR_PROVISIONING."""
    rng = ctx.rng
    by_code = {c["serviceCode"]: c["id"] for c in store.connections.values()}
    rates = {by_code[s["serviceCode"]]: s["assign_rate"] for s in CONNECTIONS}
    qc = by_code["compute-qc"]
    for org_id in tree.order:
        parent = tree.parent[org_id]
        if parent is None:
            tree.conns[org_id] = list(store.connections)
            continue
        rate = (lambda c: rates[c]) if parent == tree.root else (lambda c: 0.8)
        chosen = [c for c in tree.conns[parent] if rng.random() < rate(c)]
        if org_id in tree.chain and qc in tree.conns[parent] and qc not in chosen:
            chosen.insert(0, qc)
        if not chosen and tree.conns[parent]:
            chosen.append(rng.choice(tree.conns[parent]))
        tree.conns[org_id] = chosen
    _set_late_flags(ctx, tree)
    tree.errored = set()
    pairs = [(o, c) for o in tree.order[4:] for c in tree.conns[o] if not tree.has(o, "deleted")]
    if len(tree.order) >= 8 and pairs:
        tree.errored.add(rng.choice(pairs))


# ---------------------------------------------------------------------- orgs
def _make_orgs(ctx, store, tree):
    """Org records in the vendor list shape, parents first."""
    rng = ctx.rng
    created = {tree.root: ctx.now - timedelta(days=2300)}
    entry_points = set()
    for org_id in tree.order:
        parent = tree.parent[org_id]
        if parent is not None:
            created[org_id] = min(created[parent] + timedelta(days=rng.randrange(10, 400),
                                                              seconds=rng.randrange(86400)),
                                  ctx.now - timedelta(days=45))
        entry = slug(tree.name[org_id]) or "org"
        while entry in entry_points:
            entry = f"{entry}-{len(entry_points)}"
        entry_points.add(entry)
        store.orgs[org_id] = _org_record(ctx, store, tree, org_id, entry, created[org_id])
        store.children[org_id] = list(tree.children[org_id])
        store.extras[org_id] = {"notes": "", "customFieldDefinitions": [],
                                "ldap": {"deleted": False, "id": ctx.ids.uuid()}}
    store.root_id = tree.root


def _nearest_reseller(tree, org_id):
    """The nearest reseller strictly above ``org_id`` (None for the root)."""
    parent = tree.parent[org_id]
    while parent is not None and not tree.has(parent, "reseller"):
        parent = tree.parent[parent]
    return parent


def _org_record(ctx, store, tree, org_id, entry, created):
    """One org record (``environments``/``users`` are filled in later)."""
    rng = ctx.rng
    trial = tree.has(org_id, "trial")
    billable = not trial and rng.random() < 0.85
    tags = ([{"system": True, "name": "billable",
              "id": "5a84485f-7eed-11ec-b819-0242ac120002"}] if billable else [])
    if rng.random() < 0.3:
        tags.append({"system": False, "name": rng.choice(["enterprise", "smb", "partner", "internal"]),
                     "id": ctx.ids.uuid()})
    lineage, node = [org_id], tree.parent[org_id]
    while node is not None:
        lineage.append(node)
        node = tree.parent[node]
    record = {
        "id": org_id, "lineage": ", ".join(lineage), "name": tree.name[org_id], "entryPoint": entry,
        "billableStartDate": clock.iso_ms(created + timedelta(days=rng.randrange(0, 30))),
        "creationDate": clock.iso_ms(created), "isBillable": billable,
        "billingMode": "CREDIT_CARD" if rng.random() < 0.25 else "MANUAL",
        "isReseller": tree.has(org_id, "reseller"), "features": [],
        "customFields": {"costCenter": f"CC-{rng.randrange(100, 999)}"} if rng.random() < 0.3 else {},
        "tags": tags, "deleted": tree.has(org_id, "deleted"), "isDbAuthentication": True,
        "isLdapAuthentication": False, "isTrial": trial,
    }
    reseller = _nearest_reseller(tree, org_id)
    if reseller is not None:
        record["reseller"] = {"id": reseller}
    if tree.parent[org_id] is not None:
        record["parent"] = {"id": tree.parent[org_id], "name": tree.name[tree.parent[org_id]]}
    record["environments"] = []
    record["serviceConnections"] = [
        {"id": c, "serviceCode": store.connections[c]["serviceCode"],
         "state": "ERROR_PROVISIONING" if (org_id, c) in tree.errored else "PROVISIONED"}
        for c in tree.conns[org_id]]
    record["users"] = []
    return record


# ----------------------------------------------------------------- resources
def _make_resources(ctx, store, tree, scale):
    """Per-environment resources; the root's ``prod`` env shows every instance state."""
    specs = {s["serviceCode"]: s for s in CONNECTIONS}
    catalogs = {}
    for env in store.environments.values():
        conn = store.connections[env["serviceConnection"]["id"]]
        spec = specs[conn["serviceCode"]]
        org = store.orgs[env["organization"]["id"]]
        if conn["type"] == "gcp":
            store.resources[env["id"]] = gen_gcp.generate_env(ctx, org, env, spec, scale)
            continue
        if conn["id"] not in catalogs:
            catalogs[conn["id"]] = gen_cloudstack.make_catalog(ctx, spec)
        forced = INSTANCE_STATES if (org["id"] == tree.root and env["name"] == "prod") else ()
        store.resources[env["id"]] = gen_cloudstack.generate_env(ctx, env, catalogs[conn["id"]], scale,
                                                                 forced)


# -------------------------------------------------------------------- quotas
def _make_quotas(ctx, store, tree):
    """Default/trial quotas per connection and one quota per (org, connection) pair."""
    root = store.orgs[tree.root]
    created = ctx.now - timedelta(days=1500)
    for conn in store.connections.values():
        gcp = conn["type"] == "gcp"
        base = {"INSTANCE_VCPUS": 64, "INSTANCE_MEMORY": 131072, "DISK_SIZE": 2000, "INSTANCE_COUNT": 40}
        trial = {"INSTANCE_VCPUS": 4, "INSTANCE_MEMORY": 8192, "DISK_SIZE": 100, "INSTANCE_COUNT": 3}
        for name, ceilings, is_default, is_trial in (("Default", base, True, False),
                                                     ("Trial", trial, False, True)):
            if gcp:
                ceilings = {**ceilings, "workload_cpu_count": 24}
            quota = quotas.quota_record(ctx.ids, f"{name} {conn['serviceCode']}",
                                        f"{name} quota for {conn['name']}",
                                        root, conn, ceilings, created, is_default, is_trial)
            store.quotas[quota["id"]] = quota
    pairs = [(o, c["id"]) for o in tree.order for c in store.orgs[o]["serviceConnections"]
             if c["state"] == "PROVISIONED"]
    used = {pair: quotas.usage(store, *pair) for pair in pairs}
    busy = [p for p in pairs if used[p]["INSTANCE_VCPUS"] > 0 and p[0] != tree.root and not tree.has(p[0],
                                                                                                     "deleted")]
    over = set(ctx.rng.sample(busy, min(len(busy), max(1, round(0.1 * len(busy)))))) if busy else set()
    compute = [p for p in busy if store.connections[p[1]]["type"] == "cloudstack"]
    if compute and not over & set(compute):
        over.add(ctx.rng.choice(compute))
    for org_id, conn_id in pairs:
        _org_quota(ctx, store, tree, org_id, store.connections[conn_id], used[(org_id, conn_id)],
                   (org_id, conn_id) in over)
    for conn in store.connections.values():
        conn["quotas"] = [{"name": q["name"], "id": q["id"]} for q in store.quotas.values()
                          if q["serviceConnection"]["id"] == conn["id"]]


def _org_quota(ctx, store, tree, org_id, conn, used, over):
    """Create the quota applied to ``org_id`` on ``conn``, owned by its parent."""
    org = store.orgs[org_id]
    owner = store.orgs[tree.parent[org_id] or org_id]
    gcp = conn["type"] == "gcp"
    ceilings = (quotas.over_ceilings(used, gcp) if over
                else quotas.ceilings_for(used, ctx.rng.uniform(1.5, 3.0), gcp))
    quota = quotas.quota_record(ctx.ids, f"{org['entryPoint']} {conn['serviceCode']}",
                                f"Limits of {org['name']} on {conn['name']}", owner, conn, ceilings,
                                clock.parse_instant(org["creationDate"]) + timedelta(days=1))
    store.quotas[quota["id"]] = quota
    quotas.assign(store, quota, org_id)


