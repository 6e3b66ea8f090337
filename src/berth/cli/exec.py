"""`berth exec`, `berth bash` and `berth attach`: into a running workload's pod, as `runai exec`, `runai bash`
and `runai attach` do, and the same verbs on the CLI v2 nouns (`berth workspace bash NAME`, `berth training
exec NAME -- ls`).

They speak to the Kubernetes API only: a WebSocket to the pod's `exec` or `attach` subresource, with the
channel protocol kubectl speaks (`berth.client.channels`; the local end is `berth.cli.terminal`). Which pod:
`--pod`, else the workload's first running pod (the master, launcher or chief of a distributed one), after
waiting up to `--pod-running-timeout` for one; which container: `--container`, else the pod's first.
The exit status of `berth exec` is the command's.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from berth.api.wellknown import ROLE_LABEL
from berth.cli import nouns, terminal
from berth.cli.context import cluster_options, fail, find_workload, run, target, workload_pods
from berth.client import channels

LEADER_ROLES = ("master", "launcher", "chief")
DEFAULT_WAIT = "1m"
POLL_S = 1.0


def parse_duration(text: str) -> float:
    """Seconds in a duration such as 30s, 2m, 1h, 1m30s (a bare number is seconds)."""
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s|ms)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise click.BadParameter(f'"{text}" is not a duration: use e.g. 30s, 2m, 1h', param_hint="--pod-running-timeout")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * scale[u] for n, u in parts)


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase") or "Pending"


def _leader_first(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(pod: dict[str, Any]) -> int:
        role = ((pod.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL, "")
        return 0 if role in LEADER_ROLES else 1

    return sorted(pods, key=rank)


@dataclass(frozen=True)
class Chosen:
    """The pod (and container) a command goes into."""

    namespace: str
    pod: str
    container: str


async def choose_pod(client: Any, namespace: str, workload: str, kind: str | None, pod: str | None,
                     container: str | None, wait_s: float) -> Chosen:
    """The running pod of `workload` to go into (see the module's docstring); a clear error when there is
    none after `wait_s` seconds."""
    found = await find_workload(client, namespace, workload, kind)
    name = found["metadata"]["name"]
    deadline = time.monotonic() + wait_s
    while True:
        pods = _leader_first(await workload_pods(client, namespace, name))
        if pod:
            named = [p for p in pods if p["metadata"]["name"] == pod]
            if not named:
                listed = ", ".join(p["metadata"]["name"] for p in pods) or "none yet"
                fail(f'workload {name} has no pod "{pod}" (--pod); its pods: {listed}')
            pods = named
        running = [p for p in pods if _phase(p) == "Running"]
        if running:
            chosen = running[0]
            break
        ended = [p for p in pods if _phase(p) in ("Succeeded", "Failed")]
        if (pods and len(ended) == len(pods)) or time.monotonic() >= deadline:
            states = ", ".join(f"{p['metadata']['name']} {_phase(p)}" for p in pods) or "no pods yet"
            hint = "it has ended" if pods and len(ended) == len(pods) else \
                f"waited {wait_s:g}s (--pod-running-timeout); see why with `berth describe workload {name}`"
            fail(f"workload {name} has no running pod ({states}): {hint}")
        await asyncio.sleep(POLL_S)
    containers = [c["name"] for c in (chosen.get("spec") or {}).get("containers") or []]
    if container and container not in containers:
        fail(f'pod {chosen["metadata"]["name"]} has no container "{container}" (--container); it has: '
             f"{', '.join(containers)}")
    return Chosen(namespace, chosen["metadata"]["name"], container or (containers[0] if containers else ""))


def _pod_path(chosen: Chosen, subresource: str) -> str:
    return f"/api/v1/namespaces/{chosen.namespace}/pods/{chosen.pod}/{subresource}"


async def stream_into(kubeconfig: str | None, project: str | None, workload: str, kind: str | None, *,
                      subresource: str, command: list[str], pod: str | None, container: str | None, stdin: bool,
                      tty: bool, wait_s: float) -> int:
    """Exec `command` in (or attach to) the workload's pod; the exit status to end with."""
    chosen_target = target(kubeconfig, project)
    namespace = chosen_target.namespace()
    async with chosen_target.client() as client:
        chosen = await choose_pod(client, namespace, workload, kind, pod, container, wait_s)
        params = [("container", chosen.container), ("stdout", "true")]
        params += [("stdin", "true")] if stdin else []
        params += [("tty", "true")] if tty else [("stderr", "true")]
        params += [("command", part) for part in command]
        conn = await client.connect_socket(_pod_path(chosen, subresource), params, list(channels.PROTOCOLS))
        try:
            if tty:
                with terminal.raw_terminal(sys.stdin.fileno()):
                    outcome = await terminal.session(conn, stdin=stdin, tty=True)
            else:
                outcome = await terminal.session(conn, stdin=stdin, tty=False)
        finally:
            await conn.close()
    if outcome.message and outcome.code and not outcome.message.startswith("command terminated"):
        click.secho(f"error: {outcome.message}", fg="red", err=True)
    return outcome.code


def pod_options(container: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """`--pod`, `--pod-running-timeout` (and `-c/--container`), with the cluster options."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        func = click.option("--pod-running-timeout", "wait", default=DEFAULT_WAIT, show_default=True,
                            metavar="DURATION", help="How long to wait for a running pod (30s, 2m, ...).")(func)
        if container:
            func = click.option("-c", "--container", default=None, help="The container (default: the pod's first).")(func)
        func = click.option("--pod", default=None, help="The workload's pod (default: its first running one).")(func)
        return cluster_options(func)

    return decorate


def examples(*lines: str) -> str:
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


def exec_command(kind: str | None = None, prefix: str = "berth") -> click.Command:
    @click.command("exec", epilog=examples(f"{prefix} exec my-job -- nvidia-smi",
                                            f"{prefix} exec my-job -it -- python",
                                            f"{prefix} exec my-job --pod my-job-0-1 -- ls /data"),
                   context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("workload")
    @click.argument("command", nargs=-1, required=True)
    @click.option("-i", "--stdin", is_flag=True, help="Send this terminal's input to the command.")
    @click.option("-t", "--tty", is_flag=True, help="Give the command a terminal (with -i).")
    @pod_options()
    def command(workload: str, command: tuple[str, ...], stdin: bool, tty: bool, pod: str | None,
                container: str | None, wait: str, kubeconfig: str | None, project: str | None) -> None:
        """Run COMMAND in a running pod of WORKLOAD; the exit status is the command's."""
        stdin, tty, warning = terminal.interactive(stdin, tty)
        if warning:
            click.secho(warning, fg="yellow", err=True)
        sys.exit(run(lambda: stream_into(kubeconfig, project, workload, kind, subresource="exec",
                                         command=list(command), pod=pod, container=container, stdin=stdin, tty=tty,
                                         wait_s=parse_duration(wait))))

    return command


#: `berth bash`: bash where the container has it, else sh (an image-less container has the machine's).
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null 2>&1; then exec bash; else exec sh; fi"]


def bash_command(kind: str | None = None, prefix: str = "berth") -> click.Command:
    @click.command("bash", epilog=examples(f"{prefix} bash my-workspace", f"{prefix} bash my-job --pod my-job-0-1"),
                   context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("workload")
    @pod_options()
    def command(workload: str, pod: str | None, container: str | None, wait: str, kubeconfig: str | None,
                project: str | None) -> None:
        """Open an interactive shell (bash, else sh) in a running pod of WORKLOAD."""
        stdin, tty, warning = terminal.interactive(True, True)
        if warning:
            click.secho(warning, fg="yellow", err=True)
        sys.exit(run(lambda: stream_into(kubeconfig, project, workload, kind, subresource="exec", command=SHELL,
                                         pod=pod, container=container, stdin=stdin, tty=tty,
                                         wait_s=parse_duration(wait))))

    return command


def attach_command(kind: str | None = None, prefix: str = "berth") -> click.Command:
    @click.command("attach", epilog=examples(f"{prefix} attach my-job"),
                   context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("workload")
    @click.option("-i", "--stdin", is_flag=True,
                  help="Send your input to the program (one submitted with --stdin; otherwise you are told it has "
                       "no stdin).")
    @click.option("-t", "--tty", is_flag=True,
                  help="With -i: be the program's terminal (one submitted with --tty).")
    @pod_options()
    def command(workload: str, stdin: bool, tty: bool, pod: str | None, container: str | None, wait: str,
                kubeconfig: str | None, project: str | None) -> None:
        """Follow the output of the main program of a running pod of WORKLOAD from now on, until it ends."""
        stdin, tty, warning = terminal.interactive(stdin, tty)
        if warning:
            click.secho(warning, fg="yellow", err=True)
        sys.exit(run(lambda: stream_into(kubeconfig, project, workload, kind, subresource="attach", command=[],
                                         pod=pod, container=container, stdin=stdin, tty=tty,
                                         wait_s=parse_duration(wait))))

    return command


def noun_prefix(noun: nouns.Noun) -> str:
    return f"berth {noun.name}"


nouns.verbs.append(lambda noun: exec_command(noun.kind, noun_prefix(noun)))
nouns.verbs.append(lambda noun: bash_command(noun.kind, noun_prefix(noun)))
nouns.verbs.append(lambda noun: attach_command(noun.kind, noun_prefix(noun)))
