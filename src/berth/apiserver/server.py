"""Running the API server: the data directory, credentials, bootstrap objects and uvicorn.

`serve()` is what `berth up` runs. The data directory holds everything that must survive a restart:
`state.db` (the store), `pki/` and `token` (credentials), `kubeconfig` (for the admin), `users.json` and
`users/` (the other users: `berth.apiserver.users`), `logs/` (pod output), `audit/` (the audit log,
`berth.apiserver.audit`), and `berth-up.lock`, held by the one `berth up` that uses it. `prepare` checks
what can fail (`berth.apiserver.startup`: the directory, its lock, the port, the store) before anything is
announced or written. HTTPS with a bearer token is the default; plain HTTP is allowed only on a loopback
address, and then without authentication, since kubectl sends no token over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from berth import runtime
from berth.apiserver import crds
from berth.apiserver.admission import Chain
from berth.apiserver.api import NAMESPACES, Api, WriteOptions
from berth.apiserver.app import Server
from berth.apiserver.audit import AuditLog, AuditMiddleware
from berth.apiserver.errors import ApiError
from berth.apiserver.metrics import ApiServerMetrics, ComponentsSource
from berth.apiserver.mounts import Mounts, PrefixDispatch
from berth.apiserver.gc import GarbageCollector
from berth.apiserver.policy_admission import PolicyAdmission
from berth.apiserver.project_admission import ProjectDeletionGuard
from berth.apiserver.settings import AuditSettings, Limits
from berth.apiserver.startup import (ConfigError, DataDirLock, cannot_write, listen, listen_local, lock_data_dir,
                                     open_store)
from berth.apiserver.tls import ensure_credentials, write_kubeconfig
from berth.apiserver.watch import WatchHub
from berth.store import Store, WriteFailed

log = logging.getLogger(__name__)

#: Namespaces every Berth control plane has: kubectl's default, runai for global policies and templates,
#: and kube-node-lease for the node agents' heartbeats.
BOOTSTRAP_NAMESPACES = ("default", "runai", "runai-reservation", "kube-node-lease")  # as on a Run:ai cluster


@dataclass
class Config:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6443
    insecure_http: bool = False
    limits: Limits = field(default_factory=Limits)
    audit: AuditSettings = field(default_factory=AuditSettings)
    #: Other apps served on the same address by path prefix (`berth.apiserver.mounts`): Run:ai's REST API.
    mounts: Mounts | None = None
    #: The components' series for /metrics (`berth.apiserver.metrics`), set by whoever runs them (`berth.controlplane`).
    components_metrics: ComponentsSource | None = None
    admission: Chain = field(default_factory=lambda: Chain(mutating=[PolicyAdmission()],
                                                            validating=[ProjectDeletionGuard(), crds.CrdGuard()]))

    @property
    def scheme(self) -> str:
        return "http" if self.insecure_http else "https"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bootstrap(api: Api) -> None:
    """Objects every control plane starts with (idempotent): its namespaces, and the CRDs of its kinds."""
    for name in BOOTSTRAP_NAMESPACES:
        if api.store.get(NAMESPACES.ref, "", name) is None:
            try:
                api.create(NAMESPACES, "", {"metadata": {"name": name}}, WriteOptions(manager="berth"))
            except ApiError as exc:
                if exc.reason != "AlreadyExists":
                    raise
    crds.bootstrap(api)


#: How often the store's history is compacted; it keeps the store's default number of revisions.
COMPACT_INTERVAL_S = 300.0


def compactor(store: Store, interval: float = COMPACT_INTERVAL_S) -> Callable[[WatchHub], Awaitable[None]]:
    """A background loop that trims the store's history, as etcd and kine do every five minutes."""

    async def run(hub: WatchHub) -> None:
        while not hub.closed:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(store.compact)
            except Exception:  # noqa: BLE001 - compaction is retried next round
                log.exception("compaction failed")

    return run


@dataclass
class Running:
    """What `prepare` made: the pieces `serve` runs (tests reach in for the store and token)."""

    config: Config
    store: Store
    api: Api
    server: Server
    kubeconfig: Path
    uvicorn_config: uvicorn.Config
    lock: DataDirLock
    listener: socket.socket
    #: The components' Unix socket and its address (`startup.listen_local`), when there is one.
    local: tuple[socket.socket, str] | None = None


def prepare(config: Config) -> Running:
    """Check and take what `berth up` needs (each failure a one-line ConfigError), then build the server."""
    if config.insecure_http and not _is_loopback(config.host):
        raise ConfigError(
            f"--insecure-http serves without authentication, so it is allowed only on a loopback address "
            f"(127.0.0.1, ::1, localhost), not {config.host}")
    with contextlib.ExitStack() as undo:  # what was taken is given back when a later step fails
        lock = lock_data_dir(config.data_dir, config.url)
        undo.callback(lock.release)
        listener = listen(config.host, config.port)
        undo.callback(listener.close)
        local = listen_local(config.data_dir)
        if local is not None:
            undo.callback(local[0].close)
        store = open_store(config.data_dir / "state.db")
        undo.callback(store.close)
        try:
            api, server, kubeconfig, uv = _build(config, store)
        except (OSError, WriteFailed) as exc:  # the first writes: bootstrap objects, credentials, kubeconfig
            raise cannot_write(config.data_dir, exc) from None
        undo.pop_all()
    return Running(config, store, api, server, kubeconfig, uv, lock, listener, local)


def _build(config: Config, store: Store) -> tuple[Api, Server, Path, uvicorn.Config]:
    """The API, its credentials and kubeconfig, and the uvicorn configuration serving it."""
    api = Api(store, config.admission)
    bootstrap(api)
    ssl: dict[str, Any] = {}
    if config.insecure_http:
        token = None
        kubeconfig = write_kubeconfig(config.data_dir / "kubeconfig", config.url, ca_cert=None, token=None)
    else:
        hosts = [config.host] if config.host not in ("0.0.0.0", "::") else [socket.gethostname()]
        creds = ensure_credentials(config.data_dir, hosts)
        token = creds.token
        ssl = {"ssl_certfile": str(creds.cert), "ssl_keyfile": str(creds.key)}
        kubeconfig = write_kubeconfig(config.data_dir / "kubeconfig", config.url, ca_cert=creds.ca_cert, token=token)
    collector = GarbageCollector(api)
    server = Server(api, token=token, data_dir=config.data_dir, tasks=[collector.run, compactor(store)],
                    limits=config.limits, metrics=ApiServerMetrics(store, config.components_metrics))
    audit = AuditLog(config.data_dir / "audit" / "audit.log", config.audit.max_size, config.audit.max_backups)
    app: Any = AuditMiddleware(server.app(), audit, reads=config.audit.reads)
    if config.mounts is not None:  # their requests reach the Kubernetes API as their callers: audited there
        app = PrefixDispatch(app, config.mounts(kubeconfig))
    # No proxy_headers: the server sits behind no proxy, so X-Forwarded-For is the client's own word, and a
    # local client must not name another source address in the audit log (uvicorn trusts it from 127.0.0.1).
    uv = uvicorn.Config(
        app, host=config.host, port=config.port, log_level="warning", access_log=False, proxy_headers=False,
        server_header=False,  # kube-apiserver names no server; one header fewer to check and send per answer
        http=_Http, ws="websockets-sansio", loop="uvloop", lifespan="on", timeout_graceful_shutdown=2, **ssl,
    )
    return api, server, kubeconfig, uv


class _Http(HttpToolsProtocol):
    """uvicorn's HTTP/1 protocol, answering upgrade requests it does not serve as ordinary ones without a
    warning in the log.

    kubectl asks for a WebSocket for exec, attach and port-forward, and SPDY when the WebSocket is refused;
    WebSockets are served (`berth.apiserver.streaming`), SPDY is not, so that request reaches the app as an
    ordinary one, which answers with a Status that says why (`berth.apiserver.app`). uvicorn would log
    "Unsupported upgrade request" for each."""

    def _unsupported_upgrade_warning(self) -> None:
        pass


class _Server(uvicorn.Server):
    """uvicorn, stopping what depends on the server first: on SIGINT or SIGTERM the components (they are
    clients) are cancelled and the watch streams end, then the server shuts down. The signal is handled,
    not re-raised afterwards, so `berth up` ends quietly with status 0.

    It serves `local`, the components' Unix socket, too: the same app and protocol, without TLS."""

    def __init__(self, config: uvicorn.Config, app: Server, local: socket.socket | None = None) -> None:
        super().__init__(config)
        self._app = app
        self._local = local
        self.on_exit: list[Callable[[], None]] = []
        self._closing: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._local is None or self.should_exit:
            return
        config = self.config

        def plain() -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # type: ignore[call-arg]
                                              app_state=self.lifespan.state)

        self.servers.append(await asyncio.get_running_loop().create_server(plain, sock=self._local, ssl=None,
                                                                           backlog=config.backlog))

    def handle_exit(self, sig: int, frame: Any) -> None:
        for callback in self.on_exit:
            callback()
        super().handle_exit(sig, frame)
        if self._app.hub is not None:
            self._app.hub.close()
        closer = getattr(self.config.app, "aclose", None)  # mounted apps' own connections to this server
        if closer is not None and self._closing is None:
            loop = asyncio.get_event_loop()
            self._closing = loop.create_task(closer())

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


Component = Callable[[Running], Awaitable[None]]


async def serve(running: Running, ready: asyncio.Event | None = None, components: list[Component] = ()) -> None:
    """Serve until SIGINT or SIGTERM; then stop cleanly and close the store.

    `components` (controllers, the scheduler, node agents) start once the server answers and are
    stopped before it; they reach it through the kubeconfig, like any client.
    """
    server = _Server(running.uvicorn_config, running.server, running.local[0] if running.local else None)
    task = asyncio.create_task(server.serve(sockets=[running.listener]))
    started: list[asyncio.Task[None]] = []
    try:
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            started = [asyncio.create_task(component(running)) for component in components]
            loop = asyncio.get_running_loop()
            server.on_exit.append(lambda: [loop.call_soon_threadsafe(t.cancel) for t in started])
            if ready is not None:
                ready.set()
        await task
        await asyncio.gather(*started, return_exceptions=True)  # the components stop before the store closes
    finally:
        for component_task in started:
            component_task.cancel()
        await asyncio.gather(*started, return_exceptions=True)
        running.store.close()
        running.lock.release()


def run(config: Config, announce: Any = print, components: list[Component] = (), try_this: list[str] = (),
        notes: list[str] = (), stop: str = "Stop with Ctrl-C.") -> int:
    """`berth up`: prepare (a ConfigError, before anything is said, when that fails), say where things are
    (`notes`: what else runs; `stop`: how to stop it, the last line), serve. Returns the exit status."""
    running = prepare(config)
    for line in notes:
        announce(line)
    announce(f"Berth API server on {config.url}")
    announce(f"kubeconfig: {running.kubeconfig}")
    announce(f"  export KUBECONFIG={running.kubeconfig}")
    if try_this:
        announce("Try:")
        for line in try_this:
            announce(f"  {line}")
    announce(stop)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    runtime.prepare()  # uvloop, as `loop="uvloop"` asks, and the collector's thresholds
    try:
        asyncio.run(serve(running, components=list(components)))
    except KeyboardInterrupt:
        pass
    return 0
