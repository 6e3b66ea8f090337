"""The plan of a DistributedWorkload: a master (or chief, or MPI launcher) and workers, started together.

The pods, their names, environment and peer discovery come from `frameworks` (one per jobType); this
plan decides which exist. All pods form one gang (the PodGroup's minMember), so they are created at once
and the scheduler places all or none. The job has Completed when its master/launcher succeeded, and
Failed as soon as any pod failed; then `runPolicy.cleanPodPolicy` says which pods go.
"""

from __future__ import annotations

from collections.abc import Callable

from berth.controllers import frameworks
from berth.controllers.plan import Obj, Plan, is_active, meta, pod_phase


def _apply_patch(pod: Obj, patch: Obj) -> Obj:
    """Merge what the framework adds (env, volumes, hostname...) into a pod made from the template."""
    spec = pod["spec"]
    container = spec["containers"][0]
    for key in ("hostname", "subdomain", "restartPolicy"):
        if key in patch:
            spec[key] = patch[key]
    if "command" in patch:  # e.g. MPI workers wait for the launcher instead of running the job's command
        container["command"] = patch["command"]
        container.pop("args", None)
    if patch.get("labels"):
        pod["metadata"].setdefault("labels", {}).update(patch["labels"])
    names = {e["name"] for e in patch.get("env") or []}
    container["env"] = [e for e in container.get("env") or [] if e["name"] not in names] + list(patch.get("env") or [])
    if patch.get("volumes"):
        spec["volumes"] = list(spec.get("volumes") or []) + list(patch["volumes"])
    if patch.get("volumeMounts"):
        container["volumeMounts"] = list(container.get("volumeMounts") or []) + list(patch["volumeMounts"])
    return pod


def plan(workload: Obj, pods: list[Obj], make_pod: Callable[..., Obj]) -> Plan:
    names = frameworks.all_pod_names(workload)
    succeeded = sum(1 for p in pods if pod_phase(p) == "Succeeded")  # a worker that ended well is not missing
    result = Plan(min_member=frameworks.min_member(workload), desired_pods=max(len(names) - succeeded, 0))
    result.objects = [frameworks.peer_service(workload), *frameworks.config_maps(workload)]
    by_name = {meta(p)["name"]: p for p in pods}
    leaders = [frameworks.pod_name(meta(workload)["name"], r.name, 0) for r in frameworks.roles(workload)
               if r.name != "worker"]
    failed = [n for n, p in by_name.items() if pod_phase(p) == "Failed"]
    done = [n for n in leaders if n in by_name and pod_phase(by_name[n]) == "Succeeded"]
    if failed or done:
        if failed:
            result.phase, result.reason = "Failed", "PodFailed"
            result.message = f"pod {sorted(failed)[0]} failed; see kubectl logs {sorted(failed)[0]}"
        else:
            result.phase, result.reason = "Completed", "Completed"
            result.message = f"{done[0]} succeeded"
        result.delete = frameworks.clean_pods(workload, pods)
        return result
    overrides = frameworks.master_spec(workload) or None
    for role in frameworks.roles(workload):
        for index in range(role.replicas):
            name = frameworks.pod_name(meta(workload)["name"], role.name, index)
            if name in by_name and (is_active(by_name[name]) or pod_phase(by_name[name]) == "Succeeded"):
                continue
            if name in by_name:
                continue  # being deleted: made again once it is gone
            pod = make_pod(name, index, role=role.name, overrides=overrides if role.uses_master_spec else None)
            result.create.append(_apply_patch(pod, frameworks.pod_patch(workload, role.name, index)))
    return result
