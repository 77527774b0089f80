"""Embedded CloudMC sandbox: a real local HTTP server that follows the vendor's API.

It is the target of the demo, the notebooks, the tests and the benchmarks, and
an independent oracle for the client: standard library only, no import from
the rest of ``cloudmc_frames``.

Quick start::

    from cloudmc_frames.sandbox import SandboxServer, FaultRule, parse_faults, generate_scenario

    with SandboxServer(orgs=20, seed=7, task_delay=0.05) as srv:
        srv.endpoint            # "http://127.0.0.1:<port>"; the API lives under /api/v2
        srv.api_key             # the root reseller administrator's key (header MC-Api-Key)
        srv.keys                # KeyInfo(key, user_id, user_name, org_id, org_name, role,
                                #         sees_descendants, status) for every user
        srv.faults.add(FaultRule("status", path="/users", status=503, first_n=2))
        srv.faults.add("429:0.1,retry=2@/services/*")       # spec strings work too
        srv.requests            # RequestRecord(method, path, query, org_id, status, fault) log
        srv.fail_operations.add("instances.stop")           # such tasks end FAILED
        srv.wait_for_tasks()    # block until no task is pending
        srv.rate_limits.set("key=50,org:<id>=2,retry=date")  # token buckets: 429 + Retry-After
        srv.rate_limits.stats() # admitted / refused per second and per organization
        srv.paging = PagingQuirks(max_page_size=100)        # 400 for a page_size above 100

Constructor: ``SandboxServer(*, orgs=20, seed=7, scale=1.0, latency_ms=0,
jitter_ms=0, faults=(), task_delay=0.5, task_ttl=1800.0, ignore_paging=False,
host="127.0.0.1", port=0, scenario=None, fail_operations=(), usage_days=365,
hourly_days=30, usage_metadata="camel", csv_bom=False, rate_limit=None,
max_page_size=None, served_page_size=None, record_count_skew=0)``; ``faults`` is a
list of ``FaultRule`` or a spec string (see ``faults``); ``scenario`` is a
pre-generated ``Store`` to serve (it is used, and mutated, in place).
``usage_days`` is the usage and metric history (days before ``now``),
``hourly_days`` the part of it also served hourly (``hourly_days=365`` gives a
year of hourly data, computed on request: start-up cost does not grow).
``usage_metadata`` ("camel" or "snake") and ``csv_bom`` are switches that can
also be flipped at run time (``srv.usage_metadata = "snake"``): the paging
metadata spelling of ``/service/usage`` and a UTF-8 BOM before CSV answers.

Misbehaviour knobs (all off by default; ``cmf.sandbox(...)`` and the CLI take them too):

* ``faults`` - seeded, targeted faults (latency, 5xx, 429 with a fixed
  ``Retry-After`` such as ``429,retry=3600@...``, HTML pages, cut or slow bodies,
  resets): see ``faults``; CLI ``--faults``.
* ``rate_limit`` - token buckets per API key and per organization answering 429
  (or 503) with ``Retry-After`` in seconds or as an HTTP date: a ``RateLimit`` or
  a spec such as ``"key=50,org:<id>=2,retry=date"``, see ``ratelimit``; CLI
  ``--rate-limit``; ``srv.rate_limits.set(...)`` changes it at run time.
* ``max_page_size=N`` - a ``page_size`` above N is answered 400; CLI ``--max-page-size``.
* ``served_page_size=N`` - ``page_size`` is ignored, pages hold N records (the
  metadata says so); CLI ``--served-page-size``.
* ``record_count_skew=K`` - every ``recordCount`` is K too high (K < 0: too low);
  CLI ``--record-count-skew``. The last three: see ``paging_quirks``; assign
  ``srv.paging = PagingQuirks(...)`` to change them at run time.
* ``ignore_paging=True`` - admin lists ignore paging and return everything
  without metadata; CLI ``--ignore-paging``.

Oracle API (what tests elsewhere compute expected frames from)
--------------------------------------------------------------
``srv.store`` (also what ``generate_scenario(orgs=, seed=, scale=, now=None,
usage_days=365, hourly_days=30)`` returns; same arguments and same ``now`` -> identical store, ids included;
``now`` defaults to today's UTC midnight) holds API-shaped dicts, exactly as
the list endpoints serve them:

* ``store.orgs[id]`` - ``GET /organizations`` records (``deleted`` ones included;
  the API lists them only with ``include_deleted=true``). The root has no
  ``parent``/``reseller``. ``lineage`` is "own id, parent id, ..., root id".
  ``store.children[id]`` lists child ids; ``store.root_id`` is the root.
* ``store.users[id]`` - ``GET /users`` records (``deleted`` users are not listed).
* ``store.environments[id]`` - ``GET /environments`` records
  (``serviceConnection{id,name}``; the detail view adds ``serviceCode``, ``type``).
* ``store.members[env_id]`` - ``GET /environments/:id/members`` records.
* ``store.connections[id]`` - service connections (all owned by the root).
* ``store.quotas[id]`` - quota records; ``store.quota_assignments[(org_id,
  connection_id)] = quota_id`` says which quota applies where
  (``quotas.usage(store, org_id, connection_id)`` is the consumption the
  sandbox enforces ceilings against).
* ``store.roles[id]`` - ``GET /roles`` records.
* ``store.activity`` - activity-log records, oldest first (``eventContext`` is a
  JSON string); admin mutations append to it.
* ``store.resources[env_id][entity_type][resource_id]`` - service list records
  (CloudStack: instances, volumes, snapshots, publicipaddresses, zones,
  templates, computeofferings, diskofferings, networks; GCP: instances, disks).
  Detail-only fields live in ``store.extras[id]`` (see ``views``).
* ``store.tasks[task_id]`` - ``tasks.Task`` objects (``.status``, ``.result``).
* ``store.visible_org_ids(api_key, include_deleted=False)`` - org ids a key sees
  (its org and, for administrators, every descendant), parents first.
* ``store.keys`` / ``store.key_info(key)`` (a DISABLED user's key answers 401 and
  sees nothing), ``store.subtree(org_id)``, ``store.ancestors(org_id)``,
  ``store.env_by_name(org_id, name)``, ``store.resource_count()``.
* ``store.lock`` guards mutations; records are replaced, never edited in place.
* ``store.now`` is the reference time the dates were generated against.
* ``store.usage`` - the usage ledger (``ledger.Ledger``, read-only; times in epoch
  seconds): ``histories[instance_id]`` (``history.History``: ``events``
  ``((datetime, state), ...)`` from creation to the current state, ``until``),
  ``profiles[instance_id]`` (``signals.Profile``: kind, idle ``since``),
  ``deleted_at[org_id]`` (when a deleted org stopped accruing), ``prices[connection_id]``
  (``pricing.PriceTable``), ``items`` / ``by_org[org_id]`` (``ledger.Item``: one
  resource x usage type, rate and intervals), ``series[(org, connection, type)]``,
  ``commitments[id]`` (API records), ``commitment_fit[id]`` ("below"/"above" actual
  use), ``committed[...]``, ``metric_entities[env_id]``, ``start``, ``hourly_start``, ``now``.
* ``store.usage_profiles`` - ``{instance_id: "idle" | "busy" | "spiky" | "normal"}``
  (idle ones are Running and stay below 5% CPU for at least 35 days before ``now``).

Default scenario (``orgs=20, seed=7, scale=1``; counts do not depend on ``now``):
20 orgs (depth 3, 6 reseller sub-orgs, 1 trial, 2 deleted), 44 users (20
Administrator / 17 User / 7 Guest), 34 environments (26 compute-qc, 6 gcp-lab,
2 compute-on), 1671 service resources (311 instances, 451 volumes, ...), 32
quotas (26 applied), 102 activity records; usage: 278 CloudStack instance
histories, 1112 metered items, profiles 27 idle / 52 busy / 49 spiky / 150 normal,
4 commitments (2 IN_PROGRESS, 1 EXPIRED, 1 UPCOMING; fits below, above, above),
2 deleted orgs with a deletion time.  ``scale`` multiplies per-environment
counts: ``orgs=200, scale=10`` gives about 101,600 resources.

API behaviour in brief: admin lists with ``org_id=X`` return exactly org X's
records (default: the caller's org); ``org_id`` outside the caller's subtree
-> 403, unknown -> 404; paging as in ``paging``; errors as in ``errors``;
operations and tasks as in ``operations`` and ``tasks``; roles as in ``rbac``.
Usage, cost and metrics (read-only, computed from ``store.usage`` on request):
``usage_summary`` (``/usage_summary/organizations/:id`` and its ``top_level``
twin), ``service_usage`` (``/service/usage``), ``descriptors``
(``/services/descriptors/:pluginType``), ``metrics`` (``/metrics/:code/:id``),
``commitments`` (``/commitments[/:id]``), ``reports``
(``/reports/organization_pricing``, ``/reports/customers``); how the data is
derived in ``gen_usage``, ``history``, ``pricing``, ``signals`` and
``gen_commitments``; span limits per call in ``windows`` (31 days hourly, 366
otherwise: 400 code 9418).
"""
from .faults import FaultRule, FaultSet, parse_faults
from .paging_quirks import PagingQuirks
from .ratelimit import RateLimit, RateLimiter, parse_rate_limit
from .scenario import generate_scenario
from .server import RequestRecord, SandboxServer
from .store import KeyInfo, Store

__all__ = ["FaultRule", "FaultSet", "KeyInfo", "PagingQuirks", "RateLimit", "RateLimiter", "RequestRecord",
           "SandboxServer", "Store", "generate_scenario", "parse_faults", "parse_rate_limit"]
