"""`berth config project [NAME]`, `berth version` and `berth completion SHELL`: the CLI's own settings, what
it and the server are, and the shell completion script (click's machinery: the script calls `berth` back
with `_BERTH_COMPLETE` set, and workload NAME arguments complete from the cluster).
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from berth import __version__
from berth.cli import output, suggest
from berth.cli.context import (
    cli_config_path,
    complete_projects,
    current_server,
    default_project,
    explain_error,
    fail,
    kubeconfig_path,
    read_cli_config,
    run,
    write_cli_config,
)

SHELLS = ("bash", "zsh", "fish")


@click.group(name="config")
def config_group() -> None:
    """The CLI's settings: the default project.

    \b
    Examples:
      berth config project team-a   # commands without -p work in team-a
      berth config project          # which project is the default
    """


@config_group.command(name="project", cls=suggest.Command)
@click.argument("name", required=False, shell_complete=complete_projects)
@click.option("--kubeconfig", default=None, metavar="FILE", help="The cluster whose default this is.")
def config_project(name: str | None, kubeconfig: str | None) -> None:
    """Set the default project of this cluster (commands without -p use it), or show it.

    The default is kept per API server in ~/.config/berth/cli.yaml ($BERTH_CLI_CONFIG), so that a
    `berth up` that rewrites its kubeconfig keeps it. A NAME is checked against the cluster's projects.

    \b
    Examples:
      berth config project team-a
      berth config project
    """
    path = kubeconfig_path(kubeconfig)
    server = current_server(path)
    if name is None:
        chosen = default_project(path)
        if chosen is None:
            click.echo("no default project; set one with `berth config project NAME`")
        else:
            click.echo(chosen)
        return
    if server is None:
        fail("no usable kubeconfig to tie the default to; run `berth up` first, or pass --kubeconfig or set "
             "KUBECONFIG")
    name = name.removeprefix("runai-")

    async def check() -> list[str]:
        from berth.client import Client

        async with Client.from_kubeconfig(path, field_manager="berth-cli") as client:
            return sorted(p["metadata"]["name"] for p in await client.list("Project"))

    projects = run(check)
    if name not in projects:
        fail(f'no project "{name}" in the cluster at {server}; it has: {", ".join(projects) or "none"}')
    config = read_cli_config()
    config.setdefault("projects", {})[server] = name
    write_cli_config(config)
    click.echo(f"default project: {name} (for {server}, kept in {cli_config_path()})")


@click.command(name="version", cls=suggest.Command)
@click.option("--kubeconfig", default=None, metavar="FILE", help="The cluster to ask for its version.")
@click.option("-o", "--output", "out", type=click.Choice(("json", "yaml")), default=None)
def version_command(kubeconfig: str | None, out: str | None) -> None:
    """Print the version of this client and, when it answers, of the server.

    \b
    Examples:
      berth version
      berth version -o json
    """
    from berth.client import Client, ClientError

    async def ask() -> dict[str, Any]:
        async with Client.from_kubeconfig(kubeconfig_path(kubeconfig), field_manager="berth-cli", timeout=5) as c:
            return dict(await c.version())

    server: dict[str, Any] | None = None
    problem = ""
    try:
        server = asyncio.run(ask())
    except ClientError as exc:
        problem = explain_error(exc).splitlines()[0]
    if out:
        output.dump({"clientVersion": {"berth": __version__}, "serverVersion": server}, out)
        return
    click.echo(f"Client Version: berth {__version__}")
    if server is not None:
        click.echo(f"Server Version: {server.get('gitVersion', '?')} ({server.get('platform', '?')})")
    else:
        click.echo(f"Server Version: not reachable ({problem})")


@click.command(name="completion", cls=suggest.Command)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion_command(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL: commands, flags and workload names complete.

    \b
    Examples:
      eval "$(berth completion bash)"                         # in ~/.bashrc
      eval "$(berth completion zsh)"                          # in ~/.zshrc
      berth completion fish > ~/.config/fish/completions/berth.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    completer = get_completion_class(shell)
    assert completer is not None
    click.echo(completer(root, {}, "berth", "_BERTH_COMPLETE").source())
