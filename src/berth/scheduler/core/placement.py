"""Choosing a node for one pod without looking at every node (Kubernetes' Filter + Score, made cheap).

Each node pool keeps two sorted indexes of its schedulable nodes, updated on every allocation and release:
- `buckets[k]`: the nodes with exactly k entirely free GPU devices, as sorted `(free_cpu, node)` pairs;
- `devices`: every device with room left, as sorted `(free_milli, node_whole_free, node, device)` tuples.

A whole-GPU pod asking g devices looks at buckets g, g+1, ... (binpack: the node with the fewest free devices
that fits, so whole nodes stay free for big jobs) or from the top down (spread); inside a bucket a bisection on
CPU skips every node that lacks the CPU. A shared pod bisects the device index to the fullest device with room
(binpack) or takes the emptiest (spread). A CPU-only pod prefers nodes with no free GPU (bucket 0 first) so it
does not strand GPUs, best fit on CPU. So a placement costs a few bisections, not a scan of the pool, as long
as the first candidates pass the remaining checks (memory, pod count, static filters).

Invariant: a node is in exactly one bucket and each of its devices with free > 0 is in `devices` exactly once,
with the keys it has now. Only `state.ClusterState` calls `unindex`/`index`, around each change to a node.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from berth.scheduler.core.devices import BINPACK, NodeState, Shape, fits_host, need_milli, shared_device
from berth.scheduler.core.resources import MILLI


class PoolIndex:
    def __init__(self, name: str, strategy: str, nodes: list[NodeState]) -> None:
        self.name = name
        self.strategy = strategy
        self.nodes = nodes  # all nodes of the cluster, by index
        self.members: list[int] = []  # this pool's nodes, by index, schedulable or not
        self.max_devices = 0
        self.max_dev_mem = 0
        self.buckets: list[list[tuple[int, int]]] = [[]]
        self.devices: list[tuple[int, int, int, int]] = []
        self.live = False  # indexes are built once, after the running pods are loaded (see `build`)

    def add_node(self, node: NodeState) -> None:
        self.members.append(node.idx)
        self.max_devices = max(self.max_devices, len(node.dev_free))
        self.max_dev_mem = max([self.max_dev_mem, *node.dev_mem])

    def build(self) -> None:
        """Index every member at once (sorting once is cheaper than inserting node by node)."""
        self.buckets = [[] for _ in range(self.max_devices + 1)]
        devices = []
        for idx in self.members:
            node = self.nodes[idx]
            if not node.schedulable:
                continue
            self.buckets[node.whole].append((node.free_cpu, idx))
            devices.extend((free, node.whole, idx, d) for d, free in enumerate(node.dev_free) if free > 0)
        for bucket in self.buckets:
            bucket.sort()
        devices.sort()
        self.devices = devices
        self.live = True

    def unindex(self, node: NodeState) -> None:
        if not self.live or not node.schedulable:
            return
        _remove(self.buckets[node.whole], (node.free_cpu, node.idx))
        for d, free in enumerate(node.dev_free):
            if free > 0:
                _remove(self.devices, (free, node.whole, node.idx, d))

    def index(self, node: NodeState) -> None:
        if not self.live or not node.schedulable:
            return
        insort(self.buckets[node.whole], (node.free_cpu, node.idx))
        for d, free in enumerate(node.dev_free):
            if free > 0:
                insort(self.devices, (free, node.whole, node.idx, d))

    # --- finding a node -------------------------------------------------------------------------------------

    def find(self, shape: Shape, allowed: frozenset[int] | None) -> tuple[int, tuple[int, ...], int] | None:
        """(node, devices, milli per device) for one pod, or None when no node in the pool fits it now."""
        if shape.shared:
            return self._find_shared(shape, allowed)
        node = self._find_in_buckets(shape, allowed)
        if node is None:
            return None
        if not shape.gpus:
            return node.idx, (), 0
        devices = tuple(d for d, free in enumerate(node.dev_free) if free == MILLI)[: shape.gpus]
        return node.idx, devices, MILLI

    def _find_in_buckets(self, shape: Shape, allowed: frozenset[int] | None) -> NodeState | None:
        nodes, cpu, mem = self.nodes, shape.cpu, shape.mem
        top = len(self.buckets) - 1
        if shape.gpus and self.strategy != BINPACK:
            order = range(top, shape.gpus - 1, -1)
        else:
            order = range(shape.gpus, top + 1)
        for k in order:
            bucket = self.buckets[k]
            if not bucket or bucket[-1][0] < cpu:
                continue
            if self.strategy == BINPACK:
                for j in range(bisect_left(bucket, (cpu, -1)), len(bucket)):
                    node = nodes[bucket[j][1]]
                    if node.free_mem >= mem and node.pods < node.max_pods and (allowed is None or node.idx in allowed):
                        return node
            else:
                for j in range(len(bucket) - 1, -1, -1):
                    free_cpu, idx = bucket[j]
                    if free_cpu < cpu:
                        break
                    node = nodes[idx]
                    if node.free_mem >= mem and node.pods < node.max_pods and (allowed is None or idx in allowed):
                        return node
        return None

    def _find_shared(self, shape: Shape, allowed: frozenset[int] | None) -> tuple[int, tuple[int, ...], int] | None:
        devices, nodes = self.devices, self.nodes
        # Smallest share this pod can take on any device of the pool: where scanning may start.
        least = shape.milli or need_milli(shape, self.max_dev_mem)
        if least > MILLI or not devices or devices[-1][0] < least:
            return None
        if self.strategy == BINPACK:
            span = range(bisect_left(devices, (least, -1, -1, -1)), len(devices))
        else:
            span = range(len(devices) - 1, bisect_left(devices, (least, -1, -1, -1)) - 1, -1)
        for j in span:
            free, _, idx, d = devices[j]
            node = nodes[idx]
            need = shape.milli or need_milli(shape, node.dev_mem[d])
            if free >= need and fits_host(node, shape) and (allowed is None or idx in allowed):
                return idx, (d,), need
        return None

    def best_shared_on(self, node: NodeState, shape: Shape) -> tuple[int, int] | None:
        return shared_device(node, shape, self.strategy)


def _remove(items: list, key: tuple) -> None:
    i = bisect_left(items, key)
    if i == len(items) or items[i] != key:  # pragma: no cover - would mean the index lost track of a node
        raise AssertionError(f"placement index out of step: {key} missing")
    del items[i]


class MisfitMemo:
    """Pod shapes known not to fit in a pool, so that a full cluster answers "no" without a search.

    Sound because between two releases of resources (an eviction or a rollback, counted by
    `ClusterState.releases`) the state only loses free resources: a shape that found no node still finds none,
    and neither does any shape that asks at least as much of everything. Only the smallest failed shapes are
    kept, per pool, static filter and kind of request.
    """

    def __init__(self, state) -> None:
        self.state = state
        self.epoch = -1
        self.fronts: dict[tuple, list[Shape]] = {}

    def _sync(self) -> None:
        if self.state.releases != self.epoch:
            self.fronts.clear()
            self.epoch = self.state.releases

    def known_misfit(self, pool: str, spec: object, shape: Shape) -> bool:
        self._sync()
        front = self.fronts.get((pool, spec, _kind(shape)))
        return bool(front) and any(_covers(small, shape) for small in front)

    def remember(self, pool: str, spec: object, shape: Shape) -> None:
        self._sync()
        key = (pool, spec, _kind(shape))
        front = [s for s in self.fronts.get(key, ()) if not _covers(shape, s)]
        front.append(shape)
        self.fronts[key] = front


def _kind(shape: Shape) -> int:
    return 0 if shape.gpus else 1 if shape.milli else 2 if shape.gmem else 3


def _covers(small: Shape, big: Shape) -> bool:
    """`big` asks at least as much as `small` of everything (same kind of request)."""
    return (small.gpus <= big.gpus and small.milli <= big.milli and small.gmem <= big.gmem
            and small.cpu <= big.cpu and small.mem <= big.mem)
