"""Watch a Ray cluster's nodes: ``python -m tests.ray._watch_nodes ADDRESS``.

Prints one JSON line with the alive node ids once connected, then one line per node Ray stops
reporting alive, with the wall-clock time it saw that (``time.time()``): what "Ray reports the
node dead" means in the tests.
"""

from __future__ import annotations

import json
import sys
import time

import ray


def main(address: str) -> None:
    ray.init(address=address, log_to_driver=False)
    alive = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    print(json.dumps({"alive": sorted(alive)}), flush=True)
    while True:
        now = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
        for node in sorted(alive - now):
            print(json.dumps({"dead": node, "at": time.time()}), flush=True)
        alive = now
        time.sleep(0.1)


if __name__ == "__main__":
    main(sys.argv[1])
