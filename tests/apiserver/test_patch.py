"""The patch formats and server-side apply, checked against the RFC examples and the flows kubectl and
controllers drive: client-side apply, `patch --type json|merge|strategic`, `label`, `apply --server-side`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth.apiserver.patch import (
    ApplyConflict,
    PatchError,
    create_merge_patch,
    json_patch,
    merge_patch,
    record_update,
    server_side_apply,
    strategic_merge_patch,
    three_way_merge_patch,
)

T0, T1, T2, T3 = "2025-01-01T00:00:00Z", "2025-01-01T00:01:00Z", "2025-01-01T00:02:00Z", "2025-01-01T00:03:00Z"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


# -- JSON merge patch ------------------------------------------------------------------------------------

RFC7386 = [  # RFC 7386 appendix A, the rows whose document and patch are objects
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386)
def test_merge_patch_rfc7386_examples(target: dict[str, Any], patch: dict[str, Any], expected: Any) -> None:
    before = copy.deepcopy((target, patch))
    assert merge_patch(target, patch) == expected
    assert (target, patch) == before


@pytest.mark.parametrize("patch", [["c", "d"], None, "bar", 3])
def test_merge_patch_that_is_not_an_object_is_a_bad_request(patch: Any) -> None:
    # RFC 7386 allows these, but a Kubernetes object cannot become an array or a string.
    with pytest.raises(PatchError) as exc:
        merge_patch({"a": "b"}, patch)
    assert (exc.value.code, exc.value.reason) == (400, "BadRequest")


def test_merge_patch_result_shares_nothing_with_its_inputs() -> None:
    target, patch = {"spec": {"tags": ["a"]}, "keep": {"x": [1]}}, {"spec": {"new": {"y": [2]}}}
    result = merge_patch(target, patch)
    result["spec"]["tags"].append("b")
    result["keep"]["x"].append(2)
    result["spec"]["new"]["y"].append(3)
    assert target == {"spec": {"tags": ["a"]}, "keep": {"x": [1]}}
    assert patch == {"spec": {"new": {"y": [2]}}}


def test_kubectl_label_and_unlabel_touch_only_that_label() -> None:
    workload = {"metadata": {"name": "job1", "labels": {"team": "a", "tier": "gold"}}, "spec": {"gpu": {"value": "1"}}}
    # kubectl label tw job1 priority=high
    labelled = merge_patch(workload, {"metadata": {"labels": {"priority": "high"}}})
    assert labelled["metadata"]["labels"] == {"team": "a", "tier": "gold", "priority": "high"}
    unlabelled = merge_patch(labelled, {"metadata": {"labels": {"tier": None}}})  # kubectl label tw job1 tier-
    assert unlabelled["metadata"]["labels"] == {"team": "a", "priority": "high"}
    assert unlabelled["spec"] == workload["spec"]


def test_client_side_apply_three_way_patch() -> None:
    # The first `kubectl apply` stored the file in the annotation; since then a controller wrote status
    # and `kubectl label` added a label. The new file changes the GPUs and drops nodeType.
    first = {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload", "metadata": {"name": "job1"},
             "spec": {"gpu": {"value": "1"}, "nodeType": {"value": "a100"}, "image": {"value": "pytorch"}}}
    live = copy.deepcopy(first)
    live["metadata"].update(annotations={LAST_APPLIED: json.dumps(first) + "\n"}, labels={"team": "a"},
                            resourceVersion="7", uid="u1")
    live["status"] = {"phase": "Running"}
    second = copy.deepcopy(first)
    second["spec"]["gpu"]["value"] = "2"
    del second["spec"]["nodeType"]
    second_with_annotation = copy.deepcopy(second)
    second_with_annotation["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(second) + "\n"}

    patch = three_way_merge_patch(first, second_with_annotation, live)

    assert patch == {"metadata": {"annotations": {LAST_APPLIED: json.dumps(second) + "\n"}},
                     "spec": {"gpu": {"value": "2"}, "nodeType": None}}
    result = merge_patch(live, patch)
    assert result["spec"] == {"gpu": {"value": "2"}, "image": {"value": "pytorch"}}
    assert result["metadata"]["labels"] == {"team": "a"}  # not in any applied file: left alone
    assert result["status"] == {"phase": "Running"}


def test_client_side_apply_without_changes_sends_an_empty_patch() -> None:
    config = {"metadata": {"name": "job1"}, "spec": {"gpu": {"value": "1"}}}
    live = merge_patch(config, {"metadata": {"uid": "u1"}, "status": {"phase": "Pending"}})
    assert three_way_merge_patch(config, config, live) == {}  # kubectl then prints "unchanged"


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_anything = st.recursive(_scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20)
# Inside a target object a value may be anything but null: merge patch reads null as "delete".
_documents = st.recursive(
    st.dictionaries(st.text(max_size=4), _scalars.filter(lambda v: v is not None) | st.lists(_anything), max_size=4),
    lambda inner: st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@given(_documents, _documents)
@settings(max_examples=300, deadline=None)
def test_a_created_merge_patch_turns_the_original_into_the_modified(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert merge_patch(a, create_merge_patch(a, b)) == b
    assert create_merge_patch(b, b) == {}


# -- JSON patch ------------------------------------------------------------------------------------------

RFC6902 = [  # RFC 6902 appendix A (A.13, a duplicate member in the JSON text, is the JSON decoder's business)
    ("A.1", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ("A.2", {"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ("A.3", {"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ("A.4", {"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ("A.5", {"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),
    ("A.6", {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ("A.7", {"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ("A.8", {"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ("A.9", {"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], None),
    ("A.10", {"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ("A.11", {"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ("A.12", {"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], None),
    ("A.14", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ("A.15", {"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], None),
    ("A.16", {"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),
]


@pytest.mark.parametrize(("name", "target", "operations", "expected"), RFC6902, ids=[r[0] for r in RFC6902])
def test_json_patch_rfc6902_examples(name: str, target: dict[str, Any], operations: list[Any], expected: Any) -> None:
    before = copy.deepcopy(target)
    if expected is None:
        with pytest.raises(PatchError) as exc:
            json_patch(target, operations)
        assert (exc.value.code, exc.value.reason) == (422, "Invalid")
    else:
        assert json_patch(target, operations) == expected
    assert target == before


def _kopf_object(rv: str) -> dict[str, Any]:
    return {"metadata": {"name": "job1", "resourceVersion": rv, "finalizers": ["kopf.zalando.org/KopfFinalizerMarker"]},
            "spec": {}}


def test_json_patch_test_on_resource_version_is_optimistic_locking() -> None:
    # kopf removes its finalizer with a patch that first tests the resourceVersion it read.
    ops = [{"op": "test", "path": "/metadata/resourceVersion", "value": "41"},
           {"op": "remove", "path": "/metadata/finalizers/0"}]
    assert json_patch(_kopf_object("41"), ops)["metadata"]["finalizers"] == []

    with pytest.raises(PatchError) as exc:
        json_patch(_kopf_object("42"), ops)
    # Exactly what the real API server answers, which kubectl shows as
    # "The request is invalid: the server rejected our request due to an error in our request".
    assert exc.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid", "details": {}, "code": 422}
    assert "/metadata/resourceVersion" in exc.value.detail


@pytest.mark.parametrize(("operations", "detail"), [
    ([{"op": "remove", "path": "/spec/nosuch"}], "/spec/nosuch"),
    ([{"op": "replace", "path": "/spec/nosuch", "value": 1}], "/spec/nosuch"),
    ([{"op": "add", "path": "/metadata/finalizers/5", "value": "x"}], "out of range"),
    ([{"op": "move", "from": "/spec/nosuch", "path": "/spec/y"}], "/spec/nosuch"),
    ([{"op": "copy", "from": "/spec", "path": "/nosuch/spec"}], "/nosuch/spec"),
    ([{"op": "move", "from": "/metadata", "path": "/metadata/inner"}], "own child"),
    ([{"op": "bump", "path": "/spec"}], "bump"),
    ([{"op": "add", "path": "spec/x", "value": 1}], "JSON pointer"),
    ([{"op": "add", "value": 1}], "path"),
    ([{"op": "test", "path": "/metadata/name"}], "value"),
    ([{"op": "replace", "path": "", "value": ["not", "an", "object"]}], "array"),
])
def test_json_patch_that_does_not_apply_is_invalid(operations: list[Any], detail: str) -> None:
    with pytest.raises(PatchError) as exc:
        json_patch(_kopf_object("1"), operations)
    assert (exc.value.code, exc.value.reason) == (422, "Invalid")
    assert detail in exc.value.detail


@pytest.mark.parametrize("operations", [{"op": "add"}, "[]", [["op", "add"]], ["remove"]])
def test_json_patch_document_that_is_not_a_list_of_objects_is_a_bad_request(operations: Any) -> None:
    with pytest.raises(PatchError) as exc:
        json_patch({"a": 1}, operations)
    assert (exc.value.code, exc.value.reason) == (400, "BadRequest")
    assert "json: cannot unmarshal" in exc.value.message


def test_json_patch_applies_all_or_nothing_and_copies_values() -> None:
    target = {"metadata": {"labels": {"a/b": "1"}}, "spec": {"tags": ["x"]}}
    with pytest.raises(PatchError):
        json_patch(target, [{"op": "add", "path": "/spec/tags/-", "value": "y"}, {"op": "remove", "path": "/nope"}])
    assert target == {"metadata": {"labels": {"a/b": "1"}}, "spec": {"tags": ["x"]}}

    result = json_patch(target, [
        {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
        {"op": "copy", "from": "/spec/tags", "path": "/spec/copy"},
        {"op": "add", "path": "/spec/tags/0", "value": "first"},
        {"op": "test", "path": "/spec/copy", "value": ["x"]},
    ])
    assert result == {"metadata": {"labels": {"a/b": "2"}}, "spec": {"tags": ["first", "x"], "copy": ["x"]}}


def test_json_patch_test_tells_booleans_from_numbers() -> None:
    with pytest.raises(PatchError):
        json_patch({"replicas": 1}, [{"op": "test", "path": "/replicas", "value": True}])
    assert json_patch({"ratio": 1}, [{"op": "test", "path": "/ratio", "value": 1.0}]) == {"ratio": 1}


# -- strategic merge patch -------------------------------------------------------------------------------

def _pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "labels": {"app": "train"}, "finalizers": ["a.example/x"],
                     "ownerReferences": [{"uid": "u1", "kind": "TrainingWorkload", "name": "job1"}]},
        "spec": {
            "containers": [
                {"name": "main", "image": "pytorch:1", "env": [{"name": "A", "value": "1"}],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}], "ports": [{"containerPort": 8080}]},
                {"name": "sidecar", "image": "log:1"},
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
        },
        "status": {"conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]},
    }


def test_strategic_patch_merges_containers_and_their_lists_by_key() -> None:
    pod = _pod()
    patched = strategic_merge_patch(pod, {"spec": {"containers": [
        {"name": "main", "image": "pytorch:2", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "one"}],
         "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]},
        {"name": "new", "image": "tool:1"},
    ]}}, "Pod")
    main, sidecar, new = patched["spec"]["containers"]
    assert main["image"] == "pytorch:2"
    assert main["env"] == [{"name": "A", "value": "one"}, {"name": "B", "value": "2"}]
    assert [m["mountPath"] for m in main["volumeMounts"]] == ["/data", "/scratch"]
    assert main["ports"] == [{"containerPort": 8080}]
    assert sidecar == {"name": "sidecar", "image": "log:1"}
    assert new == {"name": "new", "image": "tool:1"}
    assert pod == _pod()


def test_strategic_patch_delete_directive_removes_one_container() -> None:
    patched = strategic_merge_patch(_pod(), {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}, "Pod")
    assert [c["name"] for c in patched["spec"]["containers"]] == ["main"]


def test_strategic_patch_replace_directive_on_a_list_and_on_a_map() -> None:
    replace = {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}
    patched = strategic_merge_patch(_pod(), replace, "Pod")
    assert patched["spec"]["containers"] == [{"name": "only", "image": "x"}]
    patched = strategic_merge_patch(_pod(), {"metadata": {"labels": {"$patch": "replace", "fresh": "yes"}}}, "Pod")
    assert patched["metadata"]["labels"] == {"fresh": "yes"}


def test_strategic_patch_lists_without_a_strategy_are_replaced() -> None:
    patched = strategic_merge_patch(_pod(), {"spec": {"tolerations": [{"key": "spot", "operator": "Exists"}]}}, "Pod")
    assert patched["spec"]["tolerations"] == [{"key": "spot", "operator": "Exists"}]


def test_strategic_patch_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    # What kubectl apply sends when a file's finalizers go from [a] to [b].
    patched = strategic_merge_patch(_pod(), {"metadata": {
        "$setElementOrder/finalizers": ["b.example/y"], "$deleteFromPrimitiveList/finalizers": ["a.example/x"],
        "finalizers": ["b.example/y"]}}, "Pod")
    assert patched["metadata"]["finalizers"] == ["b.example/y"]
    patched = strategic_merge_patch(_pod(), {"metadata": {"finalizers": ["b.example/y"]}}, "Pod")
    assert patched["metadata"]["finalizers"] == ["a.example/x", "b.example/y"]


def test_strategic_patch_conditions_by_type_owner_references_by_uid_and_null_deletes() -> None:
    patched = strategic_merge_patch(_pod(), {
        "metadata": {"labels": {"app": None}, "ownerReferences": [{"uid": "u2", "kind": "PodGroup", "name": "g"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }, "Pod")
    assert patched["metadata"]["labels"] == {}
    assert [r["uid"] for r in patched["metadata"]["ownerReferences"]] == ["u1", "u2"]
    assert patched["status"]["conditions"] == [{"type": "PodScheduled", "status": "True"},
                                               {"type": "Ready", "status": "True"}]


def test_strategic_patch_retain_keys_switches_a_volume_source() -> None:
    patch = {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/mnt"}}]}}
    volumes = strategic_merge_patch(_pod(), patch, "Pod")["spec"]["volumes"]
    assert volumes == [{"name": "data", "hostPath": {"path": "/mnt"}}]


def test_strategic_patch_set_element_order_is_accepted() -> None:
    patched = strategic_merge_patch(_pod(), {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "main"}],
        "containers": [{"name": "main", "image": "pytorch:3"}]}}, "Pod")
    containers = [(c["name"], c["image"]) for c in patched["spec"]["containers"]]
    assert containers == [("sidecar", "log:1"), ("main", "pytorch:3")]


def test_strategic_patch_service_ports_by_port() -> None:
    svc = {"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    patched = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}, "Service")
    assert patched["spec"]["ports"] == [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 9443}]


def test_strategic_patch_of_an_unknown_kind_merges_maps_and_replaces_lists() -> None:
    workload = {"metadata": {"finalizers": ["a"]}, "spec": {"gpu": {"value": "1"}, "args": ["x", "y"]}}
    patch = {"metadata": {"finalizers": ["b"]}, "spec": {"gpu": {"portion": "0.5"}, "args": ["z"]}}
    patched = strategic_merge_patch(workload, patch, "TrainingWorkload")
    assert patched == {"metadata": {"finalizers": ["b"]},
                       "spec": {"gpu": {"value": "1", "portion": "0.5"}, "args": ["z"]}}


@pytest.mark.parametrize("patch", [
    {"spec": {"containers": [{"image": "no-name"}]}},
    {"spec": {"containers": [{"name": "main", "$patch": "explode"}]}},
    {"spec": {"$patch": "explode"}},
    {"metadata": {"$deleteFromPrimitiveList/finalizers": "a.example/x"}},
    {"spec": {"$setElementOrder/containers": {"name": "main"}}},
    {"spec": {"volumes": [{"name": "data", "$retainKeys": "name"}]}},
    {"spec": {"volumes": [{"name": "data", "$retainKeys": ["name"], "hostPath": {"path": "/mnt"}}]}},
    {"spec": {"$bogus": 1}},
])
def test_malformed_strategic_patch_is_a_bad_request(patch: dict[str, Any]) -> None:
    with pytest.raises(PatchError) as exc:
        strategic_merge_patch(_pod(), patch, "Pod")
    assert (exc.value.code, exc.value.reason) == (400, "BadRequest")


# -- server-side apply -----------------------------------------------------------------------------------

def _workload(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "run.ai/v2alpha1", "kind": "TrainingWorkload",
            "metadata": {"name": "job2", "namespace": "team-a", "labels": {"team": "a"}},
            "spec": {k: {"value": v} for k, v in spec.items()}}


def _stored(obj: dict[str, Any], rv: str = "5") -> dict[str, Any]:
    """What the API server adds when it persists an object."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="uid-1", resourceVersion=rv, creationTimestamp=T0, generation=1)
    return obj


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def test_apply_server_side_creates_with_managed_fields() -> None:
    created = server_side_apply(None, _workload(gpu="1", image="pytorch"), "kubectl", now=T0)
    assert created["spec"] == {"gpu": {"value": "1"}, "image": {"value": "pytorch"}}
    assert created["metadata"]["managedFields"] == [{
        "manager": "kubectl", "operation": "Apply", "apiVersion": "run.ai/v2alpha1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}},
                     "f:spec": {"f:gpu": {"f:value": {}}, "f:image": {"f:value": {}}}},
    }]


def test_apply_server_side_again_without_a_field_removes_it() -> None:
    live = _stored(server_side_apply(None, _workload(gpu="1", image="pytorch", nodeType="a100"), "kubectl", now=T0))
    applied, before = _workload(gpu="1", image="pytorch"), copy.deepcopy(live)
    again = server_side_apply(live, applied, "kubectl", now=T1)
    assert (live, applied) == (before, _workload(gpu="1", image="pytorch"))
    assert again["spec"] == {"gpu": {"value": "1"}, "image": {"value": "pytorch"}}
    assert again["metadata"]["uid"] == "uid-1" and again["metadata"]["resourceVersion"] == "5"
    assert _entries(again)[("kubectl", "Apply")]["fieldsV1"]["f:spec"] == {"f:gpu": {"f:value": {}},
                                                                           "f:image": {"f:value": {}}}


def test_apply_server_side_twice_is_a_no_op() -> None:
    live = _stored(server_side_apply(None, _workload(gpu="1"), "kubectl", now=T0))
    assert server_side_apply(live, _workload(gpu="1"), "kubectl", now=T1) == live


def test_apply_conflict_with_a_client_side_apply_field_then_force() -> None:
    # Created by client-side apply (an "Update" by kubectl-client-side-apply), then applied server-side
    # with a different GPU count: the real API server refuses, naming the field and its manager.
    created = _stored(record_update(None, _workload(gpu="1", image="pytorch"), "kubectl-client-side-apply", now=T0))
    with pytest.raises(ApplyConflict) as exc:
        server_side_apply(created, _workload(gpu="2", image="pytorch"), "kubectl", now=T1)
    error = exc.value
    assert (error.code, error.reason) == (409, "Conflict")
    assert error.message == ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" '
                             'using run.ai/v2alpha1: .spec.gpu.value')
    assert error.conflicts == [("kubectl-client-side-apply", ".spec.gpu.value")]
    assert error.status()["details"] == {"causes": [{
        "reason": "FieldManagerConflict", "field": ".spec.gpu.value",
        "message": 'conflict with "kubectl-client-side-apply" using run.ai/v2alpha1'}]}

    forced = server_side_apply(created, _workload(gpu="2", image="pytorch"), "kubectl", force=True, now=T1)
    assert forced["spec"]["gpu"] == {"value": "2"}
    entries = _entries(forced)
    assert entries[("kubectl", "Apply")]["fieldsV1"]["f:spec"] == {"f:gpu": {"f:value": {}}, "f:image": {"f:value": {}}}
    # image had the same value, so both own it; gpu moved to the applier.
    assert entries[("kubectl-client-side-apply", "Update")]["fieldsV1"]["f:spec"] == {
        ".": {}, "f:image": {".": {}, "f:value": {}}, "f:gpu": {}}
    assert [e["operation"] for e in forced["metadata"]["managedFields"]] == ["Apply", "Update"]


def test_apply_conflict_message_with_several_fields_and_managers() -> None:
    live = _stored(server_side_apply(None, _workload(gpu="1", image="pytorch"), "ops", now=T0))
    live = record_update(live, merge_patch(live, {"spec": {"nodeType": {"value": "a100"}}}), "kubectl-edit", now=T1)
    with pytest.raises(ApplyConflict) as exc:
        server_side_apply(live, _workload(gpu="2", image="tf", nodeType="h100"), "ci", now=T2)
    assert exc.value.message == (
        'Apply failed with 3 conflicts: conflicts with "kubectl-edit" using run.ai/v2alpha1:\n'
        "- .spec.nodeType.value\n"
        'conflicts with "ops":\n'
        "- .spec.gpu.value\n"
        "- .spec.image.value")


def test_a_field_two_appliers_own_stays_until_both_drop_it() -> None:
    live = _stored(server_side_apply(None, _workload(gpu="1", image="pytorch"), "alice", now=T0))
    live = server_side_apply(live, _workload(gpu="1"), "bob", now=T1)  # same value: shared, no conflict
    live = server_side_apply(live, _workload(image="pytorch"), "alice", now=T2)
    assert live["spec"] == {"gpu": {"value": "1"}, "image": {"value": "pytorch"}}
    live = server_side_apply(live, {**_workload(), "spec": {}}, "bob", now=T3)
    assert live["spec"] == {"image": {"value": "pytorch"}}


def test_an_update_takes_ownership_from_the_applier() -> None:
    live = _stored(server_side_apply(None, _workload(gpu="1", image="pytorch"), "kubectl", now=T0))
    after = merge_patch(live, {"spec": {"gpu": {"value": "4"}}})
    unchanged = copy.deepcopy((live, after))
    edited = record_update(live, after, "kubectl-edit", now=T1)
    assert (live, after) == unchanged
    entries = _entries(edited)
    assert entries[("kubectl-edit", "Update")]["fieldsV1"] == {"f:spec": {"f:gpu": {"f:value": {}}}}
    assert entries[("kubectl", "Apply")]["fieldsV1"]["f:spec"] == {"f:image": {"f:value": {}}}
    # The applier no longer owns gpu, so dropping it from its file leaves the edited value in place.
    again = server_side_apply(edited, _workload(image="pytorch"), "kubectl", now=T2)
    assert again["spec"]["gpu"] == {"value": "4"}


def test_apply_to_an_object_without_managed_fields_conflicts_with_before_first_apply() -> None:
    legacy = _stored(_workload(gpu="1"))
    with pytest.raises(ApplyConflict) as exc:
        server_side_apply(legacy, _workload(gpu="2"), "kubectl", now=T1)
    assert exc.value.conflicts == [("before-first-apply", ".spec.gpu.value")]


def test_apply_of_pod_containers_owns_items_by_name() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "finalizers": ["a.example/x"]},
           "spec": {"containers": [{"name": "main", "image": "pytorch:1"}], "tolerations": [{"key": "gpu"}]}}
    created = _stored(server_side_apply(None, pod, "scheduler", now=T0))
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:metadata": {"f:finalizers": {'v:"a.example/x"': {}}},
        "f:spec": {"f:containers": {'k:{"name":"main"}': {".": {}, "f:image": {}, "f:name": {}}},
                   "f:tolerations": {}},
    }
    sidecar = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"containers": [{"name": "log", "image": "log:1"}]}}
    both = server_side_apply(created, sidecar, "injector", now=T1)
    assert [c["name"] for c in both["spec"]["containers"]] == ["main", "log"]

    clash = copy.deepcopy(sidecar)
    clash["spec"]["containers"].append({"name": "main", "image": "pytorch:2"})
    with pytest.raises(ApplyConflict) as exc:
        server_side_apply(both, clash, "injector", now=T2)
    assert exc.value.conflicts == [("scheduler", '.spec.containers[name="main"].image')]

    dropped = server_side_apply(both, {**sidecar, "spec": {"containers": []}}, "injector", now=T2)
    assert [c["name"] for c in dropped["spec"]["containers"]] == ["main"]


@pytest.mark.parametrize("bad", [
    {"metadata": {"name": "x", "managedFields": [{"manager": "me"}]}},
    ["not", "an", "object"],
])
def test_apply_of_a_malformed_configuration_is_a_bad_request(bad: Any) -> None:
    with pytest.raises(PatchError) as exc:
        server_side_apply(None, bad, "kubectl", now=T0)
    assert exc.value.code == 400


# -- ownership of other writes ---------------------------------------------------------------------------

def test_create_records_every_field_but_identity_and_server_metadata() -> None:
    created = record_update(None, _stored(_workload(gpu="1")), "kubectl-create", now=T0)
    assert created["metadata"]["managedFields"] == [{
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "run.ai/v2alpha1", "time": T0,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:team": {}}},
                     "f:spec": {".": {}, "f:gpu": {".": {}, "f:value": {}}}},
    }]


def test_update_that_changes_nothing_keeps_managed_fields_as_they_were() -> None:
    created = record_update(None, _stored(_workload(gpu="1")), "kubectl-create", now=T0)
    assert record_update(created, copy.deepcopy(created), "kubectl-replace", now=T1) == created


def test_a_field_that_disappears_is_owned_by_nobody() -> None:
    created = record_update(None, _stored(_workload(gpu="1", image="x")), "kubectl-create", now=T0)
    patched = record_update(created, merge_patch(created, {"spec": {"image": None}}), "kubectl-patch", now=T1)
    assert _entries(patched)[("kubectl-create", "Update")]["fieldsV1"]["f:spec"] == {
        ".": {}, "f:gpu": {".": {}, "f:value": {}}}
    assert ("kubectl-patch", "Update") not in _entries(patched)


def test_managed_fields_sent_by_the_client_replace_the_stored_ones() -> None:
    created = record_update(None, _stored(_workload(gpu="1")), "kubectl-create", now=T0)
    kept = record_update(created, {k: v for k, v in created.items()}, "kubectl-replace", now=T1)
    assert kept["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    cleared = copy.deepcopy(created)
    cleared["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in record_update(created, cleared, "kubectl-patch", now=T1)["metadata"]
    dropped = copy.deepcopy(created)
    del dropped["metadata"]["managedFields"]  # a client that does not know the field
    assert record_update(created, dropped, "old-client", now=T1)["metadata"]["managedFields"] == \
        created["metadata"]["managedFields"]


# -- managedFields of a create: the one-walk path gives what the general diff gives ---------------------

def _general_create(obj: dict[str, Any], manager: str, now: str) -> dict[str, Any]:
    from berth.apiserver import apply as a

    rule = a._root_rule(str(obj.get("kind") or ""))
    fields = a._diff({}, obj, rule).added - a._STRIPPED
    return a._with_managed_fields(copy.deepcopy(obj), [a._Manager(manager, "Update", str(obj.get("apiVersion") or ""),
                                                                  time=now, fields=fields)])


_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "labels": {"a": "1"},
                                                         "finalizers": ["x", "y"]},
        "spec": {"containers": [{"name": "main", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                                 "env": [{"name": "A", "value": "1"}]}],
                 "tolerations": [{"key": "k", "operator": "Exists"}], "nodeSelector": {}}}


@pytest.mark.parametrize("example", ["workloads/training-seed.yaml", "workloads/distributed-pytorch.yaml",
                                     "workloads/inference-autoscaled.yaml", "policies/inference-policy.yaml"])
def test_managed_fields_of_a_created_workload_are_those_of_the_general_path(example):
    import yaml

    from tests.conftest import ROOT

    obj = yaml.safe_load((ROOT / "examples" / example).read_text())
    assert record_update(None, obj, "kubectl", now="T") == _general_create(obj, "kubectl", "T")
    assert record_update(None, _POD, "kubectl", now="T") == _general_create(_POD, "kubectl", "T")


@given(_documents)
@settings(max_examples=200, deadline=None)
def test_managed_fields_of_any_created_object_are_those_of_the_general_path(doc):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, **doc}
    assert record_update(None, obj, "m", now="T") == _general_create(obj, "m", "T")
