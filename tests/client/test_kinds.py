"""Kind names resolve the way kubectl users write them, and the client's table matches the server's."""

from __future__ import annotations

import pytest

from berth.apiserver.resources import RESOURCES
from berth.client import ResourceKind, UnknownKind, resolve
from berth.client.kinds import ALL, of_object


def test_the_client_knows_exactly_the_kinds_the_server_serves():
    served = {(r.group, r.version, r.kind, r.plural, r.namespaced, r.short_names) for r in RESOURCES}
    known = {(k.group, k.version, k.kind, k.plural, k.namespaced, k.short_names) for k in ALL}
    assert known == served


@pytest.mark.parametrize("name", ["TrainingWorkload", "trainingworkload", "trainingworkloads", "tw", "TW",
                                  "trainingworkloads.run.ai", "tw.run.ai", "trainingworkloads.v2alpha1.run.ai"])
def test_every_spelling_of_a_kind(name):
    kind = resolve(name)
    assert (kind.group, kind.version, kind.plural) == ("run.ai", "v2alpha1", "trainingworkloads")


def test_core_and_cluster_scoped_paths():
    assert resolve("po").path("ns-1", "p", "binding") == "/api/v1/namespaces/ns-1/pods/p/binding"
    assert resolve("pods").path() == "/api/v1/pods"
    assert resolve("Project").path(None, "team-a", "status") == "/apis/run.ai/v1/projects/team-a/status"
    assert resolve("Lease").path("kube-system", "x") == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x"
    assert resolve("PodGroup").path("ns") == "/apis/scheduling.run.ai/v2alpha2/namespaces/ns/podgroups"


def test_an_unknown_kind_suggests_the_closest_name():
    with pytest.raises(UnknownKind, match='unknown kind "trainingworklods" \\(did you mean "trainingworkloads"\\?\\)'):
        resolve("trainingworklods")
    with pytest.raises(UnknownKind):
        resolve("tw.apps")  # right name, wrong group


def test_kinds_outside_the_table_pass_through():
    deployments = ResourceKind("apps", "v1", "Deployment", "deployments")
    assert resolve(deployments) is deployments
    assert deployments.path("prod", "web") == "/apis/apps/v1/namespaces/prod/deployments/web"


def test_an_object_is_resolved_by_api_version_and_kind():
    assert of_object({"apiVersion": "v1", "kind": "Pod"}).plural == "pods"
    with pytest.raises(UnknownKind):
        of_object({"apiVersion": "run.ai/v1", "kind": "TrainingWorkload"})  # wrong version
    with pytest.raises(ValueError, match="apiVersion and kind"):
        of_object({"metadata": {"name": "x"}})
