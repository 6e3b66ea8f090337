"""The CRDs that `berth crds` prints are valid Kubernetes objects with structural schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest

from berth.api.crd import all_crds, crd
from berth.api.registry import KINDS, lookup
from tests.api.structural import violations

CRDS = all_crds()

# Short names of the built-in kinds of Kubernetes; a CRD that reused one would shadow it in kubectl.
BUILTIN_SHORT_NAMES = {
    "cm", "cs", "csr", "crd", "crds", "deploy", "ds", "ep", "ev", "hpa", "ing", "limits", "netpol", "no",
    "ns", "pc", "pdb", "po", "psp", "pv", "pvc", "quota", "rc", "rs", "sa", "sc", "sts", "svc",
}


@pytest.mark.parametrize("definition", CRDS, ids=lambda d: d["metadata"]["name"])
def test_crd_is_a_valid_kubernetes_object(definition):
    kubernetes_validate.validate(definition, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("definition", CRDS, ids=lambda d: d["metadata"]["name"])
def test_crd_schema_is_structural(definition):
    schema = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert violations(schema) == []


def test_structural_check_catches_a_node_without_type():
    broken = {"type": "object", "properties": {"spec": {"properties": {"gpu": {"description": "no type"}}}}}
    assert violations(broken) == ["spec: missing type", "spec.gpu: missing type"]


def _resolve(schema, json_path):
    node = schema
    for part in json_path.strip(".").split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_printer_columns_point_at_fields_that_exist(kind):
    schema = crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for column in kind.columns:
        if column.json_path == ".metadata.creationTimestamp":
            continue
        _resolve(schema, column.json_path)  # raises KeyError when the column points at nothing


def test_names_are_unique_and_do_not_shadow_builtin_kinds():
    names = [n for k in KINDS for n in (k.plural, k.singular, *k.short_names)]
    assert len(names) == len(set(names))
    assert not BUILTIN_SHORT_NAMES & {n for k in KINDS for n in k.short_names}


def test_workload_crds_carry_the_runai_short_names_and_categories():
    for name, short in [("trainingworkload", "tw"), ("interactiveworkload", "iw"),
                        ("distributedworkload", "dw"), ("inferenceworkload", "infw")]:
        names = crd(lookup(name))["spec"]["names"]
        assert names["shortNames"] == [short]
        assert names["categories"] == ["runai", "all"]


def test_workloads_have_a_status_subresource_and_projects_are_cluster_scoped():
    tw = crd(lookup("tw"))["spec"]
    assert tw["versions"][0]["subresources"] == {"status": {}}
    assert tw["scope"] == "Namespaced"
    assert crd(lookup("project"))["spec"]["scope"] == "Cluster"
    assert crd(lookup("nodepools"))["spec"]["scope"] == "Cluster"
    assert crd(lookup("podgroup"))["spec"]["group"] == "scheduling.run.ai"
