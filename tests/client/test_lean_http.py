"""`berth.client._http`, the lean HTTP/1.1 client under `Wire`, against small servers on 127.0.0.1 that
misbehave as real ones do: closing idle keep-alive connections, rotating a token, dying mid-answer. (That
it speaks to `berth up` correctly is every other test in tests/client, which go through it.)"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from berth.client import Client
from berth.client._http import Closed, Pool, _query, usable
from berth.client.errors import Unreachable
from lightkube.config.models import User, UserExec

Handler = Callable[[str, dict[str, str], asyncio.StreamWriter], Awaitable[bool]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, str, list[int]]:
    """A plain-HTTP server: `handler(request line, headers, writer)` answers and says whether to keep the
    connection open. The list counts the connections accepted."""
    accepted: list[int] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *rest = head.decode().split("\r\n")
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
                await reader.readexactly(int(headers.get("content-length", 0)))
                if not await handler(line, headers, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", accepted


def _answer(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
    writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                 .encode() + body)


async def test_connections_are_kept_alive_and_reused() -> None:
    async def ok(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        _answer(writer, 200, b'{"path": "%s"}' % line.split()[1].encode())
        return True

    server, url, accepted = await _serve(ok)
    async with server:
        pool = Pool(url, None)
        for i in range(20):
            answer = await pool.request("GET", f"/api/v1/x{i}")
            assert (answer.status, answer.body) == (200, b'{"path": "/api/v1/x%d"}' % i)
        assert len(accepted) == 1
        await pool.close()


async def test_a_request_on_a_connection_the_server_closed_while_idle_is_sent_again() -> None:
    async def once(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        _answer(writer, 201, b"{}")
        return False  # as uvicorn after its keep-alive timeout: answer, then close without a word

    server, url, accepted = await _serve(once)
    async with server:
        pool = Pool(url, None)
        assert (await pool.request("POST", "/a", body=b"{}")).status == 201
        await asyncio.sleep(0)  # the close may or may not have been seen yet: both must work
        assert (await pool.request("POST", "/b", body=b"{}")).status == 201
        assert (await pool.request("POST", "/c", body=b"{}")).status == 201
        assert len(accepted) == 3
        await pool.close()


async def test_an_answer_cut_off_midway_is_an_error_not_a_short_body() -> None:
    async def cut(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"half\":")
        await writer.drain()
        return False

    server, url, _ = await _serve(cut)
    async with server:
        pool = Pool(url, None)
        with pytest.raises(Closed):
            await pool.request("GET", "/x")
        await pool.close()


async def test_a_rotated_token_file_is_read_again_on_401(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("old\n")

    async def check(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        if headers.get("authorization") == "Bearer new":
            _answer(writer, 200, b"{}")
        else:
            _answer(writer, 401, b'{"kind": "Status", "code": 401}')
        return True

    server, url, _ = await _serve(check)
    async with server:
        pool = Pool(url, None, token_file=token)
        assert (await pool.request("GET", "/x")).status == 401  # read once, and once more on 401: still old
        token.write_text("new\n")
        assert (await pool.request("GET", "/x")).status == 200
        await pool.close()


async def test_a_chunked_stream_arrives_chunk_by_chunk_and_ends_with_the_answer() -> None:
    async def chunks(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b'{"n":1}\n', b'{"n":2}\n'):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        return True

    server, url, accepted = await _serve(chunks)
    async with server:
        pool = Pool(url, None)
        for _ in range(2):  # the connection is reused after a stream read to its end
            async with pool.stream("/watch", {"watch": True}) as (answer, body):
                assert answer.status == 200
                assert [part async for part in body] == [b'{"n":1}\n', b'{"n":2}\n']
        assert len(accepted) == 1
        await pool.close()


async def test_a_server_that_never_answers_times_out() -> None:
    async def silent(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(5)
        return False

    server, url, _ = await _serve(silent)
    async with server:
        pool = Pool(url, None, timeout=0.3)
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/x")
        await pool.close()


async def test_a_client_maps_transport_failures_to_unreachable(tmp_path: Path) -> None:
    async def cut(line: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        return False  # close without answering

    server, url, _ = await _serve(cut)
    async with server:
        config = tmp_path / "kubeconfig"
        config.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{url}"}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
        async with Client.from_kubeconfig(config) as client:
            with pytest.raises(Unreachable, match="GET /api/v1/namespaces/default/pods/p: Closed"):
                await client.get("Pod", "p", "default")


def test_query_parameters_are_written_as_kubernetes_reads_them() -> None:
    assert _query({"watch": True, "dryRun": None, "allowWatchBookmarks": False, "fieldManager": "a b",
                   "labelSelector": "app in (x,y)"}) == \
        "watch=true&allowWatchBookmarks=false&fieldManager=a+b&labelSelector=app+in+%28x%2Cy%29"
    assert _query({"dryRun": ["All"], "x": [1, 2]}) == "dryRun=All&x=1&x=2"


def test_exec_plugins_basic_auth_and_proxies_are_left_to_lightkube(monkeypatch: pytest.MonkeyPatch) -> None:
    assert usable("https://127.0.0.1:6443", User(token="t"))
    assert usable("https://127.0.0.1:6443", None)
    assert not usable("https://127.0.0.1:6443", User(exec=UserExec(apiVersion="v1", command="x")))
    assert not usable("https://127.0.0.1:6443", User(username="a", password="b"))
    monkeypatch.setenv("https_proxy", "http://proxy:3128")
    monkeypatch.setenv("no_proxy", "")
    assert not usable("https://10.0.0.1:6443", User(token="t"))


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
async def test_a_pool_given_a_unix_socket_sends_there_in_plain_http_naming_the_server(
        tmp_path: Path, abstract: bool) -> None:
    seen: list[tuple[str, str]] = []

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")  # plain HTTP: TLS would start with a handshake record
        line, *rest = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in rest if h)}
        seen.append((line, headers["host"]))
        _answer(writer, 200, b"{}")
        await writer.drain()
        writer.close()

    address = "@berth-test-" + tmp_path.name if abstract else str(tmp_path / "api.sock")
    server = await asyncio.start_unix_server(on_connection, "\0" + address[1:] if abstract else address)
    async with server:
        pool = Pool("https://127.0.0.1:6443", None, unix=address)
        assert (await pool.request("GET", "/version")).status == 200
        assert seen == [("GET /version HTTP/1.1", "127.0.0.1:6443")]
        await pool.close()
