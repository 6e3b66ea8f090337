"""The scheduler's ConfigMap: KAI's keys and durations, defaults for what is missing, the fix for what is wrong."""

from __future__ import annotations

import pytest

from berth.api.scheduler_settings import SchedulerSettings, parse, parse_duration
from berth.scheduler.core import CycleConfig


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("1h30m", 5400), ("1d", 86400),
                                           ("1w", 604800), ("90", 90), ("500ms", 0.5)])
def test_durations_as_kai_writes_them(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["ten minutes", "10x", "1h 30m", ""])
def test_what_is_not_a_duration_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="write e.g. 30s, 10m, 2h, 1d or 1w"):
        parse_duration(text)


def test_no_configmap_means_kai_defaults_and_time_based_off():
    settings, problems = parse(None)
    assert settings == SchedulerSettings() and problems == []
    assert not settings.time_based and settings.usage_window == 7 * 86400 and settings.usage_half_life is None
    assert settings.k_value == 1.0


def test_every_setting_reaches_the_cycle():
    settings, problems = parse({"timeBasedFairShare": "true", "windowSize": "1d", "halfLifePeriod": "2h",
                                "kValue": "0.5", "defaultPreemptMinRuntime": "1m",
                                "defaultReclaimMinRuntime": "10m"})
    assert problems == []
    config = CycleConfig(**settings.as_config())
    assert (config.time_based, config.usage_window, config.usage_half_life, config.k_value) == (True, 86400, 7200,
                                                                                                0.5)
    assert (config.preempt_min_runtime, config.reclaim_min_runtime) == (60, 600)


def test_a_bad_key_or_value_keeps_its_default_and_names_the_fix():
    settings, problems = parse({"timeBasedFairShare": "yes", "halfLife": "1h", "kValue": "-1", "windowSize": "0s"})
    assert settings.time_based and settings.k_value == 1.0 and settings.usage_window == 7 * 86400
    assert problems == [
        "data.halfLife: not a setting of the scheduler; did you mean halfLifePeriod?",
        "data.kValue: must be no less than 0 (0 turns the usage's effect off) (kept the default)",
        "data.windowSize: must be longer than 0 (kept the default)",
    ]
