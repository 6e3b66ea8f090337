"""What of the local node's workloads runs on this machine now, and how to stop it: for `berth down`, and
for what `berth up` says when it stops.

Workload processes outlive `berth up` on purpose (`berth.nodes.podrunner`: as containers outlive a
kubelet), so what runs is read from what the node agents remember (`berth.nodes.state`,
`<data-dir>/nodes/*/state.json`), each process checked to be alive and the very one recorded (pid and
start time, `procs.is_alive`), never guessed from process names. Stopping one is what deleting its pod
does: SIGTERM to its process group, SIGKILL after the grace period (`procs.stop_group`).

Nothing here writes the state: the next `berth up` finds the processes ended and learns how from what
their monitors wrote (exit code 143 for SIGTERM, 137 for SIGKILL), as after any end it did not see.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from berth.nodes import procs
from berth.nodes.state import MAX_GRACE_S, NodeState

SHOWN = 5  # pods named in a message; the rest are counted


@dataclass(frozen=True)
class WorkloadProcess:
    """One container's program, running now."""

    namespace: str
    pod: str
    container: str
    pid: int
    ticks: int | None
    grace: float  # seconds from SIGTERM to SIGKILL: the pod's, as recorded when it started


def running(data_dir: Path) -> list[WorkloadProcess]:
    """The workload processes of the local nodes of `data_dir` that run now, in pod order."""
    found: list[WorkloadProcess] = []
    for path in sorted(Path(data_dir).glob("nodes/*/state.json")):
        try:
            state = NodeState.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            continue  # unreadable: the next `berth up` sets it aside (`StateFile`)
        for record in state.pods.values():
            grace = MAX_GRACE_S if record.grace is None else record.grace
            for container, process in record.processes.items():
                if process.pid is not None and procs.is_alive(process.pid, process.ticks):
                    found.append(WorkloadProcess(record.namespace, record.name, container, process.pid,
                                                 process.ticks, grace))
    return sorted(found, key=lambda p: (p.namespace, p.pod, p.container))


def stop(found: list[WorkloadProcess], grace: float | None = None) -> list[WorkloadProcess]:
    """Stop each of `found`, all at once: SIGTERM to its process group, SIGKILL after its grace period
    (`grace` instead, when given), or at once when its program has ended (stragglers of the group).
    Returns those that had to be killed; once it returns, none of them runs."""
    return asyncio.run(_stop_all(found, grace))


async def _stop_all(found: list[WorkloadProcess], grace: float | None) -> list[WorkloadProcess]:
    async def one(process: WorkloadProcess) -> bool:
        ended = asyncio.ensure_future(procs.wait_gone(process.pid, process.ticks))
        try:
            return await procs.stop_group(process.pid, ended, process.grace if grace is None else grace)
        finally:
            ended.cancel()

    in_time = await asyncio.gather(*(one(p) for p in found))
    return [p for p, ok in zip(found, in_time) if not ok]


def count(found: list[WorkloadProcess]) -> str:
    """'3 workload processes (pods a/x, b/y)': how many, and of which pods."""
    pods = list(dict.fromkeys(f"{p.namespace}/{p.pod}" for p in found))
    named = ", ".join(pods[:SHOWN]) + (f" and {len(pods) - SHOWN} more" if len(pods) > SHOWN else "")
    noun = "process" if len(found) == 1 else "processes"
    return f"{len(found)} workload {noun} ({'pod' if len(pods) == 1 else 'pods'} {named})"


def shown(data_dir: Path) -> str:
    """`data_dir` as a user would type it: under their home as ~/..."""
    path, home = Path(data_dir).expanduser().absolute(), Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) and path != home else str(path)


def keep_running(data_dir: Path, found: list[WorkloadProcess]) -> str:
    """What `berth up` and `berth down` say of the workload processes they leave running."""
    verb = "keeps" if len(found) == 1 else "keep"
    return (f"{count(found)} {verb} running: `berth up` adopts them when it starts again on this data directory; "
            f"`berth down --data-dir {shown(data_dir)} --workloads` stops them.")
