"""Node agents: what registers Nodes with the API and runs the pods bound to them.

`node` describes a node (its GPUs, labels, capacity) and keeps it registered and alive (Node object,
Ready condition, Lease heartbeats); `process` is the local node, which runs each pod bound to it with a
`podrunner` (containers as local processes, `procs`, in the environment `podenv` builds, each started by
its `monitor`, which keeps its output and exit status, remembered across restarts in `state`); `meter`
counts the requests a serving pod answers and `serviceproxy` gives Services a port on this machine (with
`forward` between them); `simulated` pretends to run pods on many simulated nodes (KWOK-style); `gpus`
discovers real GPUs. Agents speak only the Kubernetes API, through `berth.client`, like a kubelet.
"""
