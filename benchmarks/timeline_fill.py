"""Where a fill waits: once a second while N one-GPU TrainingWorkloads fill NODES simulated nodes (as
`nodes.sim_8000_running_s` does), the CPU each process used in that second (1.0: one core) and how many of
each request of a workload's path the API server has answered so far (its own `apiserver_request_total`).
Not run by `make bench`.

    .venv/bin/python benchmarks/timeline_fill.py [N] [NODES]     # default 8000, 1000

A profile (`profile_fill.py`) says what a busy process spends its time on; this says whether the processes
are busy at all, and which step of the path sets the pace. A stage whose count trails the one before it
while neither process is near 1.0 waits on something other than CPU: that is how the recorder that wrote
one Event at a time, and the scheduler that wrote its PodGroups one after another, were found (session 12,
docs/performance.md).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_throughput as bt  # noqa: E402

#: (verb, resource, subresource) of each request on a workload's path, in the order they happen.
STEPS = (("POST", "trainingworkloads", ""), ("PUT", "trainingworkloads", "status"), ("POST", "events", ""),
         ("POST", "podgroups", ""), ("POST", "pods", ""), ("POST", "pods", "binding"),
         ("PATCH", "podgroups", "status"), ("PATCH", "pods", "status"))


def main(count: int, nodes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="berth-timeline-") as tmp:
        up = bt._Up(Path(tmp), nodes)
        rows: list[str] = []
        done = threading.Event()
        try:
            time.sleep(2.0)  # the informers' first lists settle
            before = up.requests()

            def sample() -> None:
                then, cpu = time.monotonic(), up.cpu()
                while not done.wait(1.0):
                    now, used = time.monotonic(), up.cpu()
                    counts = up.requests()
                    rates = [f"{(b - a) / (now - then):5.2f}" for a, b in zip(cpu, used)]
                    rows.append(f"{now - start:5.1f} " + " ".join(rates) + " "
                                + " ".join(f"{counts[s] - before[s]:6d}" for s in STEPS))
                    then, cpu = now, used

            start = time.monotonic()
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = asyncio.run(bt._run(up, "fill", count, 1))
            done.set()
            sampler.join()
        finally:
            up.close()
    print(f"fill of {count} on {nodes} nodes: {result['running_s']:.1f} s, creates {result['creates_s']:.1f} s")
    print("    t   api  comp " + " ".join(f"{v} {r}{'/' + s if s else ''}" for v, r, s in STEPS))
    print("\n".join(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8000, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
