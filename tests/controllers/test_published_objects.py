"""Run:ai's published objects work unchanged (issue H): NVIDIA knavigator's TrainingWorkload and
DistributedWorkload (masterSpec beside spec) run on simulated nodes; usage Template never runs; the
spellings of Run:ai's docs and CLI are taken and stored in one form, also where a policy names them;
terminateAfterPreemption and preemptionLimit end a preempted training as Failed.

Everything goes through `berth up --nodes` with simulated GPU nodes and the real kubectl."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from collections.abc import Iterator

import pytest

from tests.cluster import BIN, Cluster, running
from tests.conftest import ROOT
from tests.controllers.helpers import client, eventually, names, pods_of, workload_status

KNAV = ROOT / "examples" / "knavigator"


def cluster_with(tmp, pools: str) -> Iterator[Cluster]:
    nodes = tmp / "cluster.yaml"
    nodes.write_text(textwrap.dedent(pools))
    yield from running(tmp, "--nodes", str(nodes), "--no-local-node")


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Iterator[Cluster]:
    """Seven nodes of 8 GPUs: room for both knavigator objects at once (8 + 4 x 8 GPUs), and for the rest."""
    yield from cluster_with(tmp_path_factory.mktemp("big"), "pools:\n- {name: default, count: 7, gpus: 8}\n")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[Cluster]:
    """One node of 2 GPUs, so that a notebook must preempt a training to run."""
    yield from cluster_with(tmp_path_factory.mktemp("small"), "pools:\n- {name: default, count: 1, gpus: 2}\n")


def status(c: Cluster, plural: str, namespace: str, name: str) -> dict:
    with client(c) as http:
        return workload_status(http, plural, namespace, name)


def pods(c: Cluster, namespace: str, workload: str) -> list[dict]:
    with client(c) as http:
        return [p for p in pods_of(http, namespace, workload) if not p["metadata"].get("deletionTimestamp")]


def stored(c: Cluster, plural: str, namespace: str, name: str) -> dict:
    return json.loads(c.kubectl("get", plural, name, "-n", namespace, "-o", "json").stdout)


def container(pod: dict) -> dict:
    return pod["spec"]["containers"][0]


def submit(c: Cluster, kind: str, name: str, namespace: str, spec: str, *, check: bool = True
           ) -> subprocess.CompletedProcess[str]:
    """kubectl apply of one run.ai/v2alpha1 object of the given spec (YAML, indented as you like)."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return c.kubectl("apply", "-f", "-", check=check, input=f"apiVersion: run.ai/v2alpha1\nkind: {kind}\n"
                     f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{body}\n")


def project(c: Cluster, name: str, gpus: float) -> str:
    c.kubectl("apply", "-f", "-", input=f"apiVersion: run.ai/v1\nkind: Project\nmetadata: {{name: {name}}}\n"
                                        f"spec: {{deservedGpus: {gpus}}}\n")
    with client(c) as http:
        eventually(lambda: http.get(f"/api/v1/namespaces/runai-{name}").status_code == 200)
    return f"runai-{name}"


# --- knavigator's objects -------------------------------------------------------------------------------


def test_knavigators_objects_validate_apply_and_run_on_simulated_nodes(big):
    c = big
    files = [str(KNAV / f) for f in ("0-project.yaml", "trainingworkload.yaml", "distributedworkload.yaml")]
    checked = subprocess.run([str(BIN / "berth"), "validate", *files], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    out = c.kubectl("apply", "-f", str(KNAV)).stdout
    assert "trainingworkload.run.ai/twl1 created" in out and "distributedworkload.run.ai/dwl1 created" in out

    training = eventually(lambda: (s := status(c, "trainingworkloads", "runai-knav", "twl1")).get("phase") == "Running"
                          and s, timeout=40)
    assert training["runningPods"] == 1
    (pod,) = pods(c, "runai-knav", "twl1")
    assert pod["metadata"]["name"] == "twl1-0-0"  # knavigator's podNameFormat
    assert container(pod)["resources"]["limits"]["nvidia.com/gpu"] == "8"  # gpuDevices: 8
    assert container(pod)["imagePullPolicy"] == "IfNotPresent"

    dist = eventually(lambda: (s := status(c, "distributedworkloads", "runai-knav", "dwl1")).get("phase") == "Running"
                      and s, timeout=40)
    assert dist["runningPods"] == 4  # the launcher and 3 workers
    made = pods(c, "runai-knav", "dwl1")
    assert names(made) == ["dwl1-launcher", "dwl1-worker-0", "dwl1-worker-1", "dwl1-worker-2"]
    assert all(p["status"]["phase"] == "Running" and p["spec"].get("nodeName") for p in made)
    launcher = made[0]
    assert container(launcher)["resources"]["requests"]["cpu"] == "100m"
    assert container(launcher)["resources"]["limits"]["nvidia.com/gpu"] == "8"  # the masterSpec's gpuDevices
    # Stored as Run:ai writes it: masterSpec beside spec.
    obj = stored(c, "dw", "runai-knav", "dwl1")
    assert obj["masterSpec"]["gpuDevices"] == {"value": 8} and "masterSpec" not in obj["spec"]


def distributed(name: str, namespace: str, master: str, spec_master: str = "") -> str:
    return f"""
apiVersion: run.ai/v2alpha1
kind: DistributedWorkload
metadata: {{name: {name}, namespace: {namespace}}}
{master}
spec:
  jobType: PyTorchJob
  image: {{value: ubuntu}}
  cpu: {{value: 500m}}
  memory: {{value: 1Gi}}
  gpu: {{value: "1"}}
  workers: {{value: 2}}
{spec_master}"""


def test_a_top_level_master_spec_gives_the_master_its_own_resources(big):
    c = big
    ns = project(c, "masters", 8)
    c.kubectl("apply", "-f", "-", input=distributed("torch", ns, textwrap.dedent("""\
        masterSpec:
          image: {value: python:3.12}
          cpu: {value: "2"}
          memory: {value: 4Gi}
          gpu: {value: "0"}
          workers: {value: 2}""")))
    made = eventually(lambda: (p := pods(c, ns, "torch")) and len(p) == 3 and p, timeout=30)
    by_name = {p["metadata"]["name"]: container(p) for p in made}
    master, worker = by_name["torch-master-0"], by_name["torch-worker-0"]
    assert master["image"] == "python:3.12" and worker["image"] == "ubuntu"
    assert master["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert worker["resources"]["requests"]["cpu"] == "500m" and worker["resources"]["requests"]["memory"] == "1Gi"
    assert "nvidia.com/gpu" not in master["resources"].get("limits", {})
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == "1"
    eventually(lambda: status(c, "distributedworkloads", ns, "torch").get("gpuRequest") == "2", timeout=20)

    # Like spec's pod fields, it is baked into the pods: changed only while suspended.
    edit = c.kubectl("patch", "dw", "torch", "-n", ns, "--type", "merge", "-p", '{"masterSpec": {"cpu": {"value": "3"}}}',
                     check=False)
    assert edit.returncode != 0 and "masterSpec: Forbidden: cannot change on a submitted workload" in edit.stderr

    # kubectl explain shows it, from the same model as the CRD.
    explained = c.kubectl("explain", "distributedworkload.masterSpec").stdout
    assert "Beside spec, not inside it" in explained and "gpuDevices" in explained

    # One place only; and a job-wide field may only repeat spec's value.
    both = c.kubectl("apply", "-f", "-", check=False, input=distributed(
        "twice", ns, "masterSpec: {cpu: {value: \"1\"}}", "  masterSpec: {cpu: {value: \"1\"}}"))
    assert both.returncode != 0
    assert "spec.masterSpec: Invalid value" not in both.stderr or "given twice" in both.stderr
    assert "masterSpec is given twice" in both.stderr and "keep only the top-level masterSpec" in both.stderr
    other = c.kubectl("apply", "-f", "-", check=False, input=distributed(
        "other", ns, "masterSpec: {workers: {value: 5}}"))
    assert other.returncode != 0 and "masterSpec.workers" in other.stderr and "the whole job" in other.stderr


def test_usage_template_is_never_run_and_says_so(big):
    c = big
    ns = project(c, "templates", 4)
    submit(c, "TrainingWorkload", "base", ns, 'usage: Template\nimage: {value: ubuntu}\ngpu: {value: "1"}')
    submit(c, "TrainingWorkload", "job", ns, "usage: Submit\nbaseWorkload: base")
    shown = eventually(lambda: (s := status(c, "trainingworkloads", ns, "base")).get("phase") == "Template" and s)
    assert "never run" in shown["message"] and "baseWorkload" in shown["message"]
    eventually(lambda: status(c, "trainingworkloads", ns, "job").get("phase") == "Running", timeout=30)
    time.sleep(1)  # the controller has seen both for a while: still nothing runs for the template
    assert pods(c, ns, "base") == []
    assert "Template" in c.kubectl("get", "tw", "base", "-n", ns).stdout


# --- spellings ------------------------------------------------------------------------------------------

SPELLINGS = [
    ("serviceType", "nodeport", "NodePort"),
    ("serviceType", "loadbalancer", "LoadBalancer"),
    ("serviceType", "clusterip", "ClusterIP"),
    ("serviceType", "ingress", "Ingress"),
    ("serviceType", "portforward", "ClusterIP"),
    ("imagePullPolicy", "always", "Always"),
    ("imagePullPolicy", "ifNotPresent", "IfNotPresent"),
    ("imagePullPolicy", "never", "Never"),
    ("podAffinitySchedulingRule", "hard", "Required"),
    ("podAffinitySchedulingRule", "soft", "Preferred"),
]


def test_each_spelling_is_taken_and_stored_as_the_value_it_stands_for(big):
    c = big
    ns = project(c, "spellings", 1)
    documents = []
    for i, (field, given, _) in enumerate(SPELLINGS):
        extra = "\n  podAffinity: {value: true}\n  podAffinityTopology: {value: kubernetes.io/hostname}" \
            if field == "podAffinitySchedulingRule" else ""
        documents.append(f"""apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {{name: s{i}, namespace: {ns}}}
spec:
  usage: Template
  image: {{value: ubuntu}}
  ports: {{items: {{web: {{value: {{container: 8080, serviceType: {given if field == "serviceType" else "ClusterIP"}}}}}}}}}
  {field}: {{value: {given}}}{extra}
""")
    c.kubectl("apply", "-f", "-", input="---\n".join(documents))
    for i, (field, given, canonical) in enumerate(SPELLINGS):
        spec = stored(c, "iw", ns, f"s{i}")["spec"]
        assert spec[field] == {"value": canonical}, (given, spec[field])
        if field == "serviceType":
            assert spec["ports"]["items"]["web"]["value"]["serviceType"] == canonical


def test_a_policy_and_a_workload_agree_whatever_spelling_each_uses(big):
    c = big
    ns = project(c, "spelled-policy", 2)
    submit(c, "TrainingPolicy", "policy", ns, """
        serviceType: {rules: {options: [nodeport, LoadBalancer]}}
        imagePullPolicy: {value: ifNotPresent}""")
    policy = stored(c, "trainingpolicies", ns, "policy")["spec"]
    assert policy["serviceType"]["rules"]["options"] == ["NodePort", "LoadBalancer"]
    assert policy["imagePullPolicy"]["value"] == "IfNotPresent"
    ssh = "ports: {items: {ssh: {value: {container: 22}}}}"
    submit(c, "TrainingWorkload", "exposed", ns, f"image: {{value: ubuntu}}\nserviceType: {{value: NodePort}}\n{ssh}")
    submit(c, "TrainingWorkload", "lower", ns, f"image: {{value: ubuntu}}\nserviceType: {{value: loadbalancer}}\n{ssh}")
    assert stored(c, "tw", ns, "lower")["spec"]["serviceType"] == {"value": "LoadBalancer"}
    assert stored(c, "tw", ns, "exposed")["spec"]["imagePullPolicy"] == {"value": "IfNotPresent"}
    refused = submit(c, "TrainingWorkload", "internal", ns, "image: {value: ubuntu}\nserviceType: {value: clusterip}",
                     check=False)
    assert refused.returncode != 0 and "spec.serviceType" in refused.stderr and "NodePort" in refused.stderr


# --- preemption -----------------------------------------------------------------------------------------


def notebook(c: Cluster, namespace: str) -> None:
    """A 1-GPU notebook of the project, which preempts the project's training (higher priority) to run."""
    submit(c, "InteractiveWorkload", "nb", namespace, 'image: {value: ubuntu}\ngpu: {value: "1"}')
    eventually(lambda: status(c, "interactiveworkloads", namespace, "nb").get("phase") == "Running", timeout=40)


def remove(c: Cluster, namespace: str, *workloads: str) -> None:
    for name in workloads:
        c.kubectl("delete", "iw" if name == "nb" else "tw", name, "-n", namespace, "--ignore-not-found", "--wait=false")
    eventually(lambda: not any(pods(c, namespace, n) for n in workloads), timeout=30)


def test_terminate_after_preemption_ends_a_training_as_failed(small):
    c = small
    ns = project(c, "tap", 2)
    submit(c, "TrainingWorkload", "train", ns, 'image: {value: ubuntu}\ngpu: {value: "2"}\n'
                                                "terminateAfterPreemption: {value: true}")
    eventually(lambda: status(c, "trainingworkloads", ns, "train").get("phase") == "Running", timeout=30)
    notebook(c, ns)
    ended = eventually(lambda: (s := status(c, "trainingworkloads", ns, "train")).get("phase") == "Failed" and s,
                       timeout=30)
    assert ended["reason"] == "Preempted" and "terminateAfterPreemption" in ended["message"]
    assert ended["preemptions"] == 1
    time.sleep(2)  # it does not come back: no new pod waits for the GPUs
    assert pods(c, ns, "train") == [] and status(c, "trainingworkloads", ns, "train")["phase"] == "Failed"
    remove(c, ns, "nb", "train")


def test_preemption_limit_ends_a_training_after_that_many_preemptions(small):
    c = small
    ns = project(c, "limit", 2)
    submit(c, "TrainingWorkload", "train", ns, 'image: {value: ubuntu}\ngpu: {value: "2"}\npreemptionLimit: {value: 2}')
    eventually(lambda: status(c, "trainingworkloads", ns, "train").get("phase") == "Running", timeout=30)
    notebook(c, ns)
    # Once: back to the queue (Degraded: a workload that has run and waits for its pod again).
    eventually(lambda: (s := status(c, "trainingworkloads", ns, "train")).get("preemptions") == 1
               and s.get("phase") in ("Pending", "Degraded") and s, timeout=30)
    assert len(pods(c, ns, "train")) == 1
    remove(c, ns, "nb")
    eventually(lambda: status(c, "trainingworkloads", ns, "train").get("phase") == "Running", timeout=30)
    notebook(c, ns)
    ended = eventually(lambda: (s := status(c, "trainingworkloads", ns, "train")).get("phase") == "Failed" and s,
                       timeout=30)
    assert ended["reason"] == "PreemptionLimitReached" and ended["preemptions"] == 2
    assert "preemptionLimit (2)" in ended["message"]
    failed = next(cond for cond in ended["conditions"] if cond["type"] == "Failed")
    assert failed["status"] == "True" and failed["reason"] == "PreemptionLimitReached"
    remove(c, ns, "nb", "train")


# --- fields of published objects ------------------------------------------------------------------------


def test_name_prefix_names_each_workload_made_from_a_template(big):
    c = big
    ns = project(c, "prefixes", 2)
    submit(c, "InteractiveWorkload", "notebook-defaults", ns,
           "usage: Template\nnamePrefix: {value: jupyter}\nimage: {value: ubuntu}")
    for name in ("first", "second"):
        submit(c, "InteractiveWorkload", name, ns, """
            baseWorkload: notebook-defaults
            username: {value: Ada Lovelace}
            userId: {value: 8c1e-ada}""")
    first, second = (stored(c, "iw", ns, n)["spec"] for n in ("first", "second"))
    assert first["name"] == {"value": "jupyter-1"} and second["name"] == {"value": "jupyter-2"}
    assert "namePrefix" not in first
    assert first["username"] == {"value": "Ada Lovelace"} and first["userId"] == {"value": "8c1e-ada"}
    assert stored(c, "iw", ns, "notebook-defaults")["spec"]["namePrefix"] == {"value": "jupyter"}
    pod = eventually(lambda: (p := pods(c, ns, "second")) and p[0])
    env = {e["name"]: e.get("value") for e in container(pod)["env"]}
    assert env["RUNAI_JOB_NAME"] == "jupyter-2"


def test_the_deprecated_node_pool_and_active_false_on_a_distributed_workload(big):
    c = big
    ns = project(c, "pools", 4)
    c.kubectl("apply", "-f", "-", input=distributed("pooled", ns, "", "  nodePool: {value: default}"))
    made = eventually(lambda: (p := pods(c, ns, "pooled")) and len(p) == 3 and p, timeout=30)
    assert all(p["metadata"]["annotations"]["run.ai/node-pools"] == "default" for p in made)
    eventually(lambda: status(c, "distributedworkloads", ns, "pooled").get("phase") == "Running", timeout=30)
    c.kubectl("patch", "dw", "pooled", "-n", ns, "--type", "merge", "-p", '{"spec": {"active": {"value": false}}}')
    stopped = eventually(lambda: (s := status(c, "distributedworkloads", ns, "pooled")).get("phase") == "Stopped"
                         and s, timeout=30)
    assert "active: false" in stopped["message"]
    eventually(lambda: pods(c, ns, "pooled") == [], timeout=30)


# --- priority classes -----------------------------------------------------------------------------------


def test_only_the_priority_classes_the_scheduler_knows_may_be_named(big):
    c = big
    ns = project(c, "priorities", 1)

    def pod(name: str, priority: str) -> subprocess.CompletedProcess[str]:
        return c.kubectl("apply", "-f", "-", check=False, input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, namespace: {ns}}}
spec:
  schedulerName: runai-scheduler
  priorityClassName: {priority}
  containers: [{{name: main, image: ubuntu}}]
""")

    assert pod("known", "interactive-preemptible").returncode == 0  # Run:ai 2.18's name, the same class as KAI's
    unknown = pod("unknown", "high-priority")
    assert unknown.returncode != 0
    assert "no PriorityClass with name high-priority was found" in unknown.stderr and "build-preemptible" in unknown.stderr
    group = c.kubectl("apply", "-f", "-", check=False, input=f"""
apiVersion: scheduling.run.ai/v2alpha2
kind: PodGroup
metadata: {{name: pg, namespace: {ns}}}
spec: {{queue: priorities, priorityClassName: Build}}
""")
    assert group.returncode != 0 and "spec.priorityClassName" in group.stderr and "build (100)" in group.stderr
    # What the controller writes is what the scheduler reads: a preemptible notebook gets the 75 class.
    submit(c, "InteractiveWorkload", "nb", ns, 'image: {value: ubuntu}\npreemptible: {value: true}')
    made = eventually(lambda: pods(c, ns, "nb"))
    assert made[0]["spec"]["priorityClassName"] == "build-preemptible" and made[0]["spec"]["priority"] == 75
