"""The submit commands of both of Run:ai's CLI generations, generated from one mapping
(`berth.cli.submit_flags`):

- CLI v1: `berth submit [NAME] [flags] [-- COMMAND ARGS...]` (a training workload, interactive with
  `--interactive`), `berth submit-dist {pytorch,tf,mpi,xgboost}`, `berth submit-inference`;
- CLI v2: `submit` under every noun of `berth.cli.nouns` (`berth training submit`, `berth workspace submit`,
  `berth pytorch submit`, ...), registered through `nouns.verbs`.

Each command builds the object, then either prints it as the API server would store it (`--dry-run`: a
server-side dry run, so the policy's defaults and rules apply through the same admission code as a real
submit) or creates it and says how to follow it (`--wait`: a live view until it runs or ends,
`berth.cli.submit_watch`). The words after `--` are the arguments, or the command with `--command`;
they are split from the rest before click parses, so `berth submit -i ubuntu -- sleep 1` does not take
`sleep` for the NAME.
"""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
import yaml

from berth.cli import context, nouns
from berth.cli.submit_flags import (
    FlagUsageError,
    Generation,
    Request,
    build,
    flags_for,
    help_text,
)

_TRAILING = "berth.submit.trailing"

#: Metadata the API server sets: left out of what `--dry-run` prints, as `kubectl create --dry-run=server`
#: users compare it with what `kubectl get` shows.
SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")


class SubmitCommand(click.Command):
    """A command whose words after `--` are the workload's command line, whatever came before them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_TRAILING] = tuple(args[cut + 1:])
            args = args[:cut]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [*super().collect_usage_pieces(ctx), "[-- COMMAND [ARGS]...]"]


def _options(generation: Generation, kinds: tuple[str, ...], framework: str | None) -> list[click.Option]:
    options = []
    for flag in flags_for(generation, kinds, framework):
        names = [*flag.names(generation), flag.key]
        if flag.parse is None:
            options.append(click.Option(names, is_flag=True, default=None, help=help_text(flag, kinds)))
        else:
            options.append(click.Option(names, multiple=flag.multiple, metavar=flag.metavar or "TEXT",
                                        help=help_text(flag, kinds)))
    return options


def _common(generation: Generation, interactive_switch: bool) -> list[click.Parameter]:
    params: list[click.Parameter] = [
        click.Argument(["name_argument"], required=False, metavar="[NAME]"),
        click.Option(["--name", "name_option"], metavar="NAME",
                     help="The workload's name (or give it as the first argument); without one, a name prefix "
                          "names it (--job-name-prefix in CLI v1, --name-prefix in v2), else job: job-1, job-2, ..."),
    ]
    if interactive_switch:
        params.append(click.Option(["--interactive"], is_flag=True, help="An interactive workload "
                                   "(InteractiveWorkload) instead of a training; --jupyter implies it."))
    command_names = ["--command"] if generation == "v1" else ["-c", "--command"]
    params += [
        click.Option([*command_names, "as_command"], is_flag=True,
                     help="The words after `--` are the command, replacing the image's entrypoint (without it "
                          "they are the arguments of the entrypoint)."),
        click.Option(["--dry-run"], is_flag=True,
                     help="Print the workload as it would be stored, after the policy's defaults and rules "
                          "(a server-side dry run), and submit nothing."),
        click.Option(["--wait"], is_flag=True,
                     help="Show the workload's phase and pods live until it runs or ends; exit 1 if it fails."),
        click.Option(["--wait-timeout"], type=click.FloatRange(min=0), default=600, show_default=True,
                     metavar="SECONDS", help="How long --wait waits."),
    ]
    return params


def make_command(name: str, generation: Generation, kinds: tuple[str, ...], framework: str | None,
                 summary: str, examples: str) -> click.Command:
    """A submit command for `kinds` (the first is the default; v1 `submit` switches with --interactive)."""
    params = [*_common(generation, len(kinds) > 1), *_options(generation, kinds, framework)]

    def callback(kubeconfig: str | None, project: str | None, name_argument: str | None, name_option: str | None,
                 as_command: bool, dry_run: bool, wait: bool, wait_timeout: float, interactive: bool = False,
                 **given: Any) -> None:
        ctx = click.get_current_context()
        if name_argument and name_option and name_argument != name_option:
            raise click.UsageError(f'two names: "{name_argument}" and --name "{name_option}"; give one')
        # Run:ai's --jupyter is a notebook: an interactive workload even without --interactive
        kind = "InteractiveWorkload" if interactive or given.get("jupyter") else kinds[0]
        where = context.target(kubeconfig, project)
        request = Request(generation, kind, where.namespace(), name_argument or name_option, framework, given,
                          ctx.meta.get(_TRAILING, ()), as_command, _username())
        try:
            obj, warnings = build(request)
        except FlagUsageError as exc:
            raise click.BadParameter(exc.message, param_hint=f"'{exc.flag}'") from None
        for warning in warnings:
            click.secho(f"warning: {warning}", fg="yellow", err=True)
        submit(where, obj, generation, dry_run=dry_run, wait=wait, timeout=wait_timeout)

    return SubmitCommand(name, callback=callback, params=[*_cluster_params(), *params],
                         help=f"{summary}\n\n{examples}", short_help=summary,
                         context_settings={"max_content_width": 120})


def _cluster_params() -> list[click.Parameter]:
    """`--kubeconfig` and `-p/--project` as `context.cluster_options` declares them."""
    holder = context.cluster_options(lambda **_: None)
    return list(reversed(holder.__click_params__))  # type: ignore[attr-defined]


def _username() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def submit(where: context.Target, obj: dict[str, Any], generation: Generation, *, dry_run: bool, wait: bool,
           timeout: float) -> None:
    """Create the workload (or dry-run it) and tell the user what happened."""

    async def work() -> dict[str, Any]:
        async with where.client() as client:
            created = await create(client, obj, dry_run)
            if dry_run or not wait:
                return created
            from berth.cli.submit_watch import follow

            return await follow(client, created, timeout)

    result = context.run(work)
    if dry_run:
        click.echo(dump(result), nl=False)
        return
    if wait:
        phase = (result.get("status") or {}).get("phase")
        if phase in ("Failed", "TimedOut"):
            sys.exit(1)
        return
    _follow_hint(result, generation)


async def create(client: Any, obj: dict[str, Any], dry_run: bool) -> dict[str, Any]:
    """Create (or dry-run) the workload; one named only by a prefix takes the next free name, and the one
    after it when another submit took that name in the meantime."""
    from berth.client import AlreadyExists

    if obj["metadata"].get("name"):
        return dict(await client.create(obj, dry_run=dry_run))
    attempts = 0
    while True:
        obj["metadata"]["name"] = await next_name(client, obj)
        try:
            return dict(await client.create(obj, dry_run=dry_run))
        except AlreadyExists:
            attempts += 1
            if attempts == 5:
                raise


async def next_name(client: Any, obj: dict[str, Any]) -> str:
    """The name admission will give a workload of `namePrefix` (`<prefix>-<n>`, the smallest n no workload of
    its kind is named), used for metadata.name too, so that the object and the job share one name."""
    prefix = obj["spec"]["namePrefix"]["value"]
    taken = set()
    for other in await client.list(obj["kind"], obj["metadata"]["namespace"]):
        taken.add(other["metadata"]["name"])
        taken.add(((other.get("spec") or {}).get("name") or {}).get("value"))
    number = 1
    while f"{prefix}-{number}" in taken:
        number += 1
    return f"{prefix}-{number}"


class _KubectlDumper(yaml.SafeDumper):
    """YAML as kubectl writes it: keys sorted, a string that must be quoted in double quotes ("1")."""

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        value = self.event.value if isinstance(self.event, yaml.ScalarEvent) else ""
        if style == "'" and "'" not in value and "\n" not in value and value.isprintable():
            return '"'
        return style


def dump(obj: dict[str, Any]) -> str:
    """The object as `--dry-run` prints it: without what the server sets on a real write."""
    shown = dict(obj)
    shown["metadata"] = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_SET}
    shown.pop("status", None)
    return yaml.dump(shown, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


_NOUN = {"InteractiveWorkload": "workspace", "TrainingWorkload": "training", "DistributedWorkload": "training",
         "InferenceWorkload": "inference"}


def _follow_hint(obj: dict[str, Any], generation: Generation) -> None:
    meta = obj["metadata"]
    name, project = meta["name"], meta["namespace"].removeprefix("runai-")
    job = ((obj.get("spec") or {}).get("name") or {}).get("value") or name
    shown = name if job == name else f"{name} (job name {job})"
    click.echo(f'{obj["kind"]} "{shown}" submitted to project {project}.')
    if generation == "v1":
        click.echo(f"Follow it:  berth describe workload {name} -p {project}\n"
                   f"            berth logs {name} -p {project} -f")
    else:
        noun = _NOUN[obj["kind"]]
        click.echo(f"Follow it:  berth {noun} describe {name} -p {project}\n"
                   f"            berth {noun} logs {name} -p {project} -f")


# ---------------------------------------------------------------------------------------------------------
# The commands
# ---------------------------------------------------------------------------------------------------------

_V1_EXAMPLES = """\b
Examples:
  berth submit train-1 -i python:3.11 -g 1 -- python train.py --epochs 3
  berth submit build -i ubuntu --interactive -g 0.5 --command -- sleep infinity
  berth submit -i ubuntu --job-name-prefix sweep --completions 4 --parallelism 2 -- ./run.sh
  berth submit train-2 -i pytorch -g 2 -e WANDB_KEY=SECRET:wandb,key --existing-pvc claimname=data,path=/data
  berth submit train-3 -i ubuntu --dry-run        # print it after the project's policy, submit nothing"""

_V1_DIST_EXAMPLES = """\b
Examples:
  berth submit-dist {fw} dist-1 -i nvcr.io/nvidia/pytorch:24.01-py3 --workers 3 -g 1 -- torchrun train.py
  berth submit-dist {fw} dist-2 -i image --workers 2 --clean-pod-policy All --wait"""

_V1_INFERENCE_EXAMPLES = """\b
Examples:
  berth submit-inference serve-1 -i vllm/vllm-openai -g 1 --serving-port 8000
  berth submit-inference serve-2 -i triton -g 0.5 --serving-port 8000 --min-replicas 0 --max-replicas 4 \\
      --metric concurrency --metric-threshold 10"""


def _v2_examples(path: str, noun: nouns.Noun) -> str:
    lines = ["\b", "Examples:", f"  berth {path} submit job-1 -i python:3.11 -g 1 -- python train.py",
             f"  berth {path} submit job-2 -i ubuntu --gpu-portion-request 0.5 --command -- sleep infinity"]
    if noun.kind == "DistributedWorkload":
        lines.append(f"  berth {path} submit dist-1 -i image --workers 3 -g 1 --master-gpu-devices-request 0")
    if noun.kind == "InferenceWorkload":
        lines = lines[:2] + [f"  berth {path} submit serve-1 -i vllm/vllm-openai -g 1 --serving-port 8000 "
                             "--min-replicas 0 --max-replicas 2 --metric concurrency --metric-threshold 10"]
    lines.append(f"  berth {path} submit job-3 -i ubuntu --dry-run       # as the policy makes it; nothing submitted")
    return "\n".join(lines)


def v1_commands() -> list[click.Command]:
    """`submit`, `submit-dist` (a group of the four frameworks) and `submit-inference`."""
    submit_command = make_command(
        "submit", "v1", ("TrainingWorkload", "InteractiveWorkload"), None,
        "Submit a training workload (interactive with --interactive), as `runai submit` does.", _V1_EXAMPLES)
    dist = click.Group("submit-dist", help="Submit a distributed workload, as `runai submit-dist` does.")
    for noun in nouns.FRAMEWORKS:
        dist.add_command(make_command(
            noun.name, "v1", ("DistributedWorkload",), noun.framework,
            f"Submit a distributed {noun.framework} workload, as `runai submit-dist {noun.name}` does.",
            _V1_DIST_EXAMPLES.format(fw=noun.name)))
    inference = make_command("submit-inference", "v1", ("InferenceWorkload",), None,
                             "Submit an inference workload.", _V1_INFERENCE_EXAMPLES)
    return [submit_command, dist, inference]


def v2_submit(noun: nouns.Noun) -> click.Command:
    """`berth <noun> submit`: the CLI v2 submit of one noun."""
    # the full noun path in examples (`training pytorch submit`), as Run:ai's pages of the aliases show it too
    path = f"training {noun.name}" if noun.name == "standard" or noun.framework else noun.name
    what = {"InteractiveWorkload": "a workspace (an interactive workload)",
            "TrainingWorkload": "a standard training workload",
            "InferenceWorkload": "an inference workload"}.get(noun.kind, f"a distributed {noun.framework} training")
    return make_command("submit", "v2", (noun.kind,), noun.framework,
                        f"Submit {what}, as `runai {path} submit` does.", _v2_examples(path, noun))


nouns.verbs.append(v2_submit)
