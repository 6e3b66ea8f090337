"""The API server's Prometheus series and its `/metrics` answer (docs/metrics.md lists every series).

What it owns: one `CollectorRegistry` per `Server` (never the library's global default registry, so two
servers in one test process never share a counter), the ASGI middleware that counts and times every request
of the Kubernetes API, the collector that reads the store's size and object counts at scrape time, and the
text of a scrape: this registry's series, then the components' (fetched by the caller; `berth_components_up`
says whether they came).

Names and labels are kube-apiserver's where it has the series: `apiserver_request_total`,
`apiserver_request_duration_seconds`, `apiserver_longrunning_requests`, `apiserver_storage_objects`,
`apiserver_storage_size_bytes`; the verbs are its reported verbs (GET, LIST, WATCH, POST, PUT, PATCH, APPLY,
DELETE, CONNECT, other). Cardinality stays bounded whatever clients send: labels come from the route the
request resolves to (a resource Berth serves), never from the raw path; a path under `/api/v1/` or
`/apis/{g}/{v}/` that names no served resource counts as resource `unknown` (group and version empty), any
other path as a non-resource request (resource empty), and an unknown HTTP method as verb `other`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.apiserver.app import addressed
from berth.store import Store

Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]
#: What the components' process adds to a scrape: its exposition text, or None when it did not answer.
ComponentsSource = Callable[[], Awaitable[bytes | None]]

PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: kube-apiserver's buckets for apiserver_request_duration_seconds.
DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30,
                    45, 60)
VERBS = frozenset({"GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "APPLY", "DELETE", "CONNECT"})
APPLY_PATCH = "application/apply-patch+yaml"
UNKNOWN = "unknown"
#: Non-resource requests kube-apiserver answers from handlers of their own (access reviews), named as it names them.
_REVIEWS = {("authorization.k8s.io", "selfsubjectaccessreviews"), ("authentication.k8s.io", "selfsubjectreviews")}

Labels = tuple[str, str, str, str, str, str]  # verb, group, version, resource, subresource, scope
_LABELS = ("verb", "group", "version", "resource", "subresource", "scope")


def _content_type(scope: Scope) -> str:
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            return value.decode("latin-1").split(";")[0].strip()
    return ""


def request_labels(scope: Scope) -> Labels:
    """The labels of a request, from its route alone (bounded: see the module docstring)."""
    if scope["type"] == "websocket":
        method = "CONNECT"
    else:
        method = str(scope.get("method", "GET")).upper()
    found = addressed(scope)
    if found is None:
        return (_verb(method), "", "", "", "", "")
    group, version, rest, target = found.group, found.version, found.rest, found.target
    if len(rest) == 1 and (group, rest[0]) in _REVIEWS and version == "v1":
        return (_verb(method), group, version, rest[0], "", "cluster")
    if target is None:
        return (_verb(method), "", "", UNKNOWN, "", "")
    named = target.name is not None
    if method == "GET":
        verb = "WATCH" if not named and found.watch else ("GET" if named else "LIST")
    elif method == "PATCH" and _content_type(scope) == APPLY_PATCH:
        verb = "APPLY"
    else:
        verb = _verb(method)
    where = "resource" if named else ("namespace" if target.namespace is not None else "cluster")
    return (verb, target.resource.group, version, target.resource.plural, target.subresource, where)


def _verb(method: str) -> str:
    return method if method in VERBS else "other"


class StorageCollector(Collector):
    """The store's live objects by resource and its file's size, read at scrape time (a query of the live
    index, well under a millisecond for thousands of objects)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        objects = GaugeMetricFamily("apiserver_storage_objects",
                                    "Number of stored objects at the time of the scrape, split by resource "
                                    "(resource.group, as kube-apiserver names it).", labels=["resource"])
        for (group, resource), count in sorted(self.store.object_counts().items()):
            objects.add_metric([f"{resource}.{group}" if group else resource], count)
        yield objects
        size = GaugeMetricFamily("apiserver_storage_size_bytes",
                                 "Size of the storage database files (SQLite database and its write-ahead log) "
                                 "in bytes.", labels=["storage_cluster_id"])
        size.add_metric(["sqlite-0"], self.store.size_bytes())
        yield size


class ApiServerMetrics:
    """The API server's registry and the series it updates."""

    content_type = CONTENT_TYPE

    def __init__(self, store: Store, components: ComponentsSource | None = None) -> None:
        disable_created_metrics()  # no `_created` series: kube-apiserver and KAI publish none
        self.registry = CollectorRegistry(auto_describe=False)
        self.components = components
        self.requests = Counter(
            "apiserver_request_total", "Counter of API requests, broken out by verb, group, version, resource, "
            "subresource, scope and HTTP response code.", [*_LABELS, "code"], registry=self.registry)
        self.durations = Histogram(
            "apiserver_request_duration_seconds", "Response latency distribution in seconds for each verb, group, "
            "version, resource, subresource and scope (WATCH and CONNECT excluded: they last as long as the client "
            "stays).", list(_LABELS), buckets=DURATION_BUCKETS, registry=self.registry)
        self.longrunning = Gauge(
            "apiserver_longrunning_requests", "Number of requests open for a long time (watches, exec, attach, "
            "port-forward), by verb, group, version, resource, subresource and scope.", list(_LABELS),
            registry=self.registry)
        #: Only where there are components (`berth up --no-controllers --no-scheduler --no-local-node` has none).
        self.components_up = None if components is None else Gauge(
            "berth_components_up", "1 when the components' process (controllers, scheduler, nodes) answered this "
            "scrape, so its series follow; 0 when it did not (they are missing).", registry=self.registry)
        self.registry.register(StorageCollector(store))
        ProcessCollector(registry=self.registry)

    def instrument(self, app: ASGIApp) -> ASGIApp:
        """`app` with every HTTP request and WebSocket counted and timed."""
        requests, durations, longrunning = self.requests, self.durations, self.longrunning
        timers: dict[Labels, Any] = {}  # each route's histogram child, found once (a lookup takes a lock)
        counters: dict[tuple[str, ...], Any] = {}

        async def instrumented(scope: Scope, receive: Any, send: Any) -> None:
            if scope["type"] not in ("http", "websocket"):
                await app(scope, receive, send)
                return
            labels = request_labels(scope)
            long = labels[0] in ("WATCH", "CONNECT")
            code: list[int] = []

            async def capture(message: MutableMapping[str, Any]) -> None:
                kind = message["type"]
                if not code and kind in ("http.response.start", "websocket.http.response.start"):
                    code.append(message["status"])
                elif not code and kind == "websocket.accept":
                    code.append(101)
                await send(message)

            started = time.perf_counter()
            if long:
                longrunning.labels(*labels).inc()
            try:
                await app(scope, receive, capture)
            finally:
                if long:
                    longrunning.labels(*labels).dec()
                else:
                    timer = timers.get(labels)
                    if timer is None:
                        timer = timers[labels] = durations.labels(*labels)
                    timer.observe(time.perf_counter() - started)
                counted = (*labels, str(code[0]) if code else "500")
                counter = counters.get(counted)
                if counter is None:
                    counter = counters[counted] = requests.labels(*counted)
                counter.inc()

        return instrumented

    async def exposition(self) -> bytes:
        """A scrape: this registry's series, then the components' when they answer."""
        if self.components is None or self.components_up is None:
            return generate_latest(self.registry)
        extra = await self.components()
        self.components_up.set(1 if extra is not None else 0)
        return generate_latest(self.registry) + (extra or b"")
