"""Project, Department and NodePool status through `berth up` with simulated GPU nodes, read with kubectl:
what each holds and asks for, per node pool, and that it goes down when workloads finish or are deleted."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, running
from tests.controllers.helpers import eventually

NODES = """
pools:
- {name: a100, count: 2, gpus: 4, cpu: "16", memory: 64Gi}
- {name: default, count: 1, gpus: 2, cpu: "8", memory: 32Gi}
"""

SETUP = """
apiVersion: run.ai/v1
kind: NodePool
metadata: {name: a100}
spec: {labelKey: run.ai/node-pool, labelValue: a100}
---
apiVersion: run.ai/v1
kind: NodePool
metadata: {name: default}
---
apiVersion: run.ai/v1
kind: NodePool
metadata: {name: h100}
spec: {labelKey: run.ai/node-pool, labelValue: h100}
---
apiVersion: run.ai/v1
kind: Department
metadata: {name: research}
---
apiVersion: run.ai/v1
kind: Project
metadata: {name: team-a}
spec:
  department: research
  defaultNodePools: [a100]
  nodePoolsResources:
  - {nodePool: a100, gpu: {deserved: 2}}
  - {nodePool: default, gpu: {deserved: 1}}
---
apiVersion: run.ai/v1
kind: Project
metadata: {name: team-b}
spec: {department: research, deservedGpus: 1}
"""


@pytest.fixture(scope="module")
def gpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("usage")
    (tmp / "nodes.yaml").write_text(textwrap.dedent(NODES))
    for c in running(tmp, "--nodes", str(tmp / "nodes.yaml"), "--no-local-node"):
        c.kubectl("apply", "-f", "-", input=SETUP)
        eventually(lambda: c.kubectl("get", "ns", "runai-team-a", "runai-team-b", check=False).returncode == 0)
        yield c


def submit(c: Cluster, name: str, project: str, fields: str) -> None:
    c.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: {name}, namespace: runai-{project}}}
spec:
  image: {{value: ubuntu}}
{textwrap.indent(textwrap.dedent(fields).strip(), "  ")}
""")


def get(c: Cluster, plural: str, name: str) -> dict:
    return json.loads(c.kubectl("get", plural, name, "-o", "json").stdout)


def status_of(c: Cluster, plural: str, name: str) -> dict:
    return get(c, plural, name).get("status") or {}


def table(c: Cluster, plural: str) -> dict[str, dict[str, str]]:
    """`kubectl get <plural>` as {name: {column: cell}}."""
    lines = c.kubectl("get", plural).stdout.splitlines()
    header = lines[0].split()
    return {cells[0]: dict(zip(header, cells)) for cells in (line.split() for line in lines[1:])}


def pool_row(status: dict, pool: str) -> dict:
    return next((p for p in status.get("nodePools") or [] if p["nodePool"] == pool), {})


def settled(c: Cluster, plural: str, name: str, check) -> dict:  # noqa: ANN001 - a predicate on the status
    return eventually(lambda: (s := status_of(c, plural, name)) and check(s) and s, timeout=40)


def test_projects_departments_and_node_pools_show_what_their_workloads_hold_and_ask(gpus):
    c = gpus
    submit(c, "one", "team-a", 'gpu: {value: "1"}\ncpu: {value: "2"}\nmemory: {value: 4Gi}')
    submit(c, "two", "team-a", 'gpu: {value: "2"}')
    submit(c, "half", "team-a", 'gpu: {value: "0.5"}')
    submit(c, "quarter", "team-a", "gpuMemory: {value: 20Gi}")
    submit(c, "too-big", "team-a", 'gpu: {value: "5"}')  # no a100 node has 5 GPUs: it waits
    submit(c, "b", "team-b", 'gpu: {value: "1"}\ncpu: {value: 500m}\nmemory: {value: 512Mi}')

    a = settled(c, "projects", "team-a", lambda s: (s.get("allocated") or {}).get("gpu") == 3.75
                and s["requested"]["gpu"] == 8.75)
    assert a["allocated"] == {"gpu": 3.75, "cpu": "2", "memory": "4Gi"}
    assert a["requested"] == {"gpu": 8.75, "cpu": "2", "memory": "4Gi"}
    assert pool_row(a, "a100") == {"nodePool": "a100", "allocated": a["allocated"], "requested": a["requested"]}
    assert a["deservedGpus"] == 3
    assert a["phase"] == "Ready" and a["namespace"] == "runai-team-a"
    conditions = {k["type"]: k for k in a["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    over = conditions["OverQuota"]
    assert over["status"] == "True"
    assert "3.75 GPUs in node pool a100, 1.75 more than its deserved 2" in over["message"]

    b = settled(c, "projects", "team-b", lambda s: (s.get("allocated") or {}).get("gpu") == 1)
    assert b["allocated"] == b["requested"] == {"gpu": 1, "cpu": "500m", "memory": "512Mi"}
    assert pool_row(b, "default")["allocated"]["gpu"] == 1
    assert {k["type"]: k["status"] for k in b["conditions"]}["OverQuota"] == "False"

    research = settled(c, "departments", "research", lambda s: (s.get("allocated") or {}).get("gpu") == 4.75)
    assert research["projects"] == ["team-a", "team-b"]
    assert research["requested"]["gpu"] == 9.75
    assert research["deservedGpus"] == 4

    a100 = settled(c, "nodepools", "a100", lambda s: s.get("allocatedGpus") == 3.75)
    assert a100["nodes"] == ["a100-0", "a100-1"] and a100["totalGpus"] == 8 and a100["phase"] == "Ready"
    assert a100["requested"]["gpu"] == 8.75
    assert a100["total"] == {"gpu": 8, "cpu": "32", "memory": "128Gi"}
    default = settled(c, "nodepools", "default", lambda s: s.get("allocatedGpus") == 1)
    assert default["nodes"] == ["default-0"] and default["totalGpus"] == 2
    h100 = settled(c, "nodepools", "h100", lambda s: s.get("phase") == "Empty")
    assert h100["nodes"] == [] and h100["totalGpus"] == 0
    assert "no node has the label run.ai/node-pool=h100" in h100["message"]

    projects = table(c, "projects")
    assert (projects["team-a"]["DESERVED-GPUS"], projects["team-a"]["ALLOCATED-GPUS"]) == ("3", "3.75")
    assert projects["team-b"]["ALLOCATED-GPUS"] == "1"
    pools = table(c, "nodepools")
    assert (pools["a100"]["GPUS"], pools["a100"]["ALLOCATED-GPUS"], pools["a100"]["STATUS"]) == ("8", "3.75", "Ready")
    assert pools["h100"]["STATUS"] == "Empty"
    assert table(c, "departments")["research"]["ALLOCATED-GPUS"] == "4.75"

    # Deleting workloads gives their GPUs back, everywhere.
    c.kubectl("delete", "tw", "two", "too-big", "-n", "runai-team-a")
    a = settled(c, "projects", "team-a", lambda s: s["allocated"]["gpu"] == 1.75 and s["requested"]["gpu"] == 1.75)
    assert {k["type"]: k["status"] for k in a["conditions"]}["OverQuota"] == "False"
    settled(c, "nodepools", "a100", lambda s: s.get("allocatedGpus") == 1.75 and s["requested"]["gpu"] == 1.75)
    settled(c, "departments", "research", lambda s: s["allocated"]["gpu"] == 2.75)


def test_a_finished_workload_no_longer_counts(gpus):
    c = gpus
    before = settled(c, "projects", "team-b", lambda s: s.get("allocated") is not None)["allocated"]["gpu"]
    submit(c, "brief", "team-b", 'gpu: {value: "1"}\nannotations: {items: {berth.dev/sim-duration: {value: 3s}}}')
    settled(c, "projects", "team-b", lambda s: s["allocated"]["gpu"] == before + 1)
    eventually(lambda: json.loads(c.kubectl("get", "tw", "brief", "-n", "runai-team-b", "-o", "json").stdout)
               .get("status", {}).get("phase") == "Completed", timeout=30)
    settled(c, "projects", "team-b", lambda s: s["allocated"]["gpu"] == before and s["requested"]["gpu"] == before)
    settled(c, "nodepools", "default", lambda s: s.get("allocatedGpus") == before)
