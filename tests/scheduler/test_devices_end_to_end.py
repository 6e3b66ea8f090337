"""MIG slices and fractions of several GPUs end to end: `berth up` with a MIG-partitioned simulated node (node
pool `mig`) and the local node with four simulated GPUs (pool `default`), driven by kubectl."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, running
from tests.controllers.helpers import eventually
from tests.nodes.test_simulated import MIG_YAML
from tests.scheduler.test_end_to_end import project, status

CLUSTER_YAML = MIG_YAML  # pool mig: one A100-40GB node, GPU 0 in MIG mode [3g.20gb, 2g.10gb, 1g.5gb, 1g.5gb]
MIG_POOL = """
apiVersion: run.ai/v1
kind: NodePool
metadata: {name: mig}
spec: {labelKey: run.ai/node-pool, labelValue: mig}
"""


@pytest.fixture(scope="module")
def c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("devices")
    (tmp / "cluster.yaml").write_text(CLUSTER_YAML)
    for cluster in running(tmp, "--nodes", str(tmp / "cluster.yaml"), "--gpus", "4"):
        cluster.kubectl("apply", "-f", "-", input=MIG_POOL)
        project(cluster, "team", 4)
        yield cluster


def train(c: Cluster, name: str, spec: str) -> None:
    c.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: {name}, namespace: runai-team}}
spec:
  image: {{value: ubuntu}}
{spec}""")


def pod(c: Cluster, workload: str) -> dict:
    pods = json.loads(c.kubectl("get", "pods", "-n", "runai-team", "-l", f"run.ai/workload-name={workload}",
                                "-o", "json").stdout)["items"]
    return pods[0] if pods else {}


def running_on(c: Cluster, workload: str) -> tuple[str, str] | None:
    p = pod(c, workload)
    if (p.get("status") or {}).get("phase") != "Running":
        return None
    return p["spec"]["nodeName"], p["metadata"]["annotations"].get("run.ai/gpu-devices", "")


def waits_saying(c: Cluster, workload: str) -> str:
    return eventually(lambda: (s := status(c, "trainingworkloads", "team", workload)).get("phase") == "Pending"
                      and s.get("reason") not in (None, "Pending") and s.get("message"), timeout=30)


def test_mig_slices_land_on_mig_instances_and_whole_gpus_never_do(c: Cluster):
    mig = "  nodePools: {value: mig}\n  command: {value: train}\n"
    for name in ("slice-a", "slice-b"):
        train(c, name, mig + "  migProfile: {value: 1g.5gb}\n")
    train(c, "whole", mig + '  gpu: {value: "1"}\n')
    placed = eventually(lambda: all(running_on(c, w) for w in ("slice-a", "slice-b", "whole"))
                        and {w: running_on(c, w) for w in ("slice-a", "slice-b", "whole")}, timeout=60)
    assert sorted(placed[w] for w in ("slice-a", "slice-b")) == [("mig-0", "0:2"), ("mig-0", "0:3")]
    assert placed["whole"] == ("mig-0", "1")  # GPU 0 is in MIG mode: the whole-GPU pod takes GPU 1
    assert pod(c, "slice-a")["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/mig-1g.5gb": "1"}

    train(c, "slice-c", mig + "  migProfile: {value: 1g.5gb}\n")
    train(c, "whole-2", mig + '  gpu: {value: "1"}\n')
    train(c, "big", mig + "  migProfile: {value: 7g.40gb}\n")
    assert waits_saying(c, "slice-c") == "no node in pool mig has a free nvidia.com/mig-1g.5gb; all 2 are in use"
    assert waits_saying(c, "whole-2").startswith("needs a node with 1 free GPU in pool mig; the best node has 0")
    assert waits_saying(c, "big") == ("no node in pool mig has a MIG slice nvidia.com/mig-7g.40gb (MIG slices there: "
                                      "nvidia.com/mig-1g.5gb, nvidia.com/mig-2g.10gb, nvidia.com/mig-3g.20gb)")
    described = c.kubectl("describe", "tw", "slice-c", "-n", "runai-team").stdout
    assert "no node in pool mig has a free nvidia.com/mig-1g.5gb" in described

    c.kubectl("delete", "tw", "slice-a", "-n", "runai-team")  # its instance is free again: slice-c takes it
    eventually(lambda: running_on(c, "slice-c"), timeout=60)


def test_half_of_each_of_two_gpus_of_one_node_and_the_pod_sees_both(c: Cluster):
    program = "import os; print(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['GPU_PORTION'])"
    train(c, "pair", f'  gpu: {{value: "0.5"}}\n  gpuDevices: {{value: 2}}\n'
                     f'  command: {{value: "{sys.executable} -c \\"{program}\\""}}\n')
    eventually(lambda: status(c, "trainingworkloads", "team", "pair").get("phase") == "Completed", timeout=60)
    p = pod(c, "pair")
    annotations = p["metadata"]["annotations"]
    assert (annotations["gpu-fraction"], annotations["gpu-fraction-num-devices"]) == ("0.5", "2")
    devices = annotations["run.ai/gpu-devices"].split(",")
    assert p["spec"]["nodeName"] == "local" and len(set(devices)) == 2
    shown = c.kubectl("logs", p["metadata"]["name"], "-n", "runai-team").stdout.split()
    assert shown == [",".join(devices), "0.5"]
