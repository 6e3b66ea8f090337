"""Where a fill's time goes: py-spy on the API server and on the components process while N one-GPU
TrainingWorkloads fill 500 simulated nodes x 8 GPUs (as `nodes.fill_4000_running_s` does), then each
process's functions by their share of samples, self and inclusive. Not run by `make bench`.

    .venv/bin/python benchmarks/profile_fill.py [N] [OUT_DIR] [NODES]     # default 4000, /tmp/berth-profile, 500

py-spy (a test dependency) samples from outside the processes at 100 Hz; its raw profiles stay in OUT_DIR
(`api.txt`, `components.txt`, collapsed stacks that flame-graph tools read).
"""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_throughput as bt  # noqa: E402

PY_SPY = Path(sys.executable).parent / "py-spy"


def _frame(text: str) -> str:
    """`function (path/to/module.py:line)` -> `function (module.py)`."""
    if " (" not in text:
        return text
    name, where = text.split(" (", 1)
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})"


def summary(raw: Path, top: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = [_frame(f) for f in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    rows = [f"{raw.stem}: {total} samples", "  self:"]
    rows += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    rows += ["  inclusive:"] + [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top * 2)]
    return "\n".join(rows)


def main(count: int, out: Path, nodes: int = bt.NODES) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="berth-profile-") as tmp:
        up = bt._Up(Path(tmp), nodes)
        try:
            time.sleep(2.0)
            spies = [subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
                                       "--nonblocking", "-o", str(out / f"{name}.txt")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for name, pid in (("api", up.server.proc.pid), ("components", up.components[0]))]
            time.sleep(1.0)
            before = up.cpu()
            result = asyncio.run(bt._run(up, "fill", count, 1))
            after = up.cpu()
            for spy in spies:
                spy.send_signal(2)
            for spy in spies:
                spy.wait(timeout=60)
        finally:
            up.close()
    print(f"fill of {count}: {result['running_s']:.1f} s; API server CPU {after[0] - before[0]:.1f} s, "
          f"components CPU {after[1] - before[1]:.1f} s")
    for name in ("api", "components"):
        print(summary(out / f"{name}.txt"))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 4000, Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/berth-profile"),
         int(sys.argv[3]) if len(sys.argv) > 3 else bt.NODES)
