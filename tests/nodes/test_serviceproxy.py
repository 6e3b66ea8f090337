"""Which pods a Service's port on 127.0.0.1 hands connections to: the ready pods it selects, at their host
port for its targetPort (a number or a container port's name)."""

from __future__ import annotations

import json

from berth.nodes.serviceproxy import endpoints, host_ports, proxied

SERVICE = {"metadata": {"name": "infw-model-clusterip", "namespace": "runai-a"},
           "spec": {"selector": {"run.ai/workload-name": "model"}, "ports": [{"port": 8000, "targetPort": 8000}]}}


def pod(name: str, host: int, *, namespace: str = "runai-a", workload: str = "model", ready: bool = True,
        deleting: bool = False) -> dict:
    meta = {"name": name, "namespace": namespace, "labels": {"run.ai/workload-name": workload},
            "annotations": {"run.ai/host-ports": json.dumps({"8000": host})}}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-28T00:00:00Z"
    return {"metadata": meta,
            "spec": {"containers": [{"name": "main", "ports": [{"name": "http", "containerPort": 8000}]}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}}


def test_a_service_reaches_the_ready_pods_it_selects_in_name_order():
    pods = [pod("model-1", 41002), pod("model-0", 41001), pod("model-2", 41003, ready=False),
            pod("model-3", 41004, deleting=True), pod("other-0", 41005, workload="other"),
            pod("model-0", 41006, namespace="runai-b")]
    assert endpoints(SERVICE, pods, 8000) == [41001, 41002]
    assert endpoints(SERVICE, pods, "http") == [41001, 41002]  # a named targetPort
    assert endpoints(SERVICE, pods, 9000) == []  # no pod has that port here


def test_headless_services_and_services_without_a_selector_are_not_proxied():
    assert proxied(SERVICE)
    assert not proxied({**SERVICE, "spec": {**SERVICE["spec"], "clusterIP": "None"}})
    assert not proxied({"metadata": {}, "spec": {"ports": [{"port": 80}]}})


def test_an_unreadable_annotation_is_no_ports():
    assert host_ports({"metadata": {"annotations": {"run.ai/host-ports": "8000=41001"}}}) == {}
    assert host_ports(pod("model-0", 41001)) == {"8000": 41001}


def test_a_count_of_waiting_requests_left_behind_is_put_right(bare_cluster):
    """A proxy that stopped while it held requests (or could not write that they were answered) leaves a
    count on the Service; the next one clears it, or the workload would never go back to zero."""
    import asyncio

    from berth.client import Client
    from berth.nodes.serviceproxy import ServiceProxy

    bare_cluster.project("a")
    bare_cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "infw-model-clusterip", "namespace": "runai-a",
                     "labels": {"run.ai/workload-kind": "InferenceWorkload"},
                     "annotations": {"run.ai/waiting-requests": "3"}},
        "spec": {"selector": {"run.ai/workload-name": "model"}, "ports": [{"port": 8000, "targetPort": 8000}]}}))

    async def main() -> dict:
        async with Client.from_kubeconfig(bare_cluster.kubeconfig) as client:
            task = asyncio.create_task(ServiceProxy(client).run())
            try:
                for _ in range(100):
                    service = await client.get("Service", "infw-model-clusterip", "runai-a")
                    annotations = service["metadata"].get("annotations") or {}
                    if "run.ai/waiting-requests" not in annotations and "run.ai/host-ports" in annotations:
                        return annotations
                    await asyncio.sleep(0.1)
                return annotations
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    annotations = asyncio.run(main())
    assert "run.ai/waiting-requests" not in annotations and json.loads(annotations["run.ai/host-ports"])["8000"]


def test_a_request_held_in_vain_is_counted_on_the_service_and_answered_503(bare_cluster, monkeypatch):
    import asyncio

    from berth.client import Client
    from berth.nodes import serviceproxy

    monkeypatch.setattr(serviceproxy, "HOLD_S", 1.5)
    bare_cluster.project("a")
    bare_cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "infw-idle-clusterip", "namespace": "runai-a",
                     "labels": {"run.ai/workload-kind": "InferenceWorkload"}},
        "spec": {"selector": {"run.ai/workload-name": "idle"}, "ports": [{"port": 8000, "targetPort": 8000}]}}))

    async def main() -> tuple[set[str], bytes]:
        async with Client.from_kubeconfig(bare_cluster.kubeconfig) as client:
            task = asyncio.create_task(serviceproxy.ServiceProxy(client).run())
            try:
                async def annotations() -> dict:
                    return (await client.get("Service", "infw-idle-clusterip", "runai-a"))["metadata"].get(
                        "annotations") or {}

                while "run.ai/host-ports" not in await annotations():
                    await asyncio.sleep(0.05)
                port = json.loads((await annotations())["run.ai/host-ports"])["8000"]
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /predict HTTP/1.1\r\nHost: x\r\n\r\n")
                seen = set()
                answer = asyncio.create_task(reader.read())
                while not answer.done():
                    seen.add((await annotations()).get("run.ai/waiting-requests", "none"))
                    await asyncio.sleep(0.1)
                writer.close()
                for _ in range(50):
                    if "run.ai/waiting-requests" not in await annotations():
                        seen.add("cleared")
                        break
                    await asyncio.sleep(0.1)
                return seen, answer.result()
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    seen, answer = asyncio.run(main())
    assert "1" in seen and "cleared" in seen  # counted while held, and the count taken back
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable") and b"no replica behind service" in answer
