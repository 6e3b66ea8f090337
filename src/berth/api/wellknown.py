"""Labels and annotations that one Berth component writes on a pod or Service and another reads: the
contract between them, named (and, where a value needs reading, read) once.
"""

from __future__ import annotations

import json
from typing import Any

WORKLOAD_KIND_LABEL = "run.ai/workload-kind"  # set by the controllers: the kind of the pod's workload
WORKLOAD_NAME_LABEL = "run.ai/workload-name"  # set by the controllers: the name of the pod's workload
ROLE_LABEL = "run.ai/role"  # set by the controllers on a distributed workload's pods: master, worker, ...

# Set by a node agent on its Node: "true" when the node is simulated (its pods run nowhere), else "false".
SIMULATED_LABEL = "berth.dev/simulated"

# Set by the local node: where each container port is reached on this machine, JSON
# {"<containerPort>": <host port>}; the controllers put it in the workload's service URLs.
HOST_PORTS_ANNOTATION = "run.ai/host-ports"

# Set by a node agent on a serving pod: its load over the last seconds, JSON {"concurrency": requests in
# flight, "throughput": requests/s, "latency": ms, "cpu-utilization": percent of its cpu request,
# "gpu-utilization": percent}; what it can measure only. The inference autoscaler reads it.
METRICS_ANNOTATION = "run.ai/metrics"

# Set by the local node's service proxy on a Service: how many requests it holds because no pod the Service
# selects is ready (an inference workload scaled to zero); any wakes the workload.
WAITING_ANNOTATION = "run.ai/waiting-requests"


def _annotation(obj: dict[str, Any], name: str) -> Any:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(name)


def host_ports(obj: dict[str, Any]) -> dict[str, int]:
    """An object's `run.ai/host-ports`, by port as written; empty when it has none or it is not readable."""
    raw = _annotation(obj, HOST_PORTS_ANNOTATION)
    try:
        return {str(k): int(v) for k, v in json.loads(raw).items()} if raw else {}
    except (ValueError, TypeError, AttributeError):
        return {}


def readings(obj: dict[str, Any]) -> dict[str, float]:
    """A pod's `run.ai/metrics`: its numeric readings by name; empty when it has none or it is not readable."""
    raw = _annotation(obj, METRICS_ANNOTATION)
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): float(v) for k, v in found.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def waiting_requests(obj: dict[str, Any]) -> int | None:
    """A Service's `run.ai/waiting-requests` (0 when it has none); None when it is not a count."""
    raw = str(_annotation(obj, WAITING_ANNOTATION) or "0")
    return int(raw) if raw.isdigit() else None

#: On a pod while the local node runs its processes: a DELETE then only marks the pod (deletionTimestamp), and
#: the node removes the finalizer once the processes are stopped and how they ended is written, as a kubelet
#: ends a graceful deletion. So a pod that finished just as it was deleted (preempted) still says it
#: succeeded, and its workload does not run it again.
LOCAL_NODE_FINALIZER = "berth.dev/local-node"
