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
    """Print what tests counted (`record_property("checked", "...")`: how many writes, events or cases they
    checked) at the end of the run, from every worker, so a reader of `make test` sees how much was checked."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "when", None) == "call"
             for key, value in getattr(report, "user_properties", ()) if key == "checked"]
    if lines:
        terminalreporter.section("checked")
        for line in lines:
            terminalreporter.write_line(str(line))
