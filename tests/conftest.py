"""Shared fixtures: where the examples live and how to run the installed `berth` command."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.cluster import (  # noqa: F401 - fixtures for every test directory
    OPERATOR_ENV,
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


def _calls(function: object, names: set[str], depth: int = 3) -> bool:
    """Whether `function`, or a function of its module that it names (`depth` calls deep), names one of
    `names`."""
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    if names & set(code.co_names):
        return True
    scope = getattr(function, "__globals__", {})
    return depth > 0 and any(_calls(scope.get(name), names, depth - 1) for name in code.co_names
                             if callable(scope.get(name)) and getattr(scope[name], "__module__", "").startswith("tests"))


def _starts_a_cluster(item: pytest.Item) -> bool:
    """Whether a test runs against a `berth up`: it, or one of its fixtures however deep, calls `running` or
    `make_cluster` of tests.cluster (directly or through a helper of its module)."""
    info = getattr(item, "_fixtureinfo", None)
    functions = [getattr(item, "function", None)]
    functions += [d.func for ds in (info.name2fixturedefs.values() if info else ()) for d in ds]
    return any(_calls(f, {"running", "make_cluster"}) for f in functions)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With BERTH_TEST_OPERATOR=1 (`make test-operator`), only the tests that run against `berth up`: they are
    the ones whose controllers and scheduler then run in `berth operator`; the others already ran."""
    if not os.environ.get(OPERATOR_ENV):
        return
    kept = [item for item in items if _starts_a_cluster(item)]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
