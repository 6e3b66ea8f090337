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
from berth.cli.context import run, target

Obj = dict[str, Any]
PROJECT_HEADERS = ("PROJECT", "DESERVED", "ALLOCATED", "REQUESTED", "OVER QUOTA")
POOL_HEADERS = ("NODE POOL", "NODES", "GPUs", "ALLOCATED", "FREE", "USE")
SPLIT_HEADERS = ("PROJECT", "NODE POOL", "ALLOCATED", "REQUESTED")


@dataclass
class Snapshot:
    """One look at the cluster, as rows of the tables `berth top` shows."""

    projects: list[list[str]]
    pools: list[list[str]]
    taken: float
    total: float
    split: list[list[str]]  # per project and node pool; shown only when there are several pools

    def tables(self) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
        """(title, headers, rows) of each table, in the order shown."""
        shown = [("GPUs per project", PROJECT_HEADERS, self.projects), ("GPUs per node pool", POOL_HEADERS, self.pools)]
        if len(self.pools) > 1:
            shown.append(("GPUs per project and node pool", SPLIT_HEADERS, self.split))
        return shown


def split_rows(projects: list[Obj]) -> list[list[str]]:
    """Each project's allocated and requested GPUs in each node pool it has quota or pods in (its status)."""
    rows = []
    for project in projects:
        for entry in (project.get("status") or {}).get("nodePools") or []:
            allocated = float(((entry.get("allocated") or {}).get("gpu")) or 0)
            requested = float(((entry.get("requested") or {}).get("gpu")) or 0)
            rows.append([project["metadata"]["name"], str(entry.get("nodePool", "-")), output.number(allocated),
                         output.number(requested)])
    return rows


def _bar(allocated: float, total: float, width: int = 10) -> str:
    if total <= 0:
        return "-"
    filled = min(width, round(width * allocated / total))
    return "#" * filled + "." * (width - filled) + f" {round(100 * allocated / total)}%"


async def snapshot(client: Any) -> Snapshot:
    projects, (_, pools) = await asyncio.gather(client.list("Project"), cluster_tables.read_nodes(client))
    ordered = sorted(projects, key=lambda p: p["metadata"]["name"])
    rows = [cluster_tables.project_row(p)[:5] for p in ordered]
    pool_rows = [[p.name, str(p.nodes), output.number(p.gpus), output.number(p.allocated),
                  output.number(max(p.gpus - p.allocated, 0)), _bar(p.allocated, p.gpus)] for p in pools]
    return Snapshot(rows, pool_rows, sum(p.allocated for p in pools), sum(p.gpus for p in pools), split_rows(ordered))


def _summary(shot: Snapshot) -> str:
    return f"GPUs allocated: {output.number(shot.taken)} of {output.number(shot.total)}"


def _renderable(shot: Snapshot) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table

    parts: list[Any] = [_summary(shot)]
    for title, headers, rows in shot.tables():
        table = Table(*headers, title=title, box=box.SIMPLE_HEAD, title_justify="left")
        for row in rows:
            table.add_row(*row)
        parts.append(table)
    return Group(*parts, f"[dim]{time.strftime('%H:%M:%S')}  Ctrl-C to quit[/dim]")


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
    chosen = target(kubeconfig, None)

    async def once_only() -> Snapshot:
        async with chosen.client() as client:
            return await snapshot(client)

    if once or not output.is_terminal():
        shot = run(once_only)
        click.echo(_summary(shot))
        for title, headers, rows in shot.tables():
            click.echo()
            output.table(headers, rows, title=title)
        return

    async def live() -> None:
        from rich.live import Live

        async with chosen.client() as client:
            with Live(_renderable(await snapshot(client)), console=output.console(), auto_refresh=False) as view:
                while True:
                    await asyncio.sleep(interval)
                    view.update(_renderable(await snapshot(client)), refresh=True)

    run(live)
