"""This directory's `cluster`: `berth up` without the local node; tests add the nodes they need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, running


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from running(tmp_path_factory.mktemp("cluster"), "--no-local-node")
