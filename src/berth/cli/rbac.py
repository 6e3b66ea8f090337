"""`berth rbac`: Berth's roles as Kubernetes RBAC objects for a real cluster (`berth.authz.rbac`), from the same
rule table the API server of `berth up` enforces."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import yaml


def _cluster_projects(kubeconfig: str | None) -> list[str]:
    from berth.client import Client

    async def names() -> list[str]:
        async with Client.from_kubeconfig(kubeconfig, timeout=10.0) as client:
            return [p["metadata"]["name"] for p in await client.list("project")]

    return asyncio.run(names())


@click.command("rbac")
@click.option("--project", "projects", multiple=True, metavar="PROJECT",
              help="A project to make a RoleBinding for (in namespace runai-PROJECT); repeatable.")
@click.option("--from-cluster", is_flag=True,
              help="Also every Project of the cluster in --kubeconfig (default: $KUBECONFIG).")
@click.option("--kubeconfig", default=None, help="The cluster --from-cluster reads.")
@click.option("--users", "users_dir", default=None, metavar="DATA_DIR",
              help="Bind the users of this `berth up` data directory by name, too (their projects get RoleBindings).")
@click.pass_context
def rbac_command(ctx: click.Context, projects: tuple[str, ...], from_cluster: bool, kubeconfig: str | None,
                 users_dir: str | None) -> None:
    """Print Berth's roles as Kubernetes RBAC: ClusterRoles, ClusterRoleBindings to the groups berth:admins,
    berth:viewers and berth:researchers, and a RoleBinding per project to the group berth:project:PROJECT.

    \b
    Examples:
      berth rbac --project team-a --project team-b | kubectl apply -f -
      berth rbac --from-cluster                       # a RoleBinding for every Project of the cluster
      berth rbac --users ~/.berth                     # also bind the users of a berth up by name
    """
    from berth.authz.rbac import objects
    from berth.apiserver.users import UserError, read
    from berth.cli.main import _fail

    chosen = list(projects)
    if from_cluster:
        from berth.client import ClientError

        try:
            chosen += _cluster_projects(kubeconfig)
        except ClientError as exc:
            _fail(f"--from-cluster: {exc}", ctx, prefix="berth rbac")
    users = []
    if users_dir is not None:
        try:
            users = [u.user() for u in read(Path(users_dir).expanduser())]
        except UserError as exc:
            _fail(f"--users: {exc}", ctx, prefix="berth rbac")
    click.echo(yaml.safe_dump_all(objects(chosen, users), sort_keys=False), nl=False)
