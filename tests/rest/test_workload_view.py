"""The pure translation of workload objects into Run:ai's shapes, and Run:ai's list parameters, on dicts."""

from __future__ import annotations

import pytest

from berth.controllers.phase import PHASES as BERTH_PHASES
from berth.rest import listing
from berth.rest import workload_models as models
from berth.rest import workload_view as view
from berth.rest.errors import RestError
from berth.rest.workloads import POD_FIELDS, WORKLOAD_FIELDS
from tests.rest.runai import conforms

ORG = view.Org("6f1c1a43-8d43-4c1e-9a3e-2f6f1b2f3c01", "team-a", "0b6a7c1e-5d4f-4a8e-9c3b-1e2d3f4a5b6c",
               "default", "default")
UID = "8a0e8f0c-6a3f-4b8e-8a51-0f5a1d2c3b4e"


def training(**status: object) -> dict:
    return {
        "apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
        "metadata": {"name": "mnist", "namespace": "runai-team-a", "uid": UID,
                     "creationTimestamp": "2026-01-02T03:04:05Z",
                     "managedFields": [{"manager": "berth-cli", "operation": "Update",
                                        "time": "2026-01-02T03:04:05Z"}]},
        "spec": {"image": {"value": "python:3.11"}, "gpu": {"value": "2"}, "cpu": {"value": "500m"},
                 "memory": {"value": "1Gi"}, "parallelism": {"value": 2}, "completions": {"value": 4},
                 "username": {"value": "rita"}, "nodePools": {"value": "a100 default"}},
        "status": status or None,
    }


def pod(name: str, uid: str, *, node: str | None = None, phase: str = "Pending") -> dict:
    return {"metadata": {"name": name, "namespace": "runai-team-a", "uid": uid,
                         "creationTimestamp": "2026-01-02T03:04:06Z",
                         "ownerReferences": [{"kind": "TrainingWorkload", "name": "mnist", "uid": UID,
                                              "controller": True}],
                         "annotations": {"run.ai/node-pools": "a100"}},
            "spec": {"nodeName": node, "priorityClassName": "train",
                     "containers": [{"name": "main", "image": "python:3.11",
                                     "resources": {"limits": {"nvidia.com/gpu": "2"},
                                                   "requests": {"cpu": "500m", "memory": "1Gi"}}}]},
            "status": {"phase": phase}}


def served(model: type, body: dict) -> dict:
    """`body` as FastAPI serves it through `model` (None fields left out but the nullable ones)."""
    return model.model_validate(body).model_dump(mode="json")


def test_every_berth_phase_maps_onto_a_runai_phase() -> None:
    runai = set(models.Phase.__args__)  # type: ignore[attr-defined]
    for phase in BERTH_PHASES:
        assert view.runai_phase(phase) in runai, phase
    assert view.runai_phase("TimedOut") == "Failed"
    assert view.runai_phase(None) == "Creating"
    assert view.runai_phase("Something") == "Unknown"


def test_a_training_reads_as_runais_workload() -> None:
    obj = training(phase="Running", runningPods=2, allocatedGpus=4, requestedGpus=4,
                   conditions=[{"type": "Running", "status": "True", "lastTransitionTime": "2026-01-02T03:05:00Z"}])
    pods = [pod("mnist-0-0", "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", node="n1", phase="Running"),
            pod("mnist-1-0", "2b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", node="n1", phase="Running")]
    pools = view.node_pools_of([{"metadata": {"name": "n1", "labels": {"run.ai/type": "a100"}}}],
                               [{"metadata": {"name": "a100"},
                                 "spec": {"labelKey": "run.ai/type", "labelValue": "a100"}}])
    assert pools == {"n1": "a100"}
    body = served(models.Workload, view.workload(obj, ORG, pods, pools))
    conforms(body, "get", "/api/v1/workloads/{workloadId}", 200)
    assert body["type"] == "training" and body["id"] == UID and body["name"] == "mnist"
    assert body["currentNodePools"] == ["a100"]
    assert body["projectName"] == "team-a" and body["namespace"] == "runai-team-a"
    assert body["phase"] == "Running" and body["k8sPhase"] == "Running" and body["runningPods"] == 2
    assert body["source"] == "CLI" and body["submittedBy"] == "rita"
    assert body["priorityClassName"] == "train" and body["preemptible"] is True
    assert body["podsRequestedResources"]["gpu"]["request"] == 2
    assert body["podsRequestedResources"]["cpu"]["request"] == 0.5
    assert body["workloadRequestedResources"]["gpu"]["request"] == 4
    assert body["workloadRequestedResources"]["cpuMemory"]["request"] == "2Gi"
    assert body["allocatedResources"] == {"gpu": 4, "cpu": 1, "cpuMemory": "2048Mi"}
    assert body["requestedPods"] == {"number": 2, "parallelism": 2, "completions": 4}
    assert body["requestedNodePools"] == ["a100", "default"]
    assert body["phaseUpdatedAt"] == "2026-01-02T03:05:00Z"
    assert body["deletedAt"] is None and "phaseMessage" not in body


def test_a_workload_without_status_is_creating_and_still_conforms() -> None:
    obj = training()
    obj["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply"}]
    body = served(models.Workload, view.workload(obj, ORG))
    conforms(body, "get", "/api/v1/workloads/{workloadId}", 200)
    assert body["phase"] == "Creating" and body["source"] == "Other" and body["runningPods"] == 0


@pytest.mark.parametrize(("kind", "spec", "type_", "counts"), [
    ("InteractiveWorkload", {"gpu": {"value": "0.5"}}, "workspace", {"number": 1}),
    ("DistributedWorkload", {"jobType": "PyTorchJob", "workers": {"value": 3}, "gpuDevices": {"value": 2}},
     "distributed", {"number": 4}),
    ("InferenceWorkload", {"minScale": {"value": 1}, "maxScale": {"value": 3}, "gpuMemory": {"value": "4G"}},
     "inference", {"number": 1, "min": 1, "max": 3}),
])
def test_each_kind_has_its_runai_type_and_pod_counts(kind: str, spec: dict, type_: str, counts: dict) -> None:
    obj = {"kind": kind, "metadata": {"name": "w", "namespace": "runai-team-a", "uid": UID,
                                      "creationTimestamp": "2026-01-02T03:04:05Z"}, "spec": spec,
           "status": {"phase": "TimedOut"}}
    body = served(models.Workload, view.workload(obj, ORG))
    conforms(body, "get", "/api/v1/workloads/{workloadId}", 200)
    assert body["type"] == type_ and body["requestedPods"] == counts and body["phase"] == "Failed"
    assert body["k8sPhase"] == "TimedOut"
    if kind == "DistributedWorkload":
        assert body["distributedFramework"] == "PyTorch" and body["podsRequestedResources"]["gpu"]["request"] == 2
    if kind == "InferenceWorkload":
        assert body["podsRequestedResources"]["gpuRequestType"] == "memory"
        assert body["actionsSupport"] == {"delete": True, "suspend": False}


def test_a_pod_reads_as_runais_pod() -> None:
    owner = training(phase="Running")
    body = served(models.Pod, view.pod(pod("mnist-0-0", "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", node="n1",
                                            phase="Running"), owner, ORG, {"n1": "default"}))
    conforms({"pods": [body]}, "get", "/api/v1/workloads/{workloadId}/pods", 200)
    assert body["workloadId"] == UID and body["nodeName"] == "n1" and body["k8sPhase"] == "Running"
    assert body["requestedResources"]["gpu"]["request"] == 2 and body["allocatedResources"]["gpu"] == 2
    assert body["requestedNodePools"] == ["a100"] and body["currentNodePool"] == "default"
    waiting = served(models.Pod, view.pod(pod("mnist-1-0", "2b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"), owner, ORG))
    assert waiting["nodeName"] is None and waiting["allocatedResources"] is None
    assert waiting["currentNodePool"] is None


def _event(uid: str, message: str, when: str, component: str = "berth-controllers", kind: str = "TrainingWorkload",
           reason: str = "Running") -> dict:
    return {"metadata": {"name": f"e-{when}", "uid": "9c1f6e0a-1111-4a4a-8b8b-000000000001",
                         "creationTimestamp": when},
            "involvedObject": {"kind": kind, "name": "mnist", "namespace": "runai-team-a", "uid": uid},
            "reason": reason, "message": message, "type": "Normal", "firstTimestamp": when, "lastTimestamp": when,
            "source": {"component": component}}


def test_history_has_phase_updates_and_events_in_time_order() -> None:
    obj = training(phase="Running", message="2 pods running")
    events = [_event(UID, "Pending: waiting for the scheduler to place the pods", "2026-01-02T03:04:06Z"),
              _event("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", "Successfully assigned", "2026-01-02T03:04:07Z",
                     component="runai-scheduler", kind="Pod", reason="Scheduled"),
              _event(UID, "Running: 2 pods running", "2026-01-02T03:04:09Z")]
    body = served(models.History, {"records": view.history(obj, events, ORG.cluster_id)})
    conforms(body, "get", "/api/v1/workloads/{workloadId}/history", 200)
    kinds = [(r["meta"]["type"], (r["spec"].get("phaseUpdate") or {}).get("phase")) for r in body["records"]]
    assert kinds == [("PhaseUpdate", "Pending"), ("Event", None), ("PhaseUpdate", "Running")]
    assert body["records"][0]["spec"]["phaseUpdate"]["phaseMessage"] == "waiting for the scheduler to place the pods"


def test_history_shows_the_current_phase_when_no_event_recorded_it() -> None:
    records = view.history(training(phase="Stopped", message="suspended"), [], ORG.cluster_id)
    assert [r["spec"]["phaseUpdate"] for r in records] == [{"phase": "Stopped", "phaseMessage": "suspended"}]


def test_events_conform() -> None:
    body = served(models.Events, {"events": [view.event(_event(UID, "Running: x", "2026-01-02T03:04:09Z"),
                                                        ORG.cluster_id)]})
    conforms(body, "get", "/api/v1/workloads/{workloadId}/events", 200)
    assert body["events"][0]["involvedObject"]["uid"] == UID


# -- listing ---------------------------------------------------------------------------------------------------

ITEMS = [
    {"id": "1", "name": "alpha", "type": "training", "phase": "Running", "createdAt": "2026-01-01T00:00:00Z",
     "allocatedResources": {"gpu": 2}, "requestedNodePools": ["a100"]},
    {"id": "2", "name": "beta", "type": "workspace", "phase": "Pending", "createdAt": "2026-01-03T00:00:00Z",
     "allocatedResources": {"gpu": 0}, "requestedNodePools": []},
    {"id": "3", "name": "gamma,x", "type": "training", "phase": "Completed", "createdAt": "2026-01-02T00:00:00Z",
     "allocatedResources": {"gpu": 0.5}, "requestedNodePools": ["default"], "submittedBy": "rita"},
]


def names(filters: list[str]) -> list[str]:
    parsed = listing.parse(filters, WORKLOAD_FIELDS)
    return [i["name"] for i in ITEMS if listing.matches(i, parsed)]


def test_filters_take_every_operator_of_the_document() -> None:
    assert names(["name==alpha"]) == ["alpha"]
    assert names(["name!=alpha"]) == ["beta", "gamma,x"]
    assert names(["name=@et"]) == ["beta"]
    assert names(["name!@a"]) == []
    assert names(["name=^g"]) == ["gamma,x"]
    assert names(["name=$ta"]) == ["beta"]
    assert names(["allocatedGPU>=1"]) == ["alpha"]
    assert names(["allocatedGPU<=0.5"]) == ["beta", "gamma,x"]
    assert names(["createdAt>=2026-01-02T00:00:00Z"]) == ["beta", "gamma,x"]
    assert names(["type==Training"]) == ["alpha", "gamma,x"]
    assert names(["nodepool==a100"]) == ["alpha"]
    assert names(["submittedBy==rita"]) == ["gamma,x"]
    assert names(["submittedBy!=rita"]) == ["alpha", "beta"]


def test_filters_may_be_repeated_or_comma_separated_and_all_hold() -> None:
    assert names(["type==training", "phase==Running"]) == ["alpha"]
    assert names(["type==training,phase==Running"]) == ["alpha"]
    assert names(["name==gamma,x"]) == ["gamma,x"]  # a comma not followed by a filter is the value's


@pytest.mark.parametrize("bad", ["nam==x", "name~x", "name==", "createdAt=@2026", "createdAt>=yesterday",
                                 "allocatedGPU>=many"])
def test_a_bad_filter_is_400_naming_filterBy(bad: str) -> None:
    with pytest.raises(RestError) as caught:
        listing.parse([bad], WORKLOAD_FIELDS)
    assert caught.value.code == 400 and caught.value.message.startswith("filterBy: ")
    assert caught.value.issues[0].field == "filterBy"


def test_sort_and_page() -> None:
    by_created = listing.sort(ITEMS, WORKLOAD_FIELDS, "createdAt", "asc")
    assert [i["name"] for i in by_created] == ["alpha", "gamma,x", "beta"]
    by_gpu = listing.sort(ITEMS, WORKLOAD_FIELDS, "allocatedGPU", "desc")
    assert [i["name"] for i in by_gpu] == ["alpha", "gamma,x", "beta"]
    by_user = listing.sort(ITEMS, WORKLOAD_FIELDS, "submittedBy", "desc")
    assert by_user[0]["name"] == "gamma,x"  # those without the field come last
    first, following = listing.page(by_created, 0, 2)
    assert [i["name"] for i in first] == ["alpha", "gamma,x"] and following == 2
    rest, following = listing.page(by_created, 2, 2)
    assert [i["name"] for i in rest] == ["beta"] and following is None


def test_pod_fields_are_the_documents() -> None:
    assert set(POD_FIELDS) == {"clusterId", "nodeName", "currentNodepool", "createdAt", "completedAt", "deletedAt"}
