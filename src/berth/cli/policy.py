"""`berth policy show KIND -p PROJECT`: the policy that applies to a project's workloads of one kind, and
where it comes from (the project's own, or the global one)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import yaml

from berth.api.projects import PROJECT_NAMESPACE_PREFIX, namespace_of_project
from berth.api.registry import POLICY_OF, lookup
from berth.policy.lookup import GLOBAL_NAMESPACE, describe, select


def _policy_kind(name: str) -> str:
    kind = lookup(name) or lookup(name + "workload")
    if kind is None:
        raise click.BadParameter(f'"{name}" is not a workload or policy kind (try training, interactive, '
                                 "distributed or inference)", param_hint="KIND")
    if kind.kind in POLICY_OF:
        return POLICY_OF[kind.kind]
    if kind.kind.endswith("Policy"):
        return kind.kind
    raise click.BadParameter(f"{kind.kind} has no policies", param_hint="KIND")


def _shown(value: Any) -> str:
    """A value as YAML writes it (true, not Python's True; a list as [a, b])."""
    if isinstance(value, bool) or value is None:
        return "true" if value is True else "false" if value is False else "null"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


def _rules(entry: dict[str, Any]) -> str:
    parts = [f"{k}: {_shown(v)}" for k, v in (entry.get("rules") or {}).items()]
    for member, rules in (entry.get("itemRules") or {}).items():
        parts.append(f"{member} " + ", ".join(f"{k} {_shown(v)}" for k, v in (rules or {}).items()))
    return "; ".join(parts) or "-"


def _default(entry: dict[str, Any]) -> str:
    if "items" in entry:
        labels = list((entry.get("items") or {}))
        return f"{len(labels)} item{'s' if len(labels) != 1 else ''}: " + ", ".join(labels) if labels else "-"
    if "value" in entry:
        return _shown(entry["value"])
    return "-"


def _rows(spec: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str]]:
    rows = []
    for name, entry in sorted(spec.items()):
        if not isinstance(entry, dict):
            continue
        if "rules" in entry or "value" in entry or "items" in entry or "itemRules" in entry:
            rows.append((prefix + name, _default(entry), _rules(entry)))
        else:
            rows += _rows(entry, f"{prefix}{name}.")
    return rows


@click.group()
def policy() -> None:
    """Workload policies: which one applies to a project, and what it sets."""


@policy.command()
@click.argument("kind")
@click.option("-p", "--project", required=True, help="The project (its namespace is runai-PROJECT).")
@click.option("-o", "--output", type=click.Choice(["table", "yaml"]), default="table", show_default=True)
@click.option("--kubeconfig", default=None, help="Kubeconfig (default: $KUBECONFIG or ~/.kube/config).")
def show(kind: str, project: str, output: str, kubeconfig: str | None) -> None:
    """Show the effective KIND policy of a project: training, interactive, distributed or inference.

    \b
    Examples:
      berth policy show training -p team-a
      berth policy show interactive -p team-a -o yaml
    """
    from berth.client import Client, ClientError

    policy_kind = _policy_kind(kind)
    namespace = project if project.startswith(PROJECT_NAMESPACE_PREFIX) else namespace_of_project(project)

    async def fetch() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with Client.from_kubeconfig(kubeconfig) as client:
            return list(await client.list(policy_kind, namespace)), list(await client.list(policy_kind, GLOBAL_NAMESPACE))

    try:
        own, global_ = asyncio.run(fetch())
    except ClientError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    chosen = select(own, global_)
    if chosen is None:
        click.echo(f"No {policy_kind} applies to project {project}: neither namespace {namespace} nor "
                   f"{GLOBAL_NAMESPACE} has one, so workloads are limited only by the project's quota.")
        return
    source = "the project's own policy" if chosen in own else "the global policy (the project has none of its own)"
    click.echo(f"{describe(chosen)}: {source}.")
    if chosen in own and global_:
        click.echo(f'The global {policy_kind} "{global_[0]["metadata"]["name"]}" does not apply to this project.')
    if output == "yaml":
        click.echo(yaml.safe_dump(chosen.get("spec") or {}, sort_keys=False), nl=False)
        return
    rows = _rows(chosen.get("spec") or {})
    if not rows:
        click.echo("The policy sets no fields.")
        return
    width = [max(len(r[i]) for r in rows + [("FIELD", "DEFAULT", "RULES")]) for i in range(3)]
    click.echo(f"{'FIELD':<{width[0]}}  {'DEFAULT':<{width[1]}}  RULES")
    for field, default, rules in rows:
        click.echo(f"{field:<{width[0]}}  {default:<{width[1]}}  {rules}")
