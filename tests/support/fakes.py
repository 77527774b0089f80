"""A recording fake ``sleep`` whose ``clock`` advances by what was slept, and a scripted client."""

from __future__ import annotations

from cloudmc_frames.client import Client
from cloudmc_frames.config import Settings


class FakeSleep:
    """Records requested sleeps and advances a fake clock instead of sleeping."""

    def __init__(self, start: float = 1000.0):
        self.calls: list[float] = []
        self.now = start

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def scripted_client(endpoint: str, key: str, fake: FakeSleep, **options) -> Client:
    """A client of a scripted server that sleeps and reads time through ``fake``."""
    settings = Settings.from_options(endpoint, **{"cache_backend": "memory", **options})
    return Client(settings, key, sleep=fake, clock=fake.clock)
