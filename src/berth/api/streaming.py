"""Streaming into a pod (`pods/exec`, `pods/attach`, `pods/portforward`): the contract between the API
server, which takes the client's WebSocket, and the node agent that runs the pod, which serves it. As on
a real cluster, the API server only relays: it finds the pod's node, connects to the node's endpoint
with the client's subprotocols, and copies messages both ways; the node speaks the protocols.

- A node that serves streams publishes its endpoint in its status, where a kubelet publishes its own:
  `status.daemonEndpoints.kubeletEndpoint.Port`, at the node's `InternalIP` address. A node without it
  (a simulated one) runs nothing that could be entered.
- The endpoint's paths are the kubelet's: `/exec/<namespace>/<pod>/<container>`,
  `/attach/<namespace>/<pod>/<container>` and `/portForward/<namespace>/<pod>`, with the query of the
  client's request (`command`, `stdin`, `stdout`, `stderr`, `tty`) passed on as it came.
- The API server authenticates to the node with a bearer token that the node checks; on one machine it
  is the admin token of `berth up`, which the node agent's kubeconfig carries.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

import websockets.asyncio.client
import websockets.asyncio.server
import websockets.client
import websockets.server
from websockets.typing import Subprotocol

#: The API's subresource -> the node endpoint's path segment.
NODE_PATHS = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
#: The subprotocol of port-forward over a WebSocket: a SPDY/3.1 session tunnelled in its messages.
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


def node_path(subresource: str, namespace: str, pod: str, container: str = "") -> str:
    """The node endpoint's path for one request (`container` only for exec and attach)."""
    parts = [NODE_PATHS[subresource], namespace, pod] + ([container] if subresource != "portforward" else [])
    return "/" + "/".join(quote(part, safe="") for part in parts)


def parse_node_path(path: str) -> tuple[str, str, str, str] | None:
    """(subresource, namespace, pod, container) of a node endpoint path; None when it is not one."""
    parts = [unquote(part) for part in path.split("?", 1)[0].strip("/").split("/")]
    by_segment = {segment: sub for sub, segment in NODE_PATHS.items()}
    sub = by_segment.get(parts[0]) if parts else None
    if sub is None or not all(parts):
        return None
    if sub == "portforward" and len(parts) == 3:
        return sub, parts[1], parts[2], ""
    if sub != "portforward" and len(parts) == 4:
        return sub, parts[1], parts[2], parts[3]
    return None


def endpoint(node: dict[str, Any]) -> tuple[str, int] | None:
    """(address, port) of a node's streaming endpoint; None when it publishes none."""
    status = node.get("status") or {}
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    return str(addresses.get("InternalIP") or "127.0.0.1"), port


def daemon_endpoints(port: int) -> dict[str, Any]:
    """What a node agent puts in `status.daemonEndpoints` to publish its endpoint."""
    return {"kubeletEndpoint": {"Port": port}}


def _subprotocols(header: str) -> list[Subprotocol]:
    return [Subprotocol(name.strip()) for name in header.split(",") if name.strip()]


def _check_subprotocols(subprotocols: Any) -> None:
    if isinstance(subprotocols, str) or any("," in p or not p.strip() or p != p.strip() for p in subprotocols):
        raise ValueError(f"subprotocols must be a list of names without commas or spaces: {subprotocols!r}")


def accept_kubernetes_subprotocols() -> None:
    """Let the `websockets` library (Berth's WebSocket client and server, and uvicorn's) read the names
    in a Sec-WebSocket-Protocol header as kubectl writes them: separated by commas.

    RFC 6455 asks for tokens, which exclude "/", and the library enforces it, but Kubernetes' port-forward
    subprotocol is `SPDY/3.1+portforward.k8s.io`: kubectl's WebSocket was refused with a 400 and it fell
    back to SPDY. The library's header reader, and its check of the names Berth offers, are replaced in
    its client and server modules (and only there); `tests/apiserver/test_exec.py` fails first if a new version of the library moves it.
    Idempotent; called on import by every module of Berth that speaks WebSockets."""
    websockets.server.parse_subprotocol = _subprotocols  # type: ignore[attr-defined]
    websockets.client.parse_subprotocol = _subprotocols  # type: ignore[attr-defined]
    websockets.asyncio.client.validate_subprotocols = _check_subprotocols  # type: ignore[attr-defined]
    websockets.asyncio.server.validate_subprotocols = _check_subprotocols  # type: ignore[attr-defined]
