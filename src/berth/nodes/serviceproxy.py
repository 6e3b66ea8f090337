"""Services on one machine: what kube-proxy does on a cluster's nodes, for the pods of the local node.

The local node has no cluster network: a pod's ports are ports of 127.0.0.1 (its annotation
`run.ai/host-ports`). So that a Service, and the service URL a workload's status shows, reaches the pods it
selects however many there are and wherever they restart, the service proxy listens on a port of
127.0.0.1 for each TCP port of each Service that has a selector (headless ones have nothing to balance),
and hands each connection to the next ready pod the Service selects, round robin, at that pod's host port
for the targetPort. The port is one the kernel chooses (never the Service's own number: pods get their
container port on this machine when it is free, and a program may insist on it); the choice goes to the
Service's annotation `run.ai/host-ports` ({"<port>": <host port>}), where the controllers find
it for the URL, and a restarted proxy takes the same ports again where it can.

A connection that finds no ready pod is closed at once, except at an inference workload's Service: there
the proxy does what Knative's activator does for a workload scaled to zero. It holds the connection (up to
`HOLD_S`), counts the held ones in the Service's annotation `run.ai/waiting-requests` (which wakes the
workload: `berth.controllers.inference`), and hands each to the first replica that becomes ready; when
none does in time, the client gets an HTTP 503 that says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

from berth.api.wellknown import (
    HOST_PORTS_ANNOTATION,
    WAITING_ANNOTATION,
    WORKLOAD_KIND_LABEL,
    host_ports,
    waiting_requests,
)
from berth.client import ApiError, Client, Informer, NotFound, Unreachable
from berth.client.informer import Change
from berth.nodes.forward import splice

log = logging.getLogger(__name__)

Obj = dict[str, Any]
HOST = "127.0.0.1"
HOLD_S = 120.0  # how long a request waits for a replica of a workload scaled to zero
HOLD_POLL_S = 0.2
RETRY_S = 2.0  # after a failed write of a Service's waiting requests


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _unavailable(message: str) -> bytes:
    """An HTTP/1.1 503 with `message`, for a request held in vain."""
    body = message.encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))


def _waiting_count(service: Obj) -> int:
    count = waiting_requests(service)
    return 1 if count is None else count  # unreadable: not zero, so that it is written afresh


def proxied(service: Obj) -> bool:
    spec = service.get("spec") or {}
    return bool(spec.get("selector")) and spec.get("clusterIP") != "None"


def _ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or _meta(pod).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _container_port(pod: Obj, target: int | str) -> int | None:
    """The containerPort a Service's targetPort names (a number, or the name of a container port)."""
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return int(port["containerPort"])
    return None


def endpoints(service: Obj, pods: list[Obj], target: int | str) -> list[int]:
    """The host ports of the ready pods `service` selects, for its `target` port, in pod-name order."""
    namespace = _meta(service).get("namespace")
    selector = (service.get("spec") or {}).get("selector") or {}
    found = []
    for pod in sorted(pods, key=lambda p: _meta(p).get("name", "")):
        labels = _meta(pod).get("labels") or {}
        if _meta(pod).get("namespace") != namespace or any(labels.get(k) != v for k, v in selector.items()):
            continue
        port = _container_port(pod, target)
        host = host_ports(pod).get(str(port)) if port is not None and _ready(pod) else None
        if host:
            found.append(host)
    return found


class _Listener:
    """One Service port on 127.0.0.1."""

    def __init__(self, proxy: ServiceProxy, namespace: str, name: str, port: str) -> None:
        self.proxy, self.namespace, self.name, self.port = proxy, namespace, name, port
        self.host_port = 0
        self._server: asyncio.Server | None = None
        self._turn = itertools.count()
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, wanted: list[int]) -> None:
        """Listen on the first of `wanted` that is free, else on a free port."""
        for port in [*wanted, 0]:
            try:
                self._server = await asyncio.start_server(self._serve, HOST, port, reuse_address=True)
            except OSError:
                continue
            self.host_port = int(self._server.sockets[0].getsockname()[1])
            return

    def close(self) -> None:
        """Stop listening, and end the connections in progress."""
        if self._server is not None:
            self._server.close()
        for task in self._connections:
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            backends = self.proxy.backends(self.namespace, self.name, self.port)
            if not backends and self.proxy.activates(self.namespace, self.name):
                backends = await self.proxy.hold(self.namespace, self.name, self.port, reader.at_eof)
                if not backends and not reader.at_eof():  # an HTTP client is owed an answer, as an activator gives
                    writer.write(_unavailable(f"no replica behind service {self.namespace}/{self.name} became "
                                              f"ready within {HOLD_S:g} s\n"))
                    await writer.drain()
            first = next(self._turn)
            for i in range(len(backends)):  # the next pod in turn; one that refuses passes it to the next
                if await splice(reader, writer, HOST, backends[(first + i) % len(backends)]):
                    return
        except asyncio.CancelledError:
            pass  # the Service is gone, or the proxy stops
        finally:
            writer.close()
            self._connections.discard(task)


class ServiceProxy:
    """Keeps a listener for every port of every proxied Service, and the Services' annotations in step."""

    def __init__(self, client: Client, *, node: str = "local") -> None:
        self.client = client
        self.services = Informer(client, "Service", handlers=[self._on_service])
        self.pods = Informer(client, "Pod", fields=f"spec.nodeName={node}")
        self._listeners: dict[str, dict[str, _Listener]] = {}  # Service uid -> port -> listener
        self._lock = asyncio.Lock()
        self._waiting: dict[tuple[str, str], int] = {}  # (namespace, Service) -> requests held
        self._telling: asyncio.Task[None] | None = None
        self._again = False

    def backends(self, namespace: str, name: str, port: str) -> list[int]:
        service = self.services.get(name, namespace)
        if service is None:
            return []
        for entry in (service.get("spec") or {}).get("ports") or []:
            if str(entry.get("port")) == port:
                return endpoints(service, self.pods.items(), entry.get("targetPort") or entry["port"])
        return []

    def activates(self, namespace: str, name: str) -> bool:
        """Whether requests to this Service wait for a replica (an inference workload's, which may be at zero)."""
        service = self.services.get(name, namespace) or {}
        return (_meta(service).get("labels") or {}).get(WORKLOAD_KIND_LABEL) == "InferenceWorkload"

    async def hold(self, namespace: str, name: str, port: str, gone: Callable[[], bool] = lambda: False) -> list[int]:
        """Wait, counted in the Service's annotation, until a pod it selects is ready (its backends then), or
        `HOLD_S` or the client is `gone` (nothing then)."""
        key = (namespace, name)
        self._waiting[key] = self._waiting.get(key, 0) + 1
        self._tell()
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + HOLD_S
            while loop.time() < deadline and not gone():
                await asyncio.sleep(HOLD_POLL_S)
                backends = self.backends(namespace, name, port)
                if backends:
                    return backends
            return []
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
            self._tell()

    def _tell(self) -> None:
        """Bring the Services' `run.ai/waiting-requests` in line with the requests held, in the background
        (one writer at a time). What a Service says is read from the informer, so that a count left behind
        (a write that failed, a proxy that stopped while it held requests) is put right too."""
        self._again = True  # a writer at work goes round once more
        if self._telling is None or self._telling.done():
            self._telling = asyncio.get_running_loop().create_task(self._write_waiting())
            self._telling.add_done_callback(self._told_or_failed)

    def _told_or_failed(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("service proxy: writing the requests waiting failed", exc_info=task.exception())
            asyncio.get_running_loop().call_later(RETRY_S, self._tell)

    async def _write_waiting(self) -> None:
        retry = False
        while self._again:
            self._again = False
            retry = await self._write_waiting_once() or retry
        if retry:
            asyncio.get_running_loop().call_later(RETRY_S, self._tell)

    async def _write_waiting_once(self) -> bool:
        """One pass over the Services; True when a write failed."""
        shown = {(_meta(s).get("namespace", ""), _meta(s).get("name", "")): _waiting_count(s)
                 for s in self.services.items()}
        retry = False
        for key in {*self._waiting, *(k for k, n in shown.items() if n)}:
            count = self._waiting.get(key, 0)
            if key not in shown or shown[key] == count:
                continue
            namespace, name = key
            body = {"metadata": {"annotations": {WAITING_ANNOTATION: str(count) if count else None}}}
            try:
                await self.client.patch("Service", name, body, namespace)
            except NotFound:
                continue
            except (ApiError, Unreachable) as exc:
                log.warning("service proxy: cannot record the requests waiting at %s/%s: %s", namespace, name, exc)
                retry = True
        return retry

    async def run(self) -> None:
        for informer in (self.pods, self.services):
            informer.start()
        try:
            await asyncio.Event().wait()  # the informers' handlers do the work
        finally:
            for ports in self._listeners.values():
                for listener in ports.values():
                    listener.close()
            await asyncio.gather(self.pods.stop(), self.services.stop(), return_exceptions=True)

    async def _on_service(self, change: Change) -> None:
        if _waiting_count(change.object) != self._waiting.get(
                (_meta(change.object).get("namespace", ""), _meta(change.object).get("name", "")), 0):
            self._tell()
        if change.type == "DELETED":
            for listener in self._listeners.pop(str(_meta(change.object).get("uid")), {}).values():
                listener.close()
            return
        await self._sync(change.object)

    async def _sync(self, service: Obj) -> None:
        async with self._lock:
            await self._sync_locked(service)

    async def _sync_locked(self, service: Obj) -> None:
        m = _meta(service)
        uid, namespace, name = str(m.get("uid")), m.get("namespace", ""), m.get("name", "")
        current = self._listeners.setdefault(uid, {})
        ports = [p for p in (service.get("spec") or {}).get("ports") or [] if (p.get("protocol") or "TCP") == "TCP"]
        wanted = {str(p["port"]) for p in ports} if proxied(service) else set()
        for port in set(current) - wanted:
            current.pop(port).close()
        if not wanted:
            self._listeners.pop(uid, None)
            return
        recorded = host_ports(service)
        for port in sorted(wanted - set(current)):
            listener = _Listener(self, namespace, name, port)
            await listener.start([recorded[port]] if port in recorded else [])
            if listener.host_port:
                current[port] = listener
            else:
                log.warning("service proxy: no port of %s is free for service %s/%s port %s", HOST, namespace, name,
                            port)
        mapping = {port: listener.host_port for port, listener in sorted(current.items())}
        if mapping != recorded:
            body = {"metadata": {"annotations": {HOST_PORTS_ANNOTATION: json.dumps(mapping)}}}
            with contextlib.suppress(NotFound):
                try:
                    await self.client.patch("Service", name, body, namespace)
                except (ApiError, Unreachable) as exc:
                    log.warning("service proxy: cannot record the ports of service %s/%s: %s", namespace, name, exc)


async def run_service_proxy(client: Client, *, node: str = "local") -> None:
    """Serve the Services that select pods of the local node `node`, until cancelled."""
    await ServiceProxy(client, node=node).run()
