"""API server figures of issue B: creates per second over HTTPS, listing 10,000 workloads, watch fan-out,
and the ratio of API creates to raw SQLite inserts."""

from __future__ import annotations

import importlib.util

from common import Skip


def _require_apiserver() -> None:
    if importlib.util.find_spec("berth.apiserver") is None:
        raise Skip("needs berth.apiserver (issue B), not built yet")


def creates_per_s():
    _require_apiserver()
    raise Skip("not written yet")


BENCHMARKS = [creates_per_s]
