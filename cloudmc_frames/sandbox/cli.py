"""The ``cloudmc-frames sandbox`` command: serve a sandbox in the foreground until Ctrl-C.

Wire it with::

    sub = subparsers.add_parser("sandbox", help="serve an embedded CloudMC sandbox")
    add_arguments(sub)
    sub.set_defaults(func=run)
"""
import errno
import signal
import sys
import threading

from .faults import parse_faults
from .ratelimit import parse_rate_limit
from .server import USAGE_METADATA, SandboxServer

DEMO_ROLES = ("Administrator", "User", "Guest")


def add_arguments(parser):
    """Add the sandbox options to an ``argparse`` parser."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0,
                        help="port to bind (default 0: any free port, printed)")
    parser.add_argument("--orgs", type=int, default=20, help="number of organizations (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="scenario seed (default 7)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="resources per environment multiplier (default 1)")
    parser.add_argument("--latency-ms", type=float, default=0, help="latency added to every request (ms)")
    parser.add_argument("--jitter-ms", type=float, default=0, help="random extra latency, uniform 0..N ms")
    parser.add_argument("--faults", default="",
                        help="fault spec, e.g. '500:0.1@/services/*;429:0.05;latency:20+5'")
    parser.add_argument("--task-delay", type=float, default=0.5,
                        help="seconds before a task completes (default 0.5)")
    parser.add_argument("--ignore-paging", action="store_true", help="admin lists ignore paging parameters")
    parser.add_argument("--usage-days", type=int, default=365,
                        help="days of usage and metric history (default 365)")
    parser.add_argument("--hourly-days", type=int, default=30,
                        help="most recent days of that history also served hourly (default 30; 365 = a year)")
    parser.add_argument("--usage-metadata", choices=USAGE_METADATA, default="camel",
                        help="/service/usage paging metadata spelling (default camel: totalCount, ...)")
    parser.add_argument("--csv-bom", action="store_true",
                        help="start CSV answers with a UTF-8 byte-order mark")
    parser.add_argument("--rate-limit", default="",
                        help="token buckets per key/organization, e.g. 'key=50,org:<id>=2,retry=date' "
                             "(429 or answer=503 when empty)")
    parser.add_argument("--max-page-size", type=int, default=None,
                        help="answer 400 to a page_size above N")
    parser.add_argument("--served-page-size", type=int, default=None,
                        help="ignore page_size and serve pages of N records")
    parser.add_argument("--record-count-skew", type=int, default=0,
                        help="add K to every metadata.recordCount (negative: too low)")
    return parser


def demo_keys(server, per_role=2):
    """A few keys worth trying: the first active ones per role (root admin first)."""
    picked, counts = [], {}
    for info in server.keys:
        if info.status == "ACTIVE" and counts.get(info.role, 0) < per_role:
            counts[info.role] = counts.get(info.role, 0) + 1
            picked.append(info)
    return sorted(picked, key=lambda k: (DEMO_ROLES.index(k.role) if k.role in DEMO_ROLES else 9))


def banner(server):
    """The text printed at start: endpoint, export lines, demo keys table."""
    root = server.keys[0]
    lines = [
        f"CloudMC sandbox serving at {server.endpoint}/api/v2  "
        f"({len(server.store.orgs)} orgs, {server.store.resource_count()} resources)",
        "",
        f"export CLOUDMC_ENDPOINT={server.endpoint}",
        f"export CLOUDMC_API_KEY={root.key}",
        "",
        f"{'role':<14} {'user':<14} {'organization':<22} key",
    ]
    for info in demo_keys(server):
        scope = "org + sub-orgs" if info.sees_descendants else "own org"
        lines.append(f"{info.role:<14} {info.user_name:<14} {info.org_name[:22]:<22} {info.key}  ({scope})")
    lines += ["", "Press Ctrl-C to stop."]
    return "\n".join(lines)


def run(args, prog="cloudmc-sandbox"):
    """Serve until Ctrl-C (or SIGTERM); returns the exit status (0 on a clean stop, 1 on an error).

    An error is one line on standard error, ``<prog>: error: ...``.
    """
    try:
        server = build(args)
        server.start()
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prog}: error: {_bind_error(args, exc)}", file=sys.stderr)
        return 1
    done = threading.Event()
    previous = _on_sigterm(done)
    try:
        print(banner(server), flush=True)
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        _restore_sigterm(previous)
    print("sandbox stopped", flush=True)
    return 0


def build(args):
    """The server the options describe (not started); ValueError naming a bad option."""
    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        raise ValueError(f"--faults: {exc}") from None
    return SandboxServer(orgs=args.orgs, seed=args.seed, scale=args.scale, latency_ms=args.latency_ms,
                         jitter_ms=getattr(args, "jitter_ms", 0), faults=faults,
                         task_delay=getattr(args, "task_delay", 0.5), ignore_paging=args.ignore_paging,
                         host=args.host, port=args.port, usage_days=args.usage_days,
                         hourly_days=args.hourly_days, usage_metadata=args.usage_metadata,
                         csv_bom=args.csv_bom, **_misbehaviour(args))


def _misbehaviour(args):
    """The rate-limit and paging-quirk options of ``args`` (absent on parsers made elsewhere)."""
    return {"rate_limit": parse_rate_limit(getattr(args, "rate_limit", "")),
            "max_page_size": getattr(args, "max_page_size", None),
            "served_page_size": getattr(args, "served_page_size", None),
            "record_count_skew": getattr(args, "record_count_skew", 0)}


def _bind_error(args, exc):
    """What to do when the address cannot be bound (in use, not ours, not allowed)."""
    where = f"{args.host}:{args.port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"port {args.port} on {args.host} is already in use: pick another --port, or --port 0 "
                "for any free one")
    if exc.errno == errno.EACCES:
        return f"not allowed to listen on {where}: use a port above 1023, or --port 0"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{args.host} is not an address of this machine: use --host 127.0.0.1"
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _on_sigterm(done):
    """Make SIGTERM stop the loop like Ctrl-C (main thread only); returns the old handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda *_: done.set())


def _restore_sigterm(previous):
    """Put back the SIGTERM handler replaced by ``_on_sigterm``."""
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    """Stand-alone entry point: ``python -m cloudmc_frames.sandbox.cli``."""
    import argparse
    parser = add_arguments(argparse.ArgumentParser(prog="cloudmc-sandbox",
                                                   description=__doc__.splitlines()[0]))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
