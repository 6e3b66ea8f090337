"""Distributed workloads: every jobType's pods, environment and peer discovery, as a gang; and a controller
restarted in the middle of creating a 16-worker job leaves exactly 17 pods."""

from __future__ import annotations

import asyncio
import json

import pytest

from berth.client import Client
from berth.controllers.workloads import WorkloadController
from tests.cluster import make_cluster
from tests.controllers.helpers import (
    PhaseWatch,
    apply,
    client,
    eventually,
    names,
    pods_of,
    run_pod,
    set_pod_phase,
    workload_status,
)

NS = "runai-dist"


@pytest.fixture(scope="module")
def http(cluster):
    cluster.project(NS.removeprefix("runai-"))
    with client(cluster, timeout=30) as c:
        yield c


def distributed(name: str, job_type: str, workers: int, extra: str = "") -> str:
    return f"""
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {{name: {name}, namespace: {NS}}}
spec:
  jobType: {job_type}
  image: {{value: ubuntu}}
  command: {{value: python train.py}}
  gpu: {{value: "1"}}
  workers: {{value: {workers}}}
{extra}"""


def env_of(pod: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in pod["spec"]["containers"][0].get("env") or []}


def group_of(http, name: str) -> dict:
    groups = http.get(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{NS}/podgroups",
                      params={"labelSelector": f"run.ai/workload-name={name}"}).json()["items"]
    return groups[0] if groups else {}


def test_pytorch_master_and_workers(cluster, http):
    apply(cluster, distributed("torch", "PyTorchJob", 2, "  masterSpec: {gpu: {value: \"0\"}}"))
    pods = eventually(lambda: (p := pods_of(http, NS, "torch")) and len(p) == 3 and p)
    assert names(pods) == ["torch-master-0", "torch-worker-0", "torch-worker-1"]
    envs = {p["metadata"]["name"]: env_of(p) for p in pods}
    assert {e["RANK"] for e in envs.values()} == {"0", "1", "2"}
    assert envs["torch-master-0"]["RANK"] == "0"
    assert all(e["WORLD_SIZE"] == "3" for e in envs.values())
    assert all(e["MASTER_ADDR"] == f"torch-master-0.torch.{NS}.svc" for e in envs.values())
    master = next(p for p in pods if p["metadata"]["name"] == "torch-master-0")
    assert "nvidia.com/gpu" not in (master["spec"]["containers"][0].get("resources") or {}).get("limits", {})
    assert group_of(http, "torch")["spec"]["minMember"] == 3  # a gang: all or none
    service = http.get(f"/api/v1/namespaces/{NS}/services/torch").json()
    assert service["spec"]["clusterIP"] == "None"


def test_tensorflow_gets_tf_config(cluster, http):
    apply(cluster, distributed("tf", "TFJob", 2))
    pods = eventually(lambda: (p := pods_of(http, NS, "tf")) and len(p) == 3 and p)
    config = json.loads(env_of(pods[-1])["TF_CONFIG"])
    assert set(config["cluster"]) == {"chief", "worker"} and len(config["cluster"]["worker"]) == 2
    assert config["task"] == {"type": "worker", "index": 1}


def test_mpi_launcher_workers_and_hostfile(cluster, http):
    apply(cluster, distributed("mpi", "MPIJob", 2, "  slotsPerWorker: {value: 4}"))
    pods = eventually(lambda: (p := pods_of(http, NS, "mpi")) and len(p) == 3 and p)
    assert names(pods) == ["mpi-launcher", "mpi-worker-0", "mpi-worker-1"]
    hostfile = eventually(lambda: http.get(f"/api/v1/namespaces/{NS}/configmaps/mpi-hostfile").json()
                          .get("data", {}).get("hostfile"))
    assert hostfile.splitlines() == [f"mpi-worker-0.mpi.{NS}.svc slots=4", f"mpi-worker-1.mpi.{NS}.svc slots=4"]


def test_xgboost_and_the_gang_finishing(cluster, http):
    apply(cluster, distributed("xgb", "XGBoostJob", 1, "  runPolicy: {cleanPodPolicy: {value: All}}"))
    pods = eventually(lambda: (p := pods_of(http, NS, "xgb")) and len(p) == 2 and p)
    for pod in names(pods):
        run_pod(http, NS, pod)
    eventually(lambda: workload_status(http, "distributedworkloads", NS, "xgb").get("phase") == "Running")
    set_pod_phase(http, NS, "xgb-master-0", "Succeeded")
    eventually(lambda: workload_status(http, "distributedworkloads", NS, "xgb").get("phase") == "Completed")
    eventually(lambda: not pods_of(http, NS, "xgb"))  # cleanPodPolicy All


def test_workers_that_finish_before_the_master_leave_the_job_running_and_keep_their_logs(cluster, http):
    watch = PhaseWatch(cluster, "dw", NS)
    try:
        apply(cluster, distributed("early", "PyTorchJob", 2))
        pods = eventually(lambda: (p := pods_of(http, NS, "early")) and len(p) == 3 and p)
        for pod in names(pods):
            run_pod(http, NS, pod)
        eventually(lambda: workload_status(http, "distributedworkloads", NS, "early").get("phase") == "Running")
        set_pod_phase(http, NS, "early-worker-0", "Succeeded")
        set_pod_phase(http, NS, "early-worker-1", "Succeeded")
        status = eventually(lambda: (s := workload_status(http, "distributedworkloads", NS, "early"))
                            .get("succeededPods") == 2 and s)
        assert status["phase"] == "Running"  # workers that ended well are not missing
        set_pod_phase(http, NS, "early-master-0", "Succeeded")
        eventually(lambda: watch.phases("early")[-1:] == ["Completed"])
    finally:
        watch.stop()
    assert "Degraded" not in watch.phases("early"), watch.messages
    assert names(pods_of(http, NS, "early")) == ["early-master-0", "early-worker-0", "early-worker-1"]  # kept


def test_the_gpu_column_shows_what_the_whole_workload_asks_for(cluster, http):
    apply(cluster, distributed("cols", "PyTorchJob", 3, "  masterSpec: {gpu: {value: \"0.5\"}}"))
    apply(cluster, f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: shared, namespace: {NS}}}
spec: {{image: {{value: x}}, gpuMemory: {{value: 4G}}, gpuDevices: {{value: 2}}, parallelism: {{value: 2}},
        completions: {{value: 4}}}}
""")

    def gpu_column(plural: str, name: str) -> str:
        rows = cluster.kubectl("get", plural, name, "-n", NS, "-o",
                               "custom-columns=GPU:.status.gpuRequest", "--no-headers").stdout.strip()
        return "" if rows == "<none>" else rows

    assert eventually(lambda: gpu_column("dw", "cols")) == "3.5"  # 3 workers x 1 GPU + a master's half
    assert eventually(lambda: gpu_column("tw", "shared")) == "4 x 4G"  # 2 pods at once, 4G on each of 2 GPUs
    header, row = cluster.kubectl("get", "dw", "cols", "-n", NS).stdout.splitlines()
    assert row.split()[header.split().index("GPU")] == "3.5"


class _CrashAfter:
    """A client that dies (like a killed process) after a number of pod creations."""

    def __init__(self, client: Client, creates: int) -> None:
        self._client = client
        self._left = creates

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    async def create(self, obj, **kw):
        if obj.get("kind") == "Pod":
            if self._left == 0:
                raise asyncio.CancelledError()
            self._left -= 1
        return await self._client.create(obj, **kw)


def test_a_controller_restarted_mid_creation_leaves_exactly_17_pods(tmp_path):
    cluster = make_cluster(tmp_path)
    cluster.args = ("--no-controllers", "--no-scheduler", "--no-local-node")
    cluster.start()
    try:
        cluster.project(NS.removeprefix("runai-"))
        apply(cluster, distributed("big", "PyTorchJob", 16))

        async def run(crash_after: int | None) -> None:
            async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="berth-controllers") as c:
                controller = WorkloadController(_CrashAfter(c, crash_after) if crash_after is not None else c)
                task = asyncio.create_task(controller.run())
                try:
                    await asyncio.wait_for(asyncio.shield(task), 8)
                except (asyncio.TimeoutError, asyncio.CancelledError):
                    pass
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

        asyncio.run(run(7))
        with client(cluster) as http:
            assert 0 < len(pods_of(http, NS, "big")) < 17  # it died half way
            asyncio.run(run(None))
            pods = eventually(lambda: (p := pods_of(http, NS, "big")) and len(p) == 17 and p)
            assert len(set(names(pods))) == 17
            assert names(pods)[0] == "big-master-0"
    finally:
        cluster.stop()


def test_berth_controllers_runs_them_against_any_api(bare_cluster):
    """The operator entry point: `berth controllers` against a `berth up` that has none of its own."""
    import subprocess

    from tests.cluster import BIN

    process = subprocess.Popen([str(BIN / "berth"), "controllers", "--kubeconfig", str(bare_cluster.kubeconfig)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bare_cluster.env())
    try:
        bare_cluster.project(NS.removeprefix("runai-"))
        apply(bare_cluster, distributed("remote", "PyTorchJob", 1))
        with client(bare_cluster) as http:
            assert len(eventually(lambda: (p := pods_of(http, NS, "remote")) and len(p) == 2 and p)) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
