"""What the local node remembers across restarts of `berth up`: `<data-dir>/nodes/<name>/state.json`.

One record per pod it has begun to run (by uid), with one record per container's latest process, saved
before the process starts and once it runs (its pid, start time and monitor), so that a restarted agent
can tell, for each container:
- its process still runs and is ours (same pid and start time): adopt it, and learn how it ends from what
  its monitor writes (`berth.nodes.monitor`);
- its process ended, and its monitor wrote how: carry on from there, as if `berth up` had seen it end
  (restart it if its restartPolicy says so, or end the pod);
- nobody can know how it ended (it was about to start, or its monitor ended before writing its status):
  the pod is failed with reason NodeRestarted, never run a second time;
- no record: it never started, and starts now.

Invariant: a process is recorded (with pid None) before it is started; a record leaves the file only
when its pod has ended or is gone. The file is replaced atomically, never left half written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger(__name__)

MAX_GRACE_S = 30.0  # the longest grace period of a pod on the local node (and a record's that has none)


class ProcessRecord(BaseModel):
    """One container's latest process. `pid` None: it was about to start (it may have)."""

    pid: int | None = None
    ticks: int | None = Field(None, description="start time in clock ticks since boot (/proc/<pid>/stat)")
    started_at: str | None = Field(None, alias="startedAt")
    monitor: int | None = Field(None, description="the pid of its monitor, which writes its exit status")
    monitor_ticks: int | None = Field(None, alias="monitorTicks")
    restarts: int = Field(0, description="how many times the container had been restarted before this process")

    model_config = {"populate_by_name": True}


class PodRecord(BaseModel):
    namespace: str
    name: str
    processes: dict[str, ProcessRecord] = Field(default_factory=dict, description="by container name")
    ran: bool = Field(False, description="some process of this pod has run and ended (kept for records written "
                      "before processes were kept after they ended)")
    host_ports: dict[str, int] = Field(default_factory=dict, alias="hostPorts",
                                       description="where each container port is reached, by container port")
    backend_ports: dict[str, int] = Field(default_factory=dict, alias="backendPorts",
                                          description="where the program listens, when a meter is in front of it "
                                          "(`berth.nodes.meter`); empty: it listens on the host port itself")
    grace: float | None = Field(None, description="the pod's grace period in seconds (SIGTERM to SIGKILL), for "
                                "`berth down --workloads`, which stops its processes while no agent runs")

    model_config = {"populate_by_name": True}


class NodeState(BaseModel):
    pods: dict[str, PodRecord] = Field(default_factory=dict, description="by pod uid")


class StateFile:
    """The node's state and the file it lives in; `save()` after every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state = self._load()

    @property
    def pods(self) -> dict[str, PodRecord]:
        return self.state.pods

    def _load(self) -> NodeState:
        try:
            return NodeState.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return NodeState()
        except (OSError, ValidationError) as exc:
            # Unreadable: keep it for inspection. Pods that ran before are still caught by their API status.
            broken = self.path.with_suffix(".broken.json")
            log.error("node state %s is unreadable (%s); moved to %s, starting empty", self.path, exc, broken)
            os.replace(self.path, broken)
            return NodeState()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.tmp")
        partial.write_text(self.state.model_dump_json(by_alias=True, indent=1))
        os.replace(partial, self.path)
