"""`berth logs NAME` (CLI v1) and `berth <noun> logs NAME` (CLI v2): a workload's output through the pods/log
API, with kubectl's options.

Which pod: `--pod`, else a distributed workload's master (chief, launcher), else the newest pod (a training's
latest attempt). A workload whose pod has not started has no log yet: without -f that is said plainly, with
the scheduler's reason when it waits to be placed (exit status 1, as kubectl's for a container that has not
started); with -f the command waits for it to start, then follows.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from dataclasses import dataclass
from typing import Any

import click

from berth.api.wellknown import ROLE_LABEL
from berth.cli import selection, suggest, view
from berth.cli.context import cluster_options, fail, run, target, workload_pods
from berth.cli.nouns import Noun, verbs

Obj = dict[str, Any]
START_POLL_S = 1.0
_DURATION = re.compile(r"(\d+)(h|m|s)")


def parse_duration(text: str | None, flag: str = "--since") -> int | None:
    """Seconds in a duration like 30s, 5m, 2h or 1h30m (a bare number is seconds); `flag` names it in errors."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        seconds = int(text)
    else:
        parts = _DURATION.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise click.BadParameter(f'"{text}" is not a duration; write it like 30s, 5m, 2h or 1h30m',
                                     param_hint=flag)
        seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    if seconds <= 0:
        raise click.BadParameter("must be more than 0s", param_hint=flag)
    return seconds


@dataclass(frozen=True)
class LogRequest:
    """What `berth logs` was asked for, beside the workload: kubectl's log options and how long to wait."""

    follow: bool = False
    pod: str | None = None
    container: str | None = None
    since: str | None = None
    since_time: str | None = None
    tail: int = -1
    timestamps: bool = False
    previous: bool = False
    limit_bytes: int | None = None
    wait_timeout: str | None = None

    def query(self) -> dict[str, Any]:
        """The `Client.logs` keywords."""
        if self.since and self.since_time:
            raise click.UsageError("give --since or --since-time, not both")
        return {"container": self.container, "follow": self.follow, "since_seconds": parse_duration(self.since),
                "since_time": self.since_time, "tail_lines": self.tail if self.tail >= 0 else None,
                "timestamps": self.timestamps, "previous": self.previous, "limit_bytes": self.limit_bytes}


def _started(pod: Obj) -> bool:
    """Whether the pod has a log to read: a container that runs or has run."""
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        state, last = container.get("state") or {}, container.get("lastState") or {}
        if state.get("running") or state.get("terminated") or last.get("terminated"):
            return True
    return False


def _pick(workload: Obj, pods: list[Obj], asked: str | None) -> Obj | None:
    if asked:
        found = next((p for p in pods if p["metadata"]["name"] == asked), None)
        if found is None:
            names = ", ".join(p["metadata"]["name"] for p in pods) or "none yet"
            fail(f'--pod: workload "{workload["metadata"]["name"]}" has no pod "{asked}"; its pods: {names}')
        return found
    return view.lead_pod(pods)


def _earlier_attempt(pods: list[Obj], newest: Obj | None) -> Obj | None:
    """The newest pod of the same role that has run, when `newest` (the default pod) has not started: a
    training retried after a failure, whose next attempt waits out its back-off, still shows why it failed."""
    if newest is None:
        return None
    role = ((newest["metadata"].get("labels") or {}).get(ROLE_LABEL))
    ran = [p for p in pods if _started(p) and (p["metadata"].get("labels") or {}).get(ROLE_LABEL) == role]
    return ran[-1] if ran else None


def _not_started(workload: Obj, pods: list[Obj], pod: Obj | None) -> str:
    name = workload["metadata"]["name"]
    lines = [f'workload "{name}" has not started yet (phase {view.phase(workload)}): no logs to show']
    reasons = view.waiting_reasons(workload, pods if pod is None else [pod])
    if reasons:
        lines += [f"it waits: {reason}" for reason in reasons]
    elif pod is not None:
        lines.append(f"pod {pod['metadata']['name']}: {view.pod_status(pod)}")
    lines.append(f"follow it with `berth logs {name} -f` (waits for it to start), or see `berth describe {name}`")
    return "\n".join(lines)


def show(kubeconfig: str | None, project: str | None, name: str, noun: Noun | None, asked: LogRequest) -> None:
    chosen = target(kubeconfig, project)
    namespace = chosen.namespace()
    query = asked.query()
    wait = parse_duration(asked.wait_timeout, "--wait-timeout")
    waits = asked.follow or wait is not None

    async def work() -> None:
        async with chosen.client() as client:
            told, deadline = False, None if wait is None else time.monotonic() + wait
            while True:
                workload = await selection.resolve(client, namespace, name, noun)
                pods = await workload_pods(client, namespace, name)
                pod = _pick(workload, pods, asked.pod)
                if pod is not None and (_started(pod) or asked.previous):
                    break
                earlier = None if waits or asked.pod else _earlier_attempt(pods, pod)
                if earlier is not None and pod is not None:
                    click.echo(f"{pod['metadata']['name']} has not started ({view.pod_status(pod)}); the log of "
                               f"{earlier['metadata']['name']}, the attempt before it:", err=True)
                    pod = earlier
                    break
                if not waits or (deadline is not None and time.monotonic() >= deadline):
                    fail(_not_started(workload, pods, pod) if not waits else
                         f"{_not_started(workload, pods, pod).splitlines()[0]} after waiting {asked.wait_timeout} "
                         f"(--wait-timeout)")
                if not told:
                    click.echo(f'waiting for workload "{name}" to start (phase {view.phase(workload)}) ...',
                               err=True)
                    told = True
                await asyncio.sleep(START_POLL_S)
            out = sys.stdout.buffer
            async for chunk in client.logs(namespace, pod["metadata"]["name"], **query):
                out.write(chunk)
                out.flush()

    run(work)


def _options(func: Any) -> Any:
    for option in reversed((
        click.option("-f", "--follow", is_flag=True, help="Keep printing what is written (waits for a pending "
                                                           "workload to start)."),
        click.option("--pod", "pod_name", default=None, metavar="POD", help="This pod of the workload (default: "
                                                                           "the master, else the newest)."),
        click.option("-c", "--container", default=None, metavar="NAME", help="This container of the pod."),
        click.option("--since", default=None, metavar="DURATION", help="Only what was written in the last "
                                                                       "DURATION (30s, 5m, 2h)."),
        click.option("--since-time", default=None, metavar="TIME", help="Only what was written after TIME "
                                                                        "(RFC 3339, 2026-05-30T10:00:00Z)."),
        click.option("-t", "--tail", default=-1, type=int, show_default=True, help="Only the last N lines (-1: all)."),
        click.option("--timestamps", is_flag=True, help="Prefix each line with its time (RFC 3339)."),
        click.option("--previous", is_flag=True, help="The log of the container's previous run."),
        click.option("--limit-bytes", type=click.IntRange(1), default=None, help="At most this many bytes."),
        click.option("--wait-timeout", default=None, metavar="DURATION", help="Wait at most DURATION for the "
                                                                              "workload to start (-f alone "
                                                                              "waits as long as it takes)."),
    )):
        func = option(func)
    return cluster_options(func)


def _help(noun: Noun | None) -> str:
    prefix = selection.prog(noun)
    what = "a workload" if noun is None else f"a {selection.label(noun)} workload"
    return f"""Print the logs of {what} (its master pod, or its newest pod).

\b
Examples:
  {prefix} logs NAME
  {prefix} logs NAME -f              # follow (waits for it to start)
  {prefix} logs NAME --tail 20 --timestamps
  {prefix} logs NAME --since 5m
  {prefix} logs NAME --wait-timeout 2m    # wait for it to start, then print
  {prefix} logs NAME --pod NAME-worker-0
"""


def make_logs(noun: Noun | None) -> click.Command:
    @click.command(name="logs", help=_help(noun), cls=suggest.Command)
    @selection.name_argument(noun)
    @_options
    def command(name: str, kubeconfig: str | None, project: str | None, pod_name: str | None,
                **options: Any) -> None:
        show(kubeconfig, project, name, noun, LogRequest(pod=pod_name, **options))

    return command


logs_command = make_logs(None)
verbs.append(make_logs)
