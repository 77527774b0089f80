"""Warm crawls: a frame built from replies the client still keeps is handed back, not rebuilt.

The same call again on the same client, before the cache expires, would parse the same bytes
into the same frame. :func:`read_frame` remembers, per client, the frame each call built and
the memory stamp of every page read to build it (its own scopes and any read while building,
such as an environment's service connection). When every one of those pages is still kept,
unchanged and unexpired (:meth:`~cloudmc_frames._cache.memory.MemoryPages.holds`), it records the same
coverage rows and returns the frame again, parsing nothing. Anything else builds anew:
``fresh=True``, a scope that failed or was not read whole from memory, a page a write forgot
(writes forget their scope's pages) or the memory budget dropped, ``memory_cache_mb=0``.

The frames come back as copies: on pandas 3 (copy-on-write) a shallow copy that costs nothing
and shares memory until either side writes; on pandas 2 a deep copy. At most
:data:`MAX_FRAMES` frames are remembered per client, and no more bytes than its memory budget.

Example::

    >>> vms = cmf.instances(client)      # doctest: +SKIP
    >>> again = cmf.instances(client)    # doctest: +SKIP  (no page parsed, no frame built)
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import chain

import pandas as pd

from .client import Client
from .fanout import READS, CrawlCall, Read, Scope, read_scopes, record

COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3
MAX_FRAMES = 32
Build = Callable[[list[tuple[Scope, list[dict]]]], pd.DataFrame]


@dataclass(frozen=True)
class Remembered:
    """A frame and the reads it was built from."""

    frame: pd.DataFrame
    reads: tuple[Read, ...]
    size: int

    def stamps(self) -> chain:
        return chain.from_iterable(chain.from_iterable(read.stamps or () for read in self.reads))


_FRAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> OrderedDict
_LOCK = threading.Lock()


def read_frame(client: Client, accessor: str, scopes: Sequence[Scope], options: CrawlCall,
               build: Build, *, key: Hashable = None) -> pd.DataFrame:
    """``build(read_scopes(client, accessor, scopes, options))``, or the frame that built last
    time when every page under it is still the one the client keeps.

    ``key`` names what ``build`` depends on besides the scopes (the entity, a rename).
    """
    memo_key = (accessor, key, tuple((scope, _frozen(scope.params)) for scope in scopes))
    if not options.fresh and (kept := _recall(client, memo_key)) is not None:
        for read in kept.reads:
            for scope, rows in zip(read.scopes, read.rows, strict=True):
                record(client, options.call_id, read.accessor, scope, rows, True, 0.0, None)
        _tell_outer(kept.reads)
        return _copy(kept.frame)
    reads: list[Read] = []
    token = READS.set(reads)
    try:
        frame = build(read_scopes(client, accessor, scopes, options))
    finally:
        READS.reset(token)
    _tell_outer(reads)
    if not all(read.stamps is not None for read in reads):
        return frame
    _keep(client, memo_key, Remembered(frame, tuple(reads), int(frame.memory_usage(deep=False).sum())))
    return _copy(frame)


def _tell_outer(reads: Sequence[Read]) -> None:
    """A frame being built around this one depends on these reads too."""
    if (outer := READS.get()) is not None:
        outer.extend(reads)


def _recall(client: Client, memo_key: tuple) -> Remembered | None:
    with _LOCK:
        frames = _FRAMES.get(client)
        kept = frames.get(memo_key) if frames else None
        if kept is None:
            return None
        if not client.pages.holds(kept.stamps(), time.time()):
            del frames[memo_key]
            return None
        frames.move_to_end(memo_key)
        return kept


def _keep(client: Client, memo_key: tuple, kept: Remembered) -> None:
    budget = client.pages.budget
    if kept.size > budget:
        return
    with _LOCK:
        frames = _FRAMES.setdefault(client, OrderedDict())
        frames.pop(memo_key, None)
        frames[memo_key] = kept
        while len(frames) > MAX_FRAMES or sum(k.size for k in frames.values()) > budget:
            frames.popitem(last=False)


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.copy(deep=not COPY_ON_WRITE)


def _frozen(params: dict | None) -> tuple | None:
    return None if params is None else tuple(sorted((k, repr(v)) for k, v in params.items()))
