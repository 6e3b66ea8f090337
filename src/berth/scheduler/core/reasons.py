"""Why a job waits, in words a person understands.

Actions leave notes on a job as they fail (`Job.tried`, per node pool): a quota `Refusal`, a `Misfit` (the
first pod that found no node), or a plain sentence from reclaim or preempt. At the end of the cycle `explain`
turns the notes into one `Pending` per job: a CamelCase reason for machines and a message for people, e.g.

    project team-a is at its deserved quota of 4 GPUs; interactive workloads cannot use over-quota GPUs
    needs 2 nodes with 8 free GPUs in pool a100; the best node has 6
    no node has 100 GPUs (the largest has 8)
    no node pool named a10 (pools: a100, default); did you mean a100?
    no node has a free nvidia.com/mig-1g.5gb; all 14 are in use

Numbers about nodes are read from the state at the end of the cycle, i.e. after this cycle's decisions, which
is what the person will see when they look. Nothing here changes the state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import get_close_matches

from berth.api.mig import resource_name
from berth.scheduler.core.decisions import Pending
from berth.scheduler.core.devices import NodeState, Shape, need_milli
from berth.scheduler.core.filters import why_not
from berth.scheduler.core.jobs import Job
from berth.scheduler.core.quota import Refusal
from berth.scheduler.core.resources import CPU, GPU, MEM, MILLI, say
from berth.scheduler.core.snapshot import (
    DEFAULT_POOL,
    DEFAULT_QUEUE_PRIORITY,
    INFERENCE,
    INTERACTIVE,
    NODE_TYPE_LABEL,
    TRAIN,
)
from berth.scheduler.core.state import PodInfo

RESOURCE_WORDS = {GPU: "GPUs", CPU: "CPU", MEM: "memory"}


@dataclass(frozen=True, slots=True)
class Misfit:
    """Placement failed in `pool` at `pod`; `same` pods of its shape had to be placed together."""

    pool: str
    pod: PodInfo
    same: int


def note(job: Job, pool: str, what: object) -> None:
    job.tried.setdefault(pool, []).append(what)  # type: ignore[union-attr]


def explain(session, job: Job) -> Pending:
    if job.problem:
        return Pending(job.key, job.problem[0], job.problem[1])
    parts: list[tuple[str, str, str]] = []
    for pool in job.pools:
        notes = job.tried.get(pool) or []
        if not notes:
            continue
        code, text = _say(session, job, notes[0])
        extra = [_say(session, job, n)[1] for n in notes[1:]]
        parts.append((pool, code, "; ".join([text, *extra])))
    if not parts:
        return Pending(job.key, "NotTried", "waits for the next scheduling cycle")
    pool, code, text = parts[0]
    rest = [p[2][:1].upper() + p[2][1:] for p in parts[1:]]
    return Pending(job.key, code, ". ".join([text, *rest]), pool)


def _say(session, job: Job, what: object) -> tuple[str, str]:
    if isinstance(what, Refusal):
        return _refusal(session, job, what)
    if isinstance(what, Misfit):
        return _misfit(session, job, what)
    return "Unschedulable", str(what)


def kind_words(job: Job) -> str:
    return {INTERACTIVE: "interactive", INFERENCE: "inference"}.get(job.kind, "non-preemptible")


def in_pool(session, pool: str) -> str:
    """` in pool X`, unless the cluster is just the default pool (then the pool says nothing)."""
    many = sum(1 for p in session.pools.values() if p.members) > 1
    return f" in pool {pool}" if many or pool != DEFAULT_POOL else ""


def share_words(session, project: str, pool: str, dim: int) -> str:
    """Why a project's fair share in a pool is what it is, when it is not just quota and weight: ` (time-based
    fair share: ...)` when its recent usage moved it, ` (over-quota ... go to projects of higher priority first)`
    when a higher-priority project took the over-quota part. Empty otherwise."""
    share = session.fair.of(project, pool)[dim]
    plain = session.fair_untimed.of(project, pool)[dim]
    words = ""
    if session.usage and abs(share - plain) > 0.5 * (MILLI if dim == GPU else 1):
        used = session.usage.get(project, (0.0, 0.0, 0.0))[dim]
        half_life = session.config.usage_half_life
        decay = f", half-life {duration(half_life)}" if half_life else ""
        words = (f" (time-based fair share: its recent usage, {used:.0%} of the cluster's {RESOURCE_WORDS[dim]} "
                 f"over the last {duration(session.config.usage_window)}{decay}, "
                 f"{'lowers' if share < plain else 'raises'} it from {say(dim, plain)})")
    mine = session.priority.get(project, DEFAULT_QUEUE_PRIORITY)
    deserved = session.limits[(project, pool)].deserved[dim] if (project, pool) in session.limits else 0.0
    if share <= deserved + EPS_SHARE:
        above = sorted(p for (p, where), row in session.fair.project.items()
                       if where == pool and p != project and session.priority.get(p, DEFAULT_QUEUE_PRIORITY) > mine
                       and row[dim] > session.limits[(p, pool)].deserved[dim] + EPS_SHARE)
        if above:
            words += (f" (over-quota {RESOURCE_WORDS[dim]} go to projects of higher priority first: "
                      f"{', '.join(f'{p} (priority {session.priority[p]})' for p in above)}; "
                      f"{project} has priority {mine})")
    return words


EPS_SHARE = 1e-6


def duration(seconds: float) -> str:
    """`7 d`, `2 h`, `90 min`, `45 s`: a time span in the largest unit that divides it."""
    value = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size and value % size == 0:
            return f"{value // size} {unit}"
    return f"{value} s"


def _refusal(session, job: Job, r: Refusal) -> tuple[str, str]:
    where = in_pool(session, r.pool)
    if r.rule == "maxAllowed":
        return "OverLimit", (f"{r.scope} {r.name} may use at most {say(r.dim, r.limit)}{where} (maxAllowed) and "
                             f"uses {say(r.dim, r.used)}; this workload needs {say(r.dim, r.need)} more")
    words = RESOURCE_WORDS[r.dim]
    tail = f"; {kind_words(job)} workloads cannot use over-quota {words}"
    if r.limit <= 0:
        return "OverQuota", f"{r.scope} {r.name} has no deserved {words}{where}{tail}"
    if r.used >= r.limit:
        return "OverQuota", f"{r.scope} {r.name} is at its deserved quota of {say(r.dim, r.limit)}{where}{tail}"
    return "OverQuota", (f"{r.scope} {r.name} uses {say(r.dim, r.used)} of its deserved {say(r.dim, r.limit)}"
                         f"{where} and this workload needs {say(r.dim, r.need)}{tail}")


def _misfit(session, job: Job, m: Misfit) -> tuple[str, str]:
    """Said once per (pool, filters, shape, count, project, kind): the end state is the same for all of them."""
    key = (m.pool, job.specs[m.pod.key], m.pod.shape, m.same, job.project, job.kind)
    words = session.said.get(key)
    if words is None:
        words = session.said[key] = _misfit_words(session, job, m)
    return words


def _misfit_words(session, job: Job, m: Misfit) -> tuple[str, str]:
    index = session.pools.get(m.pool)
    if index is None:
        return "NoNodePool", _no_such_pool(session, m.pool)
    if not index.members:
        return "NoNodePool", f"pool {m.pool} has no nodes"
    spec = job.specs[m.pod.key]
    allowed = session.filters.allowed(spec, m.pool)
    members = index.members if allowed is None else sorted(allowed)
    nodes = [session.nodes[i] for i in members if session.nodes[i].schedulable]
    if not nodes:
        return _no_matching(session, job, m, spec, index.members)
    shape = m.pod.shape
    too_big = _larger_than_any(shape, nodes, in_pool(session, m.pool))
    if too_big:
        return "NotEnoughGPUs", too_big
    if shape.gpus:
        return _whole(m, shape, nodes)
    if shape.shared:
        return _shared(m, shape, nodes)
    if shape.mig:
        return _mig(m, shape, nodes, in_pool(session, m.pool))
    return _host(m, shape, nodes, "")


def _no_such_pool(session, pool: str) -> str:
    """A pool that is neither a NodePool nor any node's: name the pools there are, and the closest one."""
    pools = sorted(session.pools)
    text = f"no node pool named {pool} (pools: {', '.join(pools)})"
    close = get_close_matches(pool, pools, n=1, cutoff=0.8)
    return f"{text}; did you mean {close[0]}?" if close else text


def _larger_than_any(shape: Shape, nodes: list[NodeState], where: str) -> str:
    """What no node could ever hold, however empty: more whole GPUs than it has, more memory than its GPUs."""
    if (shape.gpus or shape.shared) and all(len(n.mig_dev) == len(n.dev_free) > 0 for n in nodes):
        return f"every GPU{where} is in MIG mode and offers only MIG slices; ask for one with migProfile"
    if shape.gpus or shape.count > 1 and shape.shared:
        wanted = shape.gpus or shape.count
        largest = max(len(n.dev_free) - len(n.mig_dev) for n in nodes)  # GPUs in MIG mode offer only slices
        if wanted > largest:
            return f"no node{where} has {_count(wanted, 'GPU')} (the largest has {largest})"
    if shape.gmem:
        largest = max((mem for n in nodes for mem in n.dev_mem), default=0)
        if shape.gmem > largest:
            return f"no GPU{where} has {shape.gmem} MiB of memory (the largest has {largest} MiB)"
    return ""


def _whole(m: Misfit, shape: Shape, nodes: list[NodeState]) -> tuple[str, str]:
    best = sorted((n.whole for n in nodes), reverse=True)
    have = sum(1 for w in best if w >= shape.gpus)
    if have >= m.same:
        return _host(m, shape, [n for n in nodes if n.whole >= shape.gpus], f"{_count(shape.gpus, 'free GPU')}")
    noun = "a node" if m.same == 1 else f"{m.same} nodes"
    text = f"needs {noun} with {_count(shape.gpus, 'free GPU')} in pool {m.pool}"
    if have == 0:
        text += f"; the best node has {best[0]}"
    else:
        text += f"; only {have} {'has' if have == 1 else 'have'} that many, "
        text += f"the next best has {best[have]}" if have < len(best) else "and there is no other node"
    return "NotEnoughGPUs", text


def _shared(m: Misfit, shape: Shape, nodes: list[NodeState]) -> tuple[str, str]:
    if shape.count > 1:
        return _several(m, shape, nodes)
    fitting = [n for n in nodes if any(f >= need_milli(shape, n.dev_mem[d]) for d, f in enumerate(n.dev_free))]
    if len(fitting) >= 1:
        words = f"{shape.milli / MILLI:g} of a GPU free" if shape.milli else f"{shape.gmem} MiB of GPU memory free"
        return _host(m, shape, fitting, words)
    most = max((f for n in nodes for f in n.dev_free), default=0)
    if shape.milli:
        text = f"needs {shape.milli / MILLI:g} of a GPU in pool {m.pool}; "
        text += f"the most free on any GPU is {most / MILLI:g}" if most > 0 else "every GPU is full"
    else:
        mem = max((max(f, 0) * n.dev_mem[d] // MILLI for n in nodes for d, f in enumerate(n.dev_free)), default=0)
        text = f"needs {shape.gmem} MiB of one GPU's memory in pool {m.pool}; "
        text += f"the most free on any GPU is {mem} MiB" if mem > 0 else "every GPU is full"
    if m.same > 1:
        text = f"{m.same} pods must start together; each " + text
    return "NotEnoughGPUs", text


def _several(m: Misfit, shape: Shape, nodes: list[NodeState]) -> tuple[str, str]:
    """A share asked of several devices of one node."""
    each = f"{shape.milli / MILLI:g} of a GPU" if shape.milli else f"{shape.gmem} MiB of GPU memory"
    words = f"{shape.count} GPUs with {each} free on each"
    room = [sum(1 for d, f in enumerate(n.dev_free) if f >= need_milli(shape, n.dev_mem[d])) for n in nodes]
    fitting = [n for n, k in zip(nodes, room) if k >= shape.count]
    if fitting:
        return _host(m, shape, fitting, words)
    most = max(room, default=0)
    text = f"needs {words} in pool {m.pool}; the most on one node is {most}"
    if m.same > 1:
        text = f"{m.same} pods must start together; each " + text
    return "NotEnoughGPUs", text


def _mig(m: Misfit, shape: Shape, nodes: list[NodeState], where: str) -> tuple[str, str]:
    """MIG slices: a profile no node has, more of it than any node has, or all of it in use."""
    resource = resource_name(shape.mig)
    slices = [s for n in nodes for s in n.mig_slots]
    total = Counter(s[2] for s in slices)
    if not total[shape.mig]:
        there = (f"MIG slices there: {', '.join(resource_name(p) for p in sorted(total))}" if total
                 else "no GPU there is in MIG mode")
        return "NoMigProfile", f"no node{where} has a MIG slice {resource} ({there})"
    most = max(sum(1 for s in n.mig_slots if s[2] == shape.mig) for n in nodes)
    if shape.count > most:
        return "NoMigProfile", f"no node{where} has {shape.count} {resource} slices (the most on one node is {most})"
    many = "a free" if shape.count == 1 else f"{shape.count} free"
    fitting = [n for n in nodes if n.mig_free.get(shape.mig, 0) >= shape.count]
    if fitting:
        return _host(m, shape, fitting, f"{many} {resource}")
    free = sum(n.mig_free.get(shape.mig, 0) for n in nodes)
    text = f"no node{where} has {many} {resource}; "
    text += (f"all {total[shape.mig]} are in use" if not free
             else f"{free} of {total[shape.mig]} are free, on different nodes")
    if m.same > 1:
        text = f"{m.same} pods must start together; " + text
    return "NotEnoughGPUs", text


def _host(m: Misfit, shape: Shape, nodes: list[NodeState], gpu_words: str) -> tuple[str, str]:
    """The GPUs are there (or none are needed): say which of CPU, memory or pod slots is short."""
    noun = "a node" if m.same == 1 else f"{m.same} nodes"
    if gpu_words:
        wants, such = f"needs {noun} with {gpu_words} and ", "such a node"
        every = f"every node with {gpu_words}"
    else:
        wants, such, every = "needs ", "any node", "every node"
    here = "" if gpu_words else (" on one node" if m.same == 1 else f" on each of {m.same} nodes")
    most_cpu = max(n.free_cpu for n in nodes)
    if most_cpu < shape.cpu:
        return "NotEnoughCPU", (f"{wants}{say(CPU, shape.cpu)} free{here} in pool {m.pool}; the most free on "
                                f"{such} is {say(CPU, max(most_cpu, 0))}")
    most_mem = max(n.free_mem for n in nodes if n.free_cpu >= shape.cpu)
    if most_mem < shape.mem:
        also = " that has the CPU" if shape.cpu else ""
        return "NotEnoughMemory", (f"{wants}{say(MEM, shape.mem)} free{here} in pool {m.pool}; the most free on "
                                   f"{such}{also} is {say(MEM, max(most_mem, 0))}")
    if all(n.pods >= n.max_pods for n in nodes):
        return "TooManyPods", f"{every} in pool {m.pool} already runs its maximum number of pods"
    return "NotEnoughResources", (f"{wants}{say(CPU, shape.cpu)} and {say(MEM, shape.mem)} free at once{here} in "
                                  f"pool {m.pool}; no node has all of them")


def _no_matching(session, job: Job, m: Misfit, spec, members: list[int]) -> tuple[str, str]:
    selected = dict(spec.selector).get(NODE_TYPE_LABEL)
    if spec.node_types is not None and selected is not None and selected not in spec.node_types:
        kind = {TRAIN: "training", INTERACTIVE: "interactive"}.get(job.kind, job.kind)
        return "NodeTypeNotAllowed", (f"node type {selected} is not among the node types project {job.project} "
                                      f"allows for {kind} workloads ({', '.join(spec.node_types)})")
    why = Counter(why_not(spec, session.snapshot_nodes[i]) for i in members)
    why.pop(None, None)
    cause = why.most_common(1)[0][0] if why else "unschedulable"
    pool = m.pool
    if cause == "unschedulable":
        return "NoMatchingNodes", f"every node in pool {pool} is cordoned"
    if cause == "node_type":
        kind = {TRAIN: "training", INTERACTIVE: "interactive"}.get(job.kind, job.kind)
        return "NoMatchingNodes", (f"project {job.project} allows {kind} workloads only on node types "
                                   f"{', '.join(spec.node_types or ())}; no node in pool {pool} is of those types")
    if cause.startswith("selector:"):
        key, _, value = cause[len("selector:"):].partition("=")
        if key == NODE_TYPE_LABEL:
            return "NoMatchingNodes", f"no node in pool {pool} is of node type {value}"
        return "NoMatchingNodes", f"no node in pool {pool} has the label {key}={value} (nodeSelector)"
    taint = cause[len("taint:"):]
    return "NoMatchingNodes", (f"the nodes of pool {pool} have the taint {taint}, which the workload does not "
                               "tolerate")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
