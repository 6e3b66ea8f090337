"""Controllers: they turn workloads into the objects that run them (PodGroups, pods, Services, ConfigMaps,
PVCs), keep their status, turn Projects into namespaces, and keep the usage of Projects, Departments and
NodePools in their status.

They speak only the Kubernetes API, through `berth.client`, so the same code runs inside `berth up` and as
an operator on a real cluster. Each controller is level-based: it compares what a workload asks for with
what exists (from a watch cache) and closes the gap, with deterministic names, so restarting it at any
point neither duplicates nor loses anything.

Pure parts (no I/O): `podspec` (a workload's container and pod template), `frameworks` (distributed
roles, environment and peer discovery), `training`/`interactive`/`distributed`/`inference` plans (which
pods should exist now, given the ones that do), `phase` (the status users see) and `tally` (what projects,
departments and node pools hold). I/O: the reconcilers (`workloads`, `projects`, `usage`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from berth.client import Client


async def run_all(client: Client) -> None:
    """Every controller, until cancelled: what `berth up` and `berth controllers` run."""
    from berth.controllers.projects import ProjectController
    from berth.controllers.usage import UsageController
    from berth.controllers.workloads import WorkloadController

    await asyncio.gather(ProjectController(client).run(), WorkloadController(client).run(),
                         UsageController(client).run())
