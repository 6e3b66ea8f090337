"""This directory's `cluster`: `berth up` without the scheduler and the local node, so tests drive pods
themselves (binding them, setting their status) as the scheduler and a node agent would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, running


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running(tmp_path_factory.mktemp("cluster"), "--no-scheduler", "--no-local-node")


@pytest.fixture
def fresh_cluster(tmp_path) -> Iterator[Cluster]:
    yield from running(tmp_path, "--no-scheduler", "--no-local-node")
