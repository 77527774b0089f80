"""Throttling benchmark: crawls against a sandbox limited to R requests/s, side by side, as ratios.

Run:  python benchmarks/throttle.py [--rate 40] [--orgs 200] [--workers 8] [--page-size 20]
                                    [--victim-rate 1] [--pairs 2]

The sandbox serves from its own process (a real CloudMC is remote) with a token bucket of R
requests/s (1 s of burst) on the API key; it answers 429 with ``Retry-After`` when the bucket is
empty and counts what it admitted and refused, per second. In this process, one after the other,
each with a new client (in-memory cache, so every request goes out):

* reference: the crawl (users, environments, instances, volumes of every organization) with no
  limit on the server: the rows every other crawl must return;
* adaptive: the toolkit as shipped (adaptive throttling on);
* per-thread: the same client with ``adaptive_throttle=False`` (each thread honours the
  ``Retry-After`` it got, nobody else does, no pacing): what the limiter is measured against;
* isolation: the adaptive crawl with the key limit alone (A) and with the busiest organization
  (after the root) also limited to ``--victim-rate`` requests/s (B), alternated ``--pairs``
  times. For each accessor call, the time until the collection's own scopes of every other
  organization were read; summed over the calls, B against A (best of each). The call itself
  returns only when the victim is read too, and so do the scopes an accessor reads after all
  others (the service connections of the environments found): "all scopes" reports that.

Measures: rows lost against the reference (target 0, duplicates counted too); the share of
requests answered 429 after the first 2 s (target < 5%); requests the server admitted after the
first 2 s per second, over R (target >= 0.8); the slowdown of the other organizations (target
<= 10%). Only ratios measured in this run are targets; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

from sandbox_process import SandboxProcess
from tabulate import tabulate

import cloudmc_frames as cmf

COLLECTIONS = ("users", "environments", "instances", "volumes")
WARMUP_S = 2.0


def crawl(client: cmf.Client):
    """Every collection; return the (collection, id) rows, each call's name, start and scope
    finish times (with their organization and entity), and the wall time."""
    marks: list[tuple[float, str, str]] = []
    record = client.ledger.record

    def timed_record(coverage, issue=None):
        marks.append((time.perf_counter(), coverage.organization_id, coverage.entity))
        record(coverage, issue)

    client.ledger.record = timed_record
    rows: Counter = Counter()
    calls = []
    started = time.perf_counter()
    for name in COLLECTIONS:
        call_start, first = time.perf_counter(), len(marks)
        frame = getattr(cmf, name)(client, progress=False)
        rows.update((name, str(i)) for i in frame["id"])
        calls.append((name, call_start, marks[first:]))
    return rows, calls, time.perf_counter() - started


def others_time(calls, victim: str, own_only: bool = True) -> float:
    """Seconds, summed over the calls, until the scopes of the other organizations were done
    (only the collection's own scopes, or all of them)."""
    total = 0.0
    for name, start, marks in calls:
        done = [t for t, org, entity in marks if org != victim and (entity == name or not own_only)]
        total += (max(done) - start) if done else 0.0
    return total


def server_share(stats: dict, rate: float) -> tuple[float, float, int, int]:
    """(429 share after the warm-up, admitted/s after it over R, admitted, refused) from the
    server's own counts: per second since its first request, and the span to its last."""
    late = [(a, r) for s, a, r in stats["seconds"] if s >= WARMUP_S]
    admitted, refused = sum(a for a, _ in late), sum(r for _, r in late)
    share = refused / (admitted + refused) if admitted + refused else 0.0
    throughput = admitted / max(stats["span"] - WARMUP_S, 1e-9) / rate
    total = [(a, r) for _, a, r in stats["seconds"]]
    return share, throughput, sum(a for a, _ in total), sum(r for _, r in total)


def run(sb: SandboxProcess, spec: str | None, reference: Counter | None, **options):
    """One crawl with a new client against the sandbox limited by ``spec``; its measures."""
    sb.rate_limits("set", spec)
    client = cmf.connect(sb.endpoint, sb.api_key, cache_backend="memory", **options)
    rows, calls, wall = crawl(client)
    measures = {"rows": rows, "calls": calls, "wall": wall, "issues": len(client.issues),
                "stats": sb.rate_limits("stats"), "throttle": dict(client.throttle.stats)}
    if reference is not None:
        measures["lost"] = sum((reference - rows).values())
        measures["extra"] = sum((rows - reference).values())
    return measures


def victim_of(reference_stats) -> str:
    """The organization (after the root) that sent the most requests: the one to throttle."""
    counts = Counter({org: a + r for org, (a, r) in reference_stats["orgs"].items() if org})
    (_root, _), (victim, _) = counts.most_common(2)
    return victim


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="the key's limit R, requests/s")
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--victim-rate", type=float, default=0.5)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    options = {"max_workers": args.workers, "page_size": args.page_size}
    with SandboxProcess(orgs=args.orgs) as sb:
        report(args, sb, options)


def report(args, sb: SandboxProcess, options: dict) -> None:
    key_limit = f"key={args.rate:g}"
    ref = run(sb, "key=1000000", None, **options)  # counted, never refused
    adaptive = run(sb, key_limit, ref["rows"], **options)
    naive = run(sb, key_limit, ref["rows"], adaptive_throttle=False, **options)
    victim = victim_of(ref["stats"])
    both = f"{key_limit},org:{victim}={args.victim_rate:g}"
    alone, victimised = [], []
    for _ in range(args.pairs):
        alone.append(run(sb, key_limit, ref["rows"], **options))
        victimised.append(run(sb, both, ref["rows"], **options))
    a = min(others_time(m["calls"], victim) for m in alone)
    b = min(others_time(m["calls"], victim) for m in victimised)
    a_all = min(others_time(m["calls"], victim, own_only=False) for m in alone)
    b_all = min(others_time(m["calls"], victim, own_only=False) for m in victimised)

    table = []
    for label, m in (("adaptive (toolkit)", adaptive), ("per-thread Retry-After only", naive),
                     *((f"isolation A{n + 1}: key limit", m) for n, m in enumerate(alone)),
                     *((f"isolation B{n + 1}: + victim at {args.victim_rate:g}/s", m)
                       for n, m in enumerate(victimised))):
        share, throughput, admitted, refused = server_share(m["stats"], args.rate)
        victim_counts = "/".join(map(str, m["stats"]["orgs"].get(victim, (0, 0))))
        table.append([label, f"{m['wall']:.1f}", admitted, refused, m["lost"], m["extra"],
                      m["issues"], f"{100 * share:.2f}%", f"{throughput:.3f}", victim_counts,
                      f"{others_time(m['calls'], victim):.2f}",
                      f"{others_time(m['calls'], victim, own_only=False):.2f}"])
    print(f"sandbox (own process): {args.orgs} orgs, key limit R = {args.rate:g} requests/s "
          f"(1 s burst, 429 + Retry-After in seconds); {args.workers} workers, page size "
          f"{args.page_size}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(f"reference crawl (no limit): {sum(ref['rows'].values())} rows, "
          f"{sum(a for _, a, _ in ref['stats']['seconds'])} requests, {ref['wall']:.1f} s\n")
    print(tabulate(table, headers=["crawl", "wall s", "admitted", "429s", "rows lost", "rows extra",
                                   "issues", "429 share >2 s", "throughput / R", "victim ok/429",
                                   "others s (own scopes)", "others s (all)"], tablefmt="github"))
    share, throughput, *_ = server_share(adaptive["stats"], args.rate)
    summary = [
        ["rows lost (adaptive)", adaptive["lost"] + adaptive["extra"], "0"],
        ["share of requests answered 429 after 2 s", f"{100 * share:.2f}%", "< 5%"],
        ["throughput / R after 2 s", f"{throughput:.3f}", ">= 0.8"],
        [f"others' time, victim at {args.victim_rate:g}/s vs not (best of {args.pairs})",
         f"{b:.2f} s / {a:.2f} s = {b / a - 1:+.1%}", "<= +10%"],
        ["  the same, all scopes (connections wait for every environment)",
         f"{b_all:.2f} s / {a_all:.2f} s = {b_all / a_all - 1:+.1%}", "(report)"],
    ]
    print()
    print(tabulate(summary, headers=["target", "measured", "goal"], tablefmt="github"))
    print(f"\nadaptive client's throttle: {adaptive['throttle']}")
    print(f"victim organization: {victim} ({sum(ref['stats']['orgs'][victim])} requests a crawl)")


if __name__ == "__main__":
    main()
