"""A client that hangs up in the middle of its request (killed, or stopping) leaves no traceback in the
server's log: nothing is written, and nothing is said beyond what a server says of a closed connection."""

from __future__ import annotations

import socket
import ssl
import time

from tests.controllers.helpers import eventually


def test_a_client_that_hangs_up_before_its_body_leaves_no_traceback(bare_cluster):
    c = bare_cluster
    host, port = c.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=str(c.ca))
    for _ in range(3):
        with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(f"PUT /api/v1/namespaces/default/configmaps/cut HTTP/1.1\r\nHost: {host}\r\n"
                        f"Authorization: Bearer {c.token}\r\nContent-Type: application/json\r\n"
                        "Content-Length: 5000\r\n\r\n{\"apiVersion\": \"v1\",".encode())
            time.sleep(0.3)
    assert c.kubectl("get", "configmap", "cut", check=False).returncode != 0  # nothing half-written
    eventually(lambda: c.kubectl("get", "ns", "default").returncode == 0)
    time.sleep(1)
    assert "Traceback" not in c.output()
