"""The `berth` command: its entry point, `berth up`, and the commands that need no cluster.

Commands that talk to a cluster live in modules of their own and share `berth.cli.context` (which
kubeconfig, which project, how errors read); the noun-first commands of CLI v2 are assembled in
`berth.cli.nouns`. Errors are printed in red, one per line, without a traceback (`--verbose` shows it), and
the exit status is 1 for bad input and 2 for usage errors, as click does.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import click

from berth import __version__
from berth.api.closest import suggest
from berth.api.registry import KINDS, all_names, lookup
from berth.cli.up_options import limit_options, server_limits

# The models (berth.api.workloads, .policies, .crd, .load) are imported by the commands that use them:
# building them is most of a command's start-up, and `berth list` needs none of them.


def _fail(message: str, ctx: click.Context | None = None, prefix: str = "error") -> None:
    if ctx is not None and ctx.find_root().params.get("verbose"):
        traceback.print_exc()
    for line in message.splitlines():
        click.secho(f"{prefix}: {line}", fg="red", err=True)
    sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--verbose", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name="berth")
def cli(verbose: bool) -> None:
    """Berth: the Run:ai Cluster API and GPU scheduler, open and on one machine."""


@cli.command()
@click.option("--kind", "kinds", multiple=True, metavar="KIND", help="Only this kind (any name of it); repeatable.")
@click.pass_context
def crds(ctx: click.Context, kinds: tuple[str, ...]) -> None:
    """Print the CustomResourceDefinitions of every Berth kind, as YAML for kubectl apply.

    \b
    Examples:
      berth crds | kubectl apply --server-side -f -   # install Berth's kinds on a real cluster
      berth crds --kind tw --kind project
    """
    from berth.api.crd import all_crds, crd, dump_yaml

    if not kinds:
        click.echo(dump_yaml(all_crds()), nl=False)
        return
    chosen = []
    for name in kinds:
        kind = lookup(name)
        if kind is None:
            hint = suggest(name, all_names())
            _fail(f'unknown kind "{name}"' + (f"; did you mean {hint}?" if hint else ""), ctx)
        chosen.append(crd(kind))
    click.echo(dump_yaml(chosen), nl=False)


@cli.command(name="explain")
@click.argument("resource", required=False)
@click.option("--recursive", is_flag=True, help="Print the names of all fields below, as a tree.")
@click.option("--list", "list_kinds", is_flag=True, help="List the kinds that can be explained.")
@click.pass_context
def explain_command(ctx: click.Context, resource: str | None, recursive: bool, list_kinds: bool) -> None:
    """Document a kind or a field: RESOURCE[.field.path], e.g. trainingworkload.spec.nodeType.

    Works offline, in the layout of kubectl explain. RESOURCE may be a kind, its plural, its singular or
    its short name (tw, iw, dw, infw, ...), in any case.

    \b
    Examples:
      berth explain trainingworkload.spec.nodeType
      berth explain tw.spec --recursive
      berth explain --list
    """
    from berth.api.explain import ExplainError, explain

    if list_kinds or not resource:
        for kind in KINDS:
            short = ",".join(kind.short_names)
            click.echo(f"{kind.plural:<24} {short:<10} {kind.api_version:<28} {kind.kind}")
        return
    try:
        click.echo(explain(resource, recursive=recursive), nl=False)
    except ExplainError as exc:
        _fail(str(exc), ctx)


@cli.command(name="validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.pass_context
def validate_command(ctx: click.Context, files: tuple[str, ...]) -> None:
    """Check workload, policy and project YAML files offline; report every problem by field path. A
    directory stands for its .yaml, .yml and .json files, in name order, as with `kubectl apply -f`.

    \b
    Examples:
      berth validate examples/workloads/training-seed.yaml
      berth validate examples/workloads/
      kubectl get tw job-1 -o yaml | berth validate -
    """
    from berth.api.load import LoadError, load, load_file

    failed = False
    for name in _files_of(files):
        try:
            if name == "-":
                loaded = load(sys.stdin.read(), "<stdin>")
            else:
                loaded = load_file(Path(name))
        except LoadError as exc:
            for line in str(exc).splitlines():
                click.secho(f"error: {line}", fg="red", err=True)
            failed = True
            continue
        except OSError as exc:
            click.secho(f"error: {name}: {exc.strerror}", fg="red", err=True)
            failed = True
            continue
        for item in loaded:
            meta = item.document.get("metadata") or {}
            click.echo(f"{name}: {item.kind.kind} {meta.get('name', '<no name>')} is valid")
    if failed:
        sys.exit(1)


def _files_of(names: tuple[str, ...]) -> list[str]:
    """Each name, a directory replaced by its manifests (not those of its subdirectories), as kubectl reads
    `-f DIR`."""
    files: list[str] = []
    for name in names:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
            if not found:
                raise click.UsageError(f"{name} holds no .yaml, .yml or .json file")
            files += found
        else:
            files.append(name)
    return files


@cli.command()
@click.option("--data-dir", default="~/.berth", show_default=True, help="Where Berth keeps its state.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API server listens on.")
@click.option("--port", default=6443, show_default=True, type=int, help="Port the API server listens on.")
@click.option("--insecure-http", is_flag=True,
              help="Serve plain HTTP without authentication (loopback addresses only; kubectl sends no token over HTTP).")
@click.option("--gpus", type=click.IntRange(0), default=None,
              help="Simulated GPUs the local node advertises when it finds no real one.")
@click.option("--nodes", "nodes_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A cluster file of simulated node pools (see docs/nodes.md).")
@click.option("--no-controllers", is_flag=True, help="Do not run the controllers (run them elsewhere).")
@click.option("--no-scheduler", is_flag=True, help="Do not run the scheduler (run it elsewhere).")
@click.option("--no-local-node", is_flag=True, help="Do not run pods on this machine.")
@click.option("--without", multiple=True, type=click.Choice(["controllers", "scheduler", "local-node"]), hidden=True)
@limit_options
@click.pass_context
def up(ctx: click.Context, data_dir: str, host: str, port: int, insecure_http: bool, gpus: int | None,
       nodes_file: Path | None, no_controllers: bool, no_scheduler: bool, no_local_node: bool,
       without: tuple[str, ...], **limits: Any) -> None:
    """Run a complete Berth control plane on this machine: the API server (kubectl works against it), the
    controllers, the scheduler, the local node that runs pods as processes, and simulated nodes.

    \b
    Examples:
      berth up                                    # then: export KUBECONFIG=~/.berth/kubeconfig
      berth up --gpus 4                           # the local node advertises 4 simulated GPUs
      berth up --nodes cluster.yaml               # simulated node pools (docs/nodes.md)
      berth up --port 7443 --data-dir /tmp/berth
      berth up --rate-limit 20 --max-watches 10  # per-client limits (docs/limits-and-audit.md)
    """
    from berth.apiserver.server import Config, ConfigError
    from berth.controlplane import Plan
    from berth.controlplane import up as run_up

    disabled = set(without)
    for flag, name in ((no_controllers, "controllers"), (no_scheduler, "scheduler"), (no_local_node, "local-node")):
        if flag:
            disabled.add(name)
    config = Config(data_dir=Path(data_dir).expanduser(), host=host, port=port, insecure_http=insecure_http,
                    **server_limits(**limits))
    plan = Plan(disabled=disabled, gpus=gpus, nodes_file=nodes_file)
    try:
        sys.exit(run_up(config, plan, announce=click.echo))
    except ConfigError as exc:  # the data directory, its lock, the port, the store: before the banner
        _fail(str(exc), ctx, prefix="berth up")
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}", ctx, prefix="berth up")
    except ValueError as exc:  # a cluster file that does not hold together
        _fail(str(exc), ctx, prefix="berth up")


from berth.cli.down import down_command  # noqa: E402 - commands in modules of their own
from berth.cli.operator import controllers, gpu_reservation, operator, scheduler  # noqa: E402
from berth.cli.policy import policy  # noqa: E402
from berth.cli.serve_webhook import webhook, webhook_certificate  # noqa: E402
from berth.cli.rbac import rbac_command  # noqa: E402
from berth.cli.users import user_group  # noqa: E402
from berth.cli.submit import v1_commands  # noqa: E402 - also registers the CLI v2 submit with the nouns

cli.add_command(down_command)
cli.add_command(controllers)
cli.add_command(scheduler)
cli.add_command(operator)
cli.add_command(gpu_reservation)
cli.add_command(policy)
cli.add_command(webhook)
cli.add_command(webhook_certificate)
cli.add_command(user_group)
cli.add_command(rbac_command)
for _command in v1_commands():
    cli.add_command(_command)

# The everyday commands (v1 forms here; each module also registers its verbs for the CLI v2 nouns).
from berth.cli.describe import describe_command  # noqa: E402
from berth.cli.lifecycle import delete_command, resume_command, suspend_command  # noqa: E402
from berth.cli.listing import list_command  # noqa: E402
from berth.cli.logs import logs_command  # noqa: E402
from berth.cli.settings import completion_command, config_group, version_command  # noqa: E402
from berth.cli.top import top_command  # noqa: E402
from berth.cli.exec import attach_command, bash_command, exec_command  # noqa: E402
from berth.cli.portforward import port_forward_command  # noqa: E402

for _command in (list_command, describe_command, logs_command, delete_command, suspend_command, resume_command,
                 top_command, config_group, version_command, completion_command,
                 exec_command(), bash_command(), attach_command(), port_forward_command()):
    cli.add_command(_command)

# The verb modules register their noun factories on import (above); the noun groups come last.
from berth.cli.nouns import noun_groups  # noqa: E402

for _noun in noun_groups():
    cli.add_command(_noun)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="berth")
