"""`berth operator`: the controllers, the scheduler and the admission webhook against any Kubernetes API, as
one process of which any number of replicas run.

Every replica serves the webhook (kube-apiserver may call any of them through the webhook's Service) and its
probes; only the replica holding the Lease runs the controllers and the scheduler, so two never act at once.
A leader that cannot renew its Lease stops acting and exits (status 1): its Deployment starts it again, and it
campaigns as a follower, with no state left over from its time as leader. A clean stop (SIGTERM) hands the
Lease back, so a rolling update changes leader at once rather than after the Lease's duration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from berth.client import Client
from berth.operator import components
from berth.operator.election import Elector
from berth.operator.lease import Timing

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
DEFAULT_NAMESPACE = "runai"
LEASE_NAME = "berth-operator"
NO_IMAGE = ("give --reservation-image (the image of GPU reservation pods; it is the operator's own when it runs in "
            "a pod with POD_NAME and POD_NAMESPACE set), or --no-gpu-reservations where the nodes are berth up's")


def default_namespace() -> str:
    """The pod's namespace when running in one, else `runai` (where `deploy/` installs Berth)."""
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or DEFAULT_NAMESPACE
    except OSError:
        return DEFAULT_NAMESPACE


def own_pod() -> tuple[str, str] | None:
    """(name, namespace) of the operator's pod, from POD_NAME and POD_NAMESPACE (deploy/ sets them); None
    outside a pod."""
    name, namespace = os.environ.get("POD_NAME"), os.environ.get("POD_NAMESPACE")
    return (name, namespace) if name and namespace else None


def default_identity() -> str:
    """The host's name (a pod's name in a cluster) and a random suffix, as client-go names a candidate: two
    processes on one host are two candidates."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class Options:
    """What one replica runs and how it finds the API."""

    kubeconfig: str | None = None  # None: in-cluster, else $KUBECONFIG or ~/.kube/config
    namespace: str = field(default_factory=default_namespace)  # of the Lease
    lease_name: str = LEASE_NAME
    identity: str = field(default_factory=default_identity)
    timing: Timing = Timing()
    controllers: bool = True
    scheduler: bool = True
    serve_default: bool = False  # the scheduler also places pods that name no scheduler
    gpu_reservations: bool = True  # shared GPUs held by reservation pods (a real cluster's kubelets)
    reservation_image: str | None = None  # their image; None: this pod's own (in a cluster)
    reservation_idle_s: float | None = None  # an unused reservation pod is deleted after this long (None: 30 s)
    webhook_port: int = 8443  # 0: no webhook
    webhook_cert: str | None = None
    webhook_key: str | None = None
    certificate_check_s: float = 30.0  # how often the webhook looks for a renewed certificate
    probe_host: str = "0.0.0.0"
    probe_port: int = 8081  # /healthz, /readyz, /metrics over plain HTTP; 0: none


class Replica:
    """One operator process: its election, what it runs as leader, and what it serves always."""

    def __init__(self, options: Options, client_for: Callable[[str], Client]) -> None:
        self.options = options
        self._client_for = client_for
        self.registry = CollectorRegistry(auto_describe=False)
        self.elector = Elector(client_for("berth-operator-election"), options.namespace, options.lease_name,
                               options.identity, options.timing)
        self.webhook_ready = options.webhook_port == 0

    # -- what the leader runs -------------------------------------------------------------------------

    def leader_tasks(self) -> list[Callable[[], Awaitable[None]]]:
        client = components.sharing_informers(self._client_for)

        async def controllers() -> None:
            async with client("berth-controllers") as c:
                await components.controllers(c)

        async def scheduler() -> None:
            async with client("runai-scheduler") as c:
                image = await self.reservation_image(c) if self.options.gpu_reservations else None
                await components.scheduler(c, serve_default=self.options.serve_default, registry=self.registry,
                                           reservation_image=image,
                                           reservation_idle_s=self.options.reservation_idle_s)

        return ([controllers] if self.options.controllers else []) + ([scheduler] if self.options.scheduler else [])

    async def lead(self) -> int:
        """Campaign, then run the leader's components until the Lease is lost (1) or a component fails (1)."""
        await self.elector.campaign()
        running = [asyncio.create_task(task()) for task in self.leader_tasks()]
        keeping = asyncio.create_task(self.elector.keep())
        try:
            done, _ = await asyncio.wait([*running, keeping], return_when=asyncio.FIRST_COMPLETED)
        finally:  # also when this replica is stopped (cancelled): the components end before the Lease is released
            for task in [*running, keeping]:
                task.cancel()
            await asyncio.gather(*running, keeping, return_exceptions=True)
        for task in done:
            if task is not keeping and not task.cancelled() and task.exception() is not None:
                log.error("a component failed: %r; this replica stops", task.exception())
                await self.elector.release()
                return 1
        return 1  # the Lease is lost: start again as a follower

    async def reservation_image(self, client: Client) -> str:
        """The image of the GPU reservation pods: as given, else the operator's own (its pod read through
        POD_NAME and POD_NAMESPACE, which deploy/ sets), so an upgrade of the operator upgrades them too."""
        if self.options.reservation_image:
            return self.options.reservation_image
        pod = own_pod()
        if pod is None:
            raise RuntimeError(NO_IMAGE)
        found = await client.get("Pod", pod[0], pod[1])
        return str(found["spec"]["containers"][0]["image"])

    # -- what every replica serves ----------------------------------------------------------------------

    def probes(self) -> Starlette:
        async def healthz(request: Request) -> Response:
            return PlainTextResponse("ok")

        async def readyz(request: Request) -> Response:
            if not self.webhook_ready:
                return PlainTextResponse("the webhook is not serving yet", status_code=503)
            role = "leader" if self.elector.leading else "follower"
            return PlainTextResponse(f"ok ({role}: {self.options.identity})")

        async def metrics(request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4; charset=utf-8")

        return Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)])

    async def serve_probes(self) -> None:
        config = uvicorn.Config(self.probes(), host=self.options.probe_host, port=self.options.probe_port,
                                log_level="warning", access_log=False, lifespan="off", server_header=False)
        await uvicorn.Server(config).serve()

    async def serve_webhook(self) -> None:
        from berth.webhook.server import app

        options = self.options
        client = self._client_for("berth-webhook")
        config = uvicorn.Config(app(client), host="0.0.0.0", port=options.webhook_port,
                                ssl_certfile=options.webhook_cert, ssl_keyfile=options.webhook_key,
                                log_level="warning", access_log=False, lifespan="off", server_header=False)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        self.webhook_ready = server.started
        renewing = asyncio.create_task(self._follow_certificate(config))
        try:
            await serving
        finally:
            renewing.cancel()
            await client.close()

    async def _follow_certificate(self, config: uvicorn.Config) -> None:
        """Serve a renewed certificate (cert-manager renews it, the kubelet updates the mounted Secret) from
        the next handshake on, without a restart: kube-apiserver trusts the CA, whose bundle does not change."""
        cert, key = self.options.webhook_cert, self.options.webhook_key
        if not cert or not key:
            return
        seen = _stamp(cert, key)
        while True:
            await asyncio.sleep(self.options.certificate_check_s)
            now = _stamp(cert, key)
            if now != seen and config.ssl is not None:
                try:
                    config.ssl.load_cert_chain(cert, key)
                except (OSError, ssl.SSLError) as exc:  # half-written: the next look takes it
                    log.warning("the webhook's certificate changed but could not be loaded yet: %s", exc)
                    continue
                seen = now
                log.info("the webhook serves its renewed certificate %s", cert)

    async def run(self) -> int:
        """Until SIGTERM or Ctrl-C (0, the Lease handed back), a lost Lease or a failed component (1)."""
        disable_created_metrics()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        always = []
        if self.options.probe_port:
            always.append(asyncio.create_task(self.serve_probes()))
        if self.options.webhook_port:
            always.append(asyncio.create_task(self.serve_webhook()))
        leading = asyncio.create_task(self.lead())
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([leading, stopping, *always], return_when=asyncio.FIRST_COMPLETED)
        code = 0
        if leading in done:
            code = leading.result()
        elif stopping not in done:
            failed = next(iter(done))
            log.error("a server stopped: %r", failed.exception())
            code = 1
        for task in [leading, stopping, *always]:
            task.cancel()
        await asyncio.gather(leading, stopping, *always, return_exceptions=True)
        await self.elector.release()
        await self.elector.client.close()
        return code


def _stamp(*paths: str) -> tuple[tuple[int, int], ...]:
    """What tells that files changed, through the symbolic links a mounted Secret is made of."""
    stamps = []
    for path in paths:
        try:
            found = os.stat(path)
            stamps.append((found.st_ino, found.st_mtime_ns))
        except OSError:
            stamps.append((0, 0))
    return tuple(stamps)


def main(options: Options, announce: Callable[[str], object] = print) -> int:
    """Run one replica; its exit status. Raises `berth.client.ConfigError` when no cluster is configured."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("berth.operator").setLevel(logging.INFO)  # who leads, and when that changes
    replica = Replica(options, lambda manager: Client.from_env(options.kubeconfig, field_manager=manager))
    announce(f"berth operator {options.identity} on {replica.elector.client.server}: lease "
             f"{options.namespace}/{options.lease_name}"
             + (f", webhook on :{options.webhook_port}" if options.webhook_port else "")
             + (f", probes on :{options.probe_port}" if options.probe_port else ""))
    return asyncio.run(replica.run())
