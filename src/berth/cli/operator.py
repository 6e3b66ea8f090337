"""`berth controllers` and `berth scheduler`: run Berth's controllers or its scheduler against any
Kubernetes API (a real cluster, or a `berth up` started `--without` them)."""

from __future__ import annotations

import asyncio

import click


@click.command(name="controllers")
@click.option("--kubeconfig", default=None,
              help="Kubeconfig of the cluster (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).")
def controllers(kubeconfig: str | None) -> None:
    """Run the project, workload and usage controllers until interrupted.

    \b
    Examples:
      berth up --no-controllers &                # a control plane without them
      berth controllers --kubeconfig ~/.berth/kubeconfig
      berth controllers                          # in a pod: its service account
    """
    from berth.client import Client
    from berth.controllers import run_all

    async def run() -> None:
        client = Client.from_kubeconfig(kubeconfig, field_manager="berth-controllers") if kubeconfig else \
            Client.from_env(field_manager="berth-controllers")
        async with client:
            click.echo(f"berth controllers working on {client.server}")
            await run_all(client)

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


@click.command(name="scheduler")
@click.option("--kubeconfig", default=None,
              help="Kubeconfig of the cluster (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config).")
def scheduler(kubeconfig: str | None) -> None:
    """Run the GPU scheduler (runai-scheduler) until interrupted.

    \b
    Examples:
      berth up --no-scheduler &                  # a control plane without it
      berth scheduler --kubeconfig ~/.berth/kubeconfig
    """
    from berth.client import Client
    from berth.scheduler.runner import Scheduler

    async def run() -> None:
        client = Client.from_kubeconfig(kubeconfig, field_manager="runai-scheduler") if kubeconfig else \
            Client.from_env(field_manager="runai-scheduler")
        async with client:
            click.echo(f"runai-scheduler working on {client.server}")
            await Scheduler(client).run()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
