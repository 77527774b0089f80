"""Metric samples: what a seeded collector measured on each instance, computed on demand.

One sample per metric at the top of every hour the instance spent in a compute state (Running,
Stopping) within the usage history; stopped, destroyed or deleted instances have no samples.
A sample is a pure function of (instance id, metric, hour): a 64-bit mix of those numbers
gives uniform draws ``u`` and ``v`` in [0, 1), so nothing is stored and any hour can be asked for.

Each instance has a usage profile (``Profile.kind``), drawn by ``gen_usage``:

=======  ===========================  ==================  ===========================
kind     CPU %                        memory %            network ingress MB/h
=======  ===========================  ==================  ===========================
idle     0.3 + 3.9u  (always < 5)     8 + 8u              0.1 + 0.9u
busy     70 + 28u                     70 + 25u            400 + 400u
spiky    6 + 8u; 85 + 15u when v<0.08 35 + 20u            5 + 20u; 500 + 500u spikes
normal   20 + 10 sin(day) + 8u        40 + 25u            40 + 80u
=======  ===========================  ==================  ===========================

``idle`` instances are normal before ``Profile.since`` (at least 35 days before ``now``).
"""
import hashlib
import math
from dataclasses import dataclass

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


@dataclass(frozen=True)
class Metric:
    """A metric descriptor (``metricDescriptors[]`` of the plugin descriptor)."""

    identifier: str
    kind: str
    entity_type: str
    label: str


METRICS = {m.identifier: m for m in (
    Metric("instance.cpu.utilization", "GAUGE", "instances", "cpu_utilization"),
    Metric("instance.memory.utilization", "GAUGE", "instances", "memory_utilization"),
    Metric("instance.network.ingress", "COUNTER", "instances", "network_ingress"),
)}
SALTS = {name: index + 1 for index, name in enumerate(METRICS)}
PROFILE_KINDS = ("idle", "busy", "spiky", "normal")


@dataclass(frozen=True)
class Profile:
    """An instance's usage profile; ``since`` is when an idle instance went idle."""

    kind: str
    since: int = 0


def seed_of(instance_id):
    """A stable 64-bit number for an instance id."""
    return int.from_bytes(hashlib.md5(instance_id.encode("utf-8")).digest()[:8], "big")


def _mix(value):
    """splitmix64 finalizer: a well-spread 64-bit number."""
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK
    return value ^ (value >> 31)


def value(profile, metric_id, seed, hour):
    """The sample of ``metric_id`` at epoch ``hour`` (seconds) for an instance with ``profile``."""
    bits = _mix((seed + SALTS[metric_id] * GOLDEN + (hour // 3600) * 0xD1B54A32D192ED03) & MASK)
    u, v = (bits >> 40) / (1 << 24), (bits & 0xFFFFFF) / (1 << 24)
    kind = "normal" if profile.kind == "idle" and hour < profile.since else profile.kind
    return FORMULAS[metric_id][kind](u, v, hour)


def _daily(hour):
    """A day-shaped wave in [-1, 1], highest mid-afternoon UTC."""
    return math.sin(2 * math.pi * ((hour // 3600) % 24 - 8) / 24)


FORMULAS = {
    "instance.cpu.utilization": {
        "idle": lambda u, v, h: 0.3 + 3.9 * u,
        "busy": lambda u, v, h: 70 + 28 * u,
        "spiky": lambda u, v, h: 85 + 15 * u if v < 0.08 else 6 + 8 * u,
        "normal": lambda u, v, h: 20 + 10 * _daily(h) + 8 * u,
    },
    "instance.memory.utilization": {
        "idle": lambda u, v, h: 8 + 8 * u,
        "busy": lambda u, v, h: 70 + 25 * u,
        "spiky": lambda u, v, h: 35 + 20 * u,
        "normal": lambda u, v, h: 40 + 25 * u,
    },
    "instance.network.ingress": {
        "idle": lambda u, v, h: 0.1 + 0.9 * u,
        "busy": lambda u, v, h: 400 + 400 * u,
        "spiky": lambda u, v, h: 500 + 500 * u if v < 0.08 else 5 + 20 * u,
        "normal": lambda u, v, h: 40 + 80 * u,
    },
}
