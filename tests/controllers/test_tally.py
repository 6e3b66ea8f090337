"""What projects, departments and node pools hold and ask for (`berth.controllers.tally`): a pure unit, on
objects shaped as the API returns them."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from berth.controllers.tally import Objects, statuses


def project(name: str, department: str | None = None, **spec) -> dict:
    if department:
        spec["department"] = department
    return {"metadata": {"name": name, "uid": name}, "spec": spec}


def namespace(name: str) -> dict:
    return {"metadata": {"name": name}}


def pool(name: str, value: str | None = None) -> dict:
    spec = {"labelKey": "run.ai/node-pool", "labelValue": value or name} if name != "default" else {}
    return {"metadata": {"name": name}, "spec": spec}


def node(name: str, pool_label: str | None = None, gpus: int = 4, memory_mib: int = 81920, ready: bool = True) -> dict:
    labels = {"run.ai/node-pool": pool_label} if pool_label else {}
    return {"metadata": {"name": name, "labels": labels,
                         "annotations": {"run.ai/gpus": json.dumps([{"index": i, "memoryMiB": memory_mib}
                                                                    for i in range(gpus)])}},
            "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": str(gpus)},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(name: str, ns: str, *, gpus: int = 0, fraction: str | None = None, gpu_memory: int | None = None,
        cpu: str | None = None, node_name: str | None = None, phase: str = "Running", deleting: bool = False,
        pools: str | None = None, devices: str | None = None) -> dict:
    annotations = {}
    if fraction:
        annotations["gpu-fraction"] = fraction
    if gpu_memory:
        annotations["gpu-memory"] = str(gpu_memory)
    if pools:
        annotations["run.ai/node-pools"] = pools
    if devices:
        annotations["run.ai/gpu-devices"] = devices
    limits = {"nvidia.com/gpu": str(gpus)} if gpus else {}
    requests = {"cpu": cpu} if cpu else {}
    meta = {"name": name, "namespace": ns, "annotations": annotations}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"containers": [{"name": "main", "resources": {"limits": limits, "requests": requests}}]}
    if node_name:
        spec["nodeName"] = node_name
    return {"metadata": meta, "spec": spec, "status": {"phase": phase if node_name else "Pending"}}


def test_gpu_shares_are_counted_as_the_scheduler_counts_them():
    objects = Objects(
        projects=[project("a", deservedGpus=1)], namespaces=[namespace("runai-a")],
        node_pools=[pool("small")], nodes=[node("n-40", "small", gpus=2, memory_mib=40960), node("n-80")],
        pods=[pod("mem-placed", "runai-a", gpu_memory=10240, node_name="n-40", devices="1"),
              pod("frac", "runai-a", fraction="0.3", node_name="n-80"),
              pod("mem-waiting", "runai-a", gpu_memory=10240, pools="small"),
              pod("done", "runai-a", gpus=2, node_name="n-80", phase="Succeeded"),
              pod("gone-before-placed", "runai-a", gpus=2, deleting=True),
              pod("going", "runai-a", gpus=1, node_name="n-80", deleting=True)])
    out = statuses(objects)
    a = out[("Project", "a")]
    assert a["allocated"]["gpu"] == 0.25 + 0.3 + 1  # 10 GiB of a 40 GiB device; a pod being deleted holds until gone
    assert a["requested"]["gpu"] == 0.25 + 0.3 + 1 + 0.25  # waiting: the pool's largest device (40 GiB)
    rows = {r["nodePool"]: r for r in a["nodePools"]}
    assert rows["small"]["allocated"]["gpu"] == 0.25 and rows["small"]["requested"]["gpu"] == 0.5
    assert rows["default"]["allocated"]["gpu"] == 1.3
    over = {c["type"]: c for c in a["conditions"]}["OverQuota"]
    assert over["status"] == "True" and "0.25 GPU in node pool small, 0.25 more than its deserved 0" in over["message"]
    assert out[("NodePool", "small")]["allocatedGpus"] == 0.25 and out[("NodePool", "small")]["totalGpus"] == 2


def test_a_project_is_creating_until_its_namespace_exists_and_deleting_once_deleted():
    creating = statuses(Objects(projects=[project("new", namespace="legacy")]))[("Project", "new")]
    assert (creating["phase"], creating["namespace"], creating["message"]) == ("Creating", "legacy", "creating namespace legacy")
    assert creating["conditions"][0] == {"type": "Ready", "status": "False", "reason": "NamespaceMissing",
                                         "message": "creating namespace legacy"}
    gone = project("old")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert statuses(Objects(projects=[gone], namespaces=[namespace("runai-old")]))[("Project", "old")]["phase"] == "Deleting"


def test_a_pool_without_ready_nodes_is_empty_and_says_why():
    out = statuses(Objects(node_pools=[pool("h100"), pool("a100")], nodes=[node("a-0", "a100", ready=False)]))
    assert out[("NodePool", "h100")]["message"] == "no node has the label run.ai/node-pool=h100"
    a100 = out[("NodePool", "a100")]
    assert (a100["phase"], a100["nodes"], a100["totalGpus"]) == ("Empty", ["a-0"], 0)
    assert a100["message"] == "none of its 1 node is ready"


def test_a_department_without_quota_is_guaranteed_its_projects_quotas():
    objects = Objects(projects=[project("p", "d", deservedGpus=2), project("q", "d", nodePoolsResources=[
        {"nodePool": "x", "gpu": {"deserved": 1.5}}]), project("r", deservedGpus=7)],
        departments=[{"metadata": {"name": "d"}, "spec": {}},
                     {"metadata": {"name": "capped"}, "spec": {"deservedGpus": 1}}])
    out = statuses(objects)
    assert out[("Department", "d")]["deservedGpus"] == 3.5
    assert out[("Department", "d")]["projects"] == ["p", "q"]
    assert out[("Department", "capped")]["deservedGpus"] == 1 and out[("Department", "capped")]["projects"] == []


PROJECTS = ["a", "b", "c"]
POOLS = ["default", "x"]
NODES = {"d-0": None, "x-0": "x", "x-1": "x"}


@st.composite
def clusters(draw) -> Objects:
    pods = []
    for i in range(draw(st.integers(0, 25))):
        ns = "runai-" + draw(st.sampled_from([*PROJECTS, "stray"]))
        ask = draw(st.sampled_from(["gpus", "fraction", "memory", "cpu"]))
        kwargs = {"gpus": draw(st.integers(1, 4))} if ask == "gpus" else \
            {"fraction": draw(st.sampled_from(["0.1", "0.25", "0.5"]))} if ask == "fraction" else \
            {"gpu_memory": draw(st.integers(1, 81920))} if ask == "memory" else {"cpu": draw(st.sampled_from(["100m", "2"]))}
        pods.append(pod(f"p{i}", ns, node_name=draw(st.sampled_from([None, *NODES])),
                        phase=draw(st.sampled_from(["Running", "Running", "Succeeded", "Failed"])),
                        deleting=draw(st.booleans()), pools=draw(st.sampled_from([None, "x", "x default"])), **kwargs))
    projects = [project(p, draw(st.sampled_from(["d", "e"])), deservedGpus=draw(st.integers(0, 3))) for p in PROJECTS]
    return Objects(projects=projects, departments=[{"metadata": {"name": d}, "spec": {}} for d in ("d", "e")],
                   node_pools=[pool(p) for p in POOLS], nodes=[node(n, label) for n, label in NODES.items()],
                   pods=pods, namespaces=[namespace(f"runai-{p}") for p in PROJECTS])


def _gpu(status: dict, field: str) -> float:
    return status[field]["gpu"]


@settings(max_examples=150, deadline=None)
@given(clusters())
def test_every_total_is_the_sum_of_its_parts(objects: Objects):
    out = statuses(objects)
    for (kind, name), status in out.items():
        if kind == "NodePool":
            continue
        assert _gpu(status, "allocated") <= _gpu(status, "requested") + 1e-9
        for field in ("allocated", "requested"):  # every counted pod is in a pool: the pools add up to the whole
            assert abs(sum(_gpu(r, field) for r in status["nodePools"]) - _gpu(status, field)) < 1e-6
    for dept in ("d", "e"):
        members = [p["metadata"]["name"] for p in objects.projects if p["spec"]["department"] == dept]
        assert out[("Department", dept)]["projects"] == members
        for field in ("allocated", "requested"):
            expected = sum(_gpu(out[("Project", p)], field) for p in members)
            assert abs(_gpu(out[("Department", dept)], field) - expected) < 1e-6
    for field in ("allocated", "requested"):  # the pools hold the projects' pods, and stray pods besides
        projects = sum(_gpu(out[("Project", p)], field) for p in PROJECTS)
        pools = sum(_gpu(out[("NodePool", p)], field) for p in POOLS)
        assert pools >= projects - 1e-6
    assert sum(out[("NodePool", p)]["totalGpus"] for p in POOLS) == 12


def test_mig_slices_and_shares_of_several_devices_count_what_they_take():
    a30 = node("a30", gpus=1, memory_mib=24576)
    a30["metadata"]["annotations"]["run.ai/gpus"] = json.dumps(
        [{"index": 0, "memoryMiB": 24576, "mig": ["2g.12gb", "2g.12gb"], "migSlices": 4}])
    slice_pod = pod("slice", "runai-a", node_name="a30", devices="0:1")
    slice_pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/mig-2g.12gb"] = "1"
    waiting_slice = pod("waiting-slice", "runai-a")
    waiting_slice["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/mig-3g.20gb"] = "1"
    pair = pod("pair", "runai-a", fraction="0.25", node_name="n-80", devices="0,1")
    pair["metadata"]["annotations"]["gpu-fraction-num-devices"] = "2"
    objects = Objects(projects=[project("a", deservedGpus=2)], namespaces=[namespace("runai-a")],
                      nodes=[a30, node("n-80")], pods=[slice_pod, waiting_slice, pair])
    a = statuses(objects)[("Project", "a")]
    assert a["allocated"]["gpu"] == 0.5 + 0.5  # 2 of the A30's 4 compute slices; a quarter of each of two GPUs
    assert a["requested"]["gpu"] == 1 + 0.428  # waiting: 3 of 7 slices, rounded down


def test_a_gpu_reservation_pod_is_not_counted_beside_the_pods_sharing_its_gpu():
    # On a real cluster a reservation pod asks nvidia.com/gpu: 1 for the GPU two halves share (berth.api.sharing):
    # the pool holds one GPU, not two.
    reservation = pod("gpu-reservation-n1-0", "runai-reservation", gpus=1, node_name="n1", devices="0")
    halves = [pod(f"half-{i}", "runai-a", fraction="0.5", node_name="n1", devices="0") for i in "ab"]
    out = statuses(Objects(projects=[project("a")], node_pools=[pool("default")], nodes=[node("n1")],
                           pods=[reservation, *halves], namespaces=[namespace("runai-a")]))
    assert out[("NodePool", "default")]["allocatedGpus"] == 1
