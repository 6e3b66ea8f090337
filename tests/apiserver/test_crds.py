"""`berth crds | kubectl apply --server-side -f -` against `berth up`: the CRDs of the kinds it serves are
there to list and wait for, applying them again is accepted, and nothing pretends to serve another kind."""

from __future__ import annotations

import json
import subprocess

import yaml

from berth.api.crd import all_crds
from tests.cluster import BIN


def berth_crds(cluster) -> str:
    return subprocess.run([str(BIN / "berth"), "crds"], capture_output=True, text=True, check=True,
                          env=cluster.env()).stdout


def test_applying_berths_crds_to_berth_up_is_accepted_and_they_are_listed_established(cluster):
    applied = cluster.kubectl("apply", "--server-side", "-f", "-", input=berth_crds(cluster))
    assert applied.stdout.count("serverside-applied") == len(all_crds()), applied.stdout
    listed = cluster.kubectl("get", "crd", "-o", "name").stdout.split()
    assert sorted(listed) == sorted(f"customresourcedefinition.apiextensions.k8s.io/{c['metadata']['name']}"
                                    for c in all_crds())
    cluster.kubectl("wait", "--for", "condition=established", "crd/trainingworkloads.run.ai", "--timeout=10s")
    again = cluster.kubectl("apply", "--server-side", "-f", "-", input=berth_crds(cluster))
    assert again.returncode == 0


def test_a_crd_of_a_kind_berth_up_does_not_serve_is_refused(cluster):
    foo = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "foos.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Foo", "plural": "foos", "singular": "foo", "listKind": "FooList"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                        "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}
    refused = cluster.kubectl("apply", "--server-side", "-f", "-", input=json.dumps(foo), check=False)
    assert refused.returncode == 1
    assert "is forbidden: berth up serves a fixed set of kinds" in refused.stderr
    assert cluster.kubectl("get", "crd", "foos.example.com", check=False).returncode == 1


def test_a_changed_crd_of_a_served_kind_and_its_deletion_are_refused(cluster):
    changed = next(c for c in all_crds() if c["metadata"]["name"] == "nodepools.run.ai")
    changed["spec"]["names"]["shortNames"] = ["pool"]
    refused = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                              input=yaml.safe_dump(changed), check=False)
    assert refused.returncode == 1
    assert "spec.names.shortNames" in refused.stderr and "berth crds --kind nodepools" in refused.stderr
    deleted = cluster.kubectl("delete", "crd", "nodepools.run.ai", check=False)
    assert deleted.returncode == 1 and "Error from server (Forbidden)" in deleted.stderr
    assert "would not stop serving nodepools.run.ai" in deleted.stderr
