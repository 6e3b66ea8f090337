"""One pod on the local node, from start to end: its containers as processes, its status, its restarts,
its deletion, and its recovery after a restart of `berth up` (`berth.nodes.process` runs one `PodRunner`
per pod bound to the node).

There is no image: a container's `command` and `args` run directly, in the pod's environment
(`berth.nodes.podenv`), from a scratch directory `<data-dir>/pods/<namespace>/<pod>/`, with output in
`<data-dir>/logs/<namespace>/<pod>/<container>.log` (what pods/log serves; the run before a restart in
`<container>.previous.log`), written by the monitor that starts each container's process
(`berth.nodes.monitor`), which also writes how the process ended (`<container>.exit`).

A pod's phase on this node, written once, here:

    Pending   init containers run one after another (a failed one is restarted unless restartPolicy is
              Never); containers wait in ContainerCreating, or for good in CreateContainerConfigError
              when they cannot start here (no command; runAsNonRoot and no user), as a kubelet leaves them
      -> Running    every container has started; one that ends is restarted as restartPolicy says
                    (Always; OnFailure when it exits non-zero), after a back-off (waiting CrashLoopBackOff)
      -> Succeeded  every container has exited 0 and none is to restart
      -> Failed     a container exited non-zero and is not restarted (reason Error), or the pod cannot run
                    here (UnexpectedAdmissionError), or how a container ended cannot be known (its monitor
                    ended first: ContainerStatusUnknown, never run again; NodeRestarted when `berth up`
                    restarted meanwhile)
    deletionTimestamp, or the pod gone: its processes get SIGTERM, then SIGKILL after the grace period;
    the status is left alone, unless a container had ended by itself first (then it says how). While its
    processes run, the pod carries the node's finalizer (`LOCAL_NODE_FINALIZER`): a DELETE only marks it,
    and the node lets it go once they are stopped, as a kubelet ends a graceful deletion.

Restart safety (`berth.nodes.state`): stopping the agent leaves processes running, as stopping a kubelet
leaves containers; the next agent adopts those that still run, takes the end of those that ended meanwhile
from what their monitors wrote and carries on as if it had seen it (restartPolicy included), fails as
NodeRestarted the pods whose processes ended unseen, and never starts a process twice because it restarted.
A process whose data directory is deleted while no agent runs is stopped by its monitor
(`berth.nodes.monitor`): nothing could adopt it any more. `berth down --workloads` stops them all
(`berth.nodes.running`).

A serving pod (an InferenceWorkload's replica) listens on its ports as any pod does, but clients reach it
through a meter on other ports (those go to `run.ai/host-ports`), which counts its requests
(`berth.nodes.meter`); its containers are Ready only once their ports accept connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from berth.api import podlog
from berth.api.types import parse_quantity
from berth.api.wellknown import HOST_PORTS_ANNOTATION, WORKLOAD_KIND_LABEL
from berth.client.informer import key_of
from berth.nodes import podenv, procs
from berth.nodes.credentials import credentials
from berth.nodes.execute import ExecContext
from berth.nodes.meter import PodMeter
from berth.nodes.monitor import exit_path
from berth.nodes.state import MAX_GRACE_S, PodRecord, ProcessRecord

if TYPE_CHECKING:
    from berth.nodes.process import LocalNode

log = logging.getLogger(__name__)

Obj = dict[str, Any]

TERMINAL = ("Succeeded", "Failed")
BACKOFF_S = (1.0, 30.0)  # first and longest pause before restarting a container
READY_POLL_S = 0.5  # how often a serving container's ports are tried until they accept
BACKOFF_RESET_S = 60.0  # a container that ran this long starts its back-off afresh
NO_COMMAND = "no command: Berth's local node runs commands, not images; give spec.command"
UNKNOWN = "ContainerStatusUnknown"  # a container whose end nobody could see, as a kubelet says of one it lost


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def grace_period(pod: Obj) -> float:
    """deletionGracePeriodSeconds, else terminationGracePeriodSeconds, else 30; at most 30 seconds."""
    seconds = _meta(pod).get("deletionGracePeriodSeconds")
    if seconds is None:
        seconds = _spec(pod).get("terminationGracePeriodSeconds")
    try:
        return max(0.0, min(float(30 if seconds is None else seconds), MAX_GRACE_S))
    except (TypeError, ValueError):
        return MAX_GRACE_S


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N: 128 + N, as shells say


def _tail(path: Path, lines: int = 10, limit: int = 4096) -> str:
    """The last lines of a log file's output (for a failed container's termination message)."""
    try:
        with path.open("rb") as handle:
            start = max(0, path.stat().st_size - limit)
            handle.seek(start)
            data = handle.read()
    except OSError:
        return ""
    if start:  # began mid-file: the first record may be cut
        data = data[data.find(b"\n") + 1:]
    return podlog.render(podlog.select(podlog.parse(data), tail=lines)).decode(errors="replace").strip()


class PodRunner:
    """Runs one pod (one uid) to its end, or until it is deleted or the agent stops.

    `stop()` is how the agent says the pod is being deleted; cancelling `task` is how it says the agent
    stops (processes are left running, and their records kept, for the next agent)."""

    def __init__(self, node: LocalNode, pod: Obj, after: asyncio.Task[None] | None) -> None:
        self.node = node
        self.pod = pod
        self.namespace, self.name = key_of(pod)
        self.uid = str(_meta(pod).get("uid") or "")
        self.deleted = asyncio.Event()
        self.gone = False  # the pod has left the API: its directories go when its processes have
        self.grace = grace_period(pod)
        self.scratch = node.scratch_dir(self.namespace, self.name)
        self.record: PodRecord | None = node.state.pods.get(self.uid)
        self._containers: dict[str, Obj] = {}  # name -> containerStatus, main containers in spec order
        self._inits: dict[str, Obj] = {}
        self._conditions: dict[str, tuple[str, str]] = {}  # type -> (status, lastTransitionTime)
        self._publishing = asyncio.Lock()  # one status write at a time, so none overtakes a later one
        self._start_time = (self.pod.get("status") or {}).get("startTime") or _now()
        self.meter: PodMeter | None = None  # counts a serving pod's requests (`berth.nodes.meter`)
        self._warned = False  # the pod was told its securityContext cannot be honoured here
        self._resumed = False  # a restarted `berth up` carries on with processes it found
        self._envs: dict[str, dict[str, str]] = {}  # container -> the environment its program started with
        self.task = asyncio.get_running_loop().create_task(self._main(after), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: Obj) -> None:
        self.pod = pod

    def stop(self, pod: Obj, *, gone: bool) -> None:
        self.grace = grace_period(pod)
        self.gone = self.gone or gone
        self.deleted.set()

    # -- the whole pod ------------------------------------------------------------------------------

    async def _main(self, after: asyncio.Task[None] | None) -> None:
        if after is not None:  # the previous pod of this name stops, and its directories go, first
            await asyncio.wait({after})
        try:
            await self._run()
        except asyncio.CancelledError:
            raise  # the agent stops: the processes run on, the finalizer stays for the next agent
        except Exception:
            log.exception("local node %s: pod %s/%s failed unexpectedly", self.node.name, self.namespace, self.name)
            await self.node.release(self.pod)
            return
        finally:
            if self.meter is not None:
                await self.meter.close()
        await self.node.release(self.pod)  # nothing of it runs any more: a deletion may finish
        self.node.state.pods.pop(self.uid, None)
        self.node.state.save()
        if self.gone:
            self.node.remove_dirs(self.namespace, self.name)

    async def _run(self) -> None:
        record = self.record
        if record is not None and record.processes:
            await self._resume(record)
        elif self.deleted.is_set() or (self.pod.get("status") or {}).get("phase") in TERMINAL:
            return
        elif (record is not None and record.ran) or _has_started(self.pod):
            await self._fail("NodeRestarted", "berth up restarted after this pod had started, and no process of "
                             "it was left running, so how it ended is unknown; this pod is not run again (its "
                             "workload may start a new attempt)")
        else:
            await self._start()

    async def _start(self) -> None:
        spec = _spec(self.pod)
        inits, mains = list(spec.get("initContainers") or []), list(spec.get("containers") or [])
        self._inits = {c["name"]: _waiting(c, "PodInitializing") for c in inits}
        self._containers = {c["name"]: _waiting(c, "PodInitializing" if inits else "ContainerCreating")
                            for c in mains}
        missing = [c["name"] for c in inits + mains if not c.get("command")]
        if missing:  # the pod waits, as a kubelet leaves a container it cannot create: no retry can help
            await self._refuse(missing, NO_COMMAND)
            return
        problem = self._device_problem()
        if problem:
            await self._fail("UnexpectedAdmissionError", problem)
            return
        await self.node.hold(self.pod)
        self.scratch.mkdir(parents=True, exist_ok=True)
        public, backend = self.node.allocate_ports(self.pod, metered=_serving(self.pod))
        self.record = PodRecord(namespace=self.namespace, name=self.name, host_ports=public, backend_ports=backend,
                                grace=self.grace)
        self.node.state.pods[self.uid] = self.record
        self.node.state.save()
        await self._start_meter()
        await self._annotate_ports()
        for image in dict.fromkeys(str(c.get("image") or "") for c in inits + mains):
            await self.node.event(self.pod, "ImageNotPulled", f'image "{image}" is recorded, not pulled: the local '
                                  "node runs the container's command directly on this machine")
        await self._publish()
        await self._run_containers({})

    async def _run_containers(self, adopt: dict[str, ProcessRecord]) -> None:
        """Init containers one after another, then the main ones together, each to its end; `adopt`: the
        processes a restarted `berth up` found, by container name, to carry on from."""
        spec = _spec(self.pod)
        inits, mains = list(spec.get("initContainers") or []), list(spec.get("containers") or [])
        for container in inits:
            code = await self._container(container, init=True, adopt=adopt.get(container["name"]))
            if code is None:
                return
            if code != 0:
                await self._publish("Failed", *self._failure(f"init container {container['name']} exited with "
                                                             f"code {code}"))
                return
        for container in mains:
            if container["name"] not in adopt:
                self._containers[container["name"]] = _waiting(container, "ContainerCreating")
        codes = await asyncio.gather(*(self._container(c, adopt=adopt.get(c["name"])) for c in mains))
        if any(code is None for code in codes):
            return
        failed = [c["name"] for c, code in zip(mains, codes) if code != 0]
        if failed:
            await self._publish("Failed", *self._failure(f"container {', '.join(failed)} exited with a non-zero "
                                                         "code"))
        else:
            await self._publish("Succeeded", "Completed", "")

    def _failure(self, message: str) -> tuple[str, str]:
        """The pod's reason and message when it fails: NodeRestarted where a container's end could not be
        known because `berth up` restarted (ContainerStatusUnknown), else Error."""
        unknown = [name for name, s in {**self._inits, **self._containers}.items()
                   if (s.get("state", {}).get("terminated") or {}).get("reason") == UNKNOWN]
        if not unknown:
            return "Error", message
        return ("NodeRestarted" if self._resumed else "Error",
                f"how container {', '.join(unknown)} ended is unknown: its monitor ended before it, so its exit "
                "status was lost; it is not run again")

    def _device_problem(self) -> str:
        try:
            devices = podenv.gpu_devices(self.pod)
        except ValueError:
            return (f"annotation run.ai/gpu-devices is {_meta(self.pod)['annotations'].get('run.ai/gpu-devices')!r}, "
                    "not a comma-separated list of GPU indexes")
        have = {g.index for g in self.node.gpus}
        unknown = [d for d in devices if d not in have]
        if unknown:
            offered = ", ".join(str(i) for i in sorted(have)) or "none"
            return (f"run.ai/gpu-devices names GPU {', '.join(map(str, unknown))}, but node {self.node.name} has "
                    f"GPUs {offered}")
        return ""

    # -- one container ------------------------------------------------------------------------------

    def _restart_policy(self, init: bool) -> str:
        policy = _spec(self.pod).get("restartPolicy") or "Always"
        return "OnFailure" if init and policy == "Always" else policy

    async def _container(self, container: Obj, *, init: bool = False, adopt: ProcessRecord | None = None) -> int | None:
        """Run one container until it is done as its restart policy says: its last exit code, or None when
        the pod was deleted first. `adopt`: its process as a restarted `berth up` found it, to follow first."""
        name = container["name"]
        statuses = self._inits if init else self._containers
        policy = self._restart_policy(init)
        restarts, delay = (adopt.restarts if adopt else 0), BACKOFF_S[0]
        while adopt is not None or not self.deleted.is_set():  # an adopted one is followed even so
            began = time.monotonic()
            if adopt is not None:
                ended = await self._adopt_once(container, statuses, adopt, init=init)
                adopt = None
            else:
                ended = await self._run_once(container, statuses, init=init, restarts=restarts)
            if ended is None:
                return None
            code, terminated = ended
            lost = terminated["reason"] == UNKNOWN  # never run again: it may have done its work
            if lost or not (policy == "Always" or (policy == "OnFailure" and code != 0)):
                statuses[name] = {**statuses[name], "state": {"terminated": terminated}, "ready": False,
                                  "started": False, "restartCount": restarts}
                await self._publish()
                return code
            restarts += 1
            if time.monotonic() - began > BACKOFF_RESET_S:
                delay = BACKOFF_S[0]
            statuses[name] = {**statuses[name], "ready": False, "started": False, "restartCount": restarts,
                              "state": {"waiting": {"reason": "CrashLoopBackOff", "message":
                                                    f"back-off {delay:g}s restarting failed container={name} "
                                                    f"pod={self.name}"}},
                              "lastState": {"terminated": terminated}}
            await self._publish()
            if await self._pause(delay):
                return None
            delay = min(delay * 2, BACKOFF_S[1])
        return None

    async def _run_once(self, container: Obj, statuses: dict[str, Obj], *, init: bool,
                        restarts: int) -> tuple[int, Obj] | None:
        """Start the container's process and wait for it: (exit code, the `terminated` state), or None when
        the pod was deleted first (the process group then stopped)."""
        name = container["name"]
        record = self.record
        assert record is not None
        env = await self._environment(container, statuses)
        if env is None:
            return None
        who = credentials(self.pod, container, euid=os.geteuid(), egid=os.getegid())
        if who.refusal:
            await self._refuse([name], who.refusal)
            return None
        self._envs[name] = env
        argv = podenv.command_line(container, env)
        log_file = self.node.log_path(self.namespace, self.name, name)
        if restarts and log_file.exists():
            os.replace(log_file, log_file.with_name(f"{name}.previous.log"))
        started_at = _now()
        record.processes[name] = ProcessRecord(restarts=restarts)  # before it starts: a crash now must not
        self.node.state.save()                                       # lead to a second run
        if who.warning and not self._warned:
            self._warned = True
            await self.node.event(self.pod, "SecurityContextNotHonoured", who.warning, type="Warning")
        if who.user is not None:
            with contextlib.suppress(OSError):
                os.chown(self.scratch, who.user, who.group if who.group is not None else -1)
        stdin = self.node.stdin_path(self.namespace, self.name, name) if container.get("stdin") else None
        starting = asyncio.ensure_future(procs.start(argv, env=env, cwd=podenv.working_dir(container, self.scratch),
                                                     log_file=log_file, credentials=who.popen(), stdin=stdin,
                                                     tty=bool(container.get("tty")), guard=self.node.data_dir,
                                                     grace=self.grace))
        try:
            started = await asyncio.shield(starting)
        except asyncio.CancelledError:  # the agent stops meanwhile: record what started, for the next one
            with contextlib.suppress(Exception):
                self._started(name, await starting, started_at, restarts)
            raise
        except OSError as exc:
            record.processes.pop(name, None)
            self.node.state.save()
            message = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
            with log_file.open("ab") as out:
                out.write(podlog.records(b"stderr", f"berth: {message}\n".encode()))
            return 128, {"exitCode": 128, "reason": "StartError", "message": message, "startedAt": started_at,
                         "finishedAt": _now()}
        process = self._started(name, started, started_at, restarts)
        serving = [] if init else self._serving_ports(container)
        statuses[name] = {**statuses[name], "state": {"running": {"startedAt": started_at}},
                          "ready": not init and not serving, "started": True, "restartCount": restarts,
                          "containerID": f"process://{started.pid}"}
        await self._publish()
        return await self._follow(container, statuses, process, started.monitor, init=init)

    def _started(self, name: str, started: procs.Started, started_at: str, restarts: int) -> ProcessRecord:
        """Record a process that runs (before anything else may be lost)."""
        assert self.record is not None
        process = ProcessRecord(pid=started.pid, ticks=started.ticks, started_at=started_at,
                                monitor=started.monitor.pid, monitor_ticks=started.monitor.ticks, restarts=restarts)
        self.record.processes[name] = process
        self.node.state.save()
        return process

    async def _adopt_once(self, container: Obj, statuses: dict[str, Obj], process: ProcessRecord, *,
                          init: bool) -> tuple[int, Obj] | None:
        """Follow a process a restarted `berth up` found: one that still runs, or one that ended meanwhile
        (its monitor wrote how), as `_run_once` follows one it started."""
        name = container["name"]
        assert process.pid is not None
        if procs.is_alive(process.pid, process.ticks):
            serving = [] if init else self._serving_ports(container)
            statuses[name] = {**statuses[name], "state": {"running": {"startedAt": process.started_at or _now()}},
                              "ready": not init and not serving, "started": True, "restartCount": process.restarts,
                              "containerID": f"process://{process.pid}"}
            await self._publish()
        return await self._follow(container, statuses, process, procs.Monitor(process.monitor, process.monitor_ticks),
                                  init=init)

    async def _follow(self, container: Obj, statuses: dict[str, Obj], process: ProcessRecord, monitor: procs.Monitor,
                      *, init: bool) -> tuple[int, Obj] | None:
        """Wait for a running process (or take the end of one that has ended): (exit code, the `terminated`
        state), or None when the pod was deleted first (the process group then stopped). A process whose
        monitor ended before writing its status ended unknown (ContainerStatusUnknown, exit code 137, as a
        kubelet says of a container it lost)."""
        name, pid = container["name"], process.pid
        assert pid is not None
        running = procs.is_alive(pid, process.ticks)
        log_file = self.node.log_path(self.namespace, self.name, name)
        exited = asyncio.ensure_future(procs.wait_exit(pid, process.ticks, exit_path(log_file), monitor))
        serving = [] if init or statuses[name].get("ready") else self._serving_ports(container)
        ready = asyncio.ensure_future(self._ready_when_serving(name, serving, statuses)) if serving else None
        try:
            if not running:  # it had ended before we looked: how is on disk, whatever the pod's deletion says
                await exited
            elif await self._deleted_before(exited):
                if self.meter is not None:  # no new requests come (the pod is gone from its Services)
                    await self.meter.drain(self.grace)
                    # Refuse connections before the program goes: a late client is then passed by the service
                    # proxy to another replica, instead of being accepted and dropped.
                    await self.meter.close()
                await procs.stop_group(pid, exited, self.grace)
                return None
        finally:
            if ready is not None:
                ready.cancel()
            if not exited.done():  # the agent is stopping: the process runs on
                exited.cancel()
        if running:  # what the container left behind goes with it (a group long gone may be another's now)
            procs.signal_group(pid, signal.SIGKILL)
        assert self.record is not None
        self.record.ran = True
        self.node.state.save()
        # It ended by itself, even if a deletion came since: how it ended is written (the node's finalizer
        # keeps the pod until then), so a pod that finished as it was preempted counts as finished.
        started_at = process.started_at or _now()
        outcome = exited.result()
        if outcome is None:
            return 137, {"exitCode": 137, "reason": UNKNOWN, "startedAt": started_at, "finishedAt": _now(),
                         "message": "its monitor ended before it, so its exit status is not known"}
        code = _exit_code(outcome.returncode)
        terminated: Obj = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
        if outcome.returncode < 0:
            terminated["signal"] = -outcome.returncode
        await procs.wait_monitor(monitor)
        tail = _tail(log_file) if code != 0 else ""
        if tail:
            terminated["message"] = tail  # as terminationMessagePolicy FallbackToLogsOnError would
        terminated.update(startedAt=started_at, finishedAt=outcome.finished_at)
        return code, terminated

    async def _annotate_ports(self) -> None:
        """Tell where the pod's ports are reached (`run.ai/host-ports`): the URLs and the service proxy read it."""
        if self.record is None or not self.record.host_ports:
            return
        annotation = {HOST_PORTS_ANNOTATION: json.dumps(self.record.host_ports)}
        await self.node.call(lambda: self.node.client.patch("Pod", self.name, {"metadata": {"annotations": annotation}},
                                                            self.namespace))

    async def _refuse(self, names: list[str], message: str) -> None:
        """Containers that cannot start here wait in CreateContainerConfigError, as a kubelet leaves them,
        until the pod is deleted (its spec cannot change); one Warning event says why."""
        for name in names:
            statuses = self._inits if name in self._inits else self._containers
            statuses[name] = {**statuses[name], "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                                      "message": message}}}
        await self.node.event(self.pod, "Failed", f"Error: {message} (container {', '.join(names)})", type="Warning")
        await self._publish()
        await self.deleted.wait()

    def _serving_ports(self, container: Obj) -> list[int]:
        """The ports a serving container listens on behind its meter (none for other pods)."""
        backend = self.record.backend_ports if self.record else {}
        return [backend[str(p["containerPort"])] for p in container.get("ports") or []
                if str(p.get("containerPort")) in backend]

    async def _ready_when_serving(self, name: str, ports: list[int], statuses: dict[str, Obj]) -> None:
        """A serving container is Ready once all its ports accept connections (the TCP readiness check a
        model server would declare): until then the service proxy sends it nothing, so a replica still
        loading its model does not drop requests."""
        while not all([await procs.accepts(port) for port in ports]):
            await asyncio.sleep(READY_POLL_S)
        statuses[name] = {**statuses[name], "ready": True}
        await self._publish()

    def container_state(self, name: str) -> Obj:
        """The state of container `name` as its status says now ({"running": ...}, {"waiting": ...}, ...)."""
        return ({**self._inits, **self._containers}.get(name) or {}).get("state") or {}

    def running_container(self, name: str) -> Obj:
        """The spec of container `name`, which runs now; LookupError, in the kubelet's words, when the pod
        has no such container or it does not run (for exec and attach)."""
        spec = _spec(self.pod)
        container = next((c for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
                          if c.get("name") == name), None)
        if container is None:
            raise LookupError(f"container {name} is not valid for pod {self.name}")
        state = self.container_state(name)
        if not state.get("running"):
            why = next(iter(state), "not started")
            reason = (state.get(why) or {}).get("reason") if isinstance(state.get(why), dict) else None
            raise LookupError(f'container "{name}" in pod "{self.name}" is not running ({why}'
                              f'{": " + reason if reason else ""})')
        return container

    async def exec_context(self, name: str) -> ExecContext:
        """How a command runs in container `name` (`kubectl exec`, `berth.nodes.execute`): the environment,
        working directory and user its program started with. LookupError as `running_container` says."""
        container = self.running_container(name)
        env = self._envs.get(name)
        if env is None:  # a process a restarted `berth up` adopted: its environment is made again, the same way
            env = self._envs[name] = await self._make_environment(container)
        who = credentials(self.pod, container, euid=os.geteuid(), egid=os.getegid())
        return ExecContext(env, podenv.working_dir(container, self.scratch), who.popen())

    async def _environment(self, container: Obj, statuses: dict[str, Obj]) -> dict[str, str] | None:
        """The container's environment; while a Secret or ConfigMap it needs is missing, it waits with
        CreateContainerConfigError and tries again, as a kubelet does. None when the pod is deleted."""
        delay, told = 1.0, False
        while True:
            try:
                return await self._make_environment(container)
            except podenv.ConfigError as exc:
                name = container["name"]
                statuses[name] = {**statuses[name], "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                                          "message": str(exc)}}}
                if not told:
                    await self.node.event(self.pod, "Failed", f"Error: {exc}", type="Warning")
                    await self._publish()
                    told = True
            if await self._pause(delay):
                return None
            delay = min(delay * 2, 10.0)

    async def _make_environment(self, container: Obj) -> dict[str, str]:
        listen = (self.record.backend_ports or self.record.host_ports) if self.record else {}
        return await podenv.environment(self.pod, container, scratch=self.scratch,
                                        host_ports={int(port): host for port, host in listen.items()},
                                        read=self.node.read, parent=self.node.parent_env, gpus=self.node.gpus)

    async def _deleted_before(self, waited: asyncio.Future[Any]) -> bool:
        """Wait for `waited` or the pod's deletion; True when deletion came first (`waited` is then left
        running: the caller decides)."""
        deleted = asyncio.ensure_future(self.deleted.wait())
        try:
            await asyncio.wait({waited, deleted}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            deleted.cancel()
        return not waited.done()

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds`, or less when the pod is deleted meanwhile: True then."""
        sleeping = asyncio.ensure_future(asyncio.sleep(seconds))
        try:
            return await self._deleted_before(sleeping)
        finally:
            sleeping.cancel()

    # -- after a restart of berth up ----------------------------------------------------------------

    async def _resume(self, record: PodRecord) -> None:
        """Carry on with the pod's containers from where a restarted `berth up` finds their processes
        (`berth.nodes.state`): adopt those that run, take the end of those that ended meanwhile from what
        their monitors wrote. When how one ended cannot be known, stop the others and fail the pod as
        NodeRestarted: it is never run a second time."""
        alive = {name: p for name, p in record.processes.items()
                 if p.pid is not None and procs.is_alive(p.pid, p.ticks)}
        lost = [name for name, p in record.processes.items() if name not in alive and (
            p.pid is None or await procs.wait_exit(p.pid, p.ticks, exit_path(self.node.log_path(
                self.namespace, self.name, name)), procs.Monitor(p.monitor, p.monitor_ticks)) is None)]
        if lost:
            waits = {name: asyncio.ensure_future(procs.wait_gone(p.pid, p.ticks)) for name, p in alive.items()
                     if p.pid is not None}
            try:
                await self._stop_all(alive, waits, self.grace)
            finally:
                for w in waits.values():
                    w.cancel()
            if not self.deleted.is_set():
                await self._fail("NodeRestarted", f"berth up restarted while container {', '.join(lost)} ran; how "
                                 "it ended is unknown (its process or its monitor was gone without a word); this "
                                 "pod is not run again (its workload may start a new attempt)")
            return
        if alive:
            log.info("local node %s: adopted the processes of pod %s/%s: %s", self.node.name, self.namespace,
                     self.name, ", ".join(f"{name} (pid {p.pid})" for name, p in alive.items()))
        self._resumed = True
        spec, status = _spec(self.pod), self.pod.get("status") or {}
        known = {s.get("name"): s for s in (status.get("containerStatuses") or [])
                 + (status.get("initContainerStatuses") or [])}
        self._inits = {c["name"]: known.get(c["name"]) or _waiting(c, "PodInitializing")
                       for c in spec.get("initContainers") or []}
        self._containers = {c["name"]: known.get(c["name"]) or _waiting(c, "ContainerCreating")
                            for c in spec.get("containers") or []}
        await self.node.hold(self.pod)
        await self._start_meter()
        await self._run_containers(record.processes)

    async def _stop_all(self, alive: dict[str, ProcessRecord], waits: dict[str, asyncio.Future[None]],
                        grace: float) -> None:
        await asyncio.gather(*(procs.stop_group(p.pid, waits[name], grace) for name, p in alive.items()
                               if p.pid is not None))

    async def _start_meter(self) -> None:
        """For a serving pod, count the requests on its ports (the public ones forward to the program's)."""
        record = self.record
        if record is None or not record.backend_ports:
            return
        self.meter = PodMeter(record.host_ports, record.backend_ports)
        problems = await self.meter.start()
        if self.meter.public != record.host_ports:
            record.host_ports = self.meter.public
            self.node.state.save()
            await self._annotate_ports()
        if problems:
            await self.node.event(self.pod, "MeteringFailed", "cannot count this pod's requests, so its workload "
                                  f"cannot scale on them: {'; '.join(problems)}", type="Warning")

    def load(self, cpu_by_group: dict[int, float]) -> dict[str, float]:
        """The pod's readings now (`berth.nodes.meter`); empty while there is too little to say.
        `cpu_by_group`: CPU seconds by process group (`procs.cpu_seconds`)."""
        if self.meter is None or self.record is None:
            return {}
        cpu = sum(cpu_by_group.get(p.pid, 0.0) for p in self.record.processes.values() if p.pid is not None)
        return self.meter.readings(cpu, requested_cpus(self.pod))

    # -- status -------------------------------------------------------------------------------------

    async def _fail(self, reason: str, message: str) -> None:
        """Fail the pod before running it (it cannot run here), or after a restart of `berth up` lost it
        (NodeRestarted: its containers' outcome is unknown, as a kubelet says ContainerStatusUnknown)."""
        log.warning("local node %s: pod %s/%s failed: %s: %s", self.node.name, self.namespace, self.name, reason,
                    message)
        await self.node.event(self.pod, reason, message, type="Warning")
        if reason == "NodeRestarted":
            from berth.client.interruptions import record_interruption
            await self.node.call(lambda: record_interruption(self.node.client, self.pod, reason="NodeLost", message=(
                f"pod {self.name} was lost with node {self.node.name}: {message}")))
            known = {s.get("name"): s for s in (self.pod.get("status") or {}).get("containerStatuses") or []}
            for container in _spec(self.pod).get("containers") or []:
                status = self._containers.get(container["name"]) or known.get(container["name"]) or \
                    _waiting(container, "")
                if "terminated" not in status.get("state", {}):
                    status = {**status, "ready": False, "started": False, "state": {"terminated": {
                        "exitCode": 137, "reason": UNKNOWN, "finishedAt": _now(),
                        "message": "the process was lost when berth up restarted"}}}
                self._containers[container["name"]] = status
        await self._publish("Failed", reason, message)

    def _condition(self, kind: str, true: bool, reason: str = "") -> Obj:
        status = "True" if true else "False"
        before = self._conditions.get(kind)
        since = before[1] if before and before[0] == status else _now()
        self._conditions[kind] = (status, since)
        condition = {"type": kind, "status": status, "lastTransitionTime": since}
        if reason:
            condition["reason"] = reason
        return condition

    async def _publish(self, phase: str | None = None, reason: str = "", message: str = "") -> None:
        """Write the pod's status: phase (derived when not given), containers, conditions, IPs."""
        async with self._publishing:
            await self._write_status(phase, reason, message)

    async def _write_status(self, phase: str | None, reason: str, message: str) -> None:
        mains = list(self._containers.values())
        # Running from the first start of a main container until the pod's end (a container that has
        # exited while the others finish does not make the pod Pending again).
        running = any("running" in s.get("state", {}) or "terminated" in s.get("state", {}) or s.get("restartCount")
                      for s in mains)
        if phase is None:
            phase = "Running" if running else "Pending"
        initialized = all("terminated" in s.get("state", {}) and s["state"]["terminated"].get("exitCode") == 0
                          for s in self._inits.values())
        ready = phase == "Running" and bool(mains) and all(s.get("ready") for s in mains)
        not_ready = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(phase, "ContainersNotReady")
        status: Obj = {
            "phase": phase,
            "hostIP": podenv.POD_IP, "hostIPs": [{"ip": podenv.POD_IP}],
            "podIP": podenv.POD_IP, "podIPs": [{"ip": podenv.POD_IP}],
            "startTime": self._start_time,
            "conditions": [self._condition("Initialized", initialized or phase in TERMINAL),
                           self._condition("ContainersReady", ready, "" if ready else not_ready),
                           self._condition("Ready", ready, "" if ready else not_ready)],
            "containerStatuses": mains,
        }
        if self._inits:
            status["initContainerStatuses"] = list(self._inits.values())
        if reason and phase in TERMINAL:
            status["reason"], status["message"] = reason, message
        await self.node.call(lambda: self.node.client.patch("Pod", self.name, {"status": status}, self.namespace,
                                                            subresource="status", type="strategic"),
                             retry=phase in TERMINAL)


def _waiting(container: Obj, reason: str) -> Obj:
    return {"name": container["name"], "image": container.get("image") or "", "imageID": "", "ready": False,
            "started": False, "restartCount": 0, "state": {"waiting": {"reason": reason}}}


def _serving(pod: Obj) -> bool:
    """Whether the pod serves requests that its workload scales on (an inference replica)."""
    return (_meta(pod).get("labels") or {}).get(WORKLOAD_KIND_LABEL) == "InferenceWorkload"


def requested_cpus(pod: Obj) -> float:
    """The CPUs the pod's containers request (their limit where they request none); 1 when they say nothing."""
    total = 0.0
    for container in _spec(pod).get("containers") or []:
        resources = container.get("resources") or {}
        cpu = (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get("cpu")
        with contextlib.suppress(ValueError, ArithmeticError):
            total += float(parse_quantity(cpu)) if cpu else 0.0
    return total or 1.0


def _has_started(pod: Obj) -> bool:
    """Whether the API says this pod's containers started (so a node ran it before)."""
    status = pod.get("status") or {}
    if status.get("phase") == "Running":
        return True
    for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        state = s.get("state") or {}
        if "running" in state or "terminated" in state or s.get("restartCount"):
            return True
    return False
