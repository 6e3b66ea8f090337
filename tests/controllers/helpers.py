"""Driving pods through the API as a node agent would, until issue F's agents exist, and waiting for the
controllers to react."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from tests.apiserver.helpers import client
from tests.cluster import BIN

__all__ = ["client", "eventually", "pods_of", "set_pod_phase", "bind", "workload_status", "apply", "PhaseWatch"]


def eventually(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    """The first truthy result of `check`, or an AssertionError naming the last one."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out; last result: {last!r}")


def pods_of(http: httpx.Client, namespace: str, workload: str) -> list[dict]:
    r = http.get(f"/api/v1/namespaces/{namespace}/pods", params={"labelSelector": f"run.ai/workload-name={workload}"})
    return sorted(r.json()["items"], key=lambda p: p["metadata"]["name"])


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def bind(http: httpx.Client, namespace: str, pod: str, node: str = "node-1") -> None:
    body = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
    r = http.post(f"/api/v1/namespaces/{namespace}/pods/{pod}/binding", json=body)
    assert r.status_code == 201, r.text


def set_pod_phase(http: httpx.Client, namespace: str, pod: str, phase: str, **extra: Any) -> None:
    status = {"phase": phase, **extra}
    if phase == "Running":
        status.setdefault("containerStatuses", [{"name": "main", "ready": True, "restartCount": 0,
                                                 "state": {"running": {}}}])
    r = http.patch(f"/api/v1/namespaces/{namespace}/pods/{pod}/status", content=orjson.dumps({"status": status}),
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text


def run_pod(http: httpx.Client, namespace: str, pod: str, node: str = "node-1") -> None:
    bind(http, namespace, pod, node)
    set_pod_phase(http, namespace, pod, "Running")


def workload_status(http: httpx.Client, plural: str, namespace: str, name: str) -> dict:
    r = http.get(f"/apis/run.ai/v2alpha1/namespaces/{namespace}/{plural}/{name}")
    return r.json().get("status") or {} if r.status_code == 200 else {}


def apply(cluster: Any, text: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=text)


class PhaseWatch:
    """Every phase the workloads of a namespace show, as `kubectl get -w` prints them: start it before the
    workload is created, read `phases(name)` (consecutive repeats folded), `stop()` at the end."""

    def __init__(self, cluster: Any, plural: str, namespace: str) -> None:
        template = '{.metadata.name}{" "}{.status.phase}{" "}{.status.message}{"\\n"}'
        self._process = subprocess.Popen(
            [str(BIN / "kubectl"), "get", plural, "-n", namespace, "-w", "-o", f"jsonpath={template}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=cluster.env())
        self._seen: list[tuple[str, str]] = []
        self.messages: list[tuple[str, str, str]] = []  # (name, phase, message), every line
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            name, _, rest = line.strip().partition(" ")
            phase, _, message = rest.partition(" ")
            if name and phase:
                self._seen.append((name, phase))
                self.messages.append((name, phase, message))

    def phases(self, name: str) -> list[str]:
        folded: list[str] = []
        for who, phase in list(self._seen):
            if who == name and (not folded or folded[-1] != phase):
                folded.append(phase)
        return folded

    def stop(self) -> None:
        self._process.kill()
        self._process.wait()
