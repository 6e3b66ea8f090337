"""The core Kubernetes kinds Berth serves and uses, by name only.

Berth does not model these kinds (pods, nodes, events...): the API server stores them as plain objects.
What every component needs to agree on is how they are named and addressed, and that lives here, once:
the API server's resource table and the client's URL table are both built from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CoreKind:
    """A core kind: its names, scope, subresources and the field selectors the API supports for it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    fields: frozenset[str] = field(default_factory=frozenset)


_EVENT_FIELDS = frozenset(
    {f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")}
    | {"reason", "type", "source", "reportingComponent"}
)

CORE_KINDS: tuple[CoreKind, ...] = (
    CoreKind("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
             subresources=("status",), fields=frozenset({"status.phase"})),
    CoreKind("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), subresources=("status",),
             fields=frozenset({"spec.unschedulable"})),
    CoreKind("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
             subresources=("status", "log", "binding", "eviction"),
             fields=frozenset({"spec.nodeName", "spec.schedulerName", "spec.restartPolicy", "status.phase",
                               "status.podIP", "status.nominatedNodeName", "spec.serviceAccountName"})),
    CoreKind("", "v1", "Service", "services", short_names=("svc",), categories=("all",), subresources=("status",)),
    CoreKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
             subresources=("status",)),
    CoreKind("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    CoreKind("", "v1", "Secret", "secrets", fields=frozenset({"type"})),
    CoreKind("", "v1", "Event", "events", short_names=("ev",), fields=_EVENT_FIELDS),
    CoreKind("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    CoreKind("coordination.k8s.io", "v1", "Lease", "leases"),
    # Berth's own kinds are built in; their CRDs are served as records of them (berth.apiserver.crds)
    CoreKind("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
             namespaced=False, short_names=("crd", "crds"), subresources=("status",)),
)
