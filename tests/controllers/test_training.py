"""Training and interactive workloads come alive: the PodGroup, the pods, and the phases as pods move."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.controllers.training import indexes, indexes_text

from tests.controllers.helpers import (
    apply,
    client,
    eventually,
    names,
    pods_of,
    run_pod,
    set_pod_phase,
    workload_status,
)

NS = "runai-team-a"


@pytest.fixture(scope="module")
def http(cluster):
    cluster.project(NS.removeprefix("runai-"))
    with client(cluster, timeout=30) as c:
        yield c


def training(name: str, spec: str = "") -> str:
    return f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: {name}, namespace: {NS}}}
spec:
  image: {{value: gcr.io/run-ai-demo/quickstart}}
  gpu: {{value: "1"}}
  name: {{value: {name}}}
{spec}"""


def test_the_seed_workload_gets_a_pod_group_and_a_pod(cluster, http):
    apply(cluster, training("job-1"))
    [pod] = eventually(lambda: pods_of(http, NS, "job-1"))
    assert pod["metadata"]["name"] == "job-1-0-0"
    labels = pod["metadata"]["labels"]
    assert labels["project"] == "team-a" and labels["runai/queue"] == "team-a"
    assert labels["run.ai/workload-name"] == "job-1" and labels["run.ai/workload-kind"] == "TrainingWorkload"
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("TrainingWorkload", "job-1", True)
    spec = pod["spec"]
    assert spec["schedulerName"] == "runai-scheduler" and spec["restartPolicy"] == "Never"
    assert spec["priorityClassName"] == "train"
    container = spec["containers"][0]
    assert container["image"] == "gcr.io/run-ai-demo/quickstart"
    assert container["resources"]["limits"]["nvidia.com/gpu"] in (1, "1")
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RUNAI_PROJECT"] == "team-a" and env["RUNAI_JOB_NAME"] == "job-1" and env["RUNAI_NUM_OF_GPUS"] == "1"
    groups = http.get(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{NS}/podgroups").json()["items"]
    [group] = [g for g in groups if g["metadata"]["labels"]["run.ai/workload-name"] == "job-1"]
    assert group["spec"] == {"minMember": 1, "queue": "team-a", "priorityClassName": "train",
                             "preemptibility": "preemptible"}
    assert pod["metadata"]["annotations"]["pod-group-name"] == group["metadata"]["name"]
    status = eventually(lambda: workload_status(http, "trainingworkloads", NS, "job-1").get("phase") == "Pending"
                        and workload_status(http, "trainingworkloads", NS, "job-1"))
    assert status["pendingPods"] == 1 and status["requestedGpus"] == 1


def test_phases_follow_the_pods_and_describe_tells_the_story(cluster, http):
    apply(cluster, training("story"))
    eventually(lambda: workload_status(http, "trainingworkloads", NS, "story").get("phase") == "Pending")
    run_pod(http, NS, "story-0-0", "node-7")
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "story")).get("phase") == "Running"
                        and s)
    assert status["runningPods"] == 1 and status["nodes"] == ["node-7"] and status["allocatedGpus"] == 1
    assert {c["type"]: c["status"] for c in status["conditions"]}["Running"] == "True"
    set_pod_phase(http, NS, "story-0-0", "Succeeded")
    eventually(lambda: workload_status(http, "trainingworkloads", NS, "story").get("phase") == "Completed")
    described = eventually(lambda: (out := cluster.kubectl("describe", "tw", "story", "-n", NS).stdout)
                           and "Completed" in out.split("Events:")[-1] and out)
    events = described.split("Events:")[-1]
    for reason in ("Pending", "Running", "Completed"):
        assert reason in events
    table = cluster.kubectl("get", "tw", "story", "-n", NS).stdout.splitlines()[1].split()
    assert table[:2] == ["story", "Completed"]


def test_backoff_retries_then_failed(cluster, http):
    apply(cluster, training("flaky", "  backoffLimit: {value: 1}"))
    eventually(lambda: pods_of(http, NS, "flaky"))
    set_pod_phase(http, NS, "flaky-0-0", "Failed")
    eventually(lambda: "flaky-0-1" in names(pods_of(http, NS, "flaky")))
    set_pod_phase(http, NS, "flaky-0-1", "Failed")
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "flaky")).get("phase") == "Failed"
                        and s)
    assert status["reason"] == "BackoffLimitExceeded"
    assert "2 pods failed, more than backoffLimit (1)" in status["message"]
    assert names(pods_of(http, NS, "flaky")) == ["flaky-0-0", "flaky-0-1"]  # no third attempt


def test_completions_4_with_parallelism_2(cluster, http):
    apply(cluster, training("hpo", "  completions: {value: 4}\n  parallelism: {value: 2}"))
    first = eventually(lambda: (p := names(pods_of(http, NS, "hpo"))) and len(p) == 2 and p)
    assert first == ["hpo-0-0", "hpo-1-0"]
    for pod in first:
        set_pod_phase(http, NS, pod, "Succeeded")
    eventually(lambda: names(pods_of(http, NS, "hpo")) == ["hpo-0-0", "hpo-1-0", "hpo-2-0", "hpo-3-0"])
    assert workload_status(http, "trainingworkloads", NS, "hpo").get("phase") != "Completed"
    for pod in ("hpo-2-0", "hpo-3-0"):
        set_pod_phase(http, NS, pod, "Succeeded")
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "hpo")).get("phase") == "Completed"
                        and s)
    assert status["succeededPods"] == 4


def test_suspend_and_resume(cluster, http):
    apply(cluster, training("pausable"))
    eventually(lambda: pods_of(http, NS, "pausable"))
    cluster.kubectl("patch", "tw", "pausable", "-n", NS, "--type", "merge", "-p", '{"spec":{"active":{"value":false}}}')
    eventually(lambda: not pods_of(http, NS, "pausable"))
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "pausable")).get("phase") == "Stopped"
                        and s)
    assert status["runningPods"] == 0
    groups = http.get(f"/apis/scheduling.run.ai/v2alpha2/namespaces/{NS}/podgroups",
                      params={"labelSelector": "run.ai/workload-name=pausable"}).json()["items"]
    assert groups == []  # the PodGroup is released
    cluster.kubectl("patch", "tw", "pausable", "-n", NS, "--type", "merge", "-p", '{"spec":{"active":{"value":true}}}')
    eventually(lambda: pods_of(http, NS, "pausable"))
    resumed = eventually(lambda: "waiting for the scheduler" in (
        s := workload_status(http, "trainingworkloads", NS, "pausable")).get("message", "") and s)
    assert resumed["phase"] == "Initializing"  # as Run:ai: Stopped -> Initializing, never back to Pending


def test_deleting_a_workload_deletes_everything_it_made(cluster, http):
    apply(cluster, training("gone", """  ports: {items: {http: {value: {container: 8080}}}}
  pvcs: {items: {scratch: {value: {existingPvc: false, size: 1Gi, path: /scratch, ephemeral: true}}}}"""))
    eventually(lambda: pods_of(http, NS, "gone"))
    eventually(lambda: http.get(f"/api/v1/namespaces/{NS}/services/tw-gone-clusterip").status_code == 200)
    eventually(lambda: http.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/gone-scratch").status_code == 200)
    urls = eventually(lambda: workload_status(http, "trainingworkloads", NS, "gone").get("serviceUrls"))
    assert urls == [f"http://tw-gone-clusterip.{NS}.svc:8080"]
    cluster.kubectl("delete", "tw", "gone", "-n", NS)
    eventually(lambda: not pods_of(http, NS, "gone"))
    eventually(lambda: http.get(f"/api/v1/namespaces/{NS}/services/tw-gone-clusterip").status_code == 404)
    eventually(lambda: http.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/gone-scratch").status_code == 404)


def test_interactive_is_one_long_lived_pod(cluster, http):
    apply(cluster, f"""
apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {{name: notebook, namespace: {NS}}}
spec:
  jupyter: {{value: true}}
  preemptible: {{value: true}}
  gpu: {{value: "0.5"}}
""")
    [pod] = eventually(lambda: pods_of(http, NS, "notebook"))
    assert pod["metadata"]["name"] == "notebook-0-0"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["priorityClassName"] == "build-preemptible"
    assert pod["metadata"]["annotations"]["gpu-fraction"] == "0.5"
    assert "nvidia.com/gpu" not in (pod["spec"]["containers"][0].get("resources") or {}).get("limits", {})
    urls = eventually(lambda: workload_status(http, "interactiveworkloads", NS, "notebook").get("serviceUrls"))
    assert urls == [f"http://iw-notebook-clusterip.{NS}.svc:8888"]
    set_pod_phase(http, NS, "notebook-0-0", "Failed")  # the pod ended: an interactive workload gets a new one
    eventually(lambda: "notebook-0-1" in names(pods_of(http, NS, "notebook")))


def test_a_container_that_keeps_failing_makes_the_workload_degraded_and_says_why(cluster, http):
    apply(cluster, f"""
apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {{name: looping, namespace: {NS}}}
spec:
  image: {{value: jupyter/base-notebook}}
  command: {{value: "python3 serve.py"}}
""")
    eventually(lambda: pods_of(http, NS, "looping"))
    run_pod(http, NS, "looping-0-0")
    eventually(lambda: workload_status(http, "interactiveworkloads", NS, "looping").get("phase") == "Running")
    looping = [{"name": "main", "ready": False, "restartCount": 4, "lastState": {"terminated": {"exitCode": 1}},
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
    set_pod_phase(http, NS, "looping-0-0", "Running", containerStatuses=looping)
    status = eventually(lambda: (s := workload_status(http, "interactiveworkloads", NS, "looping"))
                        .get("phase") == "Degraded" and s)
    assert status["reason"] == "CrashLoopBackOff"
    assert "pod looping-0-0: container main keeps failing" in status["message"] and "(4 restarts)" in status["message"]
    set_pod_phase(http, NS, "looping-0-0", "Running")  # it stays up now
    eventually(lambda: workload_status(http, "interactiveworkloads", NS, "looping").get("phase") == "Running")


def test_auto_deletion_after_completion(cluster, http):
    apply(cluster, training("ephemeral", "  autoDeletionTimeAfterCompletionSeconds: {value: 1}"))
    eventually(lambda: pods_of(http, NS, "ephemeral"))
    set_pod_phase(http, NS, "ephemeral-0-0", "Succeeded")
    url = f"/apis/run.ai/v2alpha1/namespaces/{NS}/trainingworkloads/ephemeral"
    eventually(lambda: (r := http.get(url)).status_code == 404  # completed, and maybe deleted already
               or r.json().get("status", {}).get("phase") == "Completed")
    try:
        eventually(lambda: http.get(url).status_code == 404, timeout=20)
    except AssertionError:  # say where it stood, for a failure that happens once in many runs
        events = http.get(f"/api/v1/namespaces/{NS}/events").json()["items"]
        raise AssertionError(f"not deleted: {http.get(url).json().get('status')}; events: "
                             f"{[(e['reason'], e['message']) for e in events if 'ephemeral' in str(e)]}") from None


def test_an_interactive_workload_ends_at_the_projects_time_limit(cluster, http):
    cluster.kubectl("apply", "-f", "-", input="""
apiVersion: run.ai/v1
kind: Project
metadata: {name: limited}
spec: {interactiveJobTimeLimitSecs: 2}
""")
    eventually(lambda: http.get("/api/v1/namespaces/runai-limited").status_code == 200)
    apply(cluster, """
apiVersion: run.ai/v2alpha1
kind: InteractiveWorkload
metadata: {name: shell, namespace: runai-limited}
spec: {image: {value: ubuntu}, command: {value: sleep infinity}}
""")
    eventually(lambda: pods_of(http, "runai-limited", "shell"))
    run_pod(http, "runai-limited", "shell-0-0")
    status = eventually(lambda: (s := workload_status(http, "interactiveworkloads", "runai-limited", "shell"))
                        .get("phase") == "TimedOut" and s, timeout=20)
    assert status["message"] == "ran for the project's interactive time limit of 2 s"
    eventually(lambda: not [p for p in pods_of(http, "runai-limited", "shell")
                            if not p["metadata"].get("deletionTimestamp")])


def test_a_spec_that_cannot_make_a_pod_fails_with_the_field(cluster, http):
    apply(cluster, training("broken", """  command: {value: "python 'unclosed"}"""))
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "broken")).get("phase") == "Failed"
                        and s)
    assert status["reason"] == "InvalidSpec" and "spec.command" in status["message"]


@pytest.mark.slow  # 17 s: a race repeated many times; run with -m slow
def test_workloads_deleted_as_soon_as_created_leave_no_warnings_in_the_log(cluster, http):
    names = [f"brief-{i}" for i in range(30)]
    for round in range(3):
        cluster.kubectl("apply", "-f", "-", input="\n---\n".join(training(n) for n in names))
        cluster.kubectl("delete", "tw", *names, "-n", NS, "--wait=false")
    eventually(lambda: not any(pods_of(http, NS, n) for n in names))
    time.sleep(2)
    noise = [line for line in cluster.output().splitlines() if "WARNING" in line or "Traceback" in line]
    assert noise == []


def test_an_index_that_succeeded_is_not_run_again_when_its_pod_is_deleted(cluster, http):
    apply(cluster, training("kept", "  completions: {value: 2}\n  parallelism: {value: 1}"))
    eventually(lambda: names(pods_of(http, NS, "kept")) == ["kept-0-0"])
    run_pod(http, NS, "kept-0-0")
    set_pod_phase(http, NS, "kept-0-0", "Succeeded")
    eventually(lambda: "kept-1-0" in names(pods_of(http, NS, "kept")))
    cluster.kubectl("delete", "pod", "kept-0-0", "-n", NS)  # by a user, or an eviction that lost a race
    status = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "kept")).get("completedIndexes")
                        and s)
    assert status["completedIndexes"] == "0"
    time.sleep(2)
    assert names(pods_of(http, NS, "kept")) == ["kept-1-0"]  # index 0 is not run again
    run_pod(http, NS, "kept-1-0")
    set_pod_phase(http, NS, "kept-1-0", "Succeeded")
    done = eventually(lambda: (s := workload_status(http, "trainingworkloads", NS, "kept")).get("phase") == "Completed"
                      and s)
    assert done["message"] == "2 of 2 pods succeeded" and done["completedIndexes"] == "0-1"


@given(st.sets(st.integers(0, 200)))
def test_completed_indexes_are_written_as_jobs_write_them_and_read_back(found):
    text = indexes_text(found)
    assert indexes(text) == found
    assert indexes_text({0, 2, 3, 4, 7}) == "0,2-4,7"
