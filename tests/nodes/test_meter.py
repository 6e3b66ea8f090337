"""Request metering in front of serving pods: requests counted from request line to end of response as the
bytes pass, and the readings the autoscaler gets from them."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time

import pytest

from berth.nodes import procs
from berth.nodes.meter import HEARTBEAT_S, Counters, Exchange, MeteredPort, PodMeter, Sample, Window, material_change


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def exchange() -> tuple[Exchange, Counters, Clock]:
    clock = Clock()
    counters = Counters(_since=clock.now)
    return Exchange(counters, clock), counters, clock


GET = b"GET /predict HTTP/1.1\r\nHost: x\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_a_request_is_in_flight_until_its_whole_response_has_passed():
    ex, counters, clock = exchange()
    ex.from_client(GET)
    assert counters.in_flight == 1
    clock.now += 0.5
    ex.from_server(OK[:-1])  # the body is not complete yet
    assert counters.in_flight == 1 and counters.requests == 0
    ex.from_server(OK[-1:])
    assert (counters.in_flight, counters.requests, counters.latency) == (0, 1, 0.5)
    assert counters.sample(clock.now).busy == pytest.approx(0.5)


def test_keep_alive_pipelined_chunked_and_head_requests_are_each_counted():
    ex, counters, clock = exchange()
    ex.from_client(GET + b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")  # pipelined: two at once
    ex.from_server(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
    assert (counters.in_flight, counters.requests) == (1, 1)
    ex.from_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")  # HEAD: no body follows
    assert (counters.in_flight, counters.requests) == (0, 2)
    ex.from_client(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    ex.from_server(OK)
    assert counters.requests == 3


def test_a_response_that_ends_with_the_connection_is_counted_when_it_closes():
    ex, counters, _ = exchange()
    ex.from_client(b"GET / HTTP/1.0\r\n\r\n")
    ex.from_server(b"HTTP/1.0 200 OK\r\n\r\nbody until close")
    assert counters.in_flight == 1
    ex.from_server(b"")
    assert (counters.in_flight, counters.requests) == (0, 1)


def test_what_is_not_http_is_not_counted_and_a_dropped_request_is_not_answered():
    ex, counters, _ = exchange()
    ex.from_client(b"\x16\x03\x01\x02\x00 TLS hello")
    assert not ex.watching and counters.in_flight == 0
    ex, counters, _ = exchange()
    ex.from_client(GET)
    ex.close()
    assert (counters.in_flight, counters.requests) == (0, 0)


def test_a_websocket_stops_being_counted_after_its_upgrade():
    ex, counters, _ = exchange()
    ex.from_client(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    ex.from_server(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
    assert not ex.watching and counters.in_flight == 0


def test_readings_average_over_the_window():
    window = Window(seconds=10)
    assert window.readings() == {}
    window.add(Sample(0.0))
    window.add(Sample(5.0, requests=10, busy=10.0, latency=2.0, cpu=1.0))
    window.add(Sample(10.0, requests=20, busy=20.0, latency=4.0, cpu=2.5))
    assert window.readings(cpus=0.5) == {"concurrency": 2.0, "throughput": 2.0, "latency": 200.0,
                                         "cpu-utilization": 50.0}
    window.add(Sample(15.0, requests=20, busy=20.0, latency=4.0, cpu=2.5))
    assert window.readings() == {"concurrency": 1.0, "throughput": 1.0, "latency": 200.0}  # from t=5 on
    window.add(Sample(25.0, requests=20, busy=20.0, latency=4.0, cpu=2.5))
    assert window.readings() == {"concurrency": 0.0, "throughput": 0.0}  # nothing answered: no latency


class Slow(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        time.sleep(0.3)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_a_metered_port_forwards_real_connections_and_counts_concurrent_requests():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    counters = Counters()
    public = procs.free_port()

    async def main() -> list[bytes]:
        port = MeteredPort(public, server.server_address[1], counters)
        await port.start()

        async def get() -> bytes:
            reader, writer = await asyncio.open_connection("127.0.0.1", public)
            answers = b""
            for _ in range(2):  # two requests on one keep-alive connection
                writer.write(GET)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                answers += head.split(b"\r\n", 1)[0] + await reader.readexactly(2)
            writer.close()
            return answers

        began = time.monotonic()
        try:
            got = await asyncio.gather(*(get() for _ in range(4)))
        finally:
            await port.close()
        mean_in_flight = counters.sample(time.monotonic()).busy / (time.monotonic() - began)
        assert mean_in_flight >= 2, mean_in_flight  # four clients at once: the meter saw them overlap
        return got

    try:
        answers = asyncio.run(main())
    finally:
        server.shutdown()
    assert answers == [b"HTTP/1.1 200 OKok" * 2] * 4
    assert (counters.requests, counters.in_flight) == (8, 0)
    assert 8 * 0.3 <= counters.busy < 8 * 0.3 + 2 and counters.latency == pytest.approx(counters.busy, abs=0.1)


def test_http_1_0_keep_alive_and_an_early_response_go_on_being_counted():
    ex, counters, _ = exchange()
    for _ in range(3):  # as `ab -k` talks
        ex.from_client(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        ex.from_server(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
    assert ex.watching and (counters.requests, counters.in_flight) == (3, 0)
    ex, counters, _ = exchange()
    ex.from_client(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
    ex.from_server(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n")  # before the body has all come
    ex.from_client(b"cd" + GET)
    ex.from_server(OK)
    assert ex.watching and (counters.requests, counters.in_flight) == (2, 0)


def test_readings_are_written_when_they_change_materially():
    steady = {"concurrency": 2.0, "throughput": 4.0, "latency": 500.0, "cpu-utilization": 20.0}
    assert material_change(None, steady)
    assert not material_change(steady, {**steady, "throughput": 4.3, "latency": 540.0})  # within 10%
    assert material_change(steady, {**steady, "throughput": 4.5})  # more than 10%
    assert material_change(steady, {k: v for k, v in steady.items() if k != "latency"})  # a reading goes
    idle = {"concurrency": 0.0, "throughput": 0.0, "cpu-utilization": 0.3}
    assert not material_change(idle, {**idle, "cpu-utilization": 0.9})  # noise, below a percent point
    assert material_change(idle, {**idle, "concurrency": 0.002})  # traffic starts, however little
    assert material_change({**idle, "throughput": 0.01}, idle)  # and stops: the autoscaler may scale to zero


def test_a_drift_is_written_once_it_adds_up_and_traffic_is_repeated_every_minute():
    meter = PodMeter({}, {})
    first = {"concurrency": 1.0, "throughput": 10.0}
    assert meter.worth_reporting(first, 0.0)
    meter.was_reported(first, 0.0)
    drifted = [{"concurrency": 1.0, "throughput": 10.0 + 0.4 * i} for i in range(1, 5)]
    assert [meter.worth_reporting(r, 2.0 * i) for i, r in enumerate(drifted, 1)] == [False, False, True, True]
    assert meter.worth_reporting(first, HEARTBEAT_S) and not meter.worth_reporting(first, HEARTBEAT_S - 1)
    meter.was_reported({"concurrency": 0.0, "throughput": 0.0}, 0.0)
    assert not meter.worth_reporting({"concurrency": 0.0, "throughput": 0.0}, 10 * HEARTBEAT_S)  # idle: no news
    assert not meter.worth_reporting({}, 0.0)
