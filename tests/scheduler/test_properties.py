"""Random clusters through a cycle: whatever is decided, the rules hold afterwards.

After applying the decisions (binds placed, evicted pods gone): no device holds more than one GPU, no node more
CPU or memory than it has; only waiting pods are bound and only running pods evicted; a gang is evicted whole
and gets at least minMember pods when it gets any; non-preemptible work is never evicted and never pushes its
project beyond its deserved GPUs; nobody passes maxAllowed.

And, over busy clusters drawn by hypothesis (issue G, defect 3), evictions are as few as the cycle needs:
- minimality: with every other decision of the cycle as it is, putting any one evicted job back where it ran
  would overfill a device or a node, or pass its project's maxAllowed: without that eviction some job the
  cycle placed would not fit;
- no pod is evicted and placed again in the same cycle, except a consolidation move.
"""

from __future__ import annotations

import random
from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from berth.scheduler.core import Cluster, CycleConfig, Decisions, Snapshot, run_cycle
from berth.scheduler.core.session import shape_of

PRIORITIES = ["train", "train", "build", "build-preemptible", "inference"]


def random_cluster(seed: int) -> Snapshot:
    rng = random.Random(seed)
    c = Cluster()
    if rng.random() < 0.5:
        c.pool("x", placement=rng.choice(["binpack", "spread"]))
        c.nodes(rng.randint(1, 3), gpus=rng.choice([2, 4]), prefix="x", pool="x", cpu=32000)
    c.nodes(rng.randint(2, 5), gpus=rng.choice([2, 4, 8]), cpu=rng.choice([16000, 64000]), memory=64 * 1024)
    projects = []
    for p in range(rng.randint(1, 4)):
        name = f"p{p}"
        projects.append(name)
        c.project(name, gpu=rng.choice([0, 1, 2, 4, 6]), max_gpu=rng.choice([-1, -1, 8, 12]),
                  weight=rng.choice([None, None, 1, 3]))
    capacity = {n.name: [len(n.gpus) * 1000, n.cpu, n.memory, [1000] * len(n.gpus)] for n in c.snapshot.nodes}
    for i in range(rng.randint(3, 25)):
        kind = rng.choice(["whole", "whole", "fraction", "cpu"])
        pods = rng.choice([1, 1, 1, 2, 3])
        gpus = rng.choice([1, 1, 2, 4]) if kind == "whole" else 0
        fraction = rng.choice([0.25, 0.5, 0.7]) if kind == "fraction" else 0.0
        cpu, memory = rng.choice([0, 1000, 4000]), rng.choice([0, 2048])
        priority = rng.choice(PRIORITIES)
        where, devices = None, None
        if rng.random() < 0.5:  # try to make it a running job, on nodes with room
            where, devices = [], []
            for _ in range(pods):
                spot = _room(rng, capacity, gpus, fraction, cpu, memory)
                if spot is None:
                    where = None
                    break
                where.append(spot[0])
                devices.append(spot[1])
            if where is None:
                _release(capacity, c)  # recompute from what was really bound
        c.job(f"j{i}", rng.choice(projects), gpus=max(gpus, 1) if kind == "whole" else 0, pods=pods,
              fraction=fraction, cpu=cpu, memory=memory, priority=priority, running_on=where, devices=devices,
              started=float(i) if where else None, min_member=rng.choice([None, 1]) if pods > 1 else None)
    return c.build()


def _room(rng, capacity, gpus, fraction, cpu, memory):
    names = list(capacity)
    rng.shuffle(names)
    for name in names:
        _, cpu_left, mem_left, devs = capacity[name]
        if cpu_left < cpu or mem_left < memory:
            continue
        if gpus:
            free = [d for d, f in enumerate(devs) if f == 1000][:gpus]
            if len(free) < gpus:
                continue
            for d in free:
                devs[d] = 0
            chosen = free
        elif fraction:
            milli = round(fraction * 1000)
            fit = [d for d, f in enumerate(devs) if f >= milli]
            if not fit:
                continue
            devs[fit[0]] -= milli
            chosen = [fit[0]]
        else:
            chosen = []
        capacity[name][1] -= cpu
        capacity[name][2] -= memory
        return name, chosen
    return None


def _release(capacity, c):
    for name in capacity:
        node = next(n for n in c.snapshot.nodes if n.name == name)
        capacity[name] = [len(node.gpus) * 1000, node.cpu, node.memory, [1000] * len(node.gpus)]
    for pod in c.snapshot.pods:
        if pod.node:
            capacity[pod.node][1] -= pod.cpu
            capacity[pod.node][2] -= pod.memory
            for d in pod.devices:
                capacity[pod.node][3][d] -= 1000 if pod.gpus else round(pod.gpu_fraction * 1000)


@pytest.mark.parametrize("seed", range(150))
def test_decisions_keep_every_rule(seed):
    snapshot = random_cluster(seed)
    d = run_cycle(snapshot, CycleConfig(now=100.0))
    pods = {p.key: p for p in snapshot.pods}
    groups = {g.key: g for g in snapshot.groups}
    projects = {p.name: p for p in snapshot.projects}
    nodes = {n.name: n for n in snapshot.nodes}

    evicted = {e.pod for e in d.evictions}
    bound = {b.pod: b for b in d.binds}
    assert all(pods[k].node is not None for k in evicted), "only running pods are evicted"
    assert all(pods[k].node is None for k in bound), "only waiting pods are bound"
    assert len(bound) == len(d.binds) and len(evicted) == len(d.evictions)

    # Usage after the decisions (a consolidation move lands where it says).
    devices = defaultdict(int)
    cpu = defaultdict(int)
    mem = defaultdict(int)
    running_groups = defaultdict(int)
    project_gpus = defaultdict(float)
    nonpreemptible_gpus = defaultdict(float)
    moved = {e.pod: e.moved_to for e in d.evictions if e.moved_to}
    for key, pod in pods.items():
        node, devs, share = None, [], 0
        if pod.node and key not in evicted:
            node, devs = pod.node, pod.devices
        elif key in moved:
            node, devs = moved[key], None
        elif key in bound:
            node, devs, share = bound[key].node, list(bound[key].devices), bound[key].gpu_fraction
        if node is None:
            continue
        shape = shape_of(pod)
        milli = 1000 if shape.gpus else shape.milli
        for dev in devs or []:
            devices[(node, dev)] += milli
        cpu[node] += pod.cpu
        mem[node] += pod.memory
        group = groups[f"{pod.namespace}/{pod.group}"]
        running_groups[group.key] += 1
        gpu = pod.gpus + pod.gpu_fraction
        if not node.startswith("x-"):  # quotas are given for the pool default only
            project_gpus[group.queue] += gpu
        preemptible = group.preemptible if group.preemptible is not None else group.priority_class in (
            "train", "build-preemptible")
        if not preemptible and not node.startswith("x-"):
            nonpreemptible_gpus[group.queue] += gpu
        if key in bound:
            assert share == (1.0 if shape.gpus else shape.milli / 1000)
    assert all(v <= 1000 for v in devices.values()), "a device holds more than one GPU"
    assert all(cpu[n] <= nodes[n].cpu and mem[n] <= nodes[n].memory for n in cpu), "a node is over its CPU or memory"

    for group in snapshot.groups:
        members = [p for p in snapshot.pods if p.group == group.name and p.namespace == group.namespace]
        newly = [p for p in members if p.key in bound]
        gone = [p for p in members if p.key in evicted and p.key not in moved]
        if gone:
            assert len(gone) == sum(1 for p in members if p.node), f"{group.name} evicted in part"
            preemptible = group.preemptible if group.preemptible is not None else group.priority_class in (
                "train", "build-preemptible")
            assert preemptible, f"non-preemptible {group.name} evicted"
        if newly:
            assert running_groups[group.key] >= min(group.min_member, len(members)), f"{group.name} below its gang"

    for name, project in projects.items():
        quota = project.quotas["default"].gpu
        before = sum(p.gpus + p.gpu_fraction for p in snapshot.pods
                     if p.node and not p.node.startswith("x-") and p.namespace == f"runai-{name}")
        if quota.max_allowed != -1:
            assert project_gpus[name] <= max(quota.max_allowed, before) + 1e-9
        before_np = sum(p.gpus + p.gpu_fraction for p in snapshot.pods
                        if p.node and not p.node.startswith("x-") and p.namespace == f"runai-{name}"
                        and groups[f"{p.namespace}/{p.group}"].priority_class in ("build", "inference"))
        if nonpreemptible_gpus[name] > before_np + 1e-9:  # it gained non-preemptible GPUs this cycle
            assert nonpreemptible_gpus[name] <= quota.deserved + 1e-9


# --- evictions are as few as needed (issue G, defect 3) -----------------------------------------------------------

SHAPES = [(1, 0.0), (1, 0.0), (2, 0.0), (4, 0.0), (0, 0.5), (0, 0.25)]  # (whole GPUs, fraction)
job_specs = st.tuples(st.integers(0, 2), st.sampled_from(SHAPES), st.sampled_from([1, 1, 2]),
                      st.sampled_from(PRIORITIES + ["build-preemptible"]), st.sampled_from([0, 2000, 8000]))


@st.composite
def busy_clusters(draw: st.DrawFn) -> Snapshot:
    """Nodes filled by running jobs of up to three projects, and jobs of every priority waiting for room."""
    c = Cluster()
    c.pool("default", placement=draw(st.sampled_from(["binpack", "spread"])))
    gpus = draw(st.sampled_from([2, 4, 8]))
    nodes = c.nodes(draw(st.integers(1, 4)), gpus=gpus, cpu=draw(st.sampled_from([16000, 64000])))
    projects = [c.project(f"p{i}", gpu=draw(st.sampled_from([0, 1, 2, 4, 6])),
                          max_gpu=draw(st.sampled_from([-1, -1, 6, 10])),
                          weight=draw(st.sampled_from([None, 1, 3])))
                for i in range(draw(st.integers(1, 3)))]
    free = {n.name: [n.cpu, [1000] * gpus] for n in nodes}
    order = draw(st.permutations([n.name for n in nodes]))
    running = draw(st.lists(job_specs, max_size=12))
    waiting = draw(st.lists(job_specs, min_size=1, max_size=5))
    for i, (project, (whole, fraction), pods, priority, cpu) in enumerate([*running, *waiting]):
        spots = _first_fit(free, order, whole, fraction, cpu, pods) if i < len(running) else None
        c.job(f"j{i}", projects[project % len(projects)].name, gpus=whole or 1, fraction=fraction, pods=pods,
              cpu=cpu, priority=priority, running_on=[n for n, _ in spots] if spots else None,
              devices=[d for _, d in spots] if spots else None, started=float(i) if spots else None)
    return c.build()


def _first_fit(free: dict, order: list[str], whole: int, fraction: float, cpu: int, pods: int) -> list | None:
    """Where the pods of a running job sit (taken from `free`), or None if they do not all fit."""
    trial = {name: [row[0], list(row[1])] for name, row in free.items()}
    spots = []
    for _ in range(pods):
        for name in order:
            row = trial[name]
            need = 1000 if whole else round(fraction * 1000)
            devices = [d for d, f in enumerate(row[1]) if f >= need][: whole or 1]
            if row[0] >= cpu and len(devices) == (whole or 1) and (not whole or all(row[1][d] == 1000 for d in devices)):
                row[0] -= cpu
                for d in devices:
                    row[1][d] -= need
                spots.append((name, devices))
                break
        else:
            return None
    free.update(trial)
    return spots


def _milli(pod) -> int:
    return 1000 if pod.gpus else round(pod.gpu_fraction * 1000)


def unneeded_evictions(snapshot: Snapshot, d: Decisions) -> list[str]:
    """The evicted jobs that could stay where they run with every other decision of the cycle as it is."""
    nodes = {n.name: n for n in snapshot.nodes}
    groups = {g.key: g for g in snapshot.groups}
    projects = {p.name: p for p in snapshot.projects}
    bound = {b.pod: b for b in d.binds}
    gone = {e.pod for e in d.evictions}
    device, cpu, mem, count, gpus = defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(int), defaultdict(float)
    for pod in snapshot.pods:
        if pod.node and pod.key not in gone:
            node, devices = pod.node, pod.devices
        elif pod.key in bound:
            node, devices = bound[pod.key].node, bound[pod.key].devices
        else:
            continue
        for dev in devices:
            device[(node, dev)] += _milli(pod)
        cpu[node] += pod.cpu
        mem[node] += pod.memory
        count[node] += 1
        gpus[groups[f"{pod.namespace}/{pod.group}"].queue] += _milli(pod) * len(devices) / 1000
    moved_to = {e.moved_to for e in d.evictions if e.moved_to}  # where moves land is known by node only
    unneeded = []
    for group in sorted({e.group for e in d.evictions if not e.moved_to}):
        pods = [p for p in snapshot.pods if f"{p.namespace}/{p.group}" == group and p.key in gone]
        if any(p.node in moved_to for p in pods):
            continue
        dev, c, m, n = defaultdict(int, device), defaultdict(int, cpu), defaultdict(int, mem), defaultdict(int, count)
        for pod in pods:
            for x in pod.devices:
                dev[(pod.node, x)] += _milli(pod)
            c[pod.node] += pod.cpu
            m[pod.node] += pod.memory
            n[pod.node] += 1
        fits = all(v <= 1000 for v in dev.values()) and all(
            c[x] <= nodes[x].cpu and m[x] <= nodes[x].memory and n[x] <= nodes[x].max_pods for x in c)
        project = groups[group].queue
        cap = projects[project].quotas["default"].gpu.max_allowed
        back = gpus[project] + sum(_milli(p) * len(p.devices) / 1000 for p in pods)
        if fits and (cap == -1 or back <= cap + 1e-9):
            unneeded.append(group)
    return unneeded


def replaced_in_the_same_cycle(d: Decisions) -> list[str]:
    """Pods evicted and placed again by this cycle, other than consolidation moves."""
    bound = {b.pod for b in d.binds}
    return [e.pod for e in d.evictions
            if e.pod in bound or (e.moved_to is not None and e.action != "consolidate")]


PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTIES
@given(busy_clusters())
def test_every_eviction_of_a_cycle_is_needed(snapshot):
    d = run_cycle(snapshot, CycleConfig(now=100.0))
    assert unneeded_evictions(snapshot, d) == [], [(e.pod, e.reason) for e in d.evictions]


@PROPERTIES
@given(busy_clusters())
def test_no_pod_is_evicted_and_placed_again_in_one_cycle_except_by_consolidation(snapshot):
    d = run_cycle(snapshot, CycleConfig(now=100.0))
    assert replaced_in_the_same_cycle(d) == []


@pytest.mark.parametrize("seed", range(150))
def test_the_random_clusters_evict_only_what_is_needed(seed):
    snapshot = random_cluster(seed)
    d = run_cycle(snapshot, CycleConfig(now=100.0))
    assert unneeded_evictions(snapshot, d) == [] and replaced_in_the_same_cycle(d) == []
