"""End-to-end throughput (issue L): from created TrainingWorkloads to Running pods through the whole of
`berth up --nodes` (the API server; its components process: controllers, scheduler, simulated nodes),
over HTTPS, nothing skipped.

- nodes.fill_4000_running_s: 500 simulated nodes x 8 GPUs; 4,000 one-GPU TrainingWorkloads created over
  HTTPS (8 connections, `common.lean_posts`); from the first create to the last of their pods Running.
  Target: under 20 s.
- nodes.cpu_ms_per_workload: CPU of the API server plus the components process during that fill, per
  workload. Target: under 8 ms.
- nodes.gang_250x8_running_s: the same cluster shape, 250 eight-GPU TrainingWorkloads (each a whole node).
  Target: under 3 s.
- nodes.idle_latency_ms: one one-GPU workload on an idle cluster (the same 500 nodes), create to Running,
  the median of 5 in turn. Target: under 500 ms.

- nodes.sim_8000_running_s: 1,000 simulated nodes x 8 GPUs, 8,000 one-GPU TrainingWorkloads, as the
  fill. Target: under 40 s. nodes.sim_8000_rss_mb: the peak RSS of `berth up` plus its components
  process in that run.

Each figure's context names the processes and has the CPU seconds of each, the creates' own time, and the
requests and writes per workload that the API server answered during the fill (its own `/metrics`, read
before the fill starts and after it ends, outside the timed window).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
from bench_nodes import _children, _cpu_s, _lean_creates, _peak_rss_mb, _time_to_running
from common import BerthUp, Figure, Skip, has_flag

NAMESPACE = "runai-bench"
TW = f"/apis/run.ai/v2alpha1/namespaces/{NAMESPACE}/trainingworkloads"
NODES, GPUS = 500, 8
WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LABEL = re.compile(r'(\w+)="([^"]*)"')
PROCESSES = ("berth up: its API server (one process) and its components process (the controllers, the scheduler "
             "and the simulated nodes); the benchmark's client is a third process on the same machine")


def _cluster_yaml(nodes: int) -> str:
    return (f"pools:\n- name: sim\n  count: {nodes}\n  gpus: {GPUS}\n  gpuModel: NVIDIA-A100-SXM4-80GB\n"
            f"  gpuMemoryMiB: 81920\n  cpu: \"128\"\n  memory: 1Ti\n")


def _workload(name: str, gpu: int) -> bytes:
    return orjson.dumps({
        "apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"image": {"value": "nvcr.io/nvidia/pytorch:24.01-py3"}, "command": {"value": "python train.py"},
                 "gpu": {"value": str(gpu)}}})


class _Up:
    """`berth up --nodes` with NODES simulated nodes registered and project `bench` owning all their GPUs."""

    def __init__(self, tmp: Path, nodes: int = NODES) -> None:
        cluster = tmp / "cluster.yaml"
        cluster.write_text(_cluster_yaml(nodes))
        self.server = BerthUp(tmp / "up", "--nodes", str(cluster), "--no-local-node")
        with httpx.Client(base_url=self.server.url, verify=self.server.ca,
                          headers={"Authorization": f"Bearer {self.server.token}"}) as http:
            deadline = time.monotonic() + 300
            while len(http.get("/api/v1/nodes", params={"labelSelector": "berth.dev/simulated=true"})
                       .json()["items"]) < nodes:
                if time.monotonic() > deadline:
                    self.server.close()
                    raise Skip("the simulated nodes did not register in 300 s")
                time.sleep(0.5)
            project = {"apiVersion": "run.ai/v1", "kind": "Project", "metadata": {"name": "bench"},
                       "spec": {"deservedGpus": nodes * GPUS}}
            assert http.post("/apis/run.ai/v1/projects", json=project).status_code == 201
            while http.get(f"/api/v1/namespaces/{NAMESPACE}").status_code != 200:
                time.sleep(0.1)
        self.components = _children(self.server.proc.pid)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far: the API server's, the components process's."""
        return _cpu_s(self.server.proc.pid), sum(_cpu_s(pid) for pid in self.components)

    def requests(self) -> Counter[tuple[str, str, str]]:
        """The requests the API server has answered so far by (verb, resource, subresource), by its own
        `apiserver_request_total`."""
        with httpx.Client(base_url=self.server.url, verify=self.server.ca,
                          headers={"Authorization": f"Bearer {self.server.token}"}) as http:
            text = http.get("/metrics").text
        counts: Counter[tuple[str, str, str]] = Counter()
        for line in text.splitlines():
            if line.startswith("apiserver_request_total{"):
                labels = dict(_LABEL.findall(line))
                counts[labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", "")] += \
                    int(float(line.rsplit(" ", 1)[1]))
        return counts

    def answered(self) -> tuple[int, int]:
        """The requests answered so far, and how many of them wrote (POST, PUT, PATCH, DELETE)."""
        counts = self.requests()
        return sum(counts.values()), sum(n for (verb, _, _), n in counts.items() if verb in WRITE_VERBS)

    def close(self) -> None:
        self.server.close()


async def _run(up: _Up, prefix: str, count: int, gpu: int) -> dict[str, float]:
    async with up.server.client(timeout=None) as http:
        bodies = [_workload(f"{prefix}-{i}", gpu) for i in range(count)]
        return await _time_to_running(http, NAMESPACE, lambda: _lean_creates(up.server, bodies, path=TW), 1200,
                                      pods=count)


def _fill(count: int, gpu: int, prefix: str, nodes: int = NODES) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="berth-bench-fill-") as tmp:
        up = _Up(Path(tmp), nodes)
        try:
            time.sleep(2.0)  # the informers' first lists settle
            answered = up.answered()
            before = up.cpu()
            result = asyncio.run(_run(up, prefix, count, gpu))
            after = up.cpu()
            requests, writes = (b - a for a, b in zip(answered, up.answered()))
            rss = _peak_rss_mb(up.server.proc.pid) + sum(_peak_rss_mb(pid) for pid in up.components)
        finally:
            up.close()
    return {**result, "api_server_cpu_s": after[0] - before[0], "components_cpu_s": after[1] - before[1],
            "rss_mb": rss, "requests": requests, "writes": writes}


def _context(result: dict[str, float], count: int, gpu: int, nodes: int = NODES) -> dict[str, object]:
    return {"nodes": nodes, "gpus_per_node": GPUS, "workloads": count, "gpus_each": gpu,
            "creates_s": round(result["creates_s"], 2), "api_server_cpu_s": round(result["api_server_cpu_s"], 1),
            "components_cpu_s": round(result["components_cpu_s"], 1), "processes": PROCESSES,
            "requests_per_workload": round(result["requests"] / count, 2),
            "writes_per_workload": round(result["writes"] / count, 2),
            "what": "TrainingWorkloads created over HTTPS (8 connections); the controllers make their PodGroups "
                    "and pods, the scheduler binds them, the simulated nodes run them; from the first create to "
                    "the last pod Running (berth up --nodes --no-local-node)"}


def fill_4000() -> list[Figure]:
    if not has_flag("--nodes"):
        raise Skip("berth up has no --nodes")
    result = _fill(4000, 1, "fill")
    context = _context(result, 4000, 1)
    per = (result["api_server_cpu_s"] + result["components_cpu_s"]) / 4000 * 1000
    return [Figure("nodes.fill_4000_running_s", result["running_s"], "s", "under 20 s", context),
            Figure("nodes.cpu_ms_per_workload", per, "ms", "under 8 ms", context)]


def sim_8000() -> list[Figure]:
    if not has_flag("--nodes"):
        raise Skip("berth up has no --nodes")
    result = _fill(8000, 1, "sim", nodes=1000)
    return [Figure("nodes.sim_8000_running_s", result["running_s"], "s", "under 40 s",
                   _context(result, 8000, 1, nodes=1000)),
            Figure("nodes.sim_8000_rss_mb", result["rss_mb"], "MiB", "(reported)",
                   {"what": "peak RSS (VmHWM) of berth up (the API server) plus its components process, that run"})]


def gang_250x8() -> Figure:
    if not has_flag("--nodes"):
        raise Skip("berth up has no --nodes")
    result = _fill(250, 8, "gang")
    return Figure("nodes.gang_250x8_running_s", result["running_s"], "s", "under 3 s", _context(result, 250, 8))


async def _one_by_one(up: _Up, count: int) -> list[float]:
    took = []
    async with up.server.client(timeout=None) as http:
        for i in range(count):
            result = await _time_to_running(http, NAMESPACE, lambda i=i: _lean_creates(
                up.server, [_workload(f"idle-{i}", 1)], path=TW), 60, pods=1)
            took.append(result["running_s"])
            await asyncio.sleep(1.0)  # idle again
    return took


def idle_latency() -> Figure:
    if not has_flag("--nodes"):
        raise Skip("berth up has no --nodes")
    with tempfile.TemporaryDirectory(prefix="berth-bench-idle-") as tmp:
        up = _Up(Path(tmp))
        try:
            time.sleep(2.0)
            took = asyncio.run(_one_by_one(up, 5))
        finally:
            up.close()
    return Figure("nodes.idle_latency_ms", statistics.median(took) * 1000, "ms", "under 500 ms",
                  {"nodes": NODES, "runs_ms": [round(t * 1000) for t in took],
                   "what": "one one-GPU TrainingWorkload on an idle cluster, create to its pod Running; median of 5"})


BENCHMARKS = [fill_4000, gang_250x8, idle_latency, sim_8000]
