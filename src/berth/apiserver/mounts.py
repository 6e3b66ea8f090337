"""Other ASGI apps served on the API server's address, by path prefix (Run:ai's REST API, `berth.rest`).

The API server does not import them: whoever starts it (`berth.controlplane`) passes `Config.mounts`, a
function of the kubeconfig the server wrote, returning (prefixes, app) pairs. A path equal to a prefix or
under it goes to that app; everything else, and the lifespan, to the Kubernetes API. A mounted app acts
through the Kubernetes API as its caller (the REST app forwards the caller's token), so what it does is
audited there, under the caller's name, once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ASGIApp = Callable[..., Any]
Mounts = Callable[[Path], Sequence[tuple[tuple[str, ...], ASGIApp]]]


class PrefixDispatch:
    """Send HTTP and WebSocket requests by path prefix; the rest to `default`."""

    def __init__(self, default: ASGIApp, routes: Sequence[tuple[tuple[str, ...], ASGIApp]]) -> None:
        self.default = default
        self.routes = list(routes)

    def pick(self, path: str) -> ASGIApp:
        for prefixes, app in self.routes:
            if any(path == p or path.startswith(p + "/") or path.startswith(p + "?") for p in prefixes):
                return app
        return self.default

    async def aclose(self) -> None:
        """Close what the mounted apps hold open (the REST app's connections back to this server), so that
        a graceful shutdown does not wait on them."""
        for _, app in self.routes:
            closer = getattr(app, "aclose", None)
            if closer is not None:
                await closer()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        app = self.pick(scope.get("path", "")) if scope["type"] in ("http", "websocket") else self.default
        await app(scope, receive, send)
