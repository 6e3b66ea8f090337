"""`berth port-forward NAME --port LOCAL:REMOTE`: a workload's port on this machine (a notebook's 8888,
TensorBoard's 6006), as `runai port-forward` does, and on the CLI v2 nouns (`berth workspace port-forward`).

It speaks what kubectl port-forward speaks to the Kubernetes API: one WebSocket to the pod's
`portforward` subresource carrying a SPDY/3.1 session (`berth.client.spdysession`), and for each
connection accepted locally, an `error` and a `data` stream with the remote port; bytes are copied both
ways until either side closes. Ctrl-C ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from typing import Any

import click
from websockets.exceptions import ConnectionClosed

from berth.api.streaming import PORT_FORWARD_PROTOCOL
from berth.cli import nouns
from berth.cli.exec import choose_pod, examples, noun_prefix, parse_duration, pod_options
from berth.cli.context import fail, run, target
from berth.client import spdy
from berth.client.spdysession import Session, Stream, StreamReset


def parse_ports(values: tuple[str, ...]) -> list[tuple[int, int]]:
    """(local, remote) for each `--port` value: LOCAL:REMOTE, or PORT for the same on both sides."""
    pairs = []
    for value in values:
        local, _, remote = value.partition(":")
        try:
            pair = (int(local), int(remote or local))
        except ValueError:
            raise click.BadParameter(f'"{value}" is not LOCAL:REMOTE or PORT (e.g. 8888:8888)',
                                     param_hint="--port") from None
        if not (0 <= pair[0] < 65536 and 0 < pair[1] < 65536):
            raise click.BadParameter(f'"{value}": ports are from 1 to 65535 (a local 0: any free one)',
                                     param_hint="--port")
        pairs.append(pair)
    if not pairs:
        raise click.BadParameter("give at least one, e.g. --port 8888:8888", param_hint="--port")
    return pairs


class Forwarder:
    """One port-forward session: local listeners, and a pair of SPDY streams per connection."""

    def __init__(self, conn: Any, pod: str) -> None:
        self.conn = conn
        self.pod = pod
        self.session = Session(self._send, client=True)
        self._ids = itertools.count()

    async def _send(self, data: bytes) -> None:
        await self.conn.send(data)

    async def read(self) -> None:
        """Feed the session until the connection ends."""
        try:
            async for message in self.conn:
                if isinstance(message, bytes):
                    await self.session.receive(message)
        except (ConnectionClosed, spdy.ProtocolError):
            pass
        finally:
            self.session.end()

    async def handle(self, remote: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = str(next(self._ids))
        headers = {"port": str(remote), "requestid": request}
        click.echo(f"Handling connection for {writer.get_extra_info('sockname')[1]}", err=True)
        try:
            error = await self.session.open({**headers, "streamtype": "error"})
            await error.close()
            data = await self.session.open({**headers, "streamtype": "data"})
        except (StreamReset, ConnectionError) as exc:
            click.secho(f"error: port {remote} of pod {self.pod}: {exc}", fg="red", err=True)
            writer.close()
            return
        up = asyncio.create_task(self._upward(reader, data))
        told = asyncio.create_task(_read_all(error))
        try:
            while chunk := await data.read():
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await up
            with contextlib.suppress(asyncio.TimeoutError):
                message = await asyncio.wait_for(told, 5)
                if message:
                    click.secho(f"error: {message.decode(errors='replace')}", fg="red", err=True)
            told.cancel()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if not data.closed:
                await data.reset()

    @staticmethod
    async def _upward(reader: asyncio.StreamReader, data: Stream) -> None:
        with contextlib.suppress(ConnectionError, OSError, StreamReset):
            while chunk := await reader.read(65536):
                await data.write(chunk)
            await data.close()


async def _read_all(stream: Stream) -> bytes:
    out = b""
    while chunk := await stream.read():
        out += chunk
    return out


async def forward(kubeconfig: str | None, project: str | None, workload: str, kind: str | None, *,
                  ports: list[tuple[int, int]], address: str, pod: str | None, wait_s: float) -> int:
    chosen_target = target(kubeconfig, project)
    namespace = chosen_target.namespace()
    async with chosen_target.client() as client:
        chosen = await choose_pod(client, namespace, workload, kind, pod, None, wait_s)
        path = f"/api/v1/namespaces/{namespace}/pods/{chosen.pod}/portforward"
        conn = await client.connect_socket(path, [], [PORT_FORWARD_PROTOCOL])
        forwarder = Forwarder(conn, chosen.pod)
        reading = asyncio.create_task(forwarder.read())
        servers = []
        try:
            for local, remote in ports:
                def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, remote: int = remote) -> Any:
                    return forwarder.handle(remote, reader, writer)

                try:
                    server = await asyncio.start_server(accept, address, local)
                except OSError as exc:
                    fail(f"cannot listen on {address}:{local} (--port): {exc.strerror or exc}")
                servers.append(server)
                bound = server.sockets[0].getsockname()[1]
                click.echo(f"Forwarding from {address}:{bound} -> {remote} (pod {chosen.pod})")
            sys.stdout.flush()
            await reading  # until the server ends the session, or Ctrl-C
            fail(f"the port-forward to pod {chosen.pod} ended: the pod is gone or the API server went away")
        finally:
            for server in servers:
                server.close()
            reading.cancel()
            await conn.close()
    return 0


def port_forward_command(kind: str | None = None, prefix: str = "berth") -> click.Command:
    @click.command("port-forward", epilog=examples(f"{prefix} port-forward my-notebook --port 8888:8888",
                                                    f"{prefix} port-forward my-job --port 6006 --port 8080:80"),
                   context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("workload")
    @click.option("--port", "ports", multiple=True, metavar="LOCAL:REMOTE",
                  help="A local port and the workload's port it reaches (PORT alone: the same); repeatable.")
    @click.option("--address", default="localhost", show_default=True,
                  help="The local address to listen on (0.0.0.0: every interface).")
    @pod_options(container=False)
    def command(workload: str, ports: tuple[str, ...], address: str, pod: str | None, wait: str, kubeconfig: str | None, project: str | None) -> None:
        """Forward local ports to a running pod of WORKLOAD until Ctrl-C (Jupyter, TensorBoard, a server)."""
        pairs = parse_ports(ports)
        sys.exit(run(lambda: forward(kubeconfig, project, workload, kind, ports=pairs,
                                     address="127.0.0.1" if address == "localhost" else address, pod=pod,
                                     wait_s=parse_duration(wait))))

    return command


nouns.verbs.append(lambda noun: port_forward_command(noun.kind, noun_prefix(noun)))
