"""Run:ai's scheduling scenarios end to end: `berth up --nodes` with simulated GPU nodes, driven by kubectl."""

from __future__ import annotations

import json
import time
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import Cluster, running
from tests.controllers.helpers import client, eventually, workload_status


def cluster_with(tmp: Path, pools: str) -> Iterator[Cluster]:
    nodes = tmp / "cluster.yaml"
    nodes.write_text(textwrap.dedent(pools))
    yield from running(tmp, "--nodes", str(nodes), "--no-local-node")


def project(c: Cluster, name: str, gpus: float, extra: str = "") -> None:
    c.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v1\nkind: Project\nmetadata: {{name: {name}}}\n"
                                        f"spec: {{deservedGpus: {gpus}{extra}}}\n")
    with client(c) as http:
        eventually(lambda: http.get(f"/api/v1/namespaces/runai-{name}").status_code == 200)


def submit(c: Cluster, kind: str, name: str, project_name: str, gpu: str, extra: str = "") -> None:
    c.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: {kind}
metadata: {{name: {name}, namespace: runai-{project_name}}}
spec:
  image: {{value: ubuntu}}
  command: {{value: train}}
  gpu: {{value: "{gpu}"}}
{extra}""")


def running_pods(c: Cluster, project_name: str) -> list[dict]:
    pods = json.loads(c.kubectl("get", "pods", "-n", f"runai-{project_name}", "-o", "json").stdout)["items"]
    return [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
            and not p["metadata"].get("deletionTimestamp")]


def node_of(c: Cluster, project_name: str, workload: str) -> str | None:
    pods = json.loads(c.kubectl("get", "pods", "-n", f"runai-{project_name}", "-l",
                                f"run.ai/workload-name={workload}", "-o", "json").stdout)["items"]
    return pods[0]["spec"].get("nodeName") if pods else None


def status(c: Cluster, plural: str, project_name: str, name: str) -> dict:
    with client(c) as http:
        return workload_status(http, plural, f"runai-{project_name}", name)


ONE_NODE_4_GPUS = """
pools:
- {name: default, count: 1, gpus: 4}
"""


@pytest.fixture
def four_gpus(tmp_path) -> Iterator[Cluster]:
    yield from cluster_with(tmp_path, ONE_NODE_4_GPUS)


def test_over_quota_walkthrough(four_gpus):
    """team-a (quota 2) runs 3 GPUs; team-b submits within its quota; a team-a training job is preempted."""
    c = four_gpus
    project(c, "team-a", 2)
    project(c, "team-b", 2)
    for i in range(3):
        submit(c, "TrainingWorkload", f"a{i}", "team-a", "1")
    eventually(lambda: len(running_pods(c, "team-a")) == 3, timeout=30)
    for i in range(2):
        submit(c, "TrainingWorkload", f"b{i}", "team-b", "1")
    eventually(lambda: len(running_pods(c, "team-b")) == 2, timeout=40)
    assert len(running_pods(c, "team-a")) == 2
    events = json.loads(c.kubectl("get", "events", "-n", "runai-team-a", "-o", "json").stdout)["items"]
    assert any(e["reason"] == "Preempted" for e in events)
    # The workload whose pod was taken says so, and who took it.
    (reclaimed,) = [e for e in events if e["reason"] == "Reclaimed"]
    assert reclaimed["involvedObject"]["kind"] == "TrainingWorkload"
    assert "to make room for TrainingWorkload runai-team-b/b" in reclaimed["message"]
    assert "project team-b is below its fair share" in reclaimed["message"]
    assert status(c, "trainingworkloads", "team-a", reclaimed["involvedObject"]["name"])["interruptions"] == 1


def test_idle_gpus_split_75_25_by_quota(tmp_path):
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 2, gpus: 4}\n"):
        project(c, "big", 3)
        project(c, "small", 1)
        for i in range(8):
            submit(c, "TrainingWorkload", f"b{i}", "big", "1")
            submit(c, "TrainingWorkload", f"s{i}", "small", "1")
        eventually(lambda: (len(running_pods(c, "big")), len(running_pods(c, "small"))) == (6, 2), timeout=60)


def test_interactive_waits_rather_than_go_over_quota(four_gpus):
    c = four_gpus
    project(c, "ide", 1)
    submit(c, "InteractiveWorkload", "first", "ide", "1")
    submit(c, "InteractiveWorkload", "second", "ide", "1")
    eventually(lambda: len(running_pods(c, "ide")) == 1, timeout=30)
    waiting = eventually(lambda: (s := status(c, "interactiveworkloads", "ide", "second")).get("phase") == "Pending"
                         and s.get("reason") not in (None, "Pending") and s, timeout=30)
    assert "quota" in waiting["message"]


def test_a_gang_is_placed_whole_or_not_at_all(four_gpus):
    c = four_gpus
    project(c, "gang", 8)
    submit(c, "DistributedWorkload", "too-big", "gang", "1", "  jobType: PyTorchJob\n  workers: {value: 4}")
    waiting = eventually(lambda: (s := status(c, "distributedworkloads", "gang", "too-big")).get("phase") == "Pending"
                         and s.get("reason") not in (None, "Pending") and s, timeout=30)
    assert waiting["runningPods"] == 0
    pods = json.loads(c.kubectl("get", "pods", "-n", "runai-gang", "-o", "json").stdout)["items"]
    assert len(pods) == 5 and not any(p["spec"].get("nodeName") for p in pods)
    submit(c, "DistributedWorkload", "fits", "gang", "1", "  jobType: PyTorchJob\n  workers: {value: 3}")
    eventually(lambda: len(running_pods(c, "gang")) == 4, timeout=30)


def test_fractions_share_a_device_only_when_they_fit(tmp_path):
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 1, gpus: 1}\n"):
        project(c, "frac", 1)
        submit(c, "TrainingWorkload", "half", "frac", "0.5")
        eventually(lambda: len(running_pods(c, "frac")) == 1, timeout=30)
        submit(c, "TrainingWorkload", "big-part", "frac", "0.7")
        eventually(lambda: (s := status(c, "trainingworkloads", "frac", "big-part")).get("phase") == "Pending"
                   and s.get("reason") not in (None, "Pending"), timeout=30)
        submit(c, "TrainingWorkload", "other-half", "frac", "0.5")
        eventually(lambda: len(running_pods(c, "frac")) == 2, timeout=30)


def test_node_pools_in_order_of_preference_and_node_types(tmp_path):
    pools = """
    pools:
    - {name: a, count: 1, gpus: 2, labels: {run.ai/type: dgx-a100}}
    - {name: b, count: 1, gpus: 2, labels: {run.ai/type: dgx-h100}}
    """
    for c in cluster_with(tmp_path, pools):
        for name in ("a", "b"):  # the cluster file labels the nodes; NodePools make them pools
            c.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v1\nkind: NodePool\nmetadata: {{name: {name}}}\n"
                                                f"spec: {{labelKey: run.ai/node-pool, labelValue: {name}}}\n")
        project(c, "pools", 0, ", nodePoolsResources: [{nodePool: a, gpu: {deserved: 2}}, "
                               "{nodePool: b, gpu: {deserved: 2}}]")
        submit(c, "TrainingWorkload", "prefers-b", "pools", "1", "  nodePools: {value: b a}")
        eventually(lambda: node_of(c, "pools", "prefers-b") == "b-0", timeout=30)
        # Pool b comes first, but it has no dgx-a100 node: the next pool is tried.
        submit(c, "TrainingWorkload", "wants-a100", "pools", "1",
               "  nodePools: {value: b a}\n  nodeType: {value: dgx-a100}")
        eventually(lambda: node_of(c, "pools", "wants-a100") == "a-0", timeout=30)


def test_over_quota_weights_split_the_idle_gpus(tmp_path):
    """Quota 3 with weight Low (1) and quota 1 with weight High (3): the 4 idle GPUs go 1 and 3."""
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 2, gpus: 4}\n"):
        project(c, "low", 3, ", gpuOverQuotaWeight: 1")
        project(c, "high", 1, ", gpuOverQuotaWeight: 3")
        for i in range(8):
            submit(c, "TrainingWorkload", f"l{i}", "low", "1")
            submit(c, "TrainingWorkload", f"h{i}", "high", "1")
        eventually(lambda: (len(running_pods(c, "low")), len(running_pods(c, "high"))) == (4, 4), timeout=60)


def test_no_reclaim_from_a_project_within_its_quota(four_gpus):
    c = four_gpus
    project(c, "owner", 4)
    project(c, "newcomer", 0)
    for i in range(4):
        submit(c, "InteractiveWorkload", f"ide{i}", "owner", "1")
    eventually(lambda: len(running_pods(c, "owner")) == 4, timeout=30)
    submit(c, "TrainingWorkload", "wants", "newcomer", "1")
    waiting = eventually(lambda: (s := status(c, "trainingworkloads", "newcomer", "wants")).get("phase") == "Pending"
                         and s.get("reason") not in (None, "Pending") and s, timeout=30)
    assert waiting["message"]
    assert len(running_pods(c, "owner")) == 4  # nobody was evicted for a job that cannot be helped


def test_consolidation_moves_a_pod_to_make_room_for_a_whole_node_job(tmp_path):
    """Two nodes of 2 GPUs, spread placement: one 1-GPU job on each. A 2-GPU job fits only after a move."""
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 2, gpus: 2}\n"):
        c.kubectl("apply", "-f", "-", input="apiVersion: run.ai/v1\nkind: NodePool\nmetadata: {name: default}\n"
                                             "spec: {placementStrategy: spread}\n")
        project(c, "tight", 4)
        for name in ("a", "b"):
            submit(c, "TrainingWorkload", name, "tight", "1")
            eventually(lambda n=name: node_of(c, "tight", n), timeout=30)
        assert node_of(c, "tight", "a") != node_of(c, "tight", "b")  # spread: one GPU used on each node
        submit(c, "TrainingWorkload", "whole", "tight", "2")
        eventually(lambda: len(running_pods(c, "tight")) == 3 and node_of(c, "tight", "whole") is not None, timeout=40)
        events = json.loads(c.kubectl("get", "events", "-n", "runai-tight", "-o", "json").stdout)["items"]
        assert any(e["reason"] == "Preempted" for e in events)  # a pod was moved to make the room


def test_inference_on_simulated_nodes_scales_on_the_load_it_is_offered(four_gpus):
    """A what-if: a model offered 12 requests in flight, 4 per replica, gets 3 replicas on simulated nodes."""
    project(four_gpus, "serve", 4)
    four_gpus.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v2alpha1
kind: InferenceWorkload
metadata: {name: model, namespace: runai-serve}
spec:
  image: {value: vllm/vllm-openai}
  gpu: {value: "1"}
  minScale: {value: 1}
  maxScale: {value: 4}
  metric: {value: concurrency}
  target: {value: 4}
  ports: {items: {http: {value: {container: 8000}}}}
  annotations: {items: {berth.dev/sim-load: {value: '{"concurrency": 12, "latency": 180}'}}}
""")
    eventually(lambda: status(four_gpus, "inferenceworkloads", "serve", "model").get("replicas") == 3, timeout=60)
    eventually(lambda: len(running_pods(four_gpus, "serve")) == 3, timeout=60)
    shares = eventually(lambda: (s := {json.loads(p["metadata"]["annotations"].get("run.ai/metrics", "{}"))
                                       .get("concurrency") for p in running_pods(four_gpus, "serve")}) == {4.0} and s,
                        timeout=30)
    assert shares == {4.0}  # the 12 spread over the three replicas


def trainings_then_a_notebook(c: Cluster, *, deserved: int, trainings: int) -> None:
    """Project pa (deserving `deserved` GPUs) runs `trainings` 1-GPU trainings train-<i>; then its 1-GPU
    InteractiveWorkload nb is submitted, and runs."""
    project(c, "pa", deserved)
    for i in range(trainings):
        submit(c, "TrainingWorkload", f"train-{i}", "pa", "1")
    eventually(lambda: len(running_pods(c, "pa")) == trainings, timeout=60)
    submit(c, "InteractiveWorkload", "nb", "pa", "1")
    eventually(lambda: status(c, "interactiveworkloads", "pa", "nb").get("phase") == "Running", timeout=40)


def test_a_notebook_over_its_projects_trainings_preempts_one_training_only(tmp_path):
    """Issue G, defect 3: 2 nodes x 4 GPUs, pa deserves 4 and runs eight 1-GPU trainings; a 1-GPU notebook
    of pa takes the GPU of one training, and the cluster then stays as it is."""
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 2, gpus: 4}\n"):
        trainings_then_a_notebook(c, deserved=4, trainings=8)
        time.sleep(3)  # a few cycles: nothing more may move
        events = json.loads(c.kubectl("get", "events", "-n", "runai-pa", "-o", "json").stdout)["items"]
        preempted = {e["involvedObject"]["name"] for e in events
                     if e["reason"] == "Preempted" and e["involvedObject"]["kind"] == "Pod"}
        assert len(preempted) == 1, preempted
        running = running_pods(c, "pa")
        assert len(running) == 8 and "nb" in {p["metadata"]["labels"].get("run.ai/workload-name") for p in running}


def workload_events(c: Cluster, project_name: str, name: str) -> list[dict]:
    return json.loads(c.kubectl("get", "events", "-n", f"runai-{project_name}", "--field-selector",
                                f"involvedObject.name={name}", "-o", "json").stdout)["items"]


def test_a_preempted_workload_shows_who_took_its_gpus_and_counts_it_once(tmp_path):
    for c in cluster_with(tmp_path, "pools:\n- {name: default, count: 1, gpus: 2}\n"):
        trainings_then_a_notebook(c, deserved=1, trainings=2)
        victim = next(f"train-{i}" for i in range(2)
                      if status(c, "trainingworkloads", "pa", f"train-{i}").get("interruptions"))
        time.sleep(3)  # several cycles, and the victim's new pod waiting: still counted once
        shown = status(c, "trainingworkloads", "pa", victim)
        assert shown["interruptions"] == 1
        assert shown["lastInterruption"].startswith(f"pod {victim}-0-0 was preempted on node default-0 to make "
                                                    "room for InteractiveWorkload runai-pa/nb (higher priority in "
                                                    "project pa")
        (event,) = [e for e in workload_events(c, "pa", victim) if e["reason"] == "Preempted"]
        assert event["type"] == "Warning" and event["message"] == shown["lastInterruption"]
        described = c.kubectl("describe", "tw", victim, "-n", "runai-pa").stdout
        assert "Preempted" in described and "InteractiveWorkload runai-pa/nb" in described
        other = "train-1" if victim == "train-0" else "train-0"
        assert not status(c, "trainingworkloads", "pa", other).get("interruptions")
        (on_pod,) = [e for e in workload_events(c, "pa", f"{victim}-0-0") if e["reason"] == "Preempted"]
        assert on_pod["involvedObject"]["kind"] == "Pod"
        assert on_pod["message"].startswith("Preempted on node default-0 to make room for InteractiveWorkload "
                                            "runai-pa/nb")


def test_kubectl_describe_pod_shows_why_a_workloads_pod_waits(four_gpus):
    """Where Kubernetes users look: a workload's pod the scheduler cannot place has PodScheduled=False
    (Unschedulable) and a FailedScheduling Warning event with the plain-words reason, as kube-scheduler
    writes them."""
    c = four_gpus
    project(c, "wide", 8)
    submit(c, "TrainingWorkload", "huge", "wide", "6")
    why = eventually(lambda: (s := status(c, "trainingworkloads", "wide", "huge")).get("phase") == "Pending"
                     and s.get("reason") not in (None, "Pending") and s["message"], timeout=30)
    described = eventually(lambda: "FailedScheduling" in (out := c.kubectl(
        "describe", "pod", "-n", "runai-wide", "-l", "run.ai/workload-name=huge").stdout) and out, timeout=20)
    assert "Warning  FailedScheduling" in described and "runai-scheduler" in described
    assert why in " ".join(described.split()), described
    assert "PodScheduled      False" in described or "PodScheduled   False" in described, described
    events = c.kubectl("get", "events", "-n", "runai-wide", "--field-selector", "reason=FailedScheduling").stdout
    assert "huge-0-0" in events
