"""Run:ai's projects and departments <-> Berth's Project and Department objects: pure translation on dicts.

The mapping (docs/rest.md, "Projects, departments, nodes"):
- id: the object's uid; name: its name; clusterId: the cluster's id.
- resources[] (one entry per node pool) <-> spec.nodePoolsResources[]: nodePool {id, name} <-> nodePool
  (a name; ids as `cluster_map.pool_id`), gpu {deserved, limit, overQuotaWeight} <-> gpu {deserved,
  maxAllowed, overQuotaWeight}; cpu the same in millicores (Berth's numbers are millicores too); memory in
  `units` (Mib is Berth's number; MB and GB are written as the quantities "<n>M" and "<n>G"); answers give
  memory in Mib. A Project written with `deservedGpus`/`maxAllowedGpus` reads as one `default` entry
  (`berth.api.projects.quota_by_pool`); writing resources through REST replaces those fields by
  nodePoolsResources, so one quota is never said twice.
- parentId <-> spec.department (by the Department's uid); requestedNamespace <-> spec.namespace;
  defaultNodePools <-> defaultNodePools; nodeTypes {training, workspace} <-> nodeAffinityTrain,
  nodeAffinityInteractive; schedulingRules {interactive,training}JobTimeLimitSeconds <->
  {interactive,training}JobTimeLimitSecs. Idle-duration rules have no Berth field and are refused.
- status: phase, namespace, message; allocated and requested (GPUs; CPU in millicores; memory in MB) over
  all pools (quotaStatus) and per pool (nodePoolQuotaStatuses), from the usage controller's status.
- The API server's refusals name Berth's fields (`spec.nodePoolsResources[0].gpu.maxAllowed`);
  `rest_field` renames them to the request's (`resources[0].gpu.limit`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from berth.api.projects import (DEFAULT_POOL, max_allowed_of, quota_by_pool, quota_mib, quota_millicores)
from berth.api.types import parse_quantity
from berth.rest.cluster_map import find_pool, pool_id, updated_at
from berth.rest.errors import bad_request

Obj = dict[str, Any]

#: spec fields a REST write of resources replaces (the quota is then nodePoolsResources alone).
GLOBAL_QUOTA = ("deservedGpus", "maxAllowedGpus", "gpuOverQuotaWeight")
SCHEDULING_RULES = {"interactiveJobTimeLimitSeconds": "interactiveJobTimeLimitSecs",
                    "trainingJobTimeLimitSeconds": "trainingJobTimeLimitSecs"}
UNSUPPORTED_RULES = ("interactiveJobMaxIdleDurationSeconds", "interactiveJobPreemptIdleDurationSeconds",
                     "trainingJobMaxIdleDurationSeconds")
NODE_TYPES = {"training": "nodeAffinityTrain", "workspace": "nodeAffinityInteractive"}
#: Memory units of Run:ai's Resources -> the suffix of the Kubernetes quantity they are written as.
MEMORY_SUFFIX = {"MB": "M", "GB": "G"}
BYTES_PER_MB = 10**6


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _clean(entry: Obj) -> Obj:
    return {k: v for k, v in entry.items() if v is not None}


# -- requests -> spec --------------------------------------------------------------------------------


def _amounts(given: Obj | None, at: str, memory: bool = False) -> Obj | None:
    """One resource's quota in Berth's names; None when not given."""
    if not given:
        return None
    suffix = MEMORY_SUFFIX.get(given.get("units") or "Mib") if memory else None

    def value(key: str) -> Any:
        v = given.get(key)
        if v is None:
            return None
        if suffix and v != -1:
            if v < 0:
                raise bad_request(f"{at}.{key}", f"must be -1 (no limit) or no less than 0, got {_number(v)}")
            return f"{_number(v)}{suffix}"
        return _number(v)

    return _clean({"deserved": value("deserved"), "maxAllowed": value("limit"),
                   "overQuotaWeight": given.get("overQuotaWeight")}) or None


def spec_resources(resources: list[Obj], pools: dict[str, Obj], field: str = "resources") -> list[Obj]:
    """Run:ai's resources[] as spec.nodePoolsResources[]; a pool named by an id or name no pool has is
    refused naming the field."""
    entries = []
    for i, given in enumerate(resources):
        ref = given.get("nodePool") or {}
        key = ref.get("id") or ref.get("name")
        pool = DEFAULT_POOL if key is None else find_pool(pools, str(key))
        if pool is None:
            which = "id" if ref.get("id") else "name"
            raise bad_request(f"{field}[{i}].nodePool.{which}", f"no node pool has the {which} {key!r}",
                              "GET /v1/k8s/clusters/{clusterId}/node-pools lists the node pools and their ids")
        gpu = _amounts(given.get("gpu"), f"{field}[{i}].gpu") or {"deserved": 0}
        entry = {"nodePool": pool, "gpu": gpu, "cpu": _amounts(given.get("cpu"), f"{field}[{i}].cpu"),
                 "memory": _amounts(given.get("memory"), f"{field}[{i}].memory", memory=True)}
        entries.append(_clean(entry))
    return entries


def merged_resources(current: list[Obj], given: list[Obj]) -> list[Obj]:
    """PATCH .../resources, a partial update: in the pools given, the values given replace theirs (a GPU
    deserved alone keeps the pool's GPU limit and its CPU quota); other pools keep theirs."""
    by_pool = {e["nodePool"]: dict(e) for e in current}
    for entry in given:
        merged = by_pool.setdefault(entry["nodePool"], {"nodePool": entry["nodePool"]})
        for resource, values in entry.items():
            if resource != "nodePool":
                kept = {k: v for k, v in (merged.get(resource) or {}).items()
                        if not (k == "limit" and "maxAllowed" in values)}  # the cap's other name, as stored
                merged[resource] = {**kept, **values}
    return list(by_pool.values())


def quota_patch(entries: list[Obj]) -> Obj:
    """The spec merge patch that makes `entries` the whole quota."""
    return {"nodePoolsResources": entries, **{k: None for k in GLOBAL_QUOTA}}


def project_spec_patch(request: Obj, pools: dict[str, Obj]) -> Obj:
    """A spec merge patch from a ProjectUpdateRequest (also the updatable part of a creation): every
    updatable field is set, and removed where the request leaves it out (PUT replaces them)."""
    rules = request.get("schedulingRules") or {}
    for name in UNSUPPORTED_RULES:
        if rules.get(name) is not None:
            raise bad_request(f"schedulingRules.{name}", "Berth does not support idle-duration rules",
                              "leave it out; Berth supports interactiveJobTimeLimitSeconds and "
                              "trainingJobTimeLimitSeconds")
    node_types = request.get("nodeTypes") or {}
    patch: Obj = quota_patch(spec_resources(request.get("resources") or [], pools))
    patch.update({berth: rules.get(runai) for runai, berth in SCHEDULING_RULES.items()})
    patch.update({berth: node_types.get(runai) or None for runai, berth in NODE_TYPES.items()})
    patch["defaultNodePools"] = request.get("defaultNodePools") or None
    return patch


def new_object(kind: str, name: str, spec_patch: Obj) -> Obj:
    """A Project or Department to create, from a spec patch (its None fields left out)."""
    return {"apiVersion": "run.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": _clean(spec_patch)}


# -- spec -> answers ---------------------------------------------------------------------------------


def pool_ref(name: str, pools: dict[str, Obj]) -> Obj:
    return {"id": str(pool_id(pools.get(name))), "name": name}


def _resource(entry: Obj | None, convert: Any = None) -> Obj | None:
    if not entry:
        return None
    convert = convert or (lambda v: v)
    cap = max_allowed_of(entry)
    return _clean({"deserved": None if entry.get("deserved") is None else convert(entry["deserved"]),
                   "limit": None if cap is None else convert(cap), "overQuotaWeight": entry.get("overQuotaWeight")})


def answer_resources(spec: Obj, pools: dict[str, Obj]) -> list[Obj]:
    """The spec's quota as Run:ai's resources[] (memory in Mib)."""
    out = []
    for pool, entry in quota_by_pool(spec).items():
        gpu = _resource(entry.get("gpu")) or {}
        item: Obj = {"nodePool": pool_ref(pool, pools), "gpu": {"deserved": 0, **gpu}}
        cpu = _resource(entry.get("cpu"), quota_millicores)
        memory = _resource(entry.get("memory"), quota_mib)
        if cpu:
            item["cpu"] = cpu
        if memory:
            item["memory"] = {**memory, "units": "Mib"}
        out.append(item)
    return out


def summed_resources(specs: list[Obj], pools: dict[str, Obj]) -> list[Obj]:
    """The sum of the deserved quotas of `specs` per pool (a department's projectsAggregatedResources)."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for spec in specs:
        for item in answer_resources(spec, pools):
            pool = item["nodePool"]["name"]
            for resource in ("gpu", "cpu", "memory"):
                totals[pool][resource] += (item.get(resource) or {}).get("deserved") or 0
    return [{"nodePool": pool_ref(pool, pools), "gpu": {"deserved": _number(t["gpu"])},
             "cpu": {"deserved": _number(t["cpu"])}, "memory": {"deserved": _number(t["memory"]), "units": "Mib"}}
            for pool, t in sorted(totals.items())]


def _usage(amounts: Obj | None) -> Obj:
    """Berth's {gpu, cpu quantity, memory quantity} as Run:ai's {gpu, cpu millicores, memory MB}."""
    amounts = amounts or {}
    cpu, memory = amounts.get("cpu"), amounts.get("memory")
    return {"gpu": amounts.get("gpu") or 0,
            "cpu": _number(round(float(parse_quantity(str(cpu))) * 1000, 3)) if cpu is not None else 0,
            "memory": _number(round(float(parse_quantity(str(memory))) / BYTES_PER_MB, 3)) if memory is not None else 0}


def quota_status(status: Obj, pools: dict[str, Obj]) -> Obj:
    """quotaStatus and nodePoolQuotaStatuses from a Project's or Department's status."""
    return {
        "quotaStatus": {"allocated": _usage(status.get("allocated")), "requested": _usage(status.get("requested"))},
        "nodePoolQuotaStatuses": [
            {"nodePoolName": row["nodePool"], "nodePoolId": str(pool_id(pools.get(row["nodePool"]))),
             "allocated": _usage(row.get("allocated")), "requested": _usage(row.get("requested"))}
            for row in status.get("nodePools") or []],
    }


def _common(obj: Obj, cluster_id: str, pools: dict[str, Obj]) -> Obj:
    meta = _meta(obj)
    return {"id": meta["uid"], "name": meta["name"], "clusterId": cluster_id,
            "resources": answer_resources(obj.get("spec") or {}, pools),
            "createdAt": meta.get("creationTimestamp"), "updatedAt": updated_at(obj)}


def department_of(project: Obj) -> str:
    return (project.get("spec") or {}).get("department") or "default"


def project_answer(obj: Obj, cluster_id: str, pools: dict[str, Obj], departments: dict[str, Obj]) -> Obj:
    """A Project as Run:ai's Project. `departments`: Department objects by name (those the caller sees)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    department = department_of(obj)
    parent_uid = _meta(departments.get(department) or {}).get("uid")
    rules = _clean({runai: spec.get(berth) for runai, berth in SCHEDULING_RULES.items()})
    node_types = _clean({runai: spec.get(berth) for runai, berth in NODE_TYPES.items()})
    phase = status.get("phase") or "Creating"
    out = {**_common(obj, cluster_id, pools), "parentId": parent_uid,
           "parent": _clean({"id": parent_uid, "name": department}),
           "requestedNamespace": spec.get("namespace"), "schedulingRules": rules or None,
           "defaultNodePools": spec.get("defaultNodePools"), "nodeTypes": node_types or None,
           "phase": phase,
           "status": _clean({"namespace": status.get("namespace"), "phase": phase,
                             "phaseMessage": status.get("message"), **quota_status(status, pools)})}
    return out


def department_answer(obj: Obj, cluster_id: str, pools: dict[str, Obj], projects: list[Obj],
                      slim: bool = False) -> Obj:
    """A Department as Run:ai's Department (DepartmentSlim when `slim`). `projects`: all the Projects the
    caller sees; the department's are those whose spec.department names it."""
    out = _common(obj, cluster_id, pools)
    if slim:
        return out
    mine = [p for p in projects if department_of(p) == _meta(obj)["name"]]
    out["children"] = [{"id": _meta(p)["uid"], "name": _meta(p)["name"]} for p in mine]
    out["projectsAggregatedResources"] = summed_resources([p.get("spec") or {} for p in mine], pools)
    out["status"] = quota_status(obj.get("status") or {}, pools)
    return out


# -- the API server's field names -> the request's ---------------------------------------------------

_RENAMES = [
    (re.compile(r"\bspec\.nodePoolsResources\b"), "resources"),
    (re.compile(r"(resources\[\d+\]\.\w+)\.maxAllowed\b"), r"\1.limit"),
    (re.compile(r"(resources\[\d+\])\.nodePool\b"), r"\1.nodePool.name"),
    (re.compile(r"\bspec\.department\b"), "parentId"),
    (re.compile(r"\bspec\.namespace\b"), "requestedNamespace"),
    (re.compile(r"\bspec\.defaultNodePools\b"), "defaultNodePools"),
    (re.compile(r"\bmetadata\.name\b"), "name"),
    *[(re.compile(rf"\bspec\.{berth}\b"), f"schedulingRules.{runai}") for runai, berth in SCHEDULING_RULES.items()],
    *[(re.compile(rf"\bspec\.{berth}\b"), f"nodeTypes.{runai}") for runai, berth in NODE_TYPES.items()],
]


def rest_field(text: str) -> str:
    """Berth's field paths in `text` (a cause's field, or a message) in the REST request's names."""
    for pattern, replacement in _RENAMES:
        text = pattern.sub(replacement, text)
    return text
