"""`berth delete NAME...`, `berth suspend NAME`, `berth resume NAME` (CLI v1) and the same verbs under each
noun (CLI v2).

Suspend and resume set the workload's `spec.active` ({value: false} / {value: true}), which the workload
controller honours: a suspended workload's pods are removed and its PodGroup released (phase Stopped), and
resuming it makes them again (docs/controllers.md). Inference workloads have no `active`: they scale, and
stop by being deleted. Deleting removes the workload; its pods, PodGroup and Services go with it (garbage
collection by owner).
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from berth.cli import selection, suggest, view
from berth.cli.context import cluster_options, fail, run, target
from berth.cli.nouns import Noun, verbs

Obj = dict[str, Any]
SUSPENDABLE = ("TrainingWorkload", "InteractiveWorkload", "DistributedWorkload")
JOB_WORDS = ("job", "jobs", "workload", "workloads")


def _names(words: tuple[str, ...]) -> list[str]:
    """NAME..., allowing `runai delete job NAME`'s leading word."""
    names = list(words)
    if len(names) > 1 and names[0].lower() in JOB_WORDS:
        names = names[1:]
    return list(dict.fromkeys(names))


def delete(kubeconfig: str | None, project: str | None, words: tuple[str, ...], everything: bool,
           noun: Noun | None) -> None:
    chosen = target(kubeconfig, project)
    namespace = chosen.namespace()
    names = _names(words)
    if everything and names:
        raise click.UsageError("give NAMEs or --all, not both")
    if not everything and not names:
        raise click.UsageError("give the NAME of a workload to delete (or --all for every one in the project)")

    async def work() -> list[Obj]:
        async with chosen.client() as client:
            if everything:
                doomed = await selection.workloads(client, namespace, noun)
            else:
                doomed = []
                for name in names:  # every name first: one that is not there deletes nothing
                    try:
                        doomed.append(await selection.resolve(client, namespace, name, noun))
                    except SystemExit:
                        if len(names) > 1:
                            click.echo("Nothing was deleted.", err=True)
                        raise
            await asyncio.gather(*(client.delete(w["kind"], w["metadata"]["name"], namespace) for w in doomed))
            return doomed

    deleted = run(work)
    if not deleted:
        click.echo(f"No {selection.label(noun)}s to delete in project {chosen.project}.")
    for workload in deleted:
        click.echo(f'deleted {workload["kind"]} "{workload["metadata"]["name"]}" in project {chosen.project}')


def set_active(kubeconfig: str | None, project: str | None, name: str, active: bool, noun: Noun | None) -> None:
    chosen = target(kubeconfig, project)
    namespace = chosen.namespace()

    async def work() -> tuple[Obj, bool]:
        async with chosen.client() as client:
            workload = await selection.resolve(client, namespace, name, noun)
            if workload["kind"] not in SUSPENDABLE:
                fail(f'{workload["kind"]} "{name}" cannot be suspended or resumed (it has no spec.active); an '
                     f"inference workload scales with its load: delete it to stop it")
            was = view.value(view.spec_of(workload), "active", True) is not False
            if was != active:
                await client.patch(workload["kind"], name, {"spec": {"active": {"value": active}}}, namespace)
            return workload, was

    workload, was = run(work)
    kind = workload["kind"]
    if active:
        click.echo(f'{kind} "{name}" was not suspended' if was else
                   f'resumed {kind} "{name}": its pods are made again and wait for the scheduler')
    else:
        click.echo(f'{kind} "{name}" is already suspended' if not was else
                   f'suspended {kind} "{name}": its pods are removed and its GPUs freed; `berth resume {name}` '
                   f"starts it again")


def make_delete(noun: Noun | None) -> click.Command:
    prefix = selection.prog(noun)
    what = "workloads" if noun is None else f"{selection.label(noun)} workloads"
    help_text = f"""Delete {what} by name, or every one in the project with --all.

Their pods stop and their GPUs are freed.

\b
Examples:
  {prefix} delete NAME
  {prefix} delete NAME OTHER -p team-a
  {prefix} delete --all
"""

    @click.command(name="delete", help=help_text, cls=suggest.Command)
    @selection.name_argument(noun, nargs=-1, required=False)
    @click.option("--all", "everything", is_flag=True, help="Every one in the project.")
    @cluster_options
    def command(names: tuple[str, ...], everything: bool, kubeconfig: str | None, project: str | None) -> None:
        delete(kubeconfig, project, names, everything, noun)

    return command


def _make_active(verb: str, active: bool) -> Any:
    def factory(noun: Noun | None) -> click.Command | None:
        if noun is not None and noun.kind not in SUSPENDABLE:
            return None
        prefix = selection.prog(noun)
        what = "Suspend a workload: its pods are removed and its GPUs freed, its definition kept (phase Stopped)." \
            if not active else "Resume a suspended workload: its pods are made again and scheduled."
        help_text = f"""{what}

\b
Examples:
  {prefix} {verb} NAME
  {prefix} {verb} NAME -p team-a
"""

        @click.command(name=verb, help=help_text, cls=suggest.Command)
        @selection.name_argument(noun)
        @cluster_options
        def command(name: str, kubeconfig: str | None, project: str | None) -> None:
            set_active(kubeconfig, project, name, active, noun)

        return command

    return factory


make_suspend = _make_active("suspend", False)
make_resume = _make_active("resume", True)
delete_command = make_delete(None)
suspend_command = make_suspend(None)
resume_command = make_resume(None)
verbs.extend((make_delete, make_suspend, make_resume))
