"""Rate limits: token buckets per API key and per organization, answered with 429 or 503.

CloudMC documents no rate limit, but real control planes (and the proxies in front of them)
throttle; this mode lets a client's limiter be tested against a server that does. A
``RateLimit`` says how many requests per second each API key (``per_key``) and each
organization (``per_org``; ``orgs`` overrides it for named organizations) may send. The
organization of a request is its ``org_id`` query parameter, else the caller's own. Each bucket
holds ``burst`` seconds of its rate (at least one request) and starts full; a request takes one
token from each bucket that applies, or, when one of them is empty, takes none and is answered:

* ``answer=429`` (default): ``429`` with the error envelope (code 9429);
* ``answer=503``: ``503`` with the error envelope (code 9503);

with ``Retry-After`` the time until the empty bucket holds a token again, rounded up to whole
seconds (``retry="seconds"``, default), as an HTTP date (``retry="date"``), or left out
(``retry="none"``). Fault rules (``faults``) are decided first; a request a fault answers
takes no token.

Mini-language (``parse_rate_limit``; also the CLI's ``--rate-limit``)::

    spec := item ("," item)*
    item := "key=" RATE | "org=" RATE | "org:" ORG_ID "=" RATE
          | "burst=" SECONDS | "answer=" ("429" | "503") | "retry=" ("seconds" | "date" | "none")

Examples: ``key=50`` (50 requests/s per key, 1 s of burst), ``key=50,org:<id>=2`` (and 2/s
for one organization), ``org=5,answer=503,retry=none``, ``key=20,retry=date``.

``RateLimiter.stats()`` counts what was admitted and refused, per second since the first
request (or the last ``reset()``) and per organization, and the seconds from the first request
to the last, for tests and benchmarks.
"""
import email.utils
import math
import threading
import time
from dataclasses import dataclass

RETRY_FORMATS = ("seconds", "date", "none")
ANSWERS = (429, 503)


@dataclass(frozen=True)
class RateLimit:
    """How fast keys and organizations may send (requests per second; None: no limit)."""

    per_key: float = None
    per_org: float = None
    orgs: tuple = ()            # ((org_id, rate), ...): organizations with their own rate
    burst: float = 1.0          # bucket depth, in seconds of its rate
    answer: int = 429
    retry: str = "seconds"

    def __post_init__(self):
        rates = [self.per_key, self.per_org, *(rate for _, rate in self.orgs)]
        if any(rate is not None and not rate > 0 for rate in rates):
            raise ValueError(f"rate limits must be positive requests per second, got {rates}")
        if not self.burst > 0:
            raise ValueError(f"burst must be a positive number of seconds, got {self.burst!r}")
        if self.answer not in ANSWERS:
            raise ValueError(f"answer must be 429 or 503, got {self.answer!r}")
        if self.retry not in RETRY_FORMATS:
            raise ValueError(f"retry must be one of {', '.join(RETRY_FORMATS)}, got {self.retry!r}")

    def org_rate(self, org_id):
        """The rate of ``org_id``'s bucket (None: the organization is not limited)."""
        return dict(self.orgs).get(org_id, self.per_org)


class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``depth``, full at the start."""

    def __init__(self, rate, depth, now):
        self.rate, self.depth = rate, max(1.0, depth)
        self.tokens, self.at = self.depth, now

    def refill(self, now):
        """Add the tokens earned since the last look."""
        self.tokens = min(self.depth, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self):
        """Seconds until one token is there (0 when there is one)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class Refusal:
    """A refused request: the status, headers and envelope to answer, and which bucket was empty."""

    def __init__(self, status, headers, body, which):
        self.status, self.headers, self.body, self.which = status, headers, body, which


class RateLimiter:
    """The server's buckets (thread-safe); ``limit`` may be replaced at run time (``set``)."""

    def __init__(self, limit=None, clock=time.monotonic, wall=time.time):
        self._lock = threading.Lock()
        self._clock, self._wall = clock, wall
        self.limit = None
        self.set(limit)

    def set(self, limit):
        """Use ``limit`` (a ``RateLimit``, a spec string, or None: no limit); buckets start full."""
        limit = parse_rate_limit(limit) if isinstance(limit, str) else limit
        with self._lock:
            self.limit = limit or None
            self._buckets = {}
            self._reset_stats()

    def reset(self):
        """Forget the counts (buckets keep their tokens)."""
        with self._lock:
            self._reset_stats()

    def check(self, key, org_id):
        """None when the request may be served (its tokens are taken), else a ``Refusal``."""
        limit = self.limit
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            buckets = self._applying(limit, key, org_id, now)
            empty = [(which, b) for which, b in buckets if b.tokens < 1.0]
            if not empty:
                for _, bucket in buckets:
                    bucket.tokens -= 1.0
            self._count(now, org_id, empty[0][0] if empty else None)
        if not empty:
            return None
        which, bucket = max(empty, key=lambda item: item[1].wait())
        return self._refusal(limit, which, bucket)

    def _applying(self, limit, key, org_id, now):
        """``[(which, bucket)]`` for this request, refilled to ``now``."""
        found = []
        for which, name, rate in (("key", ("key", key), limit.per_key),
                                  ("org", ("org", org_id), limit.org_rate(org_id))):
            if rate is None or name[1] is None:
                continue
            bucket = self._buckets.get(name)
            if bucket is None:
                bucket = self._buckets[name] = Bucket(rate, rate * limit.burst, now)
            bucket.refill(now)
            found.append((which, bucket))
        return found

    def _refusal(self, limit, which, bucket):
        wait = bucket.wait()
        headers = {}
        if limit.retry == "seconds":
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif limit.retry == "date":
            headers["Retry-After"] = email.utils.formatdate(math.ceil(self._wall() + wait), usegmt=True)
        whose = "this API key" if which == "key" else "this organization"
        rate = bucket.rate
        if limit.answer == 429:
            message = f"Too many requests: {whose} may send {rate:g} requests per second"
        else:
            message = f"Service unavailable: {whose} sends more than {rate:g} requests per second"
        body = {"errors": [{"code": 9000 + limit.answer, "message": message,
                            "context": {"limit": which, "rate": rate}}]}
        return Refusal(limit.answer, headers, body, which)

    # ---------------------------------------------------------------- counts
    def _reset_stats(self):
        self._started = self._last = None
        self._seconds = {}
        self._by_org = {}

    def _count(self, now, org_id, refused_by):
        """Tally one request (call with the lock held)."""
        if self._started is None:
            self._started = now
        self._last = now
        second = int(now - self._started)
        row = self._seconds.setdefault(second, [0, 0])
        row[refused_by is not None] += 1
        org = self._by_org.setdefault(org_id, [0, 0])
        org[refused_by is not None] += 1

    def stats(self):
        """``{"seconds": [(second, admitted, refused), ...], "orgs": {org_id: (admitted, refused)},
        "span": seconds from the first request to the last}``."""
        with self._lock:
            seconds = [(s, a, r) for s, (a, r) in sorted(self._seconds.items())]
            span = 0.0 if self._started is None else self._last - self._started
            return {"seconds": seconds, "orgs": {o: tuple(v) for o, v in self._by_org.items()}, "span": span}


def parse_rate_limit(spec):
    """A ``RateLimit`` from a spec string (see the module docstring); empty/None -> None."""
    if not spec or not spec.strip():
        return None
    fields, orgs = {}, []
    for item in spec.split(","):
        name, sep, value = item.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not value:
            raise ValueError(f"rate limit item {item!r} must be name=value")
        if name.lower().startswith("org:"):
            orgs.append((name[4:], _number(item, value)))
        elif name in ("key", "org", "burst"):
            fields[{"key": "per_key", "org": "per_org"}.get(name, name)] = _number(item, value)
        elif name == "answer":
            fields["answer"] = int(_number(item, value))
        elif name == "retry":
            fields["retry"] = value.lower()
        else:
            raise ValueError(f"rate limit item {item!r}: unknown name {name!r} "
                             "(expected key, org, org:<id>, burst, answer, retry)")
    try:
        return RateLimit(orgs=tuple(orgs), **fields)
    except ValueError as exc:
        raise ValueError(f"rate limit {spec!r}: {exc}") from None


def _number(item, text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"rate limit item {item!r}: {text!r} is not a number") from None
