"""WebSockets to the API server, for the requests that stream into a pod (`pods/exec`, `pods/attach`,
`pods/portforward`): the kubeconfig's address, credentials and TLS (`_wire.Wire.socket_settings`), and
the server's refusals as the same `ApiError`s every other request raises.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import ClientConnection, connect as ws_connect
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from berth.api import streaming
from berth.client import errors
from berth.client._wire import Wire

streaming.accept_kubernetes_subprotocols()

MAX_MESSAGE = 16 * 1024 * 1024
OPEN_TIMEOUT_S = 30.0


async def connect(wire: Wire, path: str, params: list[tuple[str, str]], subprotocols: list[str]) -> ClientConnection:
    base, headers, context = wire.socket_settings()
    url = f"{base}{path}" + (f"?{urlencode(params)}" if params else "")
    options: dict[str, Any] = {"ssl": context} if context is not None else {}
    try:
        return await ws_connect(url, additional_headers=headers, subprotocols=[Subprotocol(p) for p in subprotocols],
                                max_size=MAX_MESSAGE, open_timeout=OPEN_TIMEOUT_S, ping_interval=20,
                                user_agent_header="berth", **options)
    except InvalidStatus as exc:
        response = exc.response
        text = response.body.decode(errors="replace") if response.body else ""
        try:
            body = orjson.loads(response.body) if response.body else None
        except orjson.JSONDecodeError:
            body = None
        raise errors.from_response(response.status_code, body, text) from exc
    except InvalidHandshake as exc:
        raise errors.Unreachable(f"GET {path}: the server did not accept a WebSocket: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise errors.Unreachable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
