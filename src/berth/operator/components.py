"""The components that act on workloads, as coroutines over one client each: the controllers and the scheduler.

`berth up` (`berth.controlplane`) and `berth operator` both run these, so the code that acts on a real
cluster is the code tested on one machine.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from berth.client import Client
from berth.client.informer import Shared


def sharing_informers(make: Callable[[str], Client]) -> Callable[[str], Client]:
    """`make` (a client per field manager), its clients sharing their informers: one watch per kind for all the
    components of a process, which act with one identity."""
    shared = Shared()

    def client(manager: str) -> Client:
        made = make(manager)
        made.shared_informers = shared
        return made

    return client


async def controllers(client: Client) -> None:
    """The project, workload and usage controllers, until cancelled."""
    from berth.controllers import run_all

    await run_all(client)


async def scheduler(client: Client, *, serve_default: bool, registry: CollectorRegistry | None = None,
                    reservation_image: str | None = None, reservation_idle_s: float | None = None) -> None:
    """The scheduler (runai-scheduler), until cancelled. `serve_default`: also place the pods that name no
    scheduler (where Berth's is the only one, as in `berth up`). Its series, and every project's usage read from
    its caches, go to `registry` when given. `reservation_image`: hold shared GPUs with reservation pods of this
    image (a real cluster's kubelets; `berth.api.sharing`), each deleted once unused for `reservation_idle_s`
    (default `reservations.IDLE_S`)."""
    from berth.controllers.metrics import Caches, UsageCollector
    from berth.scheduler import reservations
    from berth.scheduler.metrics import SchedulerMetrics
    from berth.scheduler.runner import Scheduler

    metrics = None if registry is None else SchedulerMetrics(registry)
    running = Scheduler(client, serve_default=serve_default, metrics=metrics, reservation_image=reservation_image,
                        reservation_idle_s=reservations.IDLE_S if reservation_idle_s is None else reservation_idle_s)
    if registry is not None:
        registry.register(UsageCollector(Caches(running.projects.items, running.pods.items, running.nodes.items,
                                                running.pools.items)))
    await running.run()
