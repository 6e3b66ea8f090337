"""Simulated nodes at scale (issue F): 1,000 nodes x 8 GPUs and 8,000 single-GPU pods.

(`nodes.sim_8000_running_s`, the same through workloads, controllers and the scheduler, is
`bench_throughput`'s, with issue L's other end-to-end figures.)

- nodes.sim_8000_prebound_running_s: from the first of 8,000 pod creates to the moment the API shows the
  last of them Running. The pods are created already bound (spec.nodeName set, round-robin over the nodes, one
  GPU device each), as a scheduler would have left them; they do not go through workloads, the controllers
  or the scheduler, which are not in this figure (`berth up` runs without both). It covers the
  creates (8 connections, a minimal HTTP/1.1 client), the simulator's pod informer, its status merge
  patches, and the watch fan-out, with the 1,000 nodes' heartbeats going on meanwhile.
- nodes.sim_8000_prebound_rss_mb: peak RSS (VmHWM) of `berth up` plus that of the node simulator, each in
  the context.

Both figures run the simulator as a process of its own (`python -m berth.nodes.simulated`). When
`berth up` has `--nodes`, the same run with the simulator inside `berth up` (its event loop shared with
the API server) is measured too and reported in the context as `in_process`.

The simulator is loaded from a cluster file (`berth up --nodes`' format) and driven by
`berth.nodes.simulated`, unchanged. Every process shares the same machine (2 cores when this was
written): the API server, the simulator and the client that creates the pods.

The child is `python -m berth.nodes.simulated CLUSTER_YAML --kubeconfig ...`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import BerthUp, Figure, Skip, api_server_alone, has_flag, lean_posts

NS = "bench-nodes"
NODES, GPUS, PODS = 1000, 8, 8000
CLUSTER_YAML = f"""pools:
- name: sim
  count: {NODES}
  gpus: {GPUS}
  gpuModel: NVIDIA-A100-SXM4-80GB
  gpuMemoryMiB: 81920
  cpu: "128"
  memory: 1Ti
  labels: {{run.ai/type: dgx-a100}}
"""

CONTEXT_NOTE = ("pods created directly, already bound round-robin to the nodes (as a scheduler would leave "
                "them); not through workloads, controllers or the scheduler; berth up runs the API server alone")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    """The child processes of `pid` (berth up's components process)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _cpu_s(pid: int) -> float:
    """User plus system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pod(i: int) -> bytes:
    return orjson.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"p-{i}", "namespace": NS, "labels": {"app": "bench"},
                     "annotations": {"run.ai/gpu-devices": str((i // NODES) % GPUS)}},
        "spec": {"nodeName": f"sim-{i % NODES}", "schedulerName": "runai-scheduler", "restartPolicy": "Never",
                 "containers": [{"name": "main", "image": "nvcr.io/nvidia/pytorch:24.01-py3",
                                 "command": ["python", "train.py"],
                                 "resources": {"limits": {"nvidia.com/gpu": "1"},
                                               "requests": {"cpu": "4", "memory": "32Gi"}}}]},
    })


def _server(tmp: Path, *extra: str, alone: bool = True) -> BerthUp:
    return BerthUp(tmp, *(api_server_alone() if alone else ()), *extra)


async def _lean_creates(server: BerthUp, bodies: list[bytes], path: str = "") -> None:
    await lean_posts(server.url, server.ca, server.token, path or f"/api/v1/namespaces/{NS}/pods", bodies)


async def _time_to_running(http: httpx.AsyncClient, namespace: str, create: Any, limit: float,
                           pods: int = PODS) -> dict[str, float]:
    """Seconds from the start of `create()` until `pods` pods of `namespace` are Running (and how long the
    creates took). Pods start matching status.phase=Running as ADDED events: counted without decoding."""
    rv = (await http.get(f"/api/v1/namespaces/{namespace}/pods")).json()["metadata"]["resourceVersion"]
    done = asyncio.Event()
    seen = 0
    finished: list[float] = []

    async def watch() -> None:
        nonlocal seen
        params = {"watch": "true", "resourceVersion": rv, "fieldSelector": "status.phase=Running"}
        async with http.stream("GET", f"/api/v1/namespaces/{namespace}/pods", params=params) as stream:
            async for line in stream.aiter_lines():
                if line.startswith('{"type":"ADDED"'):
                    seen += 1
                    if seen == pods:
                        finished.append(time.perf_counter())
                        done.set()
                        return

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    start = time.perf_counter()
    await create()
    created = time.perf_counter() - start
    try:
        await asyncio.wait_for(done.wait(), limit)
    finally:
        watcher.cancel()
    return {"running_s": finished[0] - start, "creates_s": created}


async def _measure(server: BerthUp) -> dict[str, float]:
    async with server.client(timeout=None) as http:
        r = await http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                        "metadata": {"name": NS}})
        assert r.status_code == 201, r.text
        bodies = [_pod(i) for i in range(PODS)]
        return await _time_to_running(http, NS, lambda: _lean_creates(server, bodies), 600)


def _simulator(server: BerthUp, cluster_file: Path) -> tuple[subprocess.Popen[str], float]:
    log = cluster_file.with_suffix(".log")
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "berth.nodes.simulated", str(cluster_file), "--kubeconfig",
                                 str(server.kubeconfig)], stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if not line or line[0] != "ready":
        proc.kill()
        raise RuntimeError(f"the node simulator did not start:\n{log.read_text()[-3000:]}")
    return proc, float(line[2])


def _as_child(tmp: Path, cluster_file: Path) -> dict[str, float]:
    """The simulator as a process of its own beside `berth up`."""
    server = _server(tmp)
    sim = None
    try:
        sim, register_s = _simulator(server, cluster_file)
        cpu_before = _cpu_s(server.proc.pid), _cpu_s(sim.pid)
        loop = asyncio.new_event_loop()
        result = loop.run_until_complete(_measure(server))
        loop.close()
        return {**result, "register_s": register_s,
                "server_cpu_s": _cpu_s(server.proc.pid) - cpu_before[0], "sim_cpu_s": _cpu_s(sim.pid) - cpu_before[1],
                "server_mb": _peak_rss_mb(server.proc.pid), "sim_mb": _peak_rss_mb(sim.pid)}
    finally:
        if sim is not None:
            sim.terminate()
            sim.wait(timeout=20)
        server.close()


def _in_process(tmp: Path, cluster_file: Path) -> dict[str, float] | None:
    """`berth up --nodes cluster.yaml`: the simulator in the API server's process and event loop (None when
    this `berth up` has no --nodes yet)."""
    if not has_flag("--nodes"):
        return None
    server = _server(tmp, "--nodes", str(cluster_file))
    try:
        start = time.perf_counter()
        with httpx.Client(base_url=server.url, verify=server.ca,
                          headers={"Authorization": f"Bearer {server.token}"}) as http:
            while len(http.get("/api/v1/nodes", params={"labelSelector": "berth.dev/simulated=true"})
                       .json()["items"]) < NODES:
                if time.perf_counter() - start > 300:
                    raise RuntimeError("berth up --nodes did not register its nodes in 300 s")
                time.sleep(0.5)
        register_s = time.perf_counter() - start
        time.sleep(1.0)  # the pod informer's first (empty) list
        cpu_before = _cpu_s(server.proc.pid)
        loop = asyncio.new_event_loop()
        result = loop.run_until_complete(_measure(server))
        loop.close()
        return {**result, "register_s": register_s, "server_cpu_s": _cpu_s(server.proc.pid) - cpu_before,
                "server_mb": _peak_rss_mb(server.proc.pid)}
    finally:
        server.close()


def sim_8000() -> list[Figure]:
    try:
        import berth.nodes.simulated  # noqa: F401
    except ImportError as exc:
        raise Skip(f"berth.nodes.simulated is not importable: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="berth-bench-nodes-") as tmp:
        cluster_file = Path(tmp) / "cluster.yaml"
        cluster_file.write_text(CLUSTER_YAML)
        child = _as_child(Path(tmp) / "child", cluster_file)
        inside = _in_process(Path(tmp) / "inside", cluster_file)
    context = {"nodes": NODES, "gpus_per_node": GPUS, "pods": PODS, "what": CONTEXT_NOTE,
               "creates_s": round(child["creates_s"], 2), "register_1000_nodes_s": round(child["register_s"], 2),
               "berth_up_cpu_s": round(child["server_cpu_s"], 2), "simulator_cpu_s": round(child["sim_cpu_s"], 2),
               "simulator": "separate process: python -m berth.nodes.simulated cluster.yaml (uvloop)"}
    memory = {"berth_up_mb": round(child["server_mb"], 1), "simulator_mb": round(child["sim_mb"], 1),
              "note": "sum of the two processes' VmHWM", "what": CONTEXT_NOTE}
    if inside is not None:
        context["in_process"] = {"running_s": round(inside["running_s"], 2), "creates_s": round(inside["creates_s"], 2),
                                 "register_1000_nodes_s": round(inside["register_s"], 2),
                                 "berth_up_cpu_s": round(inside["server_cpu_s"], 2),
                                 "how": "berth up --nodes cluster.yaml: simulator in the API server's event loop"}
        memory["in_process_berth_up_mb"] = round(inside["server_mb"], 1)
    return [
        Figure("nodes.sim_8000_prebound_running_s", child["running_s"], "s", "(reported)", context),
        Figure("nodes.sim_8000_prebound_rss_mb", child["server_mb"] + child["sim_mb"], "MiB", "(reported)", memory),
    ]


BENCHMARKS = [sim_8000]

if __name__ == "__main__":
    for figure in sim_8000():
        print(figure.name, round(figure.value, 3), figure.unit, figure.context)
