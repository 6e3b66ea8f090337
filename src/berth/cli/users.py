"""`berth user add|list|revoke`: the users of a `berth up`, managed in its data directory
(`berth.apiserver.users`), so the commands work whether or not the control plane is running.

`add` prints the token once and writes the user's kubeconfig next to the admin's
(`<data-dir>/users/<name>.kubeconfig`, 0600), with the admin kubeconfig's server and CA. A project that does
not exist (yet) is a warning, not an error: admins often add people before their project.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NoReturn

import click
import yaml

DATA_DIR = click.option("--data-dir", default="~/.berth", show_default=True,
                        help="The data directory of the `berth up` whose users these are.")


def _fail(message: str) -> NoReturn:
    from berth.cli.main import _fail as fail

    fail(message, click.get_current_context(silent=True), prefix="berth user")
    raise SystemExit(1)  # not reached: fail exits


def _admin_cluster(data_dir: Path) -> tuple[str, bytes | None]:
    """The server URL and CA of the admin kubeconfig `berth up` wrote."""
    import base64

    path = data_dir / "kubeconfig"
    if not path.exists():
        _fail(f"{path} does not exist: run `berth up --data-dir {data_dir}` once first (it makes the address and "
              "certificates a user's kubeconfig needs), or pass the right --data-dir")
    cluster = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]
    ca = cluster.get("certificate-authority-data")
    return cluster["server"], base64.b64decode(ca) if ca else None


def _missing_projects(data_dir: Path, projects: tuple[str, ...]) -> tuple[list[str], str]:
    """The projects the running cluster does not have, or ([], why unchecked) when it cannot be asked."""
    from berth.client import Client, ClientError, NotFound

    async def check() -> list[str]:
        async with Client.from_kubeconfig(data_dir / "kubeconfig", timeout=3.0) as client:
            missing = []
            for project in projects:
                try:
                    await client.get("project", project)
                except NotFound:
                    missing.append(project)
            return missing

    try:
        return asyncio.run(check()), ""
    except ClientError as exc:
        return [], str(exc).splitlines()[0]


@click.group("user")
def user_group() -> None:
    """Users of `berth up` and their tokens: add, list, revoke.

    \b
    Examples:
      berth user add alice --role researcher --project team-a
      berth user list
      berth user revoke alice
    """


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, metavar="ROLE",
              help="admin, researcher or viewer (Run:ai's System administrator, L1 researcher, Viewer).")
@click.option("--project", "projects", multiple=True, metavar="PROJECT",
              help="A project the researcher works in (namespace runai-PROJECT); repeatable.")
@DATA_DIR
def add_command(name: str, role: str, projects: tuple[str, ...], data_dir: str) -> None:
    """Add a user: print their token (once; only its hash is kept) and write their kubeconfig.

    \b
    Examples:
      berth user add alice --role researcher --project team-a --project team-b
      berth user add vera --role viewer
      KUBECONFIG=~/.berth/users/alice.kubeconfig kubectl get tw
    """
    from berth.apiserver.tls import write_kubeconfig
    from berth.authz.roles import User
    from berth.apiserver.users import UserError, add, check_new

    root = Path(data_dir).expanduser()
    try:
        check_new(name, role, projects)
    except UserError as exc:
        _fail(str(exc))
    server, ca = _admin_cluster(root)
    try:
        token = add(root, name, role, projects)
    except UserError as exc:
        _fail(str(exc))
    namespace = sorted(User(name, role, projects).namespaces())[0] if projects else "default"
    path = write_kubeconfig(root / "users" / f"{name}.kubeconfig", server, ca_cert=ca, token=token,
                            user_name=name, namespace=namespace)
    click.echo(f"user {name} ({role}{', projects ' + ', '.join(projects) if projects else ''})")
    click.echo(f"token: {token}")
    click.echo("  (shown once: Berth keeps only its SHA-256)")
    click.echo(f"kubeconfig: {path}")
    click.echo(f"  export KUBECONFIG={path}")
    if server.startswith("http://"):
        click.secho("warning: this berth up serves --insecure-http, which checks no token (a single-user mode); "
                    "restart it without --insecure-http for the user's role to apply", fg="yellow", err=True)
    if projects:
        missing, unchecked = _missing_projects(root, projects)
        for project in missing:
            click.secho(f"warning: project {project} does not exist yet; {name} reaches it once an admin creates it",
                        fg="yellow", err=True)
        if unchecked:
            click.secho(f"warning: projects not checked ({unchecked})", fg="yellow", err=True)


@user_group.command("list")
@DATA_DIR
def list_command(data_dir: str) -> None:
    """List the users: name, role, projects, when added (never their tokens).

    \b
    Examples:
      berth user list
      berth user list --data-dir /tmp/berth
    """
    from berth.apiserver.users import BOOTSTRAP, UserError, read

    try:
        users = read(Path(data_dir).expanduser())
    except UserError as exc:
        _fail(str(exc))
    rows = [("NAME", "ROLE", "PROJECTS", "CREATED"), (BOOTSTRAP, "admin", "*", "(bootstrap token)")]
    rows += [(u.name, u.role, ",".join(u.projects) or "*", u.created) for u in users]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        click.echo("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


@user_group.command("revoke")
@click.argument("name")
@DATA_DIR
def revoke_command(name: str, data_dir: str) -> None:
    """Revoke a user's token: their next request is refused (401). Their kubeconfig is removed.

    \b
    Examples:
      berth user revoke alice
      berth user revoke alice && berth user add alice --role researcher --project team-a   # a new token
    """
    from berth.apiserver.users import UserError, revoke

    root = Path(data_dir).expanduser()
    try:
        gone = revoke(root, name)
    except UserError as exc:
        _fail(str(exc))
    (root / "users" / f"{name}.kubeconfig").unlink(missing_ok=True)
    click.echo(f"user {gone.name} revoked: their token is refused from the next request on")
