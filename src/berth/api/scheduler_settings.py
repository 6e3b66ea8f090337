"""The scheduler's cluster-wide settings: the ConfigMap `runai-scheduler` in the namespace `runai`.

Why a ConfigMap: the settings are the cluster's, not one project's, and the scheduler reads them through the
API like everything else, so the same object configures `berth up`, `berth scheduler` against a real cluster
and the operator, and `kubectl edit configmap runai-scheduler -n runai` changes them while it runs (the next
cycle uses them). KAI-Scheduler keeps the same knobs on its SchedulingShard (`usageDBConfig.usageParams`,
`kValue`) and its minruntime plugin's arguments; the keys below keep KAI's names.

`SETTINGS` is the one place each key's meaning, default and form is written; `parse` reads a ConfigMap's
`data` against it and says, per key, what is wrong and what to write instead. A bad key never stops the
scheduler: the others apply and the bad one keeps its default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from berth.api.closest import suggest

CONFIGMAP_NAME = "runai-scheduler"
CONFIGMAP_NAMESPACE = "runai"

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str) -> float:
    """Seconds in a duration as KAI and Go write them (`10m`, `1h30m`, `1w`), or a plain number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 10m, 2h, 1d or 1w")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0", ""):
        return False
    raise ValueError(f"{text!r} is not true or false")


def _positive_duration(text: str) -> float:
    value = parse_duration(text)
    if value <= 0:
        raise ValueError("must be longer than 0")
    return value


def _optional_duration(text: str) -> float | None:
    if not text.strip() or text.strip() == "0":
        return None
    return _positive_duration(text)


def _non_negative_duration(text: str) -> float:
    value = parse_duration(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _k_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value < 0:
        raise ValueError("must be no less than 0 (0 turns the usage's effect off)")
    return value


@dataclass(frozen=True)
class Setting:
    key: str
    attribute: str
    parse: Any
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting("timeBasedFairShare", "time_based", _boolean,
            "true turns on the time-based fair share: each project's recent usage lowers its share of over-quota "
            "resources (KAI-Scheduler's time-based fairshare). Default false."),
    Setting("windowSize", "usage_window", _positive_duration,
            "How far back usage counts, as a sliding window: a duration like 1w, 24h, 90m. Default 1w."),
    Setting("halfLifePeriod", "usage_half_life", _optional_duration,
            "Usage this long ago counts half as much as usage now (exponential decay); empty or 0: no decay, every "
            "moment of the window counts alike. Default: no decay."),
    Setting("kValue", "k_value", _k_value,
            "How strongly usage moves the over-quota shares: a project's weight w becomes max(0, w + k (w - u)), "
            "u being its usage as a share of the cluster. Default 1."),
    Setting("defaultPreemptMinRuntime", "preempt_min_runtime", _non_negative_duration,
            "How long a workload runs before preemption may take it, for projects that set no "
            "preemptMinRuntimeSecs: a duration like 10m. Default 0."),
    Setting("defaultReclaimMinRuntime", "reclaim_min_runtime", _non_negative_duration,
            "How long a workload runs before reclaim may take it, for projects that set no reclaimMinRuntimeSecs. "
            "Default 0."),
)


@dataclass(frozen=True)
class SchedulerSettings:
    """The settings, typed, with the defaults a cluster without the ConfigMap gets (names as `CycleConfig`'s)."""

    time_based: bool = False
    usage_window: float = 7 * 86400.0
    usage_half_life: float | None = None
    k_value: float = 1.0
    preempt_min_runtime: float = 0.0
    reclaim_min_runtime: float = 0.0

    def as_config(self) -> dict[str, Any]:
        """The settings as `CycleConfig` fields."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse(data: dict[str, str] | None) -> tuple[SchedulerSettings, list[str]]:
    """The settings a ConfigMap's `data` gives, and what is wrong with it (`data.windowSize: ...; write ...`)."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    known = {s.key: s for s in SETTINGS}
    for key, text in sorted((data or {}).items()):
        setting = known.get(key)
        if setting is None:
            close = suggest(key, known)
            hint = f"; did you mean {close}?" if close else f"; the keys are {', '.join(known)}"
            problems.append(f"data.{key}: not a setting of the scheduler{hint}")
            continue
        try:
            values[setting.attribute] = setting.parse(str(text))
        except ValueError as exc:
            problems.append(f"data.{key}: {exc} (kept the default)")
    return SchedulerSettings(**values), problems
