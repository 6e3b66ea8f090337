"""Services for a workload's ports, and the URLs its status shows.

Port items are grouped by their service type (the item's `serviceType`, else the workload's, else
ClusterIP); each group becomes one Service named `<kind prefix>-<name>-<type>` (Run:ai names them
`tw-<name>-...-clusterip` on real clusters), selecting the workload's pods. Ingress has no controller on one
machine: it is served as ClusterIP, and the URL says so.
"""

from __future__ import annotations

import json
from collections import defaultdict

from berth.api.wellknown import HOST_PORTS_ANNOTATION
from berth.controllers.plan import WORKLOAD_KIND, WORKLOAD_NAME, Obj, meta, value
from berth.controllers.podspec import workload_labels

PREFIX = {"TrainingWorkload": "tw", "InteractiveWorkload": "iw", "DistributedWorkload": "dw",
          "InferenceWorkload": "infw"}


def owner(workload: Obj) -> list[Obj]:
    m = meta(workload)
    return [{"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": m["name"], "uid": m["uid"],
             "controller": True, "blockOwnerDeletion": True}]


def selector(workload: Obj) -> dict[str, str]:
    labels = workload_labels(workload)
    return {WORKLOAD_NAME: labels[WORKLOAD_NAME], WORKLOAD_KIND: labels[WORKLOAD_KIND]}


def port_services(workload: Obj) -> list[Obj]:
    spec = workload.get("spec") or {}
    default_type = value(spec, "serviceType", "ClusterIP")
    groups: dict[str, list[tuple[str, Obj]]] = defaultdict(list)
    for label, item in sorted(((spec.get("ports") or {}).get("items") or {}).items()):
        port = (item or {}).get("value") or {}
        if port.get("container"):
            groups[port.get("serviceType") or default_type].append((label, port))
    services = []
    m = meta(workload)
    for service_type, ports in sorted(groups.items()):
        kube_type = "ClusterIP" if service_type == "Ingress" else service_type
        entries = []
        for label, port in ports:
            entry = {"name": (port.get("name") or label)[:15].lower(), "port": port.get("external") or port["container"],
                     "targetPort": port["container"], "protocol": "TCP"}
            if kube_type == "NodePort" and port.get("external"):
                entry["nodePort"] = port["external"]
            entries.append(entry)
        services.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"{PREFIX[workload['kind']]}-{m['name']}-{service_type.lower()}",
                         "namespace": m.get("namespace", ""), "labels": selector(workload),
                         "ownerReferences": owner(workload)},
            "spec": {"type": kube_type, "selector": selector(workload), "ports": entries},
        })
    return services




def _host_ports(pods: list[Obj]) -> dict[int, int]:
    """Container port -> host port of a running pod of the local node, which has no cluster network."""
    for pod in pods:
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        raw = (meta(pod).get("annotations") or {}).get(HOST_PORTS_ANNOTATION)
        if raw:
            try:
                return {int(k): int(v) for k, v in json.loads(raw).items()}
            except (ValueError, AttributeError):
                continue
    return {}


def urls(services: list[Obj], pods: list[Obj] = ()) -> list[str]:
    """Where each exposed port is reached: on this machine when the local node runs the pod, else the
    cluster DNS name or the node port."""
    local = _host_ports(list(pods))
    found = []
    for svc in services:
        m, spec = svc["metadata"], svc["spec"]
        for port in spec.get("ports") or []:
            if port.get("targetPort") in local:
                found.append(f"http://127.0.0.1:{local[port['targetPort']]}")
            elif spec.get("type") == "NodePort" and port.get("nodePort"):
                found.append(f"http://<node>:{port['nodePort']}")
            else:
                found.append(f"http://{m['name']}.{m['namespace']}.svc:{port['port']}")
    return found
