"""`pods/exec`, `pods/attach` and `pods/portforward` over WebSockets: the API server's half, a relay to the
node that runs the pod (the contract: `berth.api.streaming`), as kube-apiserver relays to a kubelet.

For each request (kubectl sends a GET with `Upgrade: websocket`): authenticate as every request is, find
the pod (NotFound first), refuse what no node could serve with a Status that says why (a pod on no node
yet, a finished pod, a pod on a simulated node, a container that does not exist), pick the container as
for logs, connect to the node's endpoint offering the client's subprotocols, accept the client with the
one the node chose, and copy messages both ways until either side closes. A refusal is the HTTP answer to
the upgrade (ASGI's websocket.http.response), its body a Status: kubectl then tries SPDY, which is
answered by `berth.apiserver.app` with the same message, and prints it.

Only the relay lives here: the protocols themselves (channels, SPDY) are spoken by the node and the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, InvalidStatus

from berth.api import streaming
from berth.api.wellknown import SIMULATED_LABEL
from berth.apiserver import errors
from berth.apiserver.logs import container_of
from berth.apiserver.resources import find

if TYPE_CHECKING:
    from berth.apiserver.api import Api

streaming.accept_kubernetes_subprotocols()

PODS = find("", "v1", "pods")
NODES = find("", "v1", "nodes")
#: The kubectl command behind each subresource, for messages.
COMMANDS = {"exec": "kubectl exec", "attach": "kubectl attach", "portforward": "kubectl port-forward"}
VERBS = {"exec": "exec into", "attach": "attach to", "portforward": "forward a port to"}
MAX_MESSAGE = 16 * 1024 * 1024
OPEN_TIMEOUT_S = 10.0


def node_target(api: Api, sub: str, namespace: str, name: str, params: list[tuple[str, str]]) -> tuple[str, str]:
    """(node URL, node name) to relay a request for `sub` of pod `name` to; an `ApiError` saying why when no
    node can serve it."""
    pod = api.get(PODS, namespace, name)
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot {VERBS[sub]} a container in a completed pod; current phase is {phase}")
    node = api.store.get(NODES.ref, "", node_name)
    if node is None:
        raise errors.bad_request(f'pod {name} is bound to node "{node_name}", which does not exist')
    labels = (node.get("metadata") or {}).get("labels") or {}
    if labels.get(SIMULATED_LABEL) == "true":
        raise errors.bad_request(f"pod {name} runs on simulated node {node_name}: nothing of it runs anywhere, so "
                                 f"there is nothing to {VERBS[sub]} ({COMMANDS[sub]} works for pods on the local node)")
    where = streaming.endpoint(node)
    if where is None:
        raise errors.bad_request(f"node {node_name} serves no exec, attach or port-forward (its status publishes no "
                                 "daemonEndpoints.kubeletEndpoint.Port)")
    container = ""
    if sub != "portforward":
        asked = next((value for key, value in params if key == "container"), "")
        container = container_of(pod, name, asked)
    query = [(k, v) for k, v in params if k != "container"]
    address, port = where
    path = streaming.node_path(sub, namespace, name, container)
    return f"ws://{address}:{port}{path}" + (f"?{urlencode(query)}" if query else ""), node_name


async def serve(websocket: WebSocket, api: Api, token: str | None, sub: str, namespace: str, name: str) -> None:
    """Relay one client's WebSocket for `sub` of pod `name` to its node (see the module's docstring); an
    `ApiError` before the upgrade, for the caller to answer with."""
    params = list(websocket.query_params.multi_items())
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    url, node_name = node_target(api, sub, namespace, name, params)
    node = await _connect_node(url, node_name, offered, token)
    try:
        await websocket.accept(subprotocol=node.subprotocol)
        await _relay(websocket, node)
    finally:
        await node.close()


async def _connect_node(url: str, node_name: str, offered: list[str], token: str | None) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return await connect(url, additional_headers=headers, subprotocols=offered, max_size=MAX_MESSAGE,  # type: ignore[arg-type]
                             open_timeout=OPEN_TIMEOUT_S, ping_interval=None, compression=None)
    except InvalidStatus as exc:  # the node refused: its Status goes to the client as it is
        body = exc.response.body or b""
        try:
            status = orjson.loads(body)
        except orjson.JSONDecodeError:
            status = {}
        code = exc.response.status_code
        message = status.get("message") if isinstance(status, dict) else None
        raise errors.ApiError(code, status.get("reason") or "BadRequest", message or body.decode(errors="replace")
                              or f"node {node_name} refused the connection (HTTP {code})") from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise errors.ApiError(503, "ServiceUnavailable", f"node {node_name} does not answer at {url.split('?')[0]}: "
                              f"{exc}; is its agent running?") from None


async def _relay(websocket: WebSocket, node: ClientConnection) -> None:
    """Copy messages both ways until one side closes; then close the other."""

    async def upward() -> None:  # client -> node
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data: Any = message.get("bytes")
            if data is None:
                data = message.get("text")
            if data is not None:
                await node.send(data)

    async def downward() -> None:  # node -> client
        async for data in node:
            if isinstance(data, bytes):
                await websocket.send_bytes(data)
            else:
                await websocket.send_text(data)

    tasks = [asyncio.create_task(upward()), asyncio.create_task(downward())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await node.close()
        with contextlib.suppress(Exception):
            await websocket.close()

