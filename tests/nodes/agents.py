"""The local node agent run in a background thread against a test's `berth up`, and pods to give it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from berth.client import Client
from berth.nodes import procs
from berth.nodes.process import LocalNode
from tests.cluster import Cluster
from tests.controllers.helpers import eventually

NS = "nodes-test"


class Agent:
    """One `LocalNode` in its own thread and event loop, as `berth up` would run it beside the server."""

    def __init__(self, cluster: Cluster, name: str, **options: Any) -> None:
        self.cluster, self.name, self.options = cluster, name, options
        self.node: LocalNode | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name=f"agent {name}", daemon=True)
        self.error: BaseException | None = None

    async def _main(self) -> None:
        async with Client.from_kubeconfig(self.cluster.kubeconfig, field_manager="berth-node") as client:
            self.node = LocalNode(client, data_dir=self.cluster.data_dir, name=self.name, **self.options)
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
            self._started.set()
            try:
                await self.node.run()
            except asyncio.CancelledError:
                pass
            except BaseException as exc:
                self.error = exc
                raise

    def start(self, http: httpx.Client) -> Agent:
        self._thread.start()
        assert self._started.wait(10), "the agent did not start"
        eventually(lambda: http.get(f"/api/v1/nodes/{self.name}").status_code == 200 or self.error, timeout=15)
        assert self.error is None, self.error
        return self

    def stop(self) -> None:
        """Stop the agent as `berth up` stopping would: its processes keep running."""
        if self._loop is not None and self._task is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the agent did not stop"


class Agents:
    """Agents a test started; at the end each one's pods are deleted (so no process outlives the test),
    then it stops."""

    def __init__(self, cluster: Cluster, http: httpx.Client) -> None:
        self.cluster, self.http = cluster, http
        self.running: list[Agent] = []

    def start(self, name: str, **options: Any) -> Agent:
        agent = Agent(self.cluster, name, **options).start(self.http)
        self.running.append(agent)
        return agent

    def stop(self, agent: Agent) -> None:
        agent.stop()
        self.running.remove(agent)

    def close(self) -> None:
        for agent in self.running:
            pods = self.http.get(f"/api/v1/namespaces/{NS}/pods",
                                 params={"fieldSelector": f"spec.nodeName={agent.name}"}).json()["items"]
            for pod in pods:
                self.http.delete(f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}")
            if agent.node is not None:
                eventually(lambda node=agent.node: not node.runners, timeout=40)
            agent.stop()


def iterate(cluster: Cluster, http: httpx.Client) -> Iterator[Agents]:
    agents = Agents(cluster, http)
    try:
        yield agents
    finally:
        agents.close()


def pod(name: str, node: str, *command: str, restart: str = "Never", annotations: dict[str, str] | None = None,
        **container: Any) -> dict[str, Any]:
    """A pod already bound to `node` (as the scheduler leaves it) whose container `main` runs `command`."""
    main = {"name": "main", "image": "python:3.12", **({"command": list(command)} if command else {}), **container}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations or {}},
            "spec": {"nodeName": node, "restartPolicy": restart, "containers": [main]}}


def create(http: httpx.Client, obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj["kind"].lower() + "s"
    r = http.post(f"/api/v1/namespaces/{NS}/{kind}", json=obj)
    assert r.status_code == 201, r.text
    return r.json()


def get_pod(http: httpx.Client, name: str) -> dict[str, Any] | None:
    r = http.get(f"/api/v1/namespaces/{NS}/pods/{name}")
    return r.json() if r.status_code == 200 else None


def phase(pod: dict[str, Any] | None) -> str:
    return ((pod or {}).get("status") or {}).get("phase") or ""


def wait_phase(http: httpx.Client, name: str, *phases: str, timeout: float = 20) -> dict[str, Any]:
    """The pod once its phase is one of `phases`."""
    def reached() -> dict[str, Any] | None:
        pod = get_pod(http, name)
        return pod if phase(pod) in phases else None
    return eventually(reached, timeout=timeout)


def main_status(pod: dict[str, Any] | None) -> dict[str, Any]:
    """The status of the pod's first container ({} before it has one)."""
    return (((pod or {}).get("status") or {}).get("containerStatuses") or [{}])[0]


def event_reasons(http: httpx.Client, name: str) -> list[str]:
    events = http.get(f"/api/v1/namespaces/{NS}/events").json()["items"]
    return [e["reason"] for e in events if e["involvedObject"]["name"] == name]


def apply_training(cluster: Cluster, namespace: str, name: str, command: str, backoff_limit: int | None = None) -> None:
    """A TrainingWorkload that runs `command` on the local node of `cluster`'s `berth up`, through kubectl."""
    backoff = "" if backoff_limit is None else f"\n  backoffLimit: {{value: {backoff_limit}}}"
    cluster.kubectl("apply", "-f", "-", input=f"""
apiVersion: run.ai/v2alpha1
kind: TrainingWorkload
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  image: {{value: python:3.11}}
  command: {{value: "{command}"}}{backoff}
""")


def live_group(pgid: int) -> list[int]:
    """The live (not zombie) processes of the process group `pgid`, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        fields = procs.stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
