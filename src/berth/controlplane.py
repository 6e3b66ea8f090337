"""`berth up` assembled: the API server, and the components that work through it: the project and workload
controllers, the scheduler, the local node (pods as processes) and simulated nodes (KWOK-style).

The API server runs in the `berth up` process; the components run together in one supervised child
process (`python -m berth.controlplane ...`), so that the two share the machine's cores instead of one
event loop. Each component is an ordinary client of the API server (through the kubeconfig `berth up`
writes): the same code runs as an operator or node agent against a real cluster. The child writes to the
same terminal (one log), is restarted if it dies, ends with `berth up` (even when `berth up` is killed:
the kernel signals it), and is the only one: a second `berth up` on the same data directory is refused by
the directory's lock (`berth.apiserver.startup`) before it starts anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, disable_created_metrics

from berth import components_metrics, runtime
from berth.apiserver.server import Component, Config, Running, run
from berth.operator import components

log = logging.getLogger(__name__)

OPTIONAL = ("controllers", "scheduler", "local-node")
RESTART_BACKOFF_S = (0.5, 10.0)


@dataclass
class Plan:
    """What `berth up` runs besides the API server."""

    disabled: set[str] = field(default_factory=set)  # among OPTIONAL
    gpus: int | None = None  # simulated GPUs on the local node when it has no real one
    nodes_file: Path | None = None  # simulated nodes

    def arguments(self) -> list[str]:
        args = [f"--without={name}" for name in sorted(self.disabled)]
        if self.gpus is not None:
            args.append(f"--gpus={self.gpus}")
        if self.nodes_file is not None:
            args.append(f"--nodes={self.nodes_file}")
        return args

    @property
    def empty(self) -> bool:
        return set(OPTIONAL) <= self.disabled and self.nodes_file is None


# -- the components (in the child) ------------------------------------------------------------------------

Task = Callable[[], Awaitable[None]]


def tasks(plan: Plan, kubeconfig: Path, data_dir: Path, registry: CollectorRegistry | None = None,
          api_socket: str | None = None) -> list[Task]:
    """The components of `plan`, each a coroutine to run until cancelled; those that publish Prometheus series
    put them in `registry` (the scheduler: its own, and every project's usage from its caches). Their clients
    share their informers: one watch per kind for all of them (`berth.client.informer.Shared`), and send
    over the API server's local socket when given one (`api_socket`: `berth.apiserver.startup.listen_local`)."""
    from berth.client import Client

    _client = components.sharing_informers(
        lambda manager: Client.from_kubeconfig(kubeconfig, field_manager=manager, unix=api_socket))

    async def controllers() -> None:
        async with _client("berth-controllers") as client:
            await components.controllers(client)

    async def scheduler() -> None:
        async with _client("runai-scheduler") as client:  # the only scheduler: every pod's
            await components.scheduler(client, serve_default=True, registry=registry)

    async def local_node() -> None:
        from berth.nodes.process import run_local_node
        from berth.nodes.serviceproxy import run_service_proxy

        async with _client("berth-node") as client:
            await asyncio.gather(run_local_node(client, data_dir=data_dir, gpus=plan.gpus), run_service_proxy(client))

    async def simulated_nodes() -> None:
        from berth.nodes.simulated import load_cluster_file, run_simulated_nodes

        assert plan.nodes_file is not None
        async with _client("berth-sim-nodes") as client:
            await run_simulated_nodes(client, load_cluster_file(plan.nodes_file))

    chosen: list[Task] = []
    for name, task in (("controllers", controllers), ("scheduler", scheduler), ("local-node", local_node)):
        if name not in plan.disabled:
            chosen.append(task)
    if plan.nodes_file is not None:
        chosen.append(simulated_nodes)
    return chosen


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent (`berth up`) dies, however it dies."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


async def _run_child(plan: Plan, kubeconfig: Path, data_dir: Path, parent: int, api_socket: str | None) -> None:
    async def orphaned() -> None:  # the kernel's signal is Linux-only: elsewhere, notice it ourselves
        while os.getppid() == parent:
            await asyncio.sleep(1.0)

    secret = os.environ.pop(components_metrics.SECRET_ENV, "")
    registry = CollectorRegistry(auto_describe=False) if secret else None
    disable_created_metrics()  # no `_created` series, as in the API server's
    chosen = tasks(plan, kubeconfig, data_dir, registry, api_socket)
    running = [asyncio.create_task(task()) for task in chosen]
    if registry is not None:  # `berth up` asked for the components' series: serve them to it
        running.append(asyncio.create_task(components_metrics.serve(registry, data_dir, secret)))
    watch = asyncio.create_task(orphaned())
    done, _ = await asyncio.wait([*running, watch], return_when=asyncio.FIRST_COMPLETED)
    for task in [*running, watch]:
        task.cancel()
    for task in done:
        if task is not watch and task.exception() is not None:
            raise task.exception()  # a component died: the supervisor restarts the child


def child_main(argv: list[str] | None = None) -> None:
    """`python -m berth.controlplane`: the components' process (started by `berth up`)."""
    parser = argparse.ArgumentParser(prog="python -m berth.controlplane")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--without", action="append", default=[], choices=OPTIONAL)
    parser.add_argument("--gpus", type=int, default=None)
    parser.add_argument("--nodes", type=Path, default=None)
    parser.add_argument("--api-socket", default=None, help="the API server's local socket (@name: abstract)")
    args = parser.parse_args(argv)
    _die_with_parent()
    if os.getppid() != args.parent:
        return  # the parent is already gone
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    plan = Plan(disabled=set(args.without), gpus=args.gpus, nodes_file=args.nodes)
    runtime.prepare()
    try:
        asyncio.run(_run_child(plan, args.kubeconfig, args.data_dir, args.parent, args.api_socket))
    except KeyboardInterrupt:
        pass


# -- the supervisor (in `berth up`) -----------------------------------------------------------------------

def supervisor(plan: Plan, metrics_secret: str = "") -> Component:
    """Start the components' child process once the API server answers; restart it if it dies; stop it
    (SIGTERM, then SIGKILL) when `berth up` stops. With `metrics_secret`, the child serves its Prometheus
    series to whoever presents it (`berth.components_metrics`)."""

    async def supervise(running: Running) -> None:
        command = [sys.executable, "-m", "berth.controlplane", "--kubeconfig", str(running.kubeconfig),
                   "--data-dir", str(running.config.data_dir), "--parent", str(os.getpid()), *plan.arguments()]
        if running.local is not None:
            command.append(f"--api-socket={running.local[1]}")
        env = {**os.environ, components_metrics.SECRET_ENV: metrics_secret} if metrics_secret else None
        backoff = RESTART_BACKOFF_S[0]
        while True:
            components_metrics.port_file(running.config.data_dir).unlink(missing_ok=True)  # an earlier child's
            # A session of its own: Ctrl-C reaches `berth up`, which then stops the child in order.
            child = await asyncio.create_subprocess_exec(*command, stdin=subprocess.DEVNULL, start_new_session=True,
                                                         env=env)
            try:
                code = await child.wait()
            except asyncio.CancelledError:
                await _stop(child)
                raise
            log.warning("berth components exited with status %s; restarting in %.1f s", code, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_BACKOFF_S[1])

    return supervise


async def _stop(child: asyncio.subprocess.Process, grace: float = 10.0) -> None:
    if child.returncode is not None:
        return
    child.terminate()
    try:
        await asyncio.wait_for(child.wait(), grace)
    except asyncio.TimeoutError:
        child.kill()
        await child.wait()


def up(config: Config, plan: Plan, announce: Callable[[str], object] = print) -> int:
    """Run the control plane until Ctrl-C or SIGTERM."""
    notes = []
    if plan.nodes_file is not None:
        from berth.nodes.cluster_file import load_cluster_file

        specs = load_cluster_file(plan.nodes_file)  # a bad file stops us before anything starts
        gpus = sum(len(s.gpus) for s in specs)
        notes.append(f"simulated nodes: {len(specs)} nodes with {gpus} GPUs from {plan.nodes_file}")
    if "local-node" not in plan.disabled and plan.gpus:
        notes.append(f"local node: advertising {plan.gpus} simulated GPUs if it finds no real one")
    components = []
    if not plan.empty:
        secret = secrets.token_urlsafe(32)
        components.append(supervisor(plan, secret))
        if config.components_metrics is None:
            config.components_metrics = components_metrics.fetcher(config.data_dir, secret)
    suggestions = try_this(plan)
    here = Path(sys.executable).parent
    if (here / "kubectl").exists() and os.pathsep + str(here) not in os.pathsep + os.environ.get("PATH", ""):
        suggestions.insert(0, f"export PATH={here}:$PATH    # the kubectl installed with Berth")
    from berth.nodes.running import shown

    stop = (f"Stop with Ctrl-C, or `berth down --data-dir {shown(config.data_dir)}` in another terminal; workload "
            "processes keep running (add --workloads to stop them too).")
    if config.mounts is None:
        from berth.rest.app import mounts as rest
        from berth.web.app import mounts as web

        config.mounts = lambda kubeconfig: [*rest(kubeconfig), *web(kubeconfig)]  # Run:ai's REST API and the UI
        notes.append(f"web UI: {config.url}/ui/ (log in with a user's token; the admin's is in "
                     f"{shown(config.data_dir)}/token)")
    code = run(config, announce, components=components, try_this=suggestions, notes=notes, stop=stop)
    announce(farewell(config.data_dir))
    return code


def farewell(data_dir: Path) -> str:
    """What `berth up` says once it has stopped (Ctrl-C, SIGTERM, `berth down`): what it leaves running."""
    from berth.nodes import running

    found = running.running(data_dir)
    if not found:
        return "berth up stopped; no workload process is left running."
    return f"berth up stopped. {running.keep_running(data_dir, found)}"


def try_this(plan: Plan) -> list[str]:
    """What `berth up` suggests doing first (from the repository's root), for what this `berth up` runs: the
    hello example runs to its end only where a controller, the scheduler and the local node all run."""
    runs = {name for name in OPTIONAL if name not in plan.disabled}
    if "controllers" not in runs:  # nothing acts on workloads: the API alone
        return ["kubectl api-resources --api-group=run.ai           # the kinds this API server serves",
                "kubectl explain trainingworkload.spec                # their fields"]
    project = ["kubectl apply -f examples/quickstart/demo-project.yaml  # project demo: its namespace is runai-demo"]
    if runs == set(OPTIONAL):  # the README's quickstart, line for line (tests/test_readme.py checks it)
        return [*project,
                "kubectl apply -f examples/quickstart/hello.yaml      # a training that prints a line on this machine",
                "kubectl get tw -n runai-demo -w                      # Creating, Pending, Initializing, Running, "
                "Completed (Ctrl-C)",
                "kubectl logs hello-0-0 -n runai-demo                 # hello from Berth"]
    if "scheduler" in runs and plan.nodes_file is not None:
        return [*project,
                "kubectl apply -f examples/quickstart/hello.yaml      # a training workload, on a simulated node",
                "kubectl get tw -n runai-demo -w                      # Pending, Running (until deleted: it is "
                "simulated)",
                "kubectl get nodes"]
    missing = "no scheduler" if "scheduler" not in runs else "no node"
    return [*project,
            "kubectl apply -f examples/quickstart/hello.yaml      # a training workload: it stays Pending "
            f"({missing} here)",
            "kubectl get tw -n runai-demo"]


if __name__ == "__main__":
    child_main()
