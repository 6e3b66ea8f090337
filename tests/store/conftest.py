"""Fixtures for the store tests: a real SQLite file per test, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.store import ResourceRef, Store

WORKLOADS = ResourceRef("run.ai", "trainingworkloads")
PODS = ResourceRef("", "pods")
NODES = ResourceRef("", "nodes")  # cluster-scoped: namespace ""


def workload(name: str, namespace: str = "team-a", **labels: str) -> dict:
    """A small object shaped like what the API server stores."""
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"gpu": {"value": "1"}}}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()
