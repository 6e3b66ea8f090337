"""Shared fixtures: where the examples live and how to run the installed `berth` command."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cluster import (  # noqa: F401 - fixtures for every test directory
    bare_cluster,
    bare_module_cluster,
    cluster,
    fresh_cluster,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))


@pytest.fixture(scope="session")
def berth_bin() -> str:
    """The `berth` console script of the environment running the tests."""
    path = Path(sys.executable).parent / "berth"
    assert path.exists(), f"berth is not installed next to {sys.executable}; run make test"
    return str(path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests recorded as `record_property("summary", line)`: how many cases a fuzz test ran, how
    many writes a fault test checked. It runs where the summary is printed, so it works under xdist too (the
    workers send their reports' properties to it)."""
    found: dict[str, list[str]] = {}  # a test's reports (call, teardown) each carry its properties so far
    for reports in terminalreporter.stats.values():
        for report in reports:
            recorded = [str(v) for name, v in getattr(report, "user_properties", ()) if name == "summary"]
            if recorded and len(recorded) >= len(found.get(report.nodeid, [])):
                found[report.nodeid] = recorded
    lines = [line for recorded in found.values() for line in recorded]
    if lines:
        terminalreporter.section("what the tests checked")
        for line in lines:
            terminalreporter.write_line(str(line))
