"""Labels and annotations that one Berth component writes on a pod and another reads: the contract between
them, named once.
"""

from __future__ import annotations

WORKLOAD_KIND_LABEL = "run.ai/workload-kind"  # set by the controllers: the kind of the pod's workload

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
