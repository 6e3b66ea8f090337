"""What can go wrong talking to the API, as exceptions callers can tell apart without parsing text.

Every answer the server gives as a Kubernetes `Status` becomes an `ApiError`, or the subclass named by its
reason, so a controller writes `except Conflict:` rather than comparing codes. The `Status` itself is kept
(`.status`), with `details.causes` on `.causes`: they name the fields, which is what people need to see.

`Unreachable` is the other failure: no answer at all (refused, reset, TLS, timeouts). Callers that loop
(informers, controllers) back off and retry on it; a one-shot CLI prints it.
"""

from __future__ import annotations

from typing import Any

from berth.api import registry


class ClientError(Exception):
    """Base of every error `berth.client` raises."""


class Unreachable(ClientError):
    """The server could not be reached, or the connection broke before it answered."""


class ConfigError(ClientError):
    """No usable configuration: a missing or broken kubeconfig, an unknown context, no service account."""


class UnknownKind(ClientError, registry.UnknownKind):
    """A kind name that is neither a Berth kind nor a core kind this client knows; the message suggests the
    closest one (`berth.api.registry.UnknownKind`, which the CLI catches alike)."""


class ApiError(ClientError):
    """The server answered with an error `Status`."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.code: int = int(status.get("code") or 0)
        self.reason: str = status.get("reason") or ""
        self.message: str = status.get("message") or self.reason or f"HTTP {self.code}"
        super().__init__(self.message)

    @property
    def details(self) -> dict[str, Any]:
        return self.status.get("details") or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        """`details.causes`: each a {reason, message, field}; empty when the server sent none."""
        return list(self.details.get("causes") or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}, {self.reason!r}, {self.message!r})"


class BadRequest(ApiError):
    """400: the request itself is malformed (a bad selector, a body that is not an object)."""


class Unauthorized(ApiError):
    """401: no credentials, or the wrong ones."""


class Forbidden(ApiError):
    """403: not allowed (or the namespace is being deleted)."""


class NotFound(ApiError):
    """404: no such object (or the server does not serve the kind)."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: create of a name that is taken."""


class Conflict(ApiError):
    """409 Conflict: a stale resourceVersion, or a server-side apply that would take fields another manager
    owns (then `causes` name the manager and the fields; retry with `force=True` to take them)."""


class Gone(ApiError):
    """410 (reason Expired or Gone): the resourceVersion is older than the server's history.

    A watcher must list again; a paged list must start over."""


class UnsupportedMediaType(ApiError):
    """415: the patch type is not accepted for this kind (strategic merge on a custom resource)."""


class Invalid(ApiError):
    """422: the object or patch was rejected; `causes` say which fields and why."""


_BY_REASON: dict[str, type[ApiError]] = {
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Expired": Gone,
    "Gone": Gone,
    "Invalid": Invalid,
}
_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    415: UnsupportedMediaType,
    422: Invalid,
}


def from_status(status: dict[str, Any]) -> ApiError:
    """The exception for a `Status` body (reason first: 409 means two different things)."""
    cls = _BY_REASON.get(status.get("reason") or "") or _BY_CODE.get(int(status.get("code") or 0), ApiError)
    return cls(status)


def from_response(code: int, body: Any, text: str = "") -> ApiError:
    """The exception for an HTTP error answer; a body that is not a Status still gets one."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        status = dict(body)
        status.setdefault("code", code)
    else:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                  "message": text.strip() or f"HTTP {code}", "reason": ""}
    return from_status(status)

