"""Kind names resolve the way kubectl users write them, and the one table of kinds (`berth.api.registry`) is
what `berth up` serves: what kubectl lists, and every name kubectl accepts, the client and the CLI resolve
to the same URL."""

from __future__ import annotations

import json
import re

import pytest

from berth.api import registry
from berth.client import ResourceKind, UnknownKind, resolve
from berth.client.kinds import of_object

#: The path of a list request in kubectl's -v=6 log ("GET https://host/api/v1/pods?limit=500" or
#: url="https://host/api/v1/pods?limit=500", depending on the version).
_LISTED = re.compile(r'https?://[^/\s"]+(/[^?\s"]*)\?limit=')


def _api_resources(cluster) -> list[dict]:
    return json.loads(cluster.kubectl("api-resources", "-o", "json").stdout)["resources"]


def test_kubectl_lists_every_kind_of_the_table_with_its_names_scope_and_verbs(cluster):
    listed = {
        (r.get("group", ""), r["version"], r["kind"], r["name"], r["singularName"], r["namespaced"],
         tuple(r.get("shortNames", ())), tuple(r.get("categories", ())), tuple(sorted(r["verbs"])))
        for r in _api_resources(cluster)
    }
    table = {
        (k.group, k.version, k.kind, k.plural, k.singular, k.namespaced, k.short_names, k.categories,
         tuple(sorted(k.verbs)))
        for k in registry.ALL
    }
    assert listed == table


def _spellings(resource: dict) -> list[str]:
    """The names kubectl takes for a resource: each name in lower case (and the plural in upper case, which
    kubectl lowers), each qualified by its group and by version and group (`pods.`, `pod.v1.` for core)."""
    group, version = resource.get("group", ""), resource["version"]
    names = [resource["name"], resource["singularName"], resource["kind"], *resource.get("shortNames", ())]
    qualified = [f"{n}.{suffix}" for n in names for suffix in (group, f"{version}.{group}")]
    return [*names, resource["name"].upper(), *qualified]


def test_the_client_resolves_every_name_kubectl_accepts_to_the_url_kubectl_uses(cluster):
    spellings = [_spellings(r) for r in _api_resources(cluster)]
    checked = 0
    for round_ in range(max(len(s) for s in spellings)):
        # kubectl lists a resource once per command however it is named, so one spelling of each per call
        names = [s[round_] for s in spellings if round_ < len(s)]
        log = cluster.kubectl("get", ",".join(names), "--all-namespaces", "-o", "name", "-v=6").stderr
        paths = _LISTED.findall(log)
        assert len(paths) == len(names), (names, log[-2000:])
        for name, path in zip(names, paths):
            assert resolve(name).path() == path, name
            assert registry.resolve(name).plural == path.rsplit("/", 1)[1], name
        checked += len(names)
    assert checked > 5 * len(registry.ALL)


@pytest.mark.parametrize("name", ["TrainingWorkload", "trainingworkload", "trainingworkloads", "tw", "TW",
                                  "trainingworkloads.run.ai", "tw.run.ai", "trainingworkloads.v2alpha1.run.ai"])
def test_every_spelling_of_a_kind(name):
    kind = resolve(name)
    assert (kind.group, kind.version, kind.plural) == ("run.ai", "v2alpha1", "trainingworkloads")
    assert registry.resolve(name) == registry.lookup(name) == registry.by_kind("TrainingWorkload")


def test_a_name_in_the_wrong_group_is_no_kind():
    for name in ("tw.apps", "tw.", "pods.v1", "pods.run.ai"):
        assert registry.find(name) is None, name
        with pytest.raises(UnknownKind):
            resolve(name)


def test_core_and_cluster_scoped_paths():
    assert resolve("po").path("ns-1", "p", "binding") == "/api/v1/namespaces/ns-1/pods/p/binding"
    assert resolve("pods").path() == "/api/v1/pods"
    assert resolve("Project").path(None, "team-a", "status") == "/apis/run.ai/v1/projects/team-a/status"
    assert resolve("Lease").path("kube-system", "x") == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x"
    assert resolve("PodGroup").path("ns") == "/apis/scheduling.run.ai/v2alpha2/namespaces/ns/podgroups"


@pytest.mark.parametrize("typed, meant", [("trainingworklods", "trainingworkloads"), ("pdos", "pods"),
                                          ("Projcts", "Project"), ("nodepol", "nodepools")])
def test_an_unknown_kind_suggests_the_closest_name(typed, meant):
    message = f'unknown kind "{typed}" (did you mean "{meant}"?)'
    with pytest.raises(registry.UnknownKind, match=re.escape(message)) as caught:
        registry.resolve(typed)
    assert caught.value.hint == meant
    with pytest.raises(UnknownKind, match=re.escape(message)):  # the client's error says the same
        resolve(typed)


def test_a_name_far_from_every_kind_gets_no_guess():
    with pytest.raises(UnknownKind, match='^unknown kind "xyzzy-frobnicate"$'):
        resolve("xyzzy-frobnicate")


def test_only_berths_own_kinds_have_models_and_crds():
    assert registry.lookup("pods") is None and registry.find("pods") is not None
    assert registry.lookup("tw") is registry.find("tw")
    assert {k.kind for k in registry.KINDS} == {k.kind for k in registry.ALL if isinstance(k, registry.CustomKind)}


def test_kinds_outside_the_table_pass_through():
    deployments = ResourceKind("apps", "v1", "Deployment", "deployments")
    assert resolve(deployments) is deployments
    assert deployments.path("prod", "web") == "/apis/apps/v1/namespaces/prod/deployments/web"
    assert resolve(registry.resolve("svc")).path("a", "b") == "/api/v1/namespaces/a/services/b"


def test_an_object_is_resolved_by_api_version_and_kind():
    assert of_object({"apiVersion": "v1", "kind": "Pod"}).plural == "pods"
    with pytest.raises(UnknownKind, match='did you mean "TrainingWorkload \\(run.ai/v2alpha1\\)"'):
        of_object({"apiVersion": "run.ai/v1", "kind": "TrainingWorkload"})  # wrong version
    with pytest.raises(ValueError, match="apiVersion and kind"):
        of_object({"metadata": {"name": "x"}})
