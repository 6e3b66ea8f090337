"""Node agents: what registers Nodes with the API and runs the pods bound to them.

`node` describes a node (its GPUs, labels, capacity) and keeps it registered and alive (Node object,
Ready condition, Lease heartbeats); `process` runs pods as local processes (the local node);
`simulated` pretends to run them on many simulated nodes (KWOK-style); `gpus` discovers real GPUs.
Agents speak only the Kubernetes API, through `berth.client`, like a kubelet.
"""
