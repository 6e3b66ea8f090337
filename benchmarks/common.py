"""What every benchmark module shares: the figure it reports, the way to skip, and a timing helper.

Timings are medians of repeated rounds, so one slow round (the other core busy) does not move them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable


class Skip(Exception):
    """Raised by a benchmark whose subject is not built yet; the message says what is missing."""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self, machine: str) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "target": self.target,
                "context": {"machine": machine, **self.context}}


def median_rate(action: Callable[[], None], per_round: int, rounds: int = 7) -> tuple[float, list[float]]:
    """Operations per second of `action`, the median over `rounds` rounds of `per_round` calls."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            action()
        rates.append(per_round / (time.perf_counter() - start))
    return statistics.median(rates), rates
