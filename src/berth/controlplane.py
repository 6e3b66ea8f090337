"""`berth up` assembled: the API server, and the components that work through it in the same process:
the project and workload controllers, the scheduler, the local node (pods as processes) and simulated
nodes (KWOK-style, from a cluster file).

Each component is an ordinary client of the API server (through the kubeconfig `berth up` writes), the
same code that runs as an operator or node agent against a real cluster.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from berth.apiserver.server import Component, Config, Running, run

log = logging.getLogger(__name__)

OPTIONAL = ("controllers", "scheduler", "local-node")


@dataclass
class Plan:
    """What `berth up` runs besides the API server."""

    disabled: set[str] = field(default_factory=set)  # among OPTIONAL
    gpus: int | None = None  # simulated GPUs on the local node when it has no real one
    nodes_file: Path | None = None  # simulated nodes


def _client(running: Running, manager: str):  # noqa: ANN202 - berth.client imported lazily
    from berth.client import Client

    return Client.from_kubeconfig(running.kubeconfig, field_manager=manager)


async def controllers(running: Running) -> None:
    """The project and workload controllers, until cancelled."""
    from berth.controllers.projects import ProjectController
    from berth.controllers.workloads import WorkloadController

    async with _client(running, "berth-controllers") as client:
        await asyncio.gather(ProjectController(client).run(), WorkloadController(client).run())


async def scheduler(running: Running) -> None:
    """The GPU scheduler, until cancelled."""
    from berth.scheduler.runner import Scheduler

    async with _client(running, "runai-scheduler") as client:
        await Scheduler(client).run()


def local_node(gpus: int | None) -> Component:
    async def run_node(running: Running) -> None:
        from berth.nodes.process import run_local_node

        async with _client(running, "berth-node") as client:
            await run_local_node(client, data_dir=running.config.data_dir, gpus=gpus)

    return run_node


def simulated_nodes(path: Path) -> Component:
    async def run_nodes(running: Running) -> None:
        from berth.client import AlreadyExists
        from berth.nodes.cluster_file import POOL_LABEL
        from berth.nodes.simulated import load_cluster_file, run_simulated_nodes

        specs = load_cluster_file(path)
        async with _client(running, "berth-sim-nodes") as client:
            # Each pool of the file is a NodePool too, so that quotas per pool and preferences work at once.
            for pool in sorted({s.labels.get(POOL_LABEL) for s in specs} - {None, "default"}):
                try:
                    await client.create({"apiVersion": "run.ai/v1", "kind": "NodePool", "metadata": {"name": pool},
                                         "spec": {"labelKey": POOL_LABEL, "labelValue": pool}})
                except AlreadyExists:
                    pass
            await run_simulated_nodes(client, specs)

    return run_nodes


def components(plan: Plan) -> list[Component]:
    chosen: list[Component] = []
    if "controllers" not in plan.disabled:
        chosen.append(controllers)
    if "scheduler" not in plan.disabled:
        chosen.append(scheduler)
    if "local-node" not in plan.disabled:
        chosen.append(local_node(plan.gpus))
    if plan.nodes_file is not None:
        chosen.append(simulated_nodes(plan.nodes_file))
    return chosen


def up(config: Config, plan: Plan, announce: Callable[[str], object] = print) -> int:
    """Run the control plane until Ctrl-C or SIGTERM."""
    if plan.nodes_file is not None:
        from berth.nodes.simulated import load_cluster_file

        specs = load_cluster_file(plan.nodes_file)  # a bad file stops us before anything starts
        gpus = sum(len(s.gpus) for s in specs)
        announce(f"simulated nodes: {len(specs)} nodes with {gpus} GPUs from {plan.nodes_file}")
    if "local-node" not in plan.disabled and plan.gpus:
        announce(f"local node: advertising {plan.gpus} simulated GPUs if it finds no real one")
    return run(config, announce, components=components(plan))
