"""Simulated nodes against a real `berth up` (the API server alone), with the simulator running in the
test's event loop; and the cluster file's errors as a user would see them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from berth.client import Client
from berth.nodes.cluster_file import ClusterFileError, load_cluster_file
from berth.nodes.node import SIM_DURATION, SIM_EXIT_CODE, NodeSpec
from berth.nodes.simulated import SimulatedNodes, parse_duration
from tests.cluster import Cluster

TIMEOUT_S = 60

CLUSTER_YAML = """
pools:
- name: a100
  count: 3
  gpus: 8
  gpuModel: NVIDIA-A100-SXM4-80GB
  gpuMemoryMiB: 81920
  cpu: "64"
  memory: 512Gi
  labels: {run.ai/type: dgx-a100}
- name: t4
  count: 2
  gpus: 1
  gpuModel: Tesla-T4
  gpuMemoryMiB: 15360
  labels: {run.ai/node-pool: inference}
"""


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, TIMEOUT_S))


@contextlib.asynccontextmanager
async def simulated(cluster: Cluster, specs: list[NodeSpec], **kw: Any) -> AsyncIterator[Client]:
    """The simulator for `specs` running in this loop, ready; yields a client for the test to act with."""
    async with Client.from_kubeconfig(cluster.kubeconfig, field_manager="simulated-nodes") as sim_client, \
            Client.from_kubeconfig(cluster.kubeconfig, field_manager="test") as client:
        sim = SimulatedNodes(sim_client, specs, **kw)
        task = asyncio.create_task(sim.run())
        ready = asyncio.create_task(sim.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED, timeout=30)
        if not sim.ready.is_set():
            ready.cancel()
            task.cancel()
            raise AssertionError(f"the simulator did not get ready: {task.exception() if task.done() else 'timeout'}")
        try:
            yield client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def specs(*names: str, gpus: int = 2) -> list[NodeSpec]:
    from berth.nodes.node import Gpu
    return [NodeSpec(name=n, gpus=tuple(Gpu(i) for i in range(gpus)), address=f"172.31.0.{i + 1}")
            for i, n in enumerate(names)]


async def namespace(client: Client, name: str) -> None:
    with contextlib.suppress(Exception):
        await client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def pod(name: str, ns: str, node: str | None, **annotations: str) -> dict:
    spec: dict[str, Any] = {"restartPolicy": "Never",
                            "containers": [{"name": "main", "image": "ubuntu",
                                            "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "annotations": annotations}, "spec": spec}


def phase_is(*phases: str) -> Callable[[dict | None], bool]:
    return lambda p: p is not None and (p.get("status") or {}).get("phase") in phases


# -- nodes ------------------------------------------------------------------------------------------


def test_nodes_of_a_cluster_file_are_registered_ready_and_kept_alive(bare_module_cluster: Cluster,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(CLUSTER_YAML)
    nodes = load_cluster_file(path)
    assert [n.name for n in nodes] == ["a100-0", "a100-1", "a100-2", "t4-0", "t4-1"]

    async def check() -> None:
        async with simulated(bare_module_cluster, nodes, heartbeat_s=0.5) as client:
            listed = {n["metadata"]["name"]: n for n in await client.list("Node", labels="berth.dev/simulated=true")}
            assert {"a100-0", "a100-1", "a100-2", "t4-0", "t4-1"} <= set(listed)
            a100 = listed["a100-1"]
            assert a100["status"]["capacity"] == {"cpu": "64", "memory": "512Gi", "pods": "110",
                                                  "nvidia.com/gpu": "8"}
            assert a100["status"]["allocatable"]["nvidia.com/gpu"] == "8"
            labels = a100["metadata"]["labels"]
            assert labels["run.ai/node-pool"] == "a100" and labels["run.ai/type"] == "dgx-a100"
            assert labels["nvidia.com/gpu.product"] == "NVIDIA-A100-SXM4-80GB"
            assert labels["nvidia.com/gpu.memory"] == "81920"
            gpus = json.loads(a100["metadata"]["annotations"]["run.ai/gpus"])
            assert [g["index"] for g in gpus] == list(range(8))
            assert {(g["model"], g["memoryMiB"]) for g in gpus} == {("NVIDIA-A100-SXM4-80GB", 81920)}
            ready = [c for c in a100["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True"
            t4 = listed["t4-1"]
            assert t4["metadata"]["labels"]["run.ai/node-pool"] == "inference"  # labels win over the pool name
            assert t4["status"]["capacity"]["nvidia.com/gpu"] == "1"
            assert t4["metadata"]["labels"]["nvidia.com/gpu.product"] == "Tesla-T4"
            # The heartbeat renews every node's Lease (here every 0.5 s).
            first = await client.get("Lease", "t4-1", "kube-node-lease")
            assert first["spec"]["holderIdentity"] == "t4-1"
            assert first["metadata"]["ownerReferences"][0]["uid"] == t4["metadata"]["uid"]
            later = await client.wait("Lease", "t4-1", "kube-node-lease", timeout=10,
                                      until=lambda o: o is not None and o["spec"]["renewTime"] != first["spec"]["renewTime"])
            assert later is not None

    run(check())


def test_a_deleted_node_comes_back(bare_module_cluster: Cluster) -> None:
    async def check() -> None:
        async with simulated(bare_module_cluster, specs("back-0"), heartbeat_s=0.3, status_every=1) as client:
            await client.delete("Node", "back-0")
            node = await client.wait("Node", "back-0", timeout=10, until=lambda o: o is not None)
            assert node is not None and node["status"]["capacity"]["nvidia.com/gpu"] == "2"

    run(check())


# -- pods -------------------------------------------------------------------------------------------


def test_a_bound_pod_runs_and_one_with_a_duration_ends(bare_module_cluster: Cluster) -> None:
    ns = "sim-run"

    async def check() -> None:
        async with simulated(bare_module_cluster, specs("run-0", "run-1")) as client:
            await namespace(client, ns)
            await client.create(pod("forever", ns, "run-0"))
            await client.create(pod("short", ns, "run-1", **{SIM_DURATION: "1s"}))
            created = time.monotonic()
            forever = await client.wait("Pod", "forever", ns, until=phase_is("Running"), timeout=10)
            status = forever["status"]
            assert status["hostIP"] == "172.31.0.1"
            assert status["podIP"] and status["podIP"] != status["hostIP"] and status["startTime"]
            (container,) = status["containerStatuses"]
            assert container["name"] == "main" and container["ready"] is True and "running" in container["state"]
            assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"

            short = await client.wait("Pod", "short", ns, until=phase_is("Running", "Succeeded"), timeout=10)
            short = await client.wait("Pod", "short", ns, until=phase_is("Succeeded"), timeout=10)
            assert time.monotonic() - created >= 0.9
            terminated = short["status"]["containerStatuses"][0]["state"]["terminated"]
            assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
            assert short["status"]["podIP"]

            await asyncio.sleep(1.0)  # no duration: still running
            assert (await client.get("Pod", "forever", ns))["status"]["phase"] == "Running"

    run(check())


def test_a_non_zero_exit_code_fails_the_pod(bare_module_cluster: Cluster) -> None:
    ns = "sim-fail"

    async def check() -> None:
        async with simulated(bare_module_cluster, specs("fail-0")) as client:
            await namespace(client, ns)
            await client.create(pod("crash", ns, "fail-0", **{SIM_DURATION: "250ms", SIM_EXIT_CODE: "3"}))
            failed = await client.wait("Pod", "crash", ns, until=phase_is("Failed", "Succeeded"), timeout=10)
            assert failed["status"]["phase"] == "Failed"
            terminated = failed["status"]["containerStatuses"][0]["state"]["terminated"]
            assert terminated["exitCode"] == 3 and terminated["reason"] == "Error"

            await client.create(pod("typo", ns, "fail-0", **{SIM_DURATION: "ten seconds"}))
            bad = await client.wait("Pod", "typo", ns, until=phase_is("Failed", "Running"), timeout=10)
            assert bad["status"]["phase"] == "Failed"
            assert bad["status"]["reason"] == "InvalidSimulation"
            assert SIM_DURATION in bad["status"]["message"] and "90s" in bad["status"]["message"]

    run(check())


def test_only_pods_bound_to_simulated_nodes_run(bare_module_cluster: Cluster) -> None:
    ns = "sim-bind"

    async def check() -> None:
        async with simulated(bare_module_cluster, specs("bind-0")) as client:
            await namespace(client, ns)
            await client.create(pod("elsewhere", ns, "not-simulated-here"))
            await client.create(pod("unbound", ns, None))
            await asyncio.sleep(0.5)
            for name in ("elsewhere", "unbound"):
                assert ((await client.get("Pod", name, ns)).get("status") or {}).get("phase") in (None, "Pending")
            await client.bind(ns, "unbound", "bind-0")  # as a scheduler does
            await client.wait("Pod", "unbound", ns, until=phase_is("Running"), timeout=10)
            assert ((await client.get("Pod", "elsewhere", ns)).get("status") or {}).get("phase") in (None, "Pending")

    run(check())


def test_a_deleted_pod_is_forgotten_and_its_namesake_runs_afresh(bare_module_cluster: Cluster) -> None:
    ns = "sim-delete"

    async def check() -> None:
        async with simulated(bare_module_cluster, specs("del-0")) as client:
            await namespace(client, ns)
            await client.create(pod("again", ns, "del-0", **{SIM_DURATION: "1s", SIM_EXIT_CODE: "7"}))
            await client.wait("Pod", "again", ns, until=phase_is("Running"), timeout=10)
            await client.delete("Pod", "again", ns)
            await client.wait("Pod", "again", ns, until=lambda o: o is None, timeout=10)
            await client.create(pod("again", ns, "del-0", **{SIM_DURATION: "2s"}))
            # The first incarnation's end (Failed, exit 7, due after 1 s) must not land on the second.
            await asyncio.sleep(1.3)
            current = await client.get("Pod", "again", ns)
            assert current["status"]["phase"] == "Running"
            done = await client.wait("Pod", "again", ns, until=phase_is("Succeeded", "Failed"), timeout=10)
            assert done["status"]["phase"] == "Succeeded"

    run(check())


def test_after_a_restart_running_pods_end_on_time(bare_module_cluster: Cluster) -> None:
    ns = "sim-restart"

    async def check() -> None:
        nodes = specs("restart-0")
        async with simulated(bare_module_cluster, nodes) as client:
            await namespace(client, ns)
            await client.create(pod("survivor", ns, "restart-0", **{SIM_DURATION: "2s"}))
            running = await client.wait("Pod", "survivor", ns, until=phase_is("Running"), timeout=10)
        started = running["status"]["startTime"]
        async with simulated(bare_module_cluster, nodes) as client:
            done = await client.wait("Pod", "survivor", ns, until=phase_is("Succeeded", "Failed"), timeout=10)
            assert done["status"]["phase"] == "Succeeded"
            assert done["status"]["startTime"] == started  # the same run, not a second one

    run(check())


def test_many_pods_on_many_nodes(bare_module_cluster: Cluster) -> None:
    ns = "sim-many"
    nodes = specs(*(f"many-{i}" for i in range(50)), gpus=8)

    async def check() -> None:
        async with simulated(bare_module_cluster, nodes) as client:
            await namespace(client, ns)
            sem = asyncio.Semaphore(8)

            async def make(i: int) -> None:
                async with sem:
                    annotations = {SIM_DURATION: "500ms"} if i % 2 else {}
                    await client.create(pod(f"p{i}", ns, f"many-{i % 50}", **annotations))

            await asyncio.gather(*(make(i) for i in range(200)))
            async with asyncio.timeout(30):
                while True:
                    phases = [(p.get("status") or {}).get("phase") for p in await client.list("Pod", ns)]
                    if phases.count("Running") == 100 and phases.count("Succeeded") == 100:
                        break
                    await asyncio.sleep(0.2)
            ips = {p["status"]["podIP"] for p in await client.list("Pod", ns)}
            assert len(ips) == 200

    run(check())


# -- the cluster file -------------------------------------------------------------------------------


def load_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    with pytest.raises(ClusterFileError) as caught:
        load_cluster_file(path)
    message = str(caught.value)
    assert all(line.startswith(f"{path}: ") for line in message.splitlines())
    return message


def test_cluster_file_typos_are_named_with_the_fix(tmp_path: Path) -> None:
    message = load_error(tmp_path, "pools:\n- name: a100\n  cuont: 4\n  gpuModle: X\n")
    assert 'pools[0].cuont: unknown field; did you mean "count"?' in message
    assert 'pools[0].gpuModle: unknown field; did you mean "gpuModel"?' in message
    assert 'pool: unknown field; did you mean "pools"?' in load_error(tmp_path, "pool:\n- name: a\n")


def test_cluster_file_wrong_values_say_what_is_expected(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'pools:\n- name: a\n  gpus: "8"\n  count: 0\n  cpu: lots\n'
                                   '  labels: {run.ai/type: 1}\n')
    assert 'pools[0].gpus: expected a whole number, got a string ("8"); write gpus: 8' in message
    assert "pools[0].count: must be at least 1, got 0" in message
    assert 'pools[0].cpu: "lots" is not a quantity; use a string like "2", "500m" or "4Gi"' in message
    assert 'pools[0].labels.run.ai/type: expected a string, got a number (1); quote it: "1"' in message
    assert 'pools[0].name: "A_1" is not a valid pool name' in load_error(tmp_path, "pools: [{name: A_1}]")
    assert "pools[0].name: required" in load_error(tmp_path, "pools: [{count: 2}]")


def test_cluster_file_shape_errors(tmp_path: Path) -> None:
    assert "pools: required; list the node pools" in load_error(tmp_path, "{}")
    assert "pools: is empty" in load_error(tmp_path, "pools: []")
    assert "is empty; list the node pools" in load_error(tmp_path, "")
    assert "expected a list of pools" in load_error(tmp_path, "pools: {name: a}")
    assert 'pools[1].name: "x" is also the name of pools[0]' in load_error(tmp_path, "pools: [{name: x}, {name: x}]")
    bad_yaml = load_error(tmp_path, "pools:\n- name: [a\n")
    assert "line 3, column 1: not valid YAML" in bad_yaml and "at line 2" in bad_yaml
    with pytest.raises(ClusterFileError, match="no such file"):
        load_cluster_file(tmp_path / "missing.yaml")


def test_cluster_file_nodes_are_named_by_pool(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text("pools:\n- {name: big, count: 1000, gpus: 8}\n- {name: cpu}\n")
    nodes = load_cluster_file(path)
    assert [n.name for n in nodes[:2]] + [nodes[999].name, nodes[1000].name] == ["big-0", "big-1", "big-999", "cpu-0"]
    assert all(n.simulated for n in nodes) and len({n.address for n in nodes}) == 1001
    assert len(nodes[0].gpus) == 8 and nodes[1000].gpus == ()


def test_durations() -> None:
    assert parse_duration("90s") == 90 and parse_duration("2m") == 120 and parse_duration("250ms") == 0.25
    assert parse_duration("1h30m") == 5400 and parse_duration("1.5s") == 1.5 and parse_duration("30") == 30
    for bad in ("", "ten", "5 s", "1d", "-1s", "1s2"):
        with pytest.raises(ValueError, match="write e.g. 90s"):
            parse_duration(bad)


def test_a_node_named_twice_is_refused() -> None:
    with pytest.raises(ValueError, match='"n-0"'):
        SimulatedNodes(None, specs("n-0", "n-0"))  # type: ignore[arg-type]




def test_the_simulator_process_refuses_a_bad_cluster_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "cluster.yaml"
    path.write_text("pools:\n- name: a100\n  gpu: 8\n")
    result = subprocess.run([sys.executable, "-m", "berth.nodes.simulated", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert f'{path}: pools[0].gpu: unknown field; did you mean "gpus"?' in result.stderr


MIG_YAML = """
pools:
- name: mig
  gpus: 2
  gpuModel: NVIDIA-A100-SXM4-40GB
  gpuMemoryMiB: 40960
  mig:
  - [3g.20gb, 2g.10gb, 1g.5gb, 1g.5gb]
"""


def test_a_simulated_node_advertises_the_mig_instances_of_its_cluster_file(bare_module_cluster: Cluster,
                                                                          tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(MIG_YAML)
    nodes = load_cluster_file(path)

    async def check() -> None:
        async with simulated(bare_module_cluster, nodes) as client:
            node = await client.get("Node", "mig-0")
            assert node["status"]["allocatable"] == {
                "cpu": "8", "memory": "64Gi", "pods": "110", "nvidia.com/gpu": "1",  # GPU 1 is whole
                "nvidia.com/mig-1g.5gb": "2", "nvidia.com/mig-2g.10gb": "1", "nvidia.com/mig-3g.20gb": "1"}
            gpus = json.loads(node["metadata"]["annotations"]["run.ai/gpus"])
            assert gpus[0]["mig"] == ["3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"] and gpus[0]["migSlices"] == 7
            assert "mig" not in gpus[1]

    run(check())


def test_cluster_file_mig_mistakes_name_the_profiles_there_are(tmp_path: Path) -> None:
    message = load_error(tmp_path, MIG_YAML.replace("1g.5gb, 1g.5gb", "1g.6gb, 1g.5gb, 1g.5gb"))
    assert ('pools[0].mig[0][2]: "1g.6gb" is not a MIG profile of NVIDIA-A100-SXM4-40GB; its profiles are '
            "1g.5gb, 1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb") in message
    message = load_error(tmp_path, MIG_YAML.replace("1g.5gb, 1g.5gb", "1g.5gb, 1g.5gb, 1g.5gb"))
    assert ("pools[0].mig[0]: these instances take 8 compute slices, but a NVIDIA-A100-SXM4-40GB has 7; "
            "drop some") in message
    message = load_error(tmp_path, MIG_YAML + "  - [7g.40gb]\n  - [7g.40gb]\n")
    assert "pools[0].mig: partitions 3 GPUs, but the pool's nodes have 2" in message
    message = load_error(tmp_path, MIG_YAML.replace("NVIDIA-A100-SXM4-40GB", "Future-GPU").replace("3g.20gb", "3g"))
    assert 'pools[0].mig[0][0]: "3g" is not a MIG profile; write one like 1g.10gb' in message
