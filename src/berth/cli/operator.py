"""`berth controllers`: run Berth's controllers against any Kubernetes API (a real cluster, or a `berth up`
started with `--without controllers`)."""

from __future__ import annotations

import asyncio

import click


@click.command(name="controllers")
@click.option("--kubeconfig", default=None,
              help="Kubeconfig of the cluster (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).")
def controllers(kubeconfig: str | None) -> None:
    """Run the project and workload controllers until interrupted."""
    from berth.client import Client
    from berth.controllers.projects import ProjectController
    from berth.controllers.workloads import WorkloadController

    async def run() -> None:
        client = Client.from_kubeconfig(kubeconfig, field_manager="berth-controllers") if kubeconfig else \
            Client.from_env(field_manager="berth-controllers")
        async with client:
            click.echo(f"berth controllers working on {client.server}")
            await asyncio.gather(ProjectController(client).run(), WorkloadController(client).run())

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
