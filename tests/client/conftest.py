"""A real `berth up` for the client tests (the API server tests' fixtures), and async tests without a plugin.

`async def test_...` functions run in a fresh event loop each (`asyncio.run`), with a time limit, so a
hung watch fails the test instead of the suite. Clients are made inside the test, in its loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable

import pytest

from berth.client import Client
from tests.cluster import Cluster

ASYNC_TEST_TIMEOUT_S = 60


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    func = pyfuncitem.obj
    if not inspect.iscoroutinefunction(func):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in inspect.signature(func).parameters}
    asyncio.run(asyncio.wait_for(func(**kwargs), ASYNC_TEST_TIMEOUT_S))
    return True


@pytest.fixture(scope="module")
def cluster(bare_module_cluster: Cluster) -> Cluster:
    """The client is tested against the API server alone: no controller writes behind its back."""
    return bare_module_cluster


@pytest.fixture
def fresh_cluster(bare_cluster: Cluster) -> Cluster:
    return bare_cluster


@pytest.fixture
def connect(cluster: Cluster) -> Callable[..., Client]:
    """Make a Client for the module's cluster (call it inside the test's event loop)."""
    return lambda **kw: Client.from_kubeconfig(cluster.kubeconfig, **kw)
