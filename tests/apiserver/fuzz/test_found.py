"""What fuzzing the API server found, each input named, so that it stays fixed."""

from __future__ import annotations

import socket

from berth.apiserver.startup import listen


def test_the_listener_sends_without_waiting_for_acks():
    """Found while timing the fuzz run: every response took 44 ms, since uvicorn writes a response's headers and
    body as two TLS records and, without TCP_NODELAY, the body waited for the client's delayed ACK."""
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()
