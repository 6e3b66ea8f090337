"""The components' local socket: `berth up` starts its components with the address of a Unix socket on which
the API server speaks plain HTTP (`berth.apiserver.startup.listen_local`). It must serve them and ask the
same bearer token as the HTTPS port: it is a cheaper way in, not a way around authentication."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.cluster import Cluster

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the abstract socket namespace is Linux's")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _components_socket(cluster: Cluster) -> str:
    """The --api-socket of berth up's components process (started once the server answers)."""
    assert cluster.process is not None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for pid in _children(cluster.process.pid):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            except OSError:
                continue
            if "berth.controlplane" in argv:
                return next(a.split("=", 1)[1] for a in argv if a.startswith("--api-socket="))
        time.sleep(0.1)
    raise AssertionError("no components process under berth up")


def _get(address: str, path: str, token: str | None) -> tuple[int, dict]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect("\0" + address[1:])
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: berth\r\n{auth}Connection: close\r\n\r\n".encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_the_components_are_given_the_api_servers_local_socket(cluster: Cluster) -> None:
    address = _components_socket(cluster)
    assert address.startswith("@berth-api-")
    status, answer = _get(address, "/api/v1/namespaces", cluster.token)
    assert status == 200
    assert "default" in [ns["metadata"]["name"] for ns in answer["items"]]


def test_the_local_socket_asks_for_the_token_as_the_https_port_does(cluster: Cluster) -> None:
    address = _components_socket(cluster)
    status, answer = _get(address, "/api/v1/namespaces", None)
    assert (status, answer["reason"]) == (401, "Unauthorized")
    status, answer = _get(address, "/api/v1/namespaces", "not-the-token")
    assert (status, answer["reason"]) == (401, "Unauthorized")


def test_a_restarted_berth_up_gives_its_components_a_new_socket(fresh_cluster: Cluster) -> None:
    first = _components_socket(fresh_cluster)
    fresh_cluster.stop()
    fresh_cluster.start()
    second = _components_socket(fresh_cluster)
    assert second != first
    assert _get(second, "/api/v1/namespaces", fresh_cluster.token)[0] == 200
