"""Services for a workload's ports, and the URLs its status shows.

Port items are grouped by their service type (the item's `serviceType`, else the workload's, else
ClusterIP); each group becomes one Service named `<kind prefix>-<name>-<type>` (Run:ai names them
`tw-<name>-...-clusterip` on real clusters), selecting the workload's pods. Ingress has no controller on one
machine: it is served as ClusterIP, and the URL says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from berth.api.children import service_name, service_ports
from berth.api.wellknown import host_ports, waiting_requests
from berth.controllers.plan import WORKLOAD_KIND, WORKLOAD_NAME, Obj, meta
from berth.controllers.podspec import workload_labels


def owner(workload: Obj) -> list[Obj]:
    m = meta(workload)
    return [{"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": m["name"], "uid": m["uid"],
             "controller": True, "blockOwnerDeletion": True}]


def selector(workload: Obj) -> dict[str, str]:
    labels = workload_labels(workload)
    return {WORKLOAD_NAME: labels[WORKLOAD_NAME], WORKLOAD_KIND: labels[WORKLOAD_KIND]}


def port_services(workload: Obj) -> list[Obj]:
    """One Service per service type of the workload's ports (`berth.api.children.service_ports`, which
    admission checks before the workload is stored)."""
    m = meta(workload)
    services = []
    for service_type, ports in service_ports(workload.get("spec") or {}).items():
        kube_type = "ClusterIP" if service_type == "Ingress" else service_type
        entries = [entry for _, entry in ports]
        services.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": service_name(workload["kind"], m["name"], service_type),
                         "namespace": m.get("namespace", ""), "labels": selector(workload),
                         "ownerReferences": owner(workload)},
            "spec": {"type": kube_type, "selector": selector(workload), "ports": entries},
        })
    return services


def _host_ports(obj: Obj) -> dict[int, int]:
    """Port -> port of 127.0.0.1 (set by the local node on its pods, and by its service proxy on Services)."""
    return {int(k): v for k, v in host_ports(obj).items() if k.isdigit()}


def waiting(live: Iterable[Obj]) -> int:
    """Requests the service proxy holds at these Services for want of a ready pod (`run.ai/waiting-requests`)."""
    return sum(waiting_requests(svc) or 0 for svc in live)


def urls(services: list[Obj], pods: list[Obj] = (), live: dict[str, Obj] | None = None) -> list[str]:
    """Where each exposed port is reached: on this machine when the local node serves it (the Service's
    port on 127.0.0.1 that the service proxy keeps, in `live`, the Services as they are; else a running
    pod's port), else the cluster DNS name or the node port."""
    local = next((p for p in (_host_ports(pod) for pod in pods if (pod.get("status") or {}).get("phase") == "Running")
                  if p), {})
    found = []
    for svc in services:
        m, spec = svc["metadata"], svc["spec"]
        proxied = _host_ports((live or {}).get(m["name"]) or {})
        for port in spec.get("ports") or []:
            if port.get("port") in proxied:
                found.append(f"http://127.0.0.1:{proxied[port['port']]}")
            elif port.get("targetPort") in local:
                found.append(f"http://127.0.0.1:{local[port['targetPort']]}")
            elif spec.get("type") == "NodePort" and port.get("nodePort"):
                found.append(f"http://<node>:{port['nodePort']}")
            else:
                found.append(f"http://{m['name']}.{m['namespace']}.svc:{port['port']}")
    return found
