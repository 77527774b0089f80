"""Fault injection: seeded, targeted misbehaviour of the sandbox's HTTP layer.

A ``FaultRule`` matches requests by ``path`` (an ``fnmatch`` pattern on the path
after ``/api/v2``, e.g. ``/services/*/dev/*``; the query string is not part of
it), optionally by ``org_id`` (the request's ``org_id`` query parameter, else
the org of the caller's key) and ``method``.  Kinds:

============  ===========================================================================
kind          effect
============  ===========================================================================
latency       wait ``latency_ms`` + uniform(0, ``jitter_ms``) ms, then answer normally
status        answer ``status`` (default 500) with the error envelope (code 9000+status);
              ``retry_after`` adds a ``Retry-After`` header
rate_limit    429 + ``Retry-After: retry_after`` (default 1 s) with the error envelope
malformed     200 with the real JSON body cut in half (Content-Length matches the cut body)
html          an nginx-style HTML error page (``status``, default 502), ``text/html``
slow_body     the real answer, but the body dribbles out in ~20 pieces over
              ``latency_ms`` (0 = the default 1000 ms) after the headers; for this
              kind ``latency_ms`` is that duration, not an initial delay
drop          close the connection (TCP reset) without any response
============  ===========================================================================

``rate`` (0..1] is the probability a matching request is hit, decided per
request by one lock-protected ``random.Random(seed)`` (the server's seed), so a
run with the same requests in the same order hits the same ones.
``first_n=N`` instead hits exactly the first N matching requests (then the
rule stays quiet): the shape of transient faults a client must retry.
Rules are tried in order: every matching ``latency`` rule adds its delay
(``latency_ms`` on other kinds adds delay too); the first other rule that
fires decides the response.

Mini-language (``parse_faults``; also the CLI's ``--faults``)::

    spec   := rule (";" rule)*
    rule   := ["first" N ":"] head ("," option)* ["@" path-pattern]
    head   := STATUS [":" RATE]            4xx/5xx status; 429 means rate_limit
            | "latency" ":" MS ["+" JITTER]
            | ("drop" | "html" | "malformed" | "slow" | "slow_body" | "rate_limit") [":" RATE]
    option := "org=" ORG_ID | "method=" VERB | "retry=" SECONDS | "ms=" MS
            | "status=" STATUS | "rate=" RATE

Examples: ``500:0.1@/services/*`` (10% of service calls get a 500),
``429:0.05,retry=2`` (5% rate limited, Retry-After 2), ``drop:0.02``,
``html@/users`` (every /users call gets the HTML 502 page), ``latency:20+5``
(20-25 ms on everything), ``first3:503@/organizations*`` (the first three
organization calls get a 503), ``slow,ms=2000@/services/*/prod/instances``.
A bad token raises ``ValueError`` naming the token and what is wrong with it.
"""
import fnmatch
import random
import threading
from dataclasses import dataclass
from typing import NamedTuple

KINDS = ("latency", "status", "rate_limit", "malformed", "html", "slow_body", "drop")
KIND_ALIASES = {"slow": "slow_body", "429": "rate_limit"}


@dataclass(frozen=True)
class FaultRule:
    """One fault: what to do, to which requests, how often."""

    kind: str
    path: str = "*"
    org_id: str = None
    method: str = None
    rate: float = 1.0
    first_n: int = None
    status: int = None
    retry_after: float = None
    latency_ms: float = 0
    jitter_ms: float = 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        if not 0 < self.rate <= 1:
            raise ValueError(f"fault rate must be in (0, 1], got {self.rate!r}")
        if self.first_n is not None and self.first_n < 1:
            raise ValueError(f"first_n must be >= 1, got {self.first_n!r}")
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP status, got {self.status!r}")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ValueError("latency_ms and jitter_ms must be >= 0")

    def matches(self, method, path, org_id):
        """True if this rule targets the request (ignores rate/first_n)."""
        if self.method and self.method.upper() != method:
            return False
        if self.org_id and self.org_id != org_id:
            return False
        return fnmatch.fnmatchcase(path, self.path)

    @property
    def label(self):
        """Short name recorded in the request log (``status:503``, ``drop``...)."""
        if self.kind == "status":
            return f"status:{self.status or 500}"
        return self.kind


class Decision(NamedTuple):
    """What to do with one request: extra delay (s) and the response fault (or None)."""

    delay: float
    rule: FaultRule
    labels: tuple


class FaultSet:
    """The server's active rules plus the seeded RNG and ``first_n`` counters."""

    def __init__(self, rules=(), seed=0):
        self._lock = threading.Lock()
        self._rng = random.Random(f"cloudmc-sandbox-faults:{seed}")
        self._rules = list(rules)
        self._hits = {}

    @property
    def rules(self):
        """A copy of the active rules."""
        with self._lock:
            return list(self._rules)

    def add(self, rule):
        """Activate a rule (a ``FaultRule`` or a spec string); returns the FaultSet."""
        rules = parse_faults(rule) if isinstance(rule, str) else [rule]
        with self._lock:
            self._rules.extend(rules)
        return self

    def clear(self):
        """Remove every rule and reset the ``first_n`` counters."""
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def jitter(self, base_ms, jitter_ms):
        """``base_ms`` + uniform(0, ``jitter_ms``) in seconds, from the seeded RNG."""
        if not jitter_ms:
            return base_ms / 1000.0
        with self._lock:
            return (base_ms + self._rng.uniform(0, jitter_ms)) / 1000.0

    def decide(self, method, path, org_id):
        """The Decision for one request."""
        delay, chosen, labels = 0.0, None, []
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.matches(method, path, org_id) or not self._fires(index, rule):
                    continue
                if rule.kind != "slow_body" and (rule.latency_ms or rule.jitter_ms):
                    jitter = self._rng.uniform(0, rule.jitter_ms) if rule.jitter_ms else 0
                    delay += (rule.latency_ms + jitter) / 1000
                if rule.kind == "latency":
                    labels.append("latency")
                elif chosen is None:
                    chosen = rule
                    labels.append(rule.label)
        return Decision(delay, chosen, tuple(labels))

    def _fires(self, index, rule):
        """Apply ``first_n`` / ``rate`` (call with the lock held)."""
        if rule.first_n is not None:
            seen = self._hits.get(index, 0)
            self._hits[index] = seen + 1
            return seen < rule.first_n
        return rule.rate >= 1 or self._rng.random() < rule.rate


# --------------------------------------------------------------- the parser
def _number(token, text, what, kind=float):
    """Parse a number in a spec token or raise ValueError naming the token."""
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"fault spec token {token!r}: {what} {text!r} is not a number") from None


def _parse_head(token, head):
    """``(kind, fields)`` from the head of a rule (before options and path)."""
    name, _, arg = head.partition(":")
    name = name.strip().lower()
    fields = {}
    if name == "latency":
        if not arg:
            raise ValueError(f"fault spec token {token!r}: latency needs MS, e.g. latency:20+5")
        base, _, jitter = arg.partition("+")
        fields["latency_ms"] = _number(token, base, "latency")
        if jitter:
            fields["jitter_ms"] = _number(token, jitter, "jitter")
        return "latency", fields
    if name.isdigit():
        status = int(name)
        if not 400 <= status <= 599:
            raise ValueError(f"fault spec token {token!r}: status {status} is not a 4xx/5xx status")
        kind = "rate_limit" if status == 429 else "status"
        if kind == "status":
            fields["status"] = status
    else:
        kind = KIND_ALIASES.get(name, name)
        if kind not in KINDS or kind in ("latency", "status"):
            raise ValueError(f"fault spec token {token!r}: unknown fault kind {name!r}")
    if arg:
        fields["rate"] = _number(token, arg, "rate")
    return kind, fields


def _parse_option(token, option, fields):
    """Apply one ``key=value`` option to ``fields``."""
    key, sep, value = option.partition("=")
    key = key.strip().lower()
    if not sep or not value:
        raise ValueError(f"fault spec token {token!r}: option {option!r} must be key=value")
    if key == "org":
        fields["org_id"] = value.strip()
    elif key == "method":
        fields["method"] = value.strip().upper()
    elif key == "retry":
        fields["retry_after"] = _number(token, value, "retry")
    elif key == "ms":
        fields["latency_ms"] = _number(token, value, "ms")
    elif key == "status":
        fields["status"] = _number(token, value, "status", int)
    elif key == "rate":
        fields["rate"] = _number(token, value, "rate")
    else:
        raise ValueError(f"fault spec token {token!r}: unknown option {key!r}")


def parse_rule(token):
    """One ``FaultRule`` from one spec token (see the module docstring)."""
    text = token.strip()
    body, at, path = text.partition("@")
    if at and not path.strip():
        raise ValueError(f"fault spec token {token!r}: empty path after '@'")
    first_n = None
    lowered = body.lower()
    if lowered.startswith("first"):
        count, colon, body = body[5:].partition(":")
        if not colon:
            raise ValueError(f"fault spec token {token!r}: 'firstN' must be followed by ':' and a fault")
        first_n = _number(token, count, "first count", int)
    head, *options = body.split(",")
    if not head.strip():
        raise ValueError(f"fault spec token {token!r}: missing fault kind")
    kind, fields = _parse_head(token, head)
    for option in options:
        _parse_option(token, option, fields)
    try:
        return FaultRule(kind=kind, path=path.strip() or "*", first_n=first_n, **fields)
    except ValueError as exc:
        raise ValueError(f"fault spec token {token!r}: {exc}") from None


def parse_faults(spec):
    """A list of ``FaultRule`` from a spec string (empty/None -> [])."""
    if not spec:
        return []
    return [parse_rule(token) for token in spec.split(";") if token.strip()]
