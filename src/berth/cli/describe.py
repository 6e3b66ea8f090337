"""`berth describe workload NAME` (also `berth describe NAME`, CLI v1's `runai describe job`) and
`berth <noun> describe NAME` (CLI v2).

The layout of `runai describe job`: a key/value block, then `Pods:` and `Events:`; between them, for a
workload that waits, `Waiting:` with the scheduler's reason in its own words (the workload's status
message while it is Pending, and each unplaced pod's PodScheduled condition), which is the first thing a
user of a pending workload wants to read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from berth.cli import output, selection, suggest, view
from berth.cli.context import cluster_options, run, target, workload_pods
from berth.cli.nouns import Noun, verbs

Obj = dict[str, Any]

V1_HELP = """Show a workload: its status, GPUs, pods, events, and why it waits.

NAME is a workload of any kind in the project; `berth describe workload NAME` (or `job NAME`, as
`runai describe job`) is the same.

\b
Examples:
  berth describe train-1
  berth describe workload train-1 -p team-a
  berth describe train-1 -o yaml
  berth describe train-1 --event-limit 5    # the 5 newest events
"""


async def gather(client: Any, namespace: str, name: str, noun: Noun | None) -> tuple[Obj, list[Obj], list[Obj]]:
    """The workload, its pods, and the events about it, its pods and its PodGroup (oldest first)."""
    workload = await selection.resolve(client, namespace, name, noun)
    pods, groups, events = await asyncio.gather(workload_pods(client, namespace, name),
                                                client.list("PodGroup", namespace), client.list("Event", namespace))
    uid = workload["metadata"].get("uid")
    about = {uid, *(p["metadata"].get("uid") for p in pods)}
    about |= {g["metadata"].get("uid") for g in groups
              if any(ref.get("uid") == uid for ref in g["metadata"].get("ownerReferences") or [])}
    mine = [e for e in events if (e.get("involvedObject") or {}).get("uid") in about]
    return workload, pods, view.sorted_events(mine)


def show(kubeconfig: str | None, project: str | None, name: str, out: str | None, noun: Noun | None, *,
         pod_limit: int = -1, event_limit: int = -1) -> None:
    chosen = target(kubeconfig, project)
    namespace = chosen.namespace()

    async def work() -> tuple[Obj, list[Obj], list[Obj]]:
        async with chosen.client() as client:
            return await gather(client, namespace, name, noun)

    workload, pods, events = run(work)
    if out in ("json", "yaml"):
        output.dump(workload, out)
        return
    output.fields(view.fields(workload))
    message = view.status_of(workload).get("message")
    reasons = view.waiting_reasons(workload, pods)
    if reasons:
        output.section("Waiting")
        for reason in reasons:
            click.echo(f"  {reason}")
    elif message:
        output.section("Message")
        click.echo(f"  {message}")
    output.section("Pods")
    shown_pods = pods if pod_limit < 0 else pods[:pod_limit]
    if shown_pods:
        output.table(("POD", "STATUS", "TYPE", "AGE", "NODE"), [view.pod_row(workload, p) for p in shown_pods])
    elif not pods:
        click.echo("  none yet")
    if len(shown_pods) < len(pods):
        click.echo(f"  ... and {len(pods) - len(shown_pods)} more (--pod-limit -1 shows all)")
    output.section("Events")
    shown_events = events if event_limit < 0 else events[len(events) - event_limit:] if event_limit else []
    if len(shown_events) < len(events):
        click.echo(f"  {len(events) - len(shown_events)} older not shown (--event-limit -1 shows all)")
    if shown_events:
        output.table(("SOURCE", "TYPE", "AGE", "MESSAGE"), [view.event_row(e) for e in shown_events])
    elif not events:
        click.echo("  none")


def _options(func: Any) -> Any:
    """-o, and Run:ai CLI v2's limits on the pods and events shown (oldest pods, newest events first kept)."""
    func = click.option("--event-limit", default=50, type=click.IntRange(-1), show_default=True,
                        help="Show at most this many events, the newest (-1: all).")(func)
    func = click.option("--pod-limit", default=10, type=click.IntRange(-1), show_default=True,
                        help="Show at most this many pods (-1: all).")(func)
    return click.option("-o", "--output", type=click.Choice(("json", "yaml")), default=None,
                        help="Print the workload object as JSON or YAML instead.")(func)


@click.command(name="describe", help=V1_HELP, cls=suggest.Command)
@click.argument("what", metavar="[workload|job] NAME", nargs=-1, required=True,
                shell_complete=selection.complete_names(None))
@_options
@cluster_options
def describe_command(what: tuple[str, ...], output: str | None, pod_limit: int, event_limit: int,
                     kubeconfig: str | None, project: str | None) -> None:
    words = list(what)
    if len(words) == 2 and words[0].lower() in ("workload", "workloads", "job", "jobs"):
        words = words[1:]
    if len(words) != 1:
        raise click.UsageError("give one workload: `berth describe NAME` or `berth describe workload NAME`")
    show(kubeconfig, project, words[0], output, None, pod_limit=pod_limit, event_limit=event_limit)


def noun_describe(noun: Noun) -> click.Command:
    prefix = selection.prog(noun)
    help_text = f"""Show a {selection.label(noun)} workload: status, GPUs, pods, events, and why it waits.

\b
Examples:
  {prefix} describe NAME
  {prefix} describe NAME -p team-a -o yaml
  {prefix} describe NAME --event-limit 5 --pod-limit -1
"""

    @click.command(name="describe", help=help_text, cls=suggest.Command)
    @selection.name_argument(noun)
    @_options
    @cluster_options
    def command(name: str, output: str | None, pod_limit: int, event_limit: int, kubeconfig: str | None,
                project: str | None) -> None:
        show(kubeconfig, project, name, output, noun, pod_limit=pod_limit, event_limit=event_limit)

    return command


verbs.append(noun_describe)
