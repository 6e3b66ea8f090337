"""Which workloads an everyday command works on: all four kinds for the CLI v1 forms (`berth list`,
`berth describe NAME`), the noun's kind (and framework) for the CLI v2 forms (`berth pytorch list`), and the
NAME argument that completes workload names in the shell.

`berth training ...` covers every training, standard and distributed (Berth's choice: Run:ai's reference
is silent on whether `runai training list` shows distributed ones, and a user looking for "my trainings"
means both); `berth training standard ...` only TrainingWorkloads, `berth pytorch ...` only PyTorch ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import click

from berth.cli.context import WORKLOAD_KINDS, fail, find_workload, target
from berth.cli.nouns import Noun
from berth.cli.view import framework

Obj = dict[str, Any]


def kinds_of(noun: Noun | None) -> tuple[str, ...]:
    if noun is None:
        return WORKLOAD_KINDS
    if noun.name == "training":
        return ("TrainingWorkload", "DistributedWorkload")
    return (noun.kind,)


def matches(noun: Noun | None, workload: Obj) -> bool:
    """Whether the workload is one the noun stands for (its kind, and its framework for a distributed noun)."""
    if workload.get("kind") not in kinds_of(noun):
        return False
    if noun is None or noun.framework is None:
        return True
    return framework(workload).lower() == noun.framework.lower()


def label(noun: Noun | None) -> str:
    """What the noun's workloads are called in messages: "workload", "training", "pytorch training", ..."""
    if noun is None:
        return "workload"
    if noun.framework:
        return f"{noun.name} training"
    return noun.name


def prog(noun: Noun | None) -> str:
    """The command prefix for examples: `berth` or `berth pytorch`."""
    return "berth" if noun is None else f"berth {noun.name}"


async def workloads(client: Any, namespace: str | None, noun: Noun | None) -> list[Obj]:
    """The noun's workloads in the namespace (None: every namespace), by project then name."""
    kinds = kinds_of(noun)
    lists = await asyncio.gather(*(client.list(kind, namespace) for kind in kinds))
    found = [w for listed in lists for w in listed if matches(noun, w)]
    return sorted(found, key=lambda w: (w["metadata"].get("namespace", ""), w["metadata"]["name"]))


async def resolve(client: Any, namespace: str, name: str, noun: Noun | None) -> Obj:
    """Workload NAME of the noun's kinds; a clear error naming what exists when there is none."""
    kinds = kinds_of(noun)
    workload = await find_workload(client, namespace, name, kinds[0] if len(kinds) == 1 else None,
                                   among=kinds)
    if not matches(noun, workload):
        found = framework(workload)
        fail(f'"{name}" is a {found} training, not {noun.framework if noun else "one of these"}; use `berth {found.lower()} ...` or '
             f"`berth describe {name}`")
    return workload


def complete_names(noun: Noun | None) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    """Workload names for the shell: asked of the cluster with a short timeout, nothing on any failure (a
    completion never prints an error)."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        try:
            chosen = target(ctx.params.get("kubeconfig"), ctx.params.get("project"))
            if chosen.project is None:
                return []

            async def names() -> list[str]:
                async with chosen.client(timeout=3) as client:
                    return [w["metadata"]["name"] for w in await workloads(client, chosen.namespace(), noun)]

            return [n for n in asyncio.run(names()) if n.startswith(incomplete)]
        except BaseException:  # noqa: BLE001 - a completion must never fail loudly
            return []

    return complete


def name_argument(noun: Noun | None, *, nargs: int = 1, required: bool = True) -> Callable[..., Any]:
    return click.argument("names" if nargs != 1 else "name", nargs=nargs, required=required, metavar="NAME",
                          shell_complete=complete_names(noun))


