"""`berth up` assembled: the API server, and the components that work through it in the same process
(the project and workload controllers, the scheduler; the node agents as they land).

Each component is an ordinary client of the API server (through the kubeconfig `berth up` writes), the
same code that runs as an operator against a real cluster.
"""

from __future__ import annotations

import asyncio
import logging

from berth.apiserver.server import Component, Config, Running, run

log = logging.getLogger(__name__)


async def controllers(running: Running) -> None:
    """The project and workload controllers, until cancelled."""
    from berth.client import Client
    from berth.controllers.projects import ProjectController
    from berth.controllers.workloads import WorkloadController

    async with Client.from_kubeconfig(running.kubeconfig, field_manager="berth-controllers") as client:
        await asyncio.gather(ProjectController(client).run(), WorkloadController(client).run())


async def scheduler(running: Running) -> None:
    """The GPU scheduler, until cancelled."""
    from berth.client import Client
    from berth.scheduler.runner import Scheduler

    async with Client.from_kubeconfig(running.kubeconfig, field_manager="runai-scheduler") as client:
        await Scheduler(client).run()


COMPONENTS: dict[str, Component] = {"controllers": controllers, "scheduler": scheduler}


def up(config: Config, announce=print, without: tuple[str, ...] = ()) -> int:  # noqa: ANN001
    """Run the control plane; `without` names components to leave out (e.g. for testing one alone)."""
    return run(config, announce, components=[c for name, c in COMPONENTS.items() if name not in without])
