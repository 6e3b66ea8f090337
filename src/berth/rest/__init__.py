"""Run:ai's REST API (2.18) beside the Cluster API.

Run:ai recommends its REST API for submitting workloads; Berth serves it next to the Kubernetes API on the
same address, and maps every request onto the same `run.ai` objects that `kubectl apply` writes. It is an
ASGI app (`berth.rest.app.create`) that talks to the Kubernetes API through `berth.client` *as the
caller*: each request's bearer token is forwarded (`berth.rest.context`), so authentication, authorization,
admission and policies are the API server's own, and the app runs mounted in `berth up` and beside a real
cluster alike.

Modules, one per family of paths: `workloads` (list, count, pods, events, history), `kinds` (create, get,
delete, suspend, resume per workload type), `policies` (/api/v2/policy), `orgunit` (projects,
departments), `clusters` (nodes and node pools). `errors` holds the one JSON error shape; `ids` the ids
Run:ai's API speaks (cluster, project, department, workload).
"""
