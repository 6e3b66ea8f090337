"""Jupyter and TensorBoard for interactive workloads (`jupyter: true`, `tensorboard: true`).

`with_tools` returns the workload as if the user had written the notebook's command, port and token
(values the user gave win; a port the user exposes already is not added twice); `add_tensorboard` adds a TensorBoard container beside the main one. The
token is the workload's `notebookToken`, else one derived from its uid, so a restart gives the same URL.
"""

from __future__ import annotations

import copy
import hashlib

from berth.controllers.plan import Obj, meta, value

JUPYTER_PORT = 8888
TENSORBOARD_PORT = 6006
TENSORBOARD_IMAGE = "tensorflow/tensorflow:latest"


def notebook_token(workload: Obj) -> str:
    spec = workload.get("spec") or {}
    given = value(spec, "notebookToken")
    if given:
        return str(given)
    return hashlib.sha256((meta(workload).get("uid") or meta(workload)["name"]).encode()).hexdigest()[:24]


def with_tools(workload: Obj) -> Obj:
    spec = workload.get("spec") or {}
    if workload.get("kind") != "InteractiveWorkload" or not (value(spec, "jupyter") or value(spec, "tensorboard")):
        return workload
    out = copy.deepcopy(workload)
    spec = out.setdefault("spec", {})
    ports = spec.setdefault("ports", {}).setdefault("items", {})
    if value(spec, "jupyter"):
        m = meta(out)
        base_url = f"/{m.get('namespace', '').removeprefix('runai-')}/{m['name']}/"
        spec.setdefault("image", {"value": "jupyter/scipy-notebook"})
        if value(spec, "command") is None:
            spec["command"] = {"value": "start-notebook.sh"}
            spec.setdefault("arguments", {"value": f"--NotebookApp.base_url={base_url} "
                                                   f"--NotebookApp.token={notebook_token(out)} --port={JUPYTER_PORT}"})
        _expose(ports, "jupyter", JUPYTER_PORT)
    if value(spec, "tensorboard"):
        _expose(ports, "tensorboard", TENSORBOARD_PORT)
    return out


def _expose(ports: Obj, label: str, port: int) -> None:
    """Add a port item for a tool, unless the user's items expose that container port already (two items on
    one port would make a Service with the port twice, which no cluster accepts)."""
    taken = {((item or {}).get("value") or {}).get("container") for item in ports.values()}
    if port not in taken:
        ports.setdefault(label, {"value": {"container": port}})


def add_tensorboard(pod: Obj, workload: Obj) -> Obj:
    spec = workload.get("spec") or {}
    if not value(spec, "tensorboard"):
        return pod
    logdir = value(spec, "tensorboardLogdir", "/tmp/tensorboard")
    pod_spec = pod["spec"]
    pod_spec.setdefault("volumes", []).append({"name": "tensorboard-logs", "emptyDir": {}})
    main = pod_spec["containers"][0]
    main.setdefault("volumeMounts", []).append({"name": "tensorboard-logs", "mountPath": logdir})
    pod_spec["containers"].append({
        "name": "tensorboard",
        "image": TENSORBOARD_IMAGE,
        "command": ["tensorboard", f"--logdir={logdir}", "--host=0.0.0.0", f"--port={TENSORBOARD_PORT}"],
        "ports": [{"containerPort": TENSORBOARD_PORT}],
        "volumeMounts": [{"name": "tensorboard-logs", "mountPath": logdir}],
    })
    return pod
