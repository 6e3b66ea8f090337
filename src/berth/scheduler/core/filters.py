"""Static node filters (Kubernetes' Filter extension point for what does not change during a cycle).

A pod may land only on nodes that are schedulable, carry every label of its nodeSelector (the node type
`run.ai/type` among them), have the node type its project allows for its kind of workload (nodeAffinityTrain /
nodeAffinityInteractive), and whose NoSchedule/NoExecute taints it tolerates. None of that changes while a
cycle runs, so it is computed once per distinct `FilterSpec` and pool and cached as a set of node indexes;
`None` stands for "every node of the pool", the common case that costs nothing to check.

What changes during a cycle (free GPUs, CPU, memory, pod count) is checked by `placement`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.scheduler.core.snapshot import NODE_TYPE_LABEL, Node, Taint, Toleration

BLOCKING = ("NoSchedule", "NoExecute")


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """Everything static that decides whether a node may take a pod; hashable, so equal pods share a cache."""

    selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[str, str, str, str], ...] = ()  # (key, operator, value, effect)
    node_types: tuple[str, ...] | None = None  # allowed run.ai/type values; None: any

    @property
    def trivial(self) -> bool:
        return not self.selector and self.node_types is None


def spec_for(selector: dict[str, str], tolerations: list[Toleration], node_types: list[str] | None) -> FilterSpec:
    return FilterSpec(
        tuple(sorted(selector.items())),
        tuple(sorted((t.key, t.operator, t.value, t.effect) for t in tolerations)),
        tuple(sorted(node_types)) if node_types else None,
    )


def tolerates(tolerations: tuple[tuple[str, str, str, str], ...], taint: Taint) -> bool:
    for key, operator, value, effect in tolerations:
        if effect and effect != taint.effect:
            continue
        if operator == "Exists" and (not key or key == taint.key):
            return True
        if key == taint.key and value == taint.value:
            return True
    return False


def blocking_taints(node: Node) -> list[Taint]:
    return [t for t in node.taints if t.effect in BLOCKING]


def why_not(spec: FilterSpec, node: Node) -> str | None:
    """The first filter the node fails for this spec, as a short key (used to explain), or None if it passes."""
    if node.unschedulable:
        return "unschedulable"
    labels = node.labels
    for key, value in spec.selector:
        if labels.get(key) != value:
            return f"selector:{key}={value}"
    if spec.node_types is not None and labels.get(NODE_TYPE_LABEL) not in spec.node_types:
        return "node_type"
    for taint in node.taints:
        if taint.effect in BLOCKING and not tolerates(spec.tolerations, taint):
            return f"taint:{taint.key}={taint.value}:{taint.effect}"
    return None


class FilterCache:
    """Node sets per (spec, pool), computed on first use."""

    def __init__(self, nodes: list[Node], pool_nodes: dict[str, list[int]]) -> None:
        self._nodes = nodes
        self._pool_nodes = pool_nodes
        self._plain = {
            pool: all(not nodes[i].unschedulable and not blocking_taints(nodes[i]) for i in idxs)
            for pool, idxs in pool_nodes.items()
        }
        self._cache: dict[tuple[FilterSpec, str], frozenset[int] | None] = {}

    def allowed(self, spec: FilterSpec, pool: str) -> frozenset[int] | None:
        """Indexes of the pool's nodes that pass, or None when all of them do."""
        key = (spec, pool)
        if key in self._cache:
            return self._cache[key]
        idxs = self._pool_nodes.get(pool, [])
        if spec.trivial and self._plain.get(pool, True):
            result: frozenset[int] | None = None
        else:
            passing = frozenset(i for i in idxs if why_not(spec, self._nodes[i]) is None)
            result = None if len(passing) == len(idxs) else passing
        self._cache[key] = result
        return result
