"""What a workload's name and ports become: the names and Service ports Berth's controllers give the objects
they make for it (`berth.controllers`), and the problems admission finds in them before anything is made.

A workload that is a valid custom resource can still make children a real cluster refuses: "d.job" makes a
Service `tw-d.job-clusterip` (Service names cannot hold '.'), two port items on 8888 make one Service with
two `8888/TCP` ports, a label item of 100 characters makes pods no cluster accepts. Such a workload would
wait for ever; admission refuses it instead, on `berth up` and through `berth webhook` alike
(`berth.policy.guards`), saying why and what to write.

Pure: the controllers build their Services from `service_ports` and `service_name`, so what admission
checks is what they make.
"""

from __future__ import annotations

import re
from typing import Any

from berth.api import names

#: The prefix of the Services a workload's ports get: `<prefix>-<name>-<service type>`.
SERVICE_PREFIX = {"TrainingWorkload": "tw", "InteractiveWorkload": "iw", "DistributedWorkload": "dw",
                  "InferenceWorkload": "infw"}
#: The longest service type a port may ask for, as the suffix of its Service's name.
_LONGEST_SERVICE_SUFFIX = "-loadbalancer"
#: A Service port named after an item label keeps at most this much of it (a container port name's length).
PORT_NAME_MAX = 15

Obj = dict[str, Any]


def service_name(kind: str, name: str, service_type: str) -> str:
    """`tw-<name>-clusterip`: the Service of a workload's ports of one service type (as Run:ai names them)."""
    return f"{SERVICE_PREFIX[kind]}-{name}-{service_type.lower()}"


def workload_name_max(kind: str) -> int:
    """The longest name a workload of `kind` may have: its Services are `<prefix>-<name>-<type>`, DNS-1035
    labels of at most 63 characters. Pod names (`<name>-<index>-<attempt>`), a distributed workload's pod
    hostnames (`<name>-worker-<index>`, at most 63) and PodGroups (`pg-<name>-<uid>`) fit within it."""
    return names.DNS1123_LABEL_MAX - len(SERVICE_PREFIX[kind]) - 1 - len(_LONGEST_SERVICE_SUFFIX)


def _suggest(name: str, limit: int) -> str:
    """A valid name close to `name`: lower case, '-' for anything else, a letter first, cut to `limit`."""
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    fixed = re.sub(r"^[0-9-]+", "", fixed)
    return fixed[:limit].rstrip("-")


def workload_name_problems(kind: str, name: str) -> list[str]:
    """Why `name` cannot name a workload of `kind` (empty when it can), ending with a name that would do.

    A workload's name is a DNS-1035 label, the rule for Service names: a distributed workload's peer Service
    takes the name itself, and every workload's port Services are named after it."""
    limit = workload_name_max(kind)
    problems = []
    if names.dns1035_label(name):
        problems.append(
            "a workload name must consist of lower case letters, digits or '-', start with a letter and end "
            "with a letter or digit (a DNS-1035 label), because its pods and Services are named after it and "
            "a Service name cannot hold '.', upper case or a leading digit")
    if len(name) > limit:
        problems.append(
            f"must be no more than {limit} characters: its Services are named "
            f"{SERVICE_PREFIX[kind]}-<name>{_LONGEST_SERVICE_SUFFIX}, which may have at most "
            f"{names.DNS1123_LABEL_MAX}")
    suggestion = _suggest(name, limit)
    if problems and suggestion:
        problems[-1] += f'; use a name like "{suggestion}"'
    return problems


# ---------------------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------------------

def _items(spec: Obj, field: str) -> list[tuple[str, Obj]]:
    """(label, value) of the live items of an itemized field: no deleted items, no policy DEFAULTS."""
    found = (spec.get(field) or {}).get("items") or {}
    return [(label, item["value"]) for label, item in found.items()
            if label != "DEFAULTS" and isinstance(item, dict) and not item.get("deleted")
            and item.get("value") is not None]


def _port_name(label: str) -> str:
    """A Service port name from an item label: lower case, '-' for anything else, at most 15 characters."""
    return re.sub(r"[^a-z0-9-]+", "-", label.lower()).strip("-")[:PORT_NAME_MAX].strip("-") or "port"


def service_ports(spec: Obj) -> dict[str, list[tuple[str, Obj]]]:
    """Service type -> (item label, Service port) of each port item that has a container port, in label
    order: the Services a workload's ports make, one per service type (the item's `serviceType`, else the
    workload's, else ClusterIP). A port is named by its item's `name`, else after its label."""
    default_type = ((spec.get("serviceType") or {}).get("value")) or "ClusterIP"
    groups: dict[str, list[tuple[str, Obj]]] = {}
    for label, port in sorted(_items(spec, "ports")):
        if not isinstance(port, dict) or not port.get("container"):
            continue
        service_type = port.get("serviceType") or default_type
        entry: Obj = {"name": port.get("name") or _port_name(label), "port": port.get("external") or port["container"],
                      "targetPort": port["container"], "protocol": "TCP"}
        if service_type == "NodePort" and port.get("external"):
            entry["nodePort"] = port["external"]
        groups.setdefault(service_type, []).append((label, entry))
    return dict(sorted(groups.items()))


def port_problems(spec: Obj) -> list[tuple[str, str]]:
    """(field path, message) for ports that would make a Service a cluster refuses: two items on one port of
    the same Service, two with one port name, or a `name` that is not a DNS-1123 label."""
    found = []
    for service_type, entries in service_ports(spec).items():
        ports: dict[int, str] = {}
        port_names: dict[str, str] = {}
        for label, entry in entries:
            where = f"spec.ports.items[{label}].value"
            if entry["port"] in ports:
                found.append((where, f"Duplicate value: {entry['port']}: items \"{ports[entry['port']]}\" and "
                                     f"\"{label}\" both expose port {entry['port']} on the workload's {service_type} "
                                     f"Service; give one of them another port (external), or remove it"))
            ports.setdefault(entry["port"], label)
            for message in names.dns1123_label(entry["name"]):
                found.append((f"{where}.name", f'Invalid value: "{entry["name"]}": {message}'))
            if entry["name"] in port_names:
                found.append((f"{where}.name", f'Duplicate value: "{entry["name"]}": item "{port_names[entry["name"]]}" '
                                               f"names its port the same on the {service_type} Service; give the "
                                               "items different names"))
            port_names.setdefault(entry["name"], label)
    return found


def pod_metadata_problems(spec: Obj) -> list[tuple[str, str]]:
    """(field path, message) for `labels` and `annotations` items the pods could not carry."""
    found = []
    for label, value in _items(spec, "labels"):
        found += [(f"spec.labels.items[{label}]", f'Invalid value: "{label}": {m}') for m in names.qualified_name(label)]
        if isinstance(value, str):
            found += [(f"spec.labels.items[{label}].value", f'Invalid value: "{value}": {m}')
                      for m in names.label_value(value)]
    for label, _ in _items(spec, "annotations"):
        found += [(f"spec.annotations.items[{label}]", f'Invalid value: "{label}": {m}')
                  for m in names.qualified_name(label.lower())]
    return found
