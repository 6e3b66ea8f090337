"""The local node's streaming endpoint, where a kubelet has its own: `exec`, `attach` and `portForward` into
the pods this node runs, over WebSockets (paths and contract: `berth.api.streaming`). The API server relays
kubectl's and the `berth` CLI's connections here; nothing else is meant to connect.

Why the node serves these, not the API server: only the node knows a container as it runs (its
environment, directory, user, ports; `PodRunner.exec_context`), and the same split works when the API
server is on another machine: it needs the node's published address and nothing of its disk.

It listens on 127.0.0.1 (a free port, published in the Node's status) and asks for the bearer token of the
node agent's own kubeconfig: on one machine that is the admin token, which the API server presents. A
refusal before the upgrade is an HTTP error whose body is a Kubernetes Status, which the API server hands
on to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from berth.api import streaming
from berth.client import channels
from berth.nodes import attach, execute, portforward

if TYPE_CHECKING:
    from berth.nodes.process import LocalNode

streaming.accept_kubernetes_subprotocols()

log = logging.getLogger(__name__)

MAX_MESSAGE = 16 * 1024 * 1024
TRUE = {"1", "t", "T", "true", "True", "TRUE"}


def _status(code: int, message: str, reason: str = "") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or HTTPStatus(code).phrase.replace(" ", ""), "code": code}


def refuse(connection: ServerConnection, code: int, message: str, reason: str = "") -> Response:
    """An HTTP error answer to the upgrade, its body a Status."""
    response = connection.respond(code, json.dumps(_status(code, message, reason)))
    response.headers["Content-Type"] = "application/json"
    return response


class Endpoint:
    """The endpoint of one local node: `start` it, publish `port`, `close` it."""

    def __init__(self, node: LocalNode, token: str | None, host: str = "127.0.0.1") -> None:
        self.node = node
        self.token = token
        self.host = host
        self.port = 0
        self._server: Server | None = None

    async def start(self) -> int:
        self._server = await serve(self._handle, self.host, 0, process_request=self._check,
                                   select_subprotocol=self._subprotocol, max_size=MAX_MESSAGE,
                                   ping_interval=None, server_header=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- the opening handshake ------------------------------------------------------------------------

    def _runner(self, namespace: str, pod: str) -> Any:
        return self.node.runners.get((namespace, pod))

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse, before the upgrade, what cannot be served: no or a wrong token, an unknown path, a pod
        this node does not run."""
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if self.token is not None and not (scheme.lower() == "bearer"
                                           and hmac.compare_digest(presented.strip(), self.token)):
            return refuse(connection, 401, "Unauthorized")
        parsed = streaming.parse_node_path(request.path)
        if parsed is None:
            return refuse(connection, 404, f"no such streaming path on node {self.node.name}: {request.path}")
        _, namespace, pod, _ = parsed
        if self._runner(namespace, pod) is None:
            return refuse(connection, 404, f'pod "{pod}" in namespace "{namespace}" does not run on node '
                          f"{self.node.name} (it has ended, or has not started)", "NotFound")
        return None

    @staticmethod
    def _subprotocol(connection: ServerConnection, offered: Any) -> Any:
        parsed = streaming.parse_node_path(connection.request.path if connection.request else "")
        spoken = (streaming.PORT_FORWARD_PROTOCOL,) if parsed and parsed[0] == "portforward" else channels.PROTOCOLS
        return next((p for p in spoken if p in offered), None)

    # -- the session ----------------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        """One session. An exec or port-forward ends when the pod's runner does (the pod ended or was
        deleted, or the agent stops): what it started goes with it, as a container's exec sessions go with
        the container. An attach ends by itself when its container stops."""
        assert connection.request is not None
        parsed = streaming.parse_node_path(connection.request.path)
        assert parsed is not None
        sub, namespace, pod = parsed[:3]
        runner = self._runner(namespace, pod)
        if runner is None:
            await connection.close(1011, "the pod has ended")
            return
        session = asyncio.ensure_future(self._session(connection, runner, *parsed))
        await asyncio.wait({session} if sub == "attach" else {session, runner.task},
                           return_when=asyncio.FIRST_COMPLETED)
        if not session.done():
            session.cancel()
            await asyncio.gather(session, return_exceptions=True)
            if sub != "portforward":
                with contextlib.suppress(Exception):
                    await connection.send(channels.encode_status(channels.failure_status(
                        f"pod {pod} has ended (or was deleted): the {sub} session ends with it")))
        await connection.close()

    async def _session(self, connection: ServerConnection, runner: Any, sub: str, namespace: str, pod: str,
                       container: str) -> None:
        assert connection.request is not None
        query = parse_qs(urlsplit(connection.request.path).query)
        try:
            if sub == "portforward":
                if connection.subprotocol != streaming.PORT_FORWARD_PROTOCOL:
                    await connection.close(1002, f"port-forward speaks {streaming.PORT_FORWARD_PROTOCOL} only")
                    return
                await portforward.serve(connection, runner.pod)
                return
            if connection.subprotocol not in channels.PROTOCOLS:
                await connection.close(1002, f"exec and attach speak {', '.join(channels.PROTOCOLS)}")
                return
            streams = _streams(query)
            try:
                runner.running_container(container)
                context = await runner.exec_context(container) if sub == "exec" else None
            except LookupError as exc:
                await connection.send(channels.encode_status(channels.failure_status(str(exc), "BadRequest")))
                return
            except Exception as exc:  # noqa: BLE001 - a Secret gone missing since the start, the API away
                await connection.send(channels.encode_status(channels.failure_status(
                    f"cannot make the environment of container {container}: {exc}")))
                return
            if sub == "exec":
                command = query.get("command") or []
                if not command:
                    await connection.send(channels.encode_status(channels.failure_status(
                        "you must specify at least one command for the container", "BadRequest")))
                    return
                assert context is not None
                await execute.run_exec(connection, command, context, streams)
            else:
                await attach.serve(connection, self.node.log_path(namespace, pod, container),
                                   self.node.stdin_path(namespace, pod, container), runner, container, streams)
        except Exception as exc:  # noqa: BLE001 - one session's trouble must not reach the node
            log.exception("node %s: %s into %s/%s failed", self.node.name, sub, namespace, pod)
            if sub != "portforward":  # the client must not take it for a success
                with contextlib.suppress(Exception):
                    await connection.send(channels.encode_status(channels.failure_status(
                        f"node {self.node.name}: {sub} failed: {exc}")))


def _streams(query: dict[str, list[str]]) -> execute.Streams:
    def flag(name: str, default: bool = False) -> bool:
        values = query.get(name)
        return values[-1] in TRUE if values else default

    tty = flag("tty")
    return execute.Streams(stdin=flag("stdin"), stdout=flag("stdout"), stderr=flag("stderr") and not tty, tty=tty)

