"""Run every benchmark under benchmarks/ and write benchmarks/results/latest.json.

A benchmark module is a file `bench_*.py` with a list `BENCHMARKS` of functions. Each function returns
one `Figure` or a list of them, or raises `Skip` with a reason when what it measures is not built yet.
Results are a list of `{"name", "value", "unit", "target", "context"}`; a table is printed too.

Usage: python benchmarks/run.py [NAME-SUBSTRING ...]
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import Figure, Skip  # noqa: E402


def _modules() -> list:
    modules = []
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    wanted = argv
    figures: list[Figure] = []
    skipped: list[tuple[str, str]] = []
    for module in _modules():
        for bench in module.BENCHMARKS:
            label = f"{module.__name__}.{bench.__name__}"
            if wanted and not any(w in label for w in wanted):
                continue
            try:
                result = bench()
            except Skip as exc:
                skipped.append((label, str(exc)))
                continue
            figures += result if isinstance(result, list) else [result]
    machine = _machine()
    rows = [f.to_json(machine) for f in figures]
    out = HERE / "results" / "latest.json"
    out.parent.mkdir(exist_ok=True)
    if wanted and out.exists():  # a partial run keeps the other figures of the last full run
        fresh = {r["name"] for r in rows}
        rows = [r for r in json.loads(out.read_text()) if r["name"] not in fresh] + rows
    out.write_text(json.dumps(rows, indent=2) + "\n")
    width = max([len(f.name) for f in figures] + [10])
    print(f"{'figure':<{width}}  {'value':>12}  {'unit':<10}  target")
    for f in figures:
        print(f"{f.name:<{width}}  {f.value:>12,.3f}  {f.unit:<10}  {f.target}")
    for label, reason in skipped:
        print(f"skipped {label}: {reason}")
    print(f"wrote {out.relative_to(HERE.parent)} ({len(rows)} figures, {len(skipped)} skipped) on {machine}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
