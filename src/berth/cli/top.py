"""`berth top`: GPU allocation per project and per node pool, live (rich's Live, refreshed every few
seconds until Ctrl-C), or once with `--once` (what scripts and tests read).

The numbers are the usage controller's (Project and NodePool status) and the nodes' (their GPUs, and what
their placed pods hold), as `berth list projects` and `berth list nodepools` show them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import click

from berth.cli import cluster_tables, output, suggest
from berth.cli.context import kubeconfig_path, run, target

Obj = dict[str, Any]
PROJECT_HEADERS = ("PROJECT", "DESERVED", "ALLOCATED", "REQUESTED", "OVER QUOTA")
POOL_HEADERS = ("NODE POOL", "NODES", "GPUs", "ALLOCATED", "FREE", "USE")


@dataclass
class Snapshot:
    projects: list[list[str]]
    pools: list[list[str]]
    taken: float
    total: float


def _bar(allocated: float, total: float, width: int = 10) -> str:
    if total <= 0:
        return "-"
    filled = min(width, round(width * allocated / total))
    return "#" * filled + "." * (width - filled) + f" {round(100 * allocated / total)}%"


async def snapshot(client: Any) -> Snapshot:
    projects, (_, pools) = await asyncio.gather(client.list("Project"), cluster_tables.read_nodes(client))
    rows = [cluster_tables.project_row(p)[:5] for p in sorted(projects, key=lambda p: p["metadata"]["name"])]
    pool_rows = [[p.name, str(p.nodes), output.number(p.gpus), output.number(p.allocated),
                  output.number(max(p.gpus - p.allocated, 0)), _bar(p.allocated, p.gpus)] for p in pools]
    return Snapshot(rows, pool_rows, sum(p.allocated for p in pools), sum(p.gpus for p in pools))


def _summary(shot: Snapshot) -> str:
    return f"GPUs allocated: {output.number(shot.taken)} of {output.number(shot.total)}"


def _renderable(shot: Snapshot) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table

    projects = Table(*PROJECT_HEADERS, title="GPUs per project", box=box.SIMPLE_HEAD, title_justify="left")
    for row in shot.projects:
        projects.add_row(*row)
    pools = Table(*POOL_HEADERS, title="GPUs per node pool", box=box.SIMPLE_HEAD, title_justify="left")
    for row in shot.pools:
        pools.add_row(*row)
    return Group(_summary(shot), projects, pools, f"[dim]{time.strftime('%H:%M:%S')}  Ctrl-C to quit[/dim]")


@click.command(name="top", cls=suggest.Command)
@click.option("--once", is_flag=True, help="Print one snapshot and exit (plain text when not on a terminal).")
@click.option("--interval", default=2.0, type=click.FloatRange(0.5), show_default=True,
              help="Seconds between refreshes.")
@click.option("--kubeconfig", default=None, metavar="FILE", help="The cluster (default as for every command).")
def top_command(once: bool, interval: float, kubeconfig: str | None) -> None:
    """Show GPU allocation per project and per node pool, refreshed live.

    \b
    Examples:
      berth top              # live, until Ctrl-C
      berth top --once       # one snapshot
    """
    chosen = target(kubeconfig_path(kubeconfig), None)

    async def once_only() -> Snapshot:
        async with chosen.client() as client:
            return await snapshot(client)

    if once or not output.is_terminal():
        shot = run(once_only)
        click.echo(_summary(shot))
        click.echo()
        output.table(PROJECT_HEADERS, shot.projects, title="GPUs per project")
        click.echo()
        output.table(POOL_HEADERS, shot.pools, title="GPUs per node pool")
        return

    async def live() -> None:
        from rich.live import Live

        async with chosen.client() as client:
            with Live(_renderable(await snapshot(client)), console=output.console(), auto_refresh=False) as view:
                while True:
                    await asyncio.sleep(interval)
                    view.update(_renderable(await snapshot(client)), refresh=True)

    run(live)
