"""`submit --wait`: a live view of a new workload, its phase and its pods, until it runs or ends.

The view is redrawn from what the API says (the workload's status, its pods by the workload-name label)
every half second, in place on a terminal (rich's Live); elsewhere (a pipe, CI) each change of phase or
message is printed as a line, and the final view once at the end. It
stops at the first phase a user waits for: Running, or a phase the workload does not leave by itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from berth.cli import context

#: Phases after which waiting longer shows nothing new (Run:ai 2.x phases, berth.api.workloads.Phase).
DONE = frozenset({"Running", "Completed", "Failed", "Stopped", "TimedOut", "Template"})
_COLOURS = {"Running": "green", "Completed": "green", "Failed": "red", "TimedOut": "red", "Pending": "yellow",
            "Degraded": "yellow"}


def render(workload: dict[str, Any], pods: list[dict[str, Any]]) -> Group:
    """The view: one line for the workload, a table of its pods."""
    status = workload.get("status") or {}
    phase = status.get("phase") or "Creating"
    meta = workload["metadata"]
    head = Text.assemble((f'{workload["kind"]} {meta["name"]}', "bold"), "  ", (phase, _COLOURS.get(phase, "")))
    if status.get("message"):
        head.append(f"  {status['message']}")
    table = Table(box=None, pad_edge=False)
    for column in ("POD", "PHASE", "NODE", "REASON"):
        table.add_column(column)
    for pod in pods:
        pod_status = pod.get("status") or {}
        reason = next((c.get("message") or c.get("reason") or "" for c in pod_status.get("conditions") or []
                       if c.get("status") == "False" and (c.get("message") or c.get("reason"))), "")
        pod_phase = pod_status.get("phase") or "Pending"
        table.add_row(pod["metadata"]["name"], Text(pod_phase, _COLOURS.get(pod_phase, "")),
                      (pod.get("spec") or {}).get("nodeName") or "-", reason)
    return Group(head, table) if pods else Group(head, Text("no pods yet"))


async def follow(client: Any, workload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Show `workload` live until its phase is one of DONE; returns its last state. Past `timeout` seconds, a
    clear error with the phase it is stuck in and why."""
    meta = workload["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    deadline = time.monotonic() + timeout
    console = Console()
    said = None
    with Live(render(workload, []), console=console, refresh_per_second=4, transient=False) as live:
        while True:
            workload = await client.get(workload["kind"], name, namespace)
            pods = await context.workload_pods(client, namespace, name)
            live.update(render(workload, pods))
            status = workload.get("status") or {}
            phase = status.get("phase")
            if not console.is_terminal and (phase, status.get("message")) != said:
                said = (phase, status.get("message"))  # not redrawn in place: each change as a line of its own
                live.console.print(render(workload, []).renderables[0])
            if phase in DONE:
                break
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    if not console.is_terminal:
        console.line()  # rich leaves the last line of a view printed once (not live) open
    status = workload.get("status") or {}
    if status.get("phase") in DONE:
        return workload
    context.fail(f"{name} is still {status.get('phase') or 'Creating'} after {timeout:g} s"
                 + (f": {status['message']}" if status.get("message") else "")
                 + f"; follow it with `berth describe workload {name} -p {namespace.removeprefix('runai-')}`")
