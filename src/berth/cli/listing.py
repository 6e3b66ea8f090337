"""`berth list [workloads|projects|nodes|nodepools|policies]` (CLI v1, `runai list`) and `berth <noun> list`
(CLI v2, `runai training list`).

The v1 table has `runai list jobs`' columns, narrowed to fit 80 columns (IMAGE, PROJECT, USER and
SERVICE URL(S) come with `-o wide`); the v2 table has `runai training list`'s. Both read the workloads'
status as the controllers wrote it.
"""

from __future__ import annotations

from typing import Any

import click

from berth.cli import cluster_tables, output, selection, suggest, view
from berth.cli.context import cluster_options, default_project, kubeconfig_path, run, target
from berth.cli.nouns import Noun, verbs

RESOURCES = {"workloads": "workloads", "workload": "workloads", "jobs": "workloads", "job": "workloads",
             "projects": "projects", "project": "projects", "nodes": "nodes", "node": "nodes",
             "nodepools": "nodepools", "nodepool": "nodepools", "policies": "policies", "policy": "policies"}

V1_HELP = """List workloads (the default), projects, nodes, node pools or policies.

Workloads are those of the project (-p, else the default of `berth config project`), or of every project
with -A. Their columns follow `runai list jobs`: GPUs allocated (requested) and pods running (pending);
-o wide adds the image, project, user and service URLs.

\b
Examples:
  berth list                       # workloads of the default project
  berth list -p team-a -o wide     # every column
  berth list -A --state Pending    # what waits, in all projects
  berth list projects              # deserved, allocated and over-quota GPUs
  berth list nodes                 # GPUs per node and what is allocated
  berth list workloads -o yaml     # the objects, for scripts
"""


def output_option(func: Any) -> Any:
    return click.option("-o", "--output", type=click.Choice(output.OUTPUTS), default=None,
                        help="wide: more columns; json or yaml: the objects.")(func)


def _state_option(func: Any) -> Any:
    return click.option("--state", default=None, metavar="PHASE",
                        help="Only workloads in this phase (Running, Pending, Completed, ...).")(func)


def _all_option(func: Any) -> Any:
    return click.option("-A", "--all-projects", "all_projects", is_flag=True,
                        help="Workloads of every project.")(func)


def show_workloads(kubeconfig: str | None, project: str | None, all_projects: bool, out: str | None,
                   state: str | None, noun: Noun | None) -> None:
    chosen = target(kubeconfig, project)
    namespace = None if all_projects else chosen.namespace()

    async def work() -> list[dict[str, Any]]:
        async with chosen.client() as client:
            return await selection.workloads(client, namespace, noun)

    found = run(work)
    if state:
        found = [w for w in found if view.phase(w).lower() == state.lower()]
    if out in ("json", "yaml"):
        output.dump(found, out)
        return
    where = "all projects" if all_projects else f"project {chosen.project}"
    if noun is None:
        headers = list(view.V1_WIDE if out == "wide" else view.V1_HEADERS)
        rows = [view.v1_row(w, wide=out == "wide") for w in found]
        if all_projects and out != "wide":
            headers.insert(1, "PROJECT")
            rows = [[r[0], view.project_of(w), *r[1:]] for r, w in zip(rows, found)]
        title: str | None = f"Showing workloads for {where}"
    else:
        headers, rows, title = list(view.V2_HEADERS), [view.v2_row(w) for w in found], None
    if not found:
        if title:
            click.echo(title)
        click.echo(f"No {selection.label(noun)}s in {where}" + (f" in phase {state}" if state else "") + ".")
        return
    output.table(headers, rows, title=title, wide=out == "wide")


@click.command(name="list", help=V1_HELP, cls=suggest.Command)
@click.argument("resource", required=False, default="workloads", metavar="[workloads|projects|nodes|nodepools|policies]",
                type=click.Choice(sorted(RESOURCES), case_sensitive=False))
@_all_option
@output_option
@_state_option
@cluster_options
def list_command(resource: str, all_projects: bool, output: str | None, state: str | None, kubeconfig: str | None,
                 project: str | None) -> None:
    what = RESOURCES[resource.lower()]
    if what == "workloads":
        show_workloads(kubeconfig, project, all_projects, output, state, None)
    elif what == "projects":
        show_projects(kubeconfig, output)
    elif what in ("nodes", "nodepools"):
        show_nodes(kubeconfig, output, pools=what == "nodepools")
    else:
        show_policies(kubeconfig, project, all_projects, output)


def show_projects(kubeconfig: str | None, out: str | None) -> None:
    chosen = target(kubeconfig, None)

    async def work() -> list[dict[str, Any]]:
        async with chosen.client() as client:
            return list(await client.list("Project"))

    projects = sorted(run(work), key=lambda p: p["metadata"]["name"])
    if out in ("json", "yaml"):
        output.dump(projects, out)
        return
    default = default_project(kubeconfig_path(kubeconfig))
    output.table(cluster_tables.PROJECT_HEADERS, [cluster_tables.project_row(p, default) for p in projects])


def show_nodes(kubeconfig: str | None, out: str | None, *, pools: bool) -> None:
    """Nodes or node pools: the objects with -o json|yaml, else what each holds (`cluster_tables`)."""
    chosen = target(kubeconfig, None)
    if out in ("json", "yaml"):

        async def objects() -> list[dict[str, Any]]:
            async with chosen.client() as client:
                return list(await client.list("NodePool" if pools else "Node"))

        output.dump(run(objects), out)
        return

    async def views() -> tuple[list[cluster_tables.NodeView], list[cluster_tables.PoolView]]:
        async with chosen.client() as client:
            return await cluster_tables.read_nodes(client)

    nodes, pool_views = run(views)
    wide = out == "wide"
    if pools:
        output.table(cluster_tables.POOL_HEADERS, [p.row() for p in pool_views])
    else:
        output.table(cluster_tables.NODE_WIDE if wide else cluster_tables.NODE_HEADERS, [n.row(wide=wide) for n in nodes],
                     wide=wide)


def show_policies(kubeconfig: str | None, project: str | None, all_projects: bool, out: str | None) -> None:
    chosen = target(kubeconfig, project)
    namespace = None if all_projects or not chosen.project else chosen.namespace()

    async def work() -> list[dict[str, Any]]:
        async with chosen.client() as client:
            return await cluster_tables.read_policies(client, namespace)

    policies = run(work)
    if out in ("json", "yaml"):
        output.dump(policies, out)
    elif not policies:
        click.echo("No policies" + (f" for project {chosen.project} or global." if namespace else "."))
    else:
        output.table(cluster_tables.POLICY_HEADERS, [cluster_tables.policy_row(p) for p in policies])


def noun_list(noun: Noun) -> click.Command:
    """`berth <noun> list`: the noun's workloads in CLI v2's columns."""
    name = selection.label(noun)
    prefix = selection.prog(noun)
    help_text = f"""List {name} workloads of the project (or of every project with -A).

\b
Examples:
  {prefix} list
  {prefix} list -A
  {prefix} list -p team-a --state Running
  {prefix} list --json              # as -o json (Run:ai's CLI v2 flags)
"""

    @click.command(name="list", help=help_text, cls=suggest.Command)
    @_all_option
    @output_option
    @click.option("--json", "as_json", is_flag=True, help="The same as -o json.")
    @click.option("--yaml", "as_yaml", is_flag=True, help="The same as -o yaml.")
    @click.option("--table", "as_table", is_flag=True, help="The table (the default).")
    @_state_option
    @cluster_options
    def command(all_projects: bool, output: str | None, as_json: bool, as_yaml: bool, as_table: bool,
                state: str | None, kubeconfig: str | None, project: str | None) -> None:
        chosen = [name for name, given in (("-o", output), ("--json", as_json), ("--yaml", as_yaml),
                                           ("--table", as_table)) if given]
        if len(chosen) > 1:
            raise click.UsageError(f"{' and '.join(chosen)} choose the output twice; give one")
        out = "json" if as_json else "yaml" if as_yaml else output
        show_workloads(kubeconfig, project, all_projects, out, state, noun)

    return command


verbs.append(noun_list)
