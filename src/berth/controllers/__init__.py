"""Controllers: they turn workloads into the objects that run them (PodGroups, pods, Services, ConfigMaps,
PVCs), keep their status, and turn Projects into namespaces.

They speak only the Kubernetes API, through `berth.client`, so the same code runs inside `berth up` and as
an operator on a real cluster. Each controller is level-based: it compares what a workload asks for with
what exists (from a watch cache) and closes the gap, with deterministic names, so restarting it at any
point neither duplicates nor loses anything.

Pure parts (no I/O): `podspec` (a workload's container and pod template), `frameworks` (distributed
roles, environment and peer discovery), `training`/`interactive`/`distributed`/`inference` plans (which
pods should exist now, given the ones that do) and `phase` (the status users see). I/O: `runtime` (caches
and work queue) and the reconcilers.
"""
