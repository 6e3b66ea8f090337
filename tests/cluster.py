"""A real `berth up` in a temporary data directory, and the real kubectl pointed at it.

The fixtures `cluster` (one per test module) and `fresh_cluster` (one per test) are registered for
the whole suite by tests/conftest.py.

With BERTH_TEST_OPERATOR=1 in the environment, the controllers and the scheduler a test asks for do not run
inside `berth up`: it is started `--no-controllers --no-scheduler`, and `berth operator` runs them as a
process of its own through the kubeconfig, as on a real cluster (`make test-operator`, part of `make test`,
runs the end-to-end tests of the controllers, scheduler and nodes so).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.nodes import procs

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running `berth up` and how to reach it."""

    url: str
    data_dir: Path
    kubeconfig: Path
    home: Path
    process: subprocess.Popen[str] | None = None
    #: Extra arguments to `berth up` (e.g. ("--no-controllers",)).
    args: tuple[str, ...] = ()
    #: `berth operator`, when the controllers and scheduler run in it (BERTH_TEST_OPERATOR).
    operator: subprocess.Popen[str] | None = None

    @property
    def log(self) -> Path:
        """What `berth up` printed (stdout and stderr, every start appended): a file, so that a chatty
        server never blocks on a full pipe, and tests can read it."""
        return self.home.parent / "berth-up.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    @property
    def ca(self) -> Path:
        return self.data_dir / "pki" / "ca.crt"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(BIN / "kubectl"), *args], capture_output=True, text=True, input=input,
                                timeout=timeout, env={**self.env(), **(env or {})})
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def project(self, name: str) -> str:
        """A Project and its namespace `runai-<name>`, labelled `runai/queue=<name>` as the project controller
        labels it (so that it is there at once, with or without controllers); returns the namespace.
        Workloads are admitted only in a project's namespace."""
        namespace = f"runai-{name}"
        self.kubectl("apply", "-f", "-", input=(
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {namespace}, labels: {{runai/queue: {name}}}}}\n"
            f"---\napiVersion: run.ai/v1\nkind: Project\nmetadata: {{name: {name}}}\n"))
        return namespace

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            https = self.url.startswith("https")
            if https and not self.ca.exists():
                time.sleep(0.1)
                continue
            context = ssl.create_default_context(cafile=str(self.ca)) if https else None
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"berth up exited: {self.output()[-4000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("berth up did not become ready")

    def start(self) -> None:
        port = self.url.rsplit(":", 1)[1]
        args, operator_args = self.args, None
        if os.environ.get(OPERATOR_ENV):
            args, operator_args = split_for_operator(self.args)
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(BIN / "berth"), "up", "--data-dir", str(self.data_dir), "--port", port, *args],
                stdout=log, stderr=subprocess.STDOUT, text=True, env=self.env(),
            )
        self.wait_ready()
        if operator_args is not None and (self.operator is None or self.operator.poll() is not None):
            self.start_operator(operator_args)

    @property
    def operator_kubeconfig(self) -> Path:
        """The kubeconfig of the user `berth-operator`, so that the audit log tells the operator's requests."""
        return self.data_dir / "users" / f"{OPERATOR_USER}.kubeconfig"

    def start_operator(self, args: tuple[str, ...]) -> None:
        """`berth operator` beside this `berth up`, as the user berth-operator; returns once it leads. `running`
        stops it, then checks that deploy/'s RBAC allows every request it made."""
        if not self.operator_kubeconfig.exists():
            subprocess.run([str(BIN / "berth"), "user", "add", OPERATOR_USER, "--role", "admin", "--data-dir",
                            str(self.data_dir)], check=True, capture_output=True, env=self.env())
        with (self.home.parent / "berth-operator.log").open("a") as log:
            self.operator = subprocess.Popen(
                [str(BIN / "berth"), "operator", "--kubeconfig", str(self.operator_kubeconfig), "--webhook-port", "0",
                 "--probe-port", "0", "--default-scheduler", *args],
                stdout=log, stderr=subprocess.STDOUT, text=True, env=self.env())
        deadline = time.monotonic() + 30
        while self.kubectl("get", "lease", "-n", "runai", "berth-operator", "-o", "name", check=False).returncode:
            assert self.operator.poll() is None, (self.home.parent / "berth-operator.log").read_text()
            assert time.monotonic() < deadline, "berth operator did not take its lease"
            time.sleep(0.2)

    def stop_operator(self) -> None:
        if self.operator is not None:
            end(self.operator, signal.SIGTERM)
            self.operator = None

    def stop(self, sig: int | None = None) -> None:
        if self.process is not None:
            end(self.process, signal.SIGTERM if sig is None else sig)
            self.process = None


def end(process: subprocess.Popen[str], sig: int) -> None:
    """Signal a process and wait for it; killed if it has not ended after 15 s."""
    process.send_signal(sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


OPERATOR_ENV = "BERTH_TEST_OPERATOR"
OPERATOR_USER = "berth-operator"


def split_for_operator(args: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """`berth up`'s arguments without controllers and scheduler, and `berth operator`'s to run those of them
    the test wanted (None: neither), on berth up's nodes (which read the device annotation: no reservations)."""
    wanted = [name for name in ("controllers", "scheduler") if f"--no-{name}" not in args]
    up = tuple(a for a in args if a not in ("--no-controllers", "--no-scheduler"))
    up += ("--no-controllers", "--no-scheduler")
    if not wanted:
        return up, None
    return up, ("--no-gpu-reservations", *(f"--no-{name}" for name in ("controllers", "scheduler") if name not in wanted))


def make_cluster(tmp: Path) -> Cluster:
    data_dir = tmp / "berth"
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return Cluster(url=f"https://127.0.0.1:{free_port()}", data_dir=data_dir, kubeconfig=data_dir / "kubeconfig",
                   home=home)


def reap_pods(data_dir: Path) -> None:
    """Kill what local nodes left running: their processes outlive `berth up` on purpose (as containers
    outlive a kubelet), but not a test, even a failed one."""
    for state in data_dir.glob("nodes/*/state.json"):
        try:
            pods = json.loads(state.read_text()).get("pods") or {}
        except (OSError, ValueError):
            continue
        for record in pods.values():
            for process in (record.get("processes") or {}).values():
                if process.get("pid") and procs.is_alive(process["pid"], process.get("ticks")):
                    procs.signal_group(process["pid"], signal.SIGKILL)


def running(tmp: Path, *args: str) -> Iterator[Cluster]:
    c = make_cluster(tmp)
    c.args = args
    c.start()
    try:
        yield c
    finally:
        operated = c.operator is not None
        c.stop_operator()
        c.stop()
        reap_pods(c.data_dir)
    if operated:  # every request the operator made is one deploy/ allows it
        from tests.operator.rbac import refused_requests

        refused = refused_requests(c.data_dir / "audit" / "audit.log", OPERATOR_USER)
        assert not refused, f"deploy/base/operator-rbac.yaml does not allow what the operator did: {refused}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One `berth up` shared by the tests of a module."""
    yield from running(tmp_path_factory.mktemp("cluster"))


@pytest.fixture(scope="module")
def bare_module_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """One `berth up` without controllers, shared by a module that tests the API alone."""
    yield from running(tmp_path_factory.mktemp("bare"), "--no-controllers", "--no-scheduler", "--no-local-node")


@pytest.fixture
def fresh_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A `berth up` of its own, for tests that stop or kill the server."""
    yield from running(tmp_path)


@pytest.fixture
def bare_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A `berth up` of its own with no controllers: the API server alone, for tests of its protocol."""
    yield from running(tmp_path, "--no-controllers", "--no-scheduler", "--no-local-node")
