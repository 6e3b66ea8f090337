"""Request metering for the serving pods of the local node: the part Knative's queue-proxy plays in front of
an inference server, so that an InferenceWorkload can scale on what its replicas actually serve.

For each port of a serving pod, the local node listens on the public port (the one in `run.ai/host-ports`
and in the workload's service URL) and forwards every connection, byte for byte, to the port the program
listens on. On the way it watches HTTP/1.x: h11 parses both directions (observing only; nothing is
changed), so each request is counted from its request line to the end of its response, keep-alive
requests included (a pipelined request counts from when the one before it has been answered). A
connection that stops looking like HTTP/1 (TLS, HTTP/2, a websocket after its upgrade) is still
forwarded, no longer counted.

`Counters` are cumulative (requests answered, request-seconds in flight, seconds spent answering);
`Window` turns samples of them into the readings the autoscaler wants over the last `WINDOW_S` seconds:
`concurrency` (mean requests in flight), `throughput` (requests per second), `latency` (mean ms).

Readings are sampled every few seconds, but written to the pod only when they change materially
(`worth_reporting`): a reading appears or goes, traffic starts or stops (concurrency plus throughput
becomes zero or stops being zero: what tells the autoscaler a workload is idle), or one moves by more than
`MATERIAL` of its value and more than its `NOISE` floor; and, while requests come, at least every
`HEARTBEAT_S` (so the workload's lastActiveTime stays current). Each is compared with what was last
written, not with the last sample, so a slow drift is written once it adds up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import h11

from berth.nodes.forward import splice

log = logging.getLogger(__name__)

WINDOW_S = 10.0  # readings average over this long
DRAIN_POLL_S = 0.05
SETTLE_S = 1.0  # a replica being removed keeps taking requests until none has come for this long
MATERIAL = 0.1  # a relative change larger than this is written
NOISE = {"concurrency": 0.05, "throughput": 0.05, "latency": 5.0, "cpu-utilization": 1.0, "gpu-utilization": 1.0}
HEARTBEAT_S = 60.0  # while requests come, the readings are written at least this often
TRAFFIC = ("concurrency", "throughput")


def _traffic(readings: dict[str, float]) -> bool:
    return any(readings.get(key) for key in TRAFFIC)


def material_change(before: dict[str, float] | None, after: dict[str, float]) -> bool:
    """Whether `after` says something `before` (what was last written) does not: see the module docstring."""
    if before is None or set(before) != set(after) or _traffic(before) != _traffic(after):
        return True
    for key, new in after.items():
        old = before[key]
        if abs(new - old) > max(MATERIAL * max(abs(old), abs(new)), NOISE.get(key, 0.0)):
            return True
    return False


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic()
    requests: int = 0
    busy: float = 0.0
    latency: float = 0.0
    cpu: float = 0.0  # CPU seconds used by the pod's processes, when known


@dataclass
class Counters:
    """Cumulative counts of one pod's requests, over all its metered ports."""

    requests: int = 0  # answered
    in_flight: int = 0
    busy: float = 0.0  # integral of in_flight over time: request-seconds
    latency: float = 0.0  # seconds from request to end of response, summed over answered requests
    last_connection: float = 0.0  # when a client last connected (time.monotonic())
    _since: float = field(default_factory=time.monotonic)

    def _advance(self, now: float) -> None:
        self.busy += self.in_flight * (now - self._since)
        self._since = now

    def begin(self, now: float) -> None:
        self._advance(now)
        self.in_flight += 1

    def end(self, now: float, took: float | None) -> None:
        """A request ended: answered after `took` seconds, or abandoned (None)."""
        self._advance(now)
        self.in_flight = max(0, self.in_flight - 1)
        if took is not None:
            self.requests += 1
            self.latency += took

    def sample(self, now: float, cpu: float = 0.0) -> Sample:
        self._advance(now)
        return Sample(now, self.requests, self.busy, self.latency, cpu)


class Window:
    """Samples over the last `seconds`, and the readings they give."""

    def __init__(self, seconds: float = WINDOW_S) -> None:
        self.seconds = seconds
        self.samples: deque[Sample] = deque()

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)
        while len(self.samples) > 2 and self.samples[1].at <= sample.at - self.seconds:
            self.samples.popleft()  # keep one at or before the window's start, to measure across all of it

    def readings(self, cpus: float | None = None) -> dict[str, float]:
        """Mean concurrency, throughput (per second) and latency (ms; none when nothing was answered) over the
        window; with `cpus` (what the pod requested), `cpu-utilization` in percent of it. Empty until
        two samples exist."""
        if len(self.samples) < 2:
            return {}
        first, last = self.samples[0], self.samples[-1]
        span = last.at - first.at
        if span <= 0:
            return {}
        answered = last.requests - first.requests
        found = {"concurrency": round((last.busy - first.busy) / span, 3), "throughput": round(answered / span, 3)}
        if answered:  # no request answered, no latency to speak of
            found["latency"] = round((last.latency - first.latency) / answered * 1000, 1)
        if cpus:
            found["cpu-utilization"] = round(max(0.0, last.cpu - first.cpu) / span / cpus * 100, 1)
        return found


class Exchange:
    """Follows the HTTP/1 requests and responses of one connection, as bytes pass in either direction."""

    def __init__(self, counters: Counters, clock: Callable[[], float] = time.monotonic) -> None:
        self.counters = counters
        self.clock = clock
        self.requests = h11.Connection(h11.SERVER)  # parses what the client sends
        self.responses = h11.Connection(h11.CLIENT)  # parses what the server sends
        self.started: deque[float] = deque()  # when each request in flight began, oldest first
        self.watching = True

    def from_client(self, data: bytes) -> None:
        if self.watching:
            self._guarded(self._client_data, data)

    def from_server(self, data: bytes) -> None:
        if self.watching:
            self._guarded(self._server_data, data)

    def close(self) -> None:
        """The connection is over: requests still in flight were abandoned."""
        self.stop()

    def stop(self) -> None:
        self.watching = False
        now = self.clock()
        while self.started:
            self.started.pop()
            self.counters.end(now, None)

    def _guarded(self, handle: Callable[[bytes], None], data: bytes) -> None:
        try:
            handle(data)
        except h11.ProtocolError:  # not (or no longer) HTTP/1: forward it, stop counting
            self.stop()
        except Exception:  # a surprise in the parser must not cost the connection: count no more
            log.exception("request metering stopped on a connection")
            self.stop()

    def _client_data(self, data: bytes) -> None:
        self.requests.receive_data(data)
        self._client_events()

    def _client_events(self) -> None:
        while True:
            event = self.requests.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                return
            if isinstance(event, h11.Request):
                now = self.clock()
                self.started.append(now)
                self.counters.begin(now)
            self.responses.send(_as_sent(event))  # so the response parser knows what was asked (HEAD: no body)
            if isinstance(event, h11.EndOfMessage) and self._next_cycle():
                return  # the next request (if any) was taken up by _next_cycle

    def _server_data(self, data: bytes) -> None:
        self.responses.receive_data(data)
        while True:
            event = self.responses.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return
            if event is h11.PAUSED:
                if self.responses.their_state is h11.SWITCHED_PROTOCOL:  # 101: what follows is not HTTP
                    self.stop()
                return
            self.requests.send(_as_sent(event))
            if isinstance(event, h11.EndOfMessage):
                if self.started:
                    now = self.clock()
                    self.counters.end(now, now - self.started.popleft())
                self._next_cycle()

    def _next_cycle(self) -> bool:
        """Once a request and its response are both complete, make ready for the next one on this
        connection; True when it did. Where h11 would not go on (an HTTP/1.0 keep-alive, which it takes
        for a close; a response that came before its request had all arrived), the parsers start afresh
        with the bytes they held."""
        ended = (h11.DONE, h11.MUST_CLOSE)
        states = (self.requests.our_state, self.requests.their_state, self.responses.our_state,
                  self.responses.their_state)
        if not all(state in ended for state in states):
            return False
        if all(state is h11.DONE for state in states):
            self.requests.start_next_cycle()
            self.responses.start_next_cycle()
        else:
            held_requests, held_responses = self.requests.trailing_data[0], self.responses.trailing_data[0]
            self.requests, self.responses = h11.Connection(h11.SERVER), h11.Connection(h11.CLIENT)
            if held_requests:
                self.requests.receive_data(held_requests)
            if held_responses:
                self.responses.receive_data(held_responses)
        self._client_events()  # a pipelined request may be waiting
        return True


class PodMeter:
    """The metering of one serving pod: a `MeteredPort` for each of its ports, one set of counters, and the
    window its readings come from."""

    def __init__(self, public: dict[str, int], backend: dict[str, int]) -> None:
        self.counters = Counters()
        self.window = Window()
        self.ports = {key: MeteredPort(port, backend[key], self.counters) for key, port in public.items()
                      if key in backend}
        self.reported: dict[str, float] | None = None  # what was last written to the pod
        self.reported_at = 0.0  # when (time.monotonic())

    @property
    def public(self) -> dict[str, int]:
        """Where clients connect, by container port (after `start`: the ports actually listened on)."""
        return {key: port.public for key, port in self.ports.items()}

    async def start(self) -> list[str]:
        """Listen on every public port, or on a free one where it has been taken since it was chosen; what
        could not be listened on at all, in words."""
        problems = []
        for port in self.ports.values():
            try:
                await port.start()
            except OSError:
                port.public = 0  # taken meanwhile (after a restart, say): the kernel chooses
                try:
                    await port.start()
                except OSError as exc:
                    problems.append(f"port {port.backend}: {exc.strerror or exc}")
        return problems

    async def close(self) -> None:
        await asyncio.gather(*(port.close() for port in self.ports.values()))

    async def drain(self, timeout: float) -> None:
        """Until no request is in flight and no client has connected for `SETTLE_S`, or `timeout` seconds: a
        replica being removed answers what it has taken before it is stopped, as Knative's queue-proxy lets
        it, including a request on a connection made just as it was going (the service proxy hears of the
        removal a moment later, as endpoints lag on a cluster)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
                self.counters.in_flight or time.monotonic() - self.counters.last_connection < SETTLE_S):
            await asyncio.sleep(DRAIN_POLL_S)

    def worth_reporting(self, readings: dict[str, float], now: float) -> bool:
        """Whether to write `readings` to the pod now (see the module docstring)."""
        if not readings:
            return False
        return material_change(self.reported, readings) or (
            _traffic(readings) and now - self.reported_at >= HEARTBEAT_S)

    def was_reported(self, readings: dict[str, float], now: float) -> None:
        self.reported, self.reported_at = readings, now

    def readings(self, cpu: float, cpus: float) -> dict[str, float]:
        """Take a sample now (`cpu`: CPU seconds the pod has used; `cpus`: what it requested) and give the
        readings over the window."""
        self.window.add(self.counters.sample(time.monotonic(), cpu))
        return self.window.readings(cpus)


def _as_sent(event: h11.Event) -> h11.Event:
    """`event`, received, in the form h11 sends (it speaks only HTTP/1.1 itself): an HTTP/1.0 message gets
    the headers that keep its meaning (a Host, and Connection: close unless it asked to be kept alive)."""
    if not isinstance(event, (h11.Request, h11.Response, h11.InformationalResponse)) or event.http_version == b"1.1":
        return event
    headers = list(event.headers)
    names = {name.lower() for name, _ in headers}
    if b"connection" not in names:
        headers.append((b"connection", b"close"))
    if isinstance(event, h11.Request):
        if b"host" not in names:
            headers.append((b"host", b"unknown"))
        return h11.Request(method=event.method, target=event.target, headers=headers)
    return type(event)(status_code=event.status_code, headers=headers, reason=event.reason)


class MeteredPort:
    """Listens on 127.0.0.1:`public` and forwards each connection to 127.0.0.1:`backend`, counting requests."""

    def __init__(self, public: int, backend: int, counters: Counters, host: str = "127.0.0.1") -> None:
        self.public, self.backend, self.counters, self.host = public, backend, counters, host
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Raises OSError when the public port cannot be bound; port 0: one the kernel chooses."""
        self._server = await asyncio.start_server(self._serve, self.host, self.public, reuse_address=True)
        self.public = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.counters.last_connection = time.monotonic()
        exchange = Exchange(self.counters)
        try:
            if not await splice(reader, writer, self.host, self.backend, from_client=exchange.from_client,
                                from_server=exchange.from_server):
                writer.close()  # nothing listens at the backend (yet): the client sees the connection closed
        except asyncio.CancelledError:
            writer.close()  # the port is closing: the pod has ended
        finally:
            exchange.close()
            self._connections.discard(task)
