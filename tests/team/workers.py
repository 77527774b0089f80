"""Child processes of the team tests: ``python -m tests.team.workers <command> ...``.

A child process is a colleague's notebook, or a kernel that is about to die. Each command reads
the endpoint and key from ``CLOUDMC_ENDPOINT`` / ``CLOUDMC_API_KEY`` (and the cache from
``CLOUDMC_CACHE_URL`` / ``CLOUDMC_CACHE_DIR`` when set), and prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys

import pandas as pd

import cloudmc_frames as cmf

ENTITIES = ("organizations", "users", "environments", "instances", "volumes")


def digest(frame: pd.DataFrame) -> dict:
    """What two processes compare a frame by: columns, dtypes, rows and a hash of every cell."""
    cells = frame.reset_index(drop=True).astype(str)
    return {"columns": list(frame.columns), "dtypes": [str(t) for t in frame.dtypes], "rows": len(frame),
            "hash": int(pd.util.hash_pandas_object(cells, index=True).sum()) if len(frame) else 0}


def crawl() -> None:
    """A full crawl with the environment's settings; its digests, counters and cache facts."""
    client = cmf.connect()
    frames = {name: getattr(cmf, name)(client) for name in ENTITIES}
    client.close()
    print(json.dumps({"digests": {n: digest(f) for n, f in frames.items()}, "stats": client.stats,
                      "issues": len(client.issues), "cache": client.cache_info()}))


def submit_stops(*targets: str) -> None:
    """Send ``stop`` to each ``service|environment|org|instance`` target, print the tasks, and die
    at once without waiting for any of them (``os._exit``: no clean-up, like a killed kernel)."""
    client = cmf.connect()
    tasks = []
    for target in targets:
        code, env, org, vm = target.split("|")
        task = cmf.operate(client, code, env, "instances", vm, "stop", org_id=org)
        tasks.append({"task_id": task.id, "operation_id": task.operation_id, "token": task.to_token()})
    print(json.dumps({"tasks": tasks}), flush=True)
    os._exit(0)


if __name__ == "__main__":
    {"crawl": crawl, "submit_stops": submit_stops}[sys.argv[1]](*sys.argv[2:])
