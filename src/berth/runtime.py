"""How Berth's long-running processes run (`berth up`'s API server and its components process; later the
operator): on uvloop, and with the cyclic garbage collector's thresholds raised.

uvloop: asyncio's own loop and transports were 15% of the API server's profile under load (the gain of
uvloop alone was within this machine's noise); uvicorn's `loop="uvloop"` installs it only when uvicorn
runs the loop itself, which `berth up` does not.

The collector: those processes hold every object they serve or watch (the watch hub's change log, the
informers' caches), millions of tracked dicts and lists that are never garbage, and CPython's collector scans all of
them in each full collection, which its default thresholds (700, 10, 10) start every few seconds under
load. Measured in a fill of 4,000 workloads through `berth up` (benchmarks/bench_throughput.py): 10% of
the API server's CPU and 31% of the components process's went to collections, most of it to 25 full ones
of about 0.6 s each, and their cost grows with the cluster. Reference counting frees Berth's objects (plain
JSON dicts have no cycles); the collector only has to find the few cycles asyncio and exceptions leave, so
it can run far less often. The thresholds below make a young collection every 50,000 net allocations and
a full one about 400 times rarer than the defaults (the collector's own rule also waits until a quarter of
the old objects are new since the last full one).
"""

from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def prepare() -> None:
    """Set up this process before its event loop starts: the collector's thresholds, and uvloop as the
    loop of `asyncio.run` where it is installed."""
    gc.set_threshold(*THRESHOLDS)
    try:
        import uvloop
    except ImportError:
        return
    uvloop.install()
