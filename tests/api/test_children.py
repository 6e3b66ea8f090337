"""The longest workload name admission lets through makes children every cluster accepts: the names the
controllers give them, checked with kube-apiserver's own rules (berth.api.children, berth.api.names)."""

from __future__ import annotations

import pytest

from berth.api import children, names
from berth.controllers import frameworks, services
from berth.controllers.workloads import pod_group_name

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "Ingress")


def workload(kind: str, name: str) -> dict:
    ports = {t: {"value": {"container": 8000 + i, "serviceType": t}} for i, t in enumerate(SERVICE_TYPES)}
    spec = {"image": {"value": "ubuntu"}, "ports": {"items": ports}}
    if kind == "DistributedWorkload":
        spec |= {"jobType": "PyTorchJob", "workers": {"value": 99_999}}
    return {"apiVersion": "run.ai/v2alpha1", "kind": kind, "spec": spec,
            "metadata": {"name": name, "namespace": "runai-a", "uid": "0123456789abcdef"}}


@pytest.mark.parametrize("kind", sorted(children.SERVICE_PREFIX))
def test_the_longest_name_makes_valid_children_and_one_more_character_is_refused(kind):
    name = "n" * children.workload_name_max(kind)
    assert children.workload_name_problems(kind, name) == []
    assert children.workload_name_problems(kind, name + "n")
    obj = workload(kind, name)
    made = services.port_services(obj)
    assert len(made) == len(SERVICE_TYPES)
    for service in made:
        assert names.dns1035_label(service["metadata"]["name"]) == []
    assert names.dns1123_subdomain(pod_group_name(obj)) == []
    assert names.dns1123_subdomain(f"{name}-99999-99999") == []  # training, interactive, inference pods
    assert names.label_value(name) == []  # run.ai/workload-name
    if kind == "DistributedWorkload":
        assert names.dns1035_label(frameworks.service_name(obj)) == []
        last = frameworks.pod_name(name, "worker", 99_998)
        assert names.dns1123_label(last) == []  # the pod's hostname


def test_port_names_come_from_labels_a_service_accepts():
    spec = {"ports": {"items": {"Web_UI": {"value": {"container": 80}}, "a-very-long-label-indeed": {
        "value": {"container": 81}}}}}
    entries = [entry for _, entry in children.service_ports(spec)["ClusterIP"]]
    assert [e["name"] for e in entries] == ["web-ui", "a-very-long-lab"]
    assert children.port_problems(spec) == []
