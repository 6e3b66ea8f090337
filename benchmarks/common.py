"""What every benchmark module shares: the figure it reports, the way to skip, a timing helper, and a
`berth up` of its own to measure against.

Timings are medians of repeated rounds, so one slow round (the other core busy) does not move them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx


class Skip(Exception):
    """Raised by a benchmark whose subject is not built yet; the message says what is missing."""


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    context: dict[str, Any] = field(default_factory=dict)

    def to_json(self, machine: str) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "target": self.target,
                "context": {"machine": machine, **self.context}}


def median_rate(action: Callable[[], None], per_round: int, rounds: int = 7) -> tuple[float, list[float]]:
    """Operations per second of `action`, the median over `rounds` rounds of `per_round` calls."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            action()
        rates.append(per_round / (time.perf_counter() - start))
    return statistics.median(rates), rates


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def lean_posts(url: str, ca: str, token: str, path: str, bodies: list[bytes], concurrency: int = 8, *,
                     method: str = "POST", expect: int = 201) -> None:
    """POST every body (JSON) to `path`, through `concurrency` minimal HTTP/1.1 keep-alive connections over
    TLS (asyncio streams): a client cheap enough that the server, not the client, sets the pace on a
    2-core machine. Every answer must be `expect`. With `method` GET, one request per (empty) body."""
    host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=ca)
    queue = list(reversed(bodies))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            while queue:
                body = queue.pop()
                kind = "Content-Type: application/json\r\n" if body else ""
                writer.write(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                             f"{kind}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length:")))
                answer = await reader.readexactly(length)
                assert status == expect, answer[:300]
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


BIN = Path(sys.executable).parent


def has_flag(flag: str) -> bool:
    """Whether this `berth up` knows `flag` (the benchmarks also run against older Berths, for A/B runs)."""
    help_text = subprocess.run([str(BIN / "berth"), "up", "--help"], capture_output=True, text=True,
                               check=False).stdout
    return flag in help_text


def api_server_alone() -> tuple[str, ...]:
    """The flags that leave everything but the API server out (spelled differently before --no-local-node)."""
    if has_flag("--no-local-node"):
        return ("--no-controllers", "--no-scheduler", "--no-local-node")
    return ("--without", "controllers", "--without", "scheduler")


class BerthUp:
    """`berth up` in a process of its own, its data in `tmp/berth` and its output in `tmp/berth-up.log`;
    ready (answering /readyz) once made, else Skip with the end of its log."""

    def __init__(self, tmp: Path, *args: str) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        self.data = tmp / "berth"
        self.url = f"https://127.0.0.1:{free_port()}"
        self.log = tmp / "berth-up.log"
        self.ca = str(self.data / "pki" / "ca.crt")
        self.kubeconfig = self.data / "kubeconfig"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([str(BIN / "berth"), "up", "--data-dir", str(self.data), "--port",
                                          self.url.rsplit(":", 1)[1], *args], stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", verify=self.ca).status_code == 200:
                    break
            except (httpx.HTTPError, OSError):
                time.sleep(0.1)
        else:
            self.close()
            raise Skip(f"berth up did not start:\n{self.log.read_text()[-2000:]}")
        self.token = (self.data / "token").read_text().strip()

    def client(self, **kw: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, verify=self.ca, headers={"Authorization": f"Bearer {self.token}"},
                                 **kw)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
