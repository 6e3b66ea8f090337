"""Kubernetes `Status` errors, worded as the real API server words them, so kubectl prints them well.

kubectl shows `Error from server (<reason>): <message>`, and for 422 rebuilds the text from
`details.kind` and `details.causes`; `details.kind` is the resource plural for NotFound, AlreadyExists and
Conflict, and the Kind for Invalid. Every handler failure is an `ApiError`; the app turns it into a body.
"""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """An error answered as a Kubernetes Status object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    def body(self) -> bytes:
        return orjson.dumps(self.status())


def _details(name: str, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    details.update(extra)
    return details


def not_found(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(404, "NotFound", f'{qualified} "{name}" not found', _details(name, group, plural))


def already_exists(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(name, group, plural))


def conflict(qualified: str, name: str, group: str, plural: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(name, group, plural),
    )


def invalid(kind: str, group: str, name: str, causes: list[dict[str, str]]) -> ApiError:
    """422 Invalid; each cause is {reason, message, field}."""
    qualified = f"{kind}.{group}" if group else kind
    parts = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', _details(name, group, kind, causes=causes)
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(verb: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({verb})")


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
    )


def too_large(limit: int) -> ApiError:
    """413 for a request body over `limit` bytes: kube-apiserver's words, then the fix."""
    return ApiError(413, "RequestEntityTooLarge", (
        f"Request entity too large: limit is {limit} bytes ({limit / 2**20:g} MiB) for a request body; send "
        "fewer objects per request, and keep large data out of objects, in a volume"))


def forbidden(message: str, name: str = "", group: str = "", plural: str = "") -> ApiError:
    return ApiError(403, "Forbidden", message, _details(name, group, plural) if plural else None)


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def storage_failed(message: str, disk_full: bool) -> ApiError:
    """507 when the store's disk is full (the request may be retried once space is freed), 500 for an I/O
    error; Kubernetes has no reason for either, so the reason says what happened."""
    if disk_full:
        return ApiError(507, "InsufficientStorage", f"{message}; free space on that disk and retry")
    return ApiError(500, "InternalError", f"{message}; check the disk (the system log says more) and retry")
